"""Training mixtures (learning_law.data.mixture) and the embedded news source (learning_law.data.news).

Sources are told apart by their words (text files whose stories carry the file's own marker word; the news
reports' city names, which the grammar never uses), so every check is independent of the loader's seeds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from learning_law.data import load_lm_data
from learning_law.data.corpus import grammar, window_entropy
from learning_law.data.mixture import load_mixture_data, parse_sources
from learning_law.data.news import WORDS, generate_news
from learning_law.errors import UsageError
from learning_law.tasks.lm import LMConfig, make_lm

BIG = dict(n_val=4, vocab_size=5000, noise_fraction=0.0, noise_edits=0, seed=3)  # no <unk>, no noise
CITIES = set(WORDS["CITY"])
# small grammar samples leave some of the grammar's words out of the vocabulary: the warning is expected
pytestmark = pytest.mark.filterwarnings("ignore:the tokenizer .* does not cover")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """Three text files of 40 unique stories each; a story's first word names its file, two digit words
    number it, and a tail common to all names every word used, so that any tokenizer trained on one story
    has no <unk> for any story (decoded rows are the stories themselves)."""
    root = tmp_path_factory.mktemp("mix")
    digits = "zero one two three four five six seven eight nine".split()
    tail = "alpha beta gamma story " + " ".join(digits)
    out = {}
    for name in ("alpha", "beta", "gamma"):
        path = root / f"{name}.txt"
        path.write_text("\n\n".join(f"{name} story {digits[i // 10]} {digits[i % 10]} {tail}" for i in range(40)))
        out[name] = f"text:{path}"
    return out


def _texts(d, rows) -> list[str]:
    return [d.tokenizer.decode(r) for r in rows]


# ------------------------------------------------------------------------------------------ parse_sources
@pytest.mark.parametrize("spec, expected", [
    ("default=0.5,news=0.5", [("default", 0.5), ("news", 0.5)]),
    ("tinystories:/a/b.txt=0.7,text:/c.txt=0.3", [("tinystories:/a/b.txt", 0.7), ("text:/c.txt", 0.3)]),
    ("default,news", [("default", None), ("news", None)]),
    (" default , news ", [("default", None), ("news", None)]),
    ("news=1", [("news", 1.0)]), ("news=1e0", [("news", 1.0)]),
    ("text:/a=b.txt,default", [("text:/a=b.txt", None), ("default", None)]),  # "=b.txt" is no share
    ("text:/x=1=0.25,news=0.75", [("text:/x=1", 0.25), ("news", 0.75)]),  # the last "=" only
    ("default=0.1,news=0.2,text:/c=0.7", [("default", 0.1), ("news", 0.2), ("text:/c", 0.7)]),  # sum 1 +- 1e-6
])
def test_parse_sources_accepts(spec, expected):
    assert parse_sources(spec, "--train-corpus") == expected


@pytest.mark.parametrize("spec, why", [
    ("default,foo", "unknown source"), ("text:", "unknown source"), ("tinystories", "unknown source"),
    ("", "allowed"), ("default,,news", "empty item"), ("default,", "empty item"),
    ("default=0.5,news", "for every source or for none"), ("default=0,news=1", r"\(0, 1\]"),
    ("default=1.5,news=-0.5", r"\(0, 1\]"), ("default=nan,news=0.5", r"\(0, 1\]"),
    ("default=0.6,news=0.6", "sum to 1.2"), ("default=0.5,news=0.4999", "sum to"), ("default,default", "twice"),
])
@pytest.mark.parametrize("option", ["--train-corpus", "--desired-corpus"])
def test_parse_sources_rejects_naming_the_option(spec, why, option):
    with pytest.raises(UsageError, match=why) as err:
        parse_sources(spec, option)
    assert str(err.value).startswith(option)


# ------------------------------------------------------------------------------------------ mixtures
@pytest.mark.parametrize("spec, n_train, counts", [
    ("default=0.25,news=0.75", 20, [5, 15]), ("default,news", 15, [8, 7]), ("news=0.3,default=0.7", 11, [3, 8])])
def test_source_ids_follow_the_shares(spec, n_train, counts):
    d = load_mixture_data(spec, n_train=n_train, n_dev=2, n_test=2, seq_len=8, **BIG)
    assert d.sources.dtype == np.int32 and d.sources.shape == (n_train,) == d.train.shape[:1]
    assert np.bincount(d.sources).tolist() == counts
    names = [s.partition("=")[0] for s in spec.split(",")]
    assert d.source_names == tuple(names)
    for i, c in enumerate(counts):  # floor(share * N + 1/2), the last the remainder
        share = float(spec.split(",")[i].partition("=")[2] or 1 / len(counts))
        assert c == (n_train - sum(counts[:-1]) if i == len(counts) - 1 else math.floor(share * n_train + 0.5))


def test_train_rows_come_from_their_source_and_eval_from_the_desired_one():
    assert not CITIES & set(grammar().words)  # the grammar never names a news city
    # 100 train reports: the tokenizer (trained on train) knows every city, so dev/test/val show theirs
    d = load_mixture_data("default=0.5,news=0.5", "news", n_train=200, n_dev=5, n_test=6, seq_len=10, **BIG)
    has_city = lambda t: bool(CITIES & set(t.split()))  # noqa: E731; every report names its city early
    for text, src in zip(_texts(d, d.train), d.sources):
        assert has_city(text) == (d.source_names[src] == "news"), text
    for split, n in ((d.dev, 5), (d.test, 6), (d.val, 4)):
        assert len(split) == n and all(has_city(t) for t in _texts(d, split))


def test_eval_splits_are_disjoint_from_the_desired_sources_train(files):
    a, b = files["alpha"], files["beta"]
    d = load_mixture_data(f"{b},{a}", a, n_train=20, n_dev=5, n_test=6, seq_len=24, **BIG)
    train = _texts(d, d.train)
    assert all(t.startswith({0: "beta", 1: "alpha"}[s]) for t, s in zip(train, d.sources))
    te, de, va = (set(_texts(d, x)) for x in (d.test, d.dev, d.val))
    assert all(t.startswith("alpha") for t in te | de | va)
    assert (len(te), len(de), len(va)) == (6, 5, 4)  # unique stories
    assert not (te & de or te & va or de & va or (te | de | va) & set(train))
    # a desired source that is not trained on: all of its stories are free for the eval splits
    d2 = load_mixture_data(b, a, n_train=30, n_dev=5, n_test=6, seq_len=24, **BIG)
    assert d2.source_names == (b,) and all(t.startswith("beta") for t in _texts(d2, d2.train))
    assert all(t.startswith("alpha") for t in _texts(d2, d2.test))


def test_a_third_source_leaves_each_sources_split_unchanged(files):
    a, c = files["alpha"], files["gamma"]
    kw = dict(n_train=12, n_dev=3, n_test=3, seq_len=24, **BIG)
    two = load_mixture_data(f"{a}=0.5,default=0.25,news=0.25", **kw)
    three = load_mixture_data(f"{a}=0.5,default=0.25,{c}=0.125,news=0.125", **kw)
    for d in (two, three):
        assert np.bincount(d.sources)[:2].tolist() == [6, 3]
    for src in (0, 1):  # alpha (also the desired source) and default keep their train stories
        assert _texts(two, two.train[two.sources == src]) == _texts(three, three.train[three.sources == src])
    for split in ("dev", "test", "val"):
        assert _texts(two, getattr(two, split)) == _texts(three, getattr(three, split))


def test_too_few_stories_name_the_option_before_tokenizing(files, monkeypatch):
    import learning_law.data.tokenizer as tokenizer

    def no_tokenizing(*a, **k):
        raise AssertionError("tokenized before the sizes were checked")

    monkeypatch.setattr(tokenizer, "train_tokenizer", no_tokenizing)
    a, b = files["alpha"], files["beta"]
    with pytest.raises(UsageError, match=r"^--train-corpus: .*beta.* has 40 stories.* 45 are needed"):
        load_mixture_data(f"{a}=0.1,{b}=0.9", a, n_train=50, n_dev=2, n_test=2, seq_len=8, **BIG)
    with pytest.raises(UsageError, match=r"^--desired-corpus: .*alpha.* has 40 stories.* 44 are needed"):
        load_mixture_data(b, a, n_train=10, n_dev=20, n_test=20, seq_len=8, **BIG)
    with pytest.raises(UsageError, match=r"^--train-corpus: .*alpha.* has 40 stories.* 41 are needed"):
        load_mixture_data(f"{a},{b}", a, n_train=20, n_dev=15, n_test=12, seq_len=8, **BIG)
    with pytest.raises(UsageError, match=r"^--train-corpus: source 'news' .* gets 0 of n_train=4"):
        load_mixture_data("default=0.9,news=0.1", n_train=4, n_dev=2, n_test=2, seq_len=8, **BIG)
    with pytest.raises(UsageError, match=r"^--desired-corpus 'news=1'"):
        load_mixture_data("default", "news=1", n_train=4, n_dev=2, n_test=2, seq_len=8, **BIG)


def test_entropy_only_for_the_grammar_as_desired_source():
    kw = dict(n_train=400, n_dev=2, n_test=2, seq_len=6, **BIG)
    we = window_entropy(6)
    d = load_mixture_data("news=0.2,default=0.8", "default", **kw)
    assert (d.entropy_per_token, d.entropy_per_sequence) == (we.per_token, we.per_sequence)
    assert load_mixture_data("default,news", "news", **kw).entropy_per_token is None
    with pytest.warns(UserWarning, match="does not cover"):
        assert load_mixture_data("default,news", **dict(kw, vocab_size=20)).entropy_per_token is None


def test_noise_applies_to_the_mixed_train_rows():
    d = load_mixture_data("default,news", n_train=20, n_dev=2, n_test=2, seq_len=8,
                          **dict(BIG, noise_fraction=0.5, noise_edits=3))
    assert d.noisy_rows.sum() == 10 and d.train.shape == (20, 9)


# ------------------------------------------------------------------------------------------ the LM task
@pytest.mark.parametrize("kw, option", [
    (dict(train_corpus="default,foo"), "--train-corpus"), (dict(train_corpus="default=0.3,news=0.3"), "--train-corpus"),
    (dict(train_corpus="default", desired_corpus="news,default"), "--desired-corpus"),
    (dict(desired_corpus="news"), "desired_corpus")])
def test_lm_config_rejects_bad_specs_at_construction(kw, option):
    with pytest.raises(UsageError) as err:
        LMConfig(**kw)
    assert str(err.value).startswith(option)


def test_make_lm_carries_the_source_ids():
    import dataclasses

    from learning_law.tasks.lm import LM_PRESETS

    cfg = dataclasses.replace(LM_PRESETS["tiny"].task, train_corpus="default=0.75,news=0.25", desired_corpus="news")
    task = make_lm(cfg)
    assert task.groups.shape == (16,) and task.groups.dtype == np.int32
    assert task.group_names == ("default", "news") and task.n_groups == 2
    assert np.bincount(task.groups).tolist() == [12, 4]
    single = make_lm(dataclasses.replace(cfg, train_corpus="", desired_corpus=""))
    assert single.groups is None and single.n_groups == 0


# ------------------------------------------------------------------------------------------ news
def test_generate_news_is_seeded_and_tokenizes_cleanly():
    from learning_law.data.tokenizer import train_tokenizer

    a = generate_news(50, 0)
    assert a == generate_news(50, 0) and a[:7] == generate_news(7, 0)
    b = generate_news(50, 1)
    assert not set(a) & set(b)
    lengths = [len(s.split()) for s in a]
    assert 40 <= min(lengths) and max(lengths) <= 100
    assert all(" ".join(s.split()) == s and s.endswith(" .") for s in a)  # single spaces, punctuation tokens
    tok = train_tokenizer(a, 5000)
    assert all(tok.normalize(s) == s == tok.decode(tok.encode(s)) for s in a)
    shared = set(" ".join(a).split()) & set(grammar().words)
    assert {"the", "a", "and", "was"} <= shared and len(shared) < 40  # function words shared, topics not
    with pytest.raises(UsageError, match="corpus_stories"):
        generate_news(0, 0)


def test_news_as_a_single_corpus():
    d = load_lm_data("news", n_train=8, n_dev=2, n_test=2, seq_len=8, vocab_size=5000, noise_fraction=0.0,
                     noise_edits=0, seed=0)
    assert d.sources is None and d.source_names == () and d.entropy_per_token is None
    assert "news" in d.description and d.train.shape == (8, 9)
    assert all(CITIES & set(t.split()) for t in _texts(d, d.train))
