"""load_lm_data: splits, seeds, noise, local text/TinyStories files (no network), bad inputs."""

import json
from pathlib import Path

import numpy as np
import pytest

from learning_law.data import load_lm_data
from learning_law.data.corpus import window_entropy
from learning_law.data.sources import inject_noise, split_indices
from learning_law.errors import UsageError

SIZES = dict(n_train=96, n_dev=24, n_test=16, seq_len=24, vocab_size=5000)


def _load(corpus="default", **kw):
    args = dict(SIZES, noise_fraction=0.0, noise_edits=0, seed=0) | kw
    return load_lm_data(corpus, **args)


@pytest.fixture(scope="module")
def clean():
    return _load()


@pytest.fixture(scope="module")
def noisy():
    return _load(noise_fraction=0.5, noise_edits=20)


def test_default_shapes_and_entropy(clean):
    d = clean
    assert d.train.shape == (96, 25) and d.dev.shape == (24, 25) and d.test.shape == (16, 25)
    assert d.train.dtype == d.dev.dtype == np.int32
    assert d.vocab_size == len(d.tokenizer.vocab) and d.train.max() < d.vocab_size
    assert d.pad_id == 0 and d.unk_id == 1 and not d.noisy_rows.any()
    assert d.entropy_per_token == window_entropy(24).per_token
    assert "seed 0" in d.description
    # every grammar story is longer than the window: no padding, no <unk>
    assert (d.dev != d.pad_id).all() and (d.dev != d.unk_id).all()


def test_small_vocab_gives_no_entropy():
    with pytest.warns(UserWarning, match="does not cover"):
        d = _load(vocab_size=20)
    assert d.entropy_per_token is None and d.vocab_size == 20


@pytest.mark.filterwarnings("ignore:the tokenizer")
def test_splits_sizes_disjoint_and_seeded():
    te, de, tr, _ = split_indices(200, n_test=16, n_dev=24, n_train=96, seed=3)
    assert (len(te), len(de), len(tr)) == (16, 24, 96)
    assert len(set(te) | set(de) | set(tr)) == 136
    te2, _, _, _ = split_indices(200, n_test=16, n_dev=24, n_train=96, seed=4)
    assert not np.array_equal(te, te2)
    a, b, c = _load(seed=5), _load(seed=5), _load(seed=6)
    for s in ("train", "dev", "test"):
        np.testing.assert_array_equal(getattr(a, s), getattr(b, s))
    assert not np.array_equal(a.train, c.train)


def test_noise_share_and_clean_dev_test(clean, noisy):
    assert noisy.noisy_rows.sum() == round(0.5 * 96)
    changed = (noisy.train != clean.train).any(1)
    np.testing.assert_array_equal(changed, noisy.noisy_rows)
    np.testing.assert_array_equal(noisy.dev, clean.dev)
    np.testing.assert_array_equal(noisy.test, clean.test)
    assert noisy.train.max() < noisy.vocab_size and noisy.train.min() >= 0


@pytest.mark.parametrize("fraction,n", [(0.8, 50), (0.3, 7), (1.0, 5), (0.0, 9)])
def test_inject_noise_exact_share(fraction, n):
    rng = np.random.default_rng(0)
    seqs = rng.integers(2, 12, size=(n, 9)).astype(np.int32)
    seqs[0, 5:] = 0  # a padded row
    out, rows = inject_noise(seqs, fraction=fraction, edits=3, vocab_size=12, pad_id=0,
                             rng=np.random.default_rng(1))
    assert rows.sum() == round(fraction * n)
    np.testing.assert_array_equal((out != seqs).any(1), rows)
    np.testing.assert_array_equal(out[~rows], seqs[~rows])
    # padding stays a suffix and every row keeps at least two tokens (one target)
    real = out != 0
    assert (real.sum(1) >= 2).all() and all(r[: r.sum()].all() for r in real)


def test_noise_edit_kinds():
    """One edit of each kind on a known row, against hand-written results."""
    from learning_law.data.sources import _edit_row

    class Fixed:  # a stand-in Generator returning scripted draws
        def __init__(self, draws):
            self.d = list(draws)

        def integers(self, n):
            v = self.d.pop(0)
            assert 0 <= v < n
            return v

    row = [5, 6, 7, 8]
    assert _edit_row(row, 1, Fixed([0, 1]), 10, 5, 0, 2) == [5, 6, 6, 7, 8]  # repeat position 1
    assert _edit_row(row, 1, Fixed([0, 3]), 10, 4, 0, 2) == [5, 6, 7, 8]  # repeat last, truncated
    assert _edit_row(row, 1, Fixed([1]), 10, 4, 0, 2) == [5, 6, 7]  # drop last
    assert _edit_row(row, 1, Fixed([2, 2, 4]), 10, 4, 0, 2) == [5, 6, 6, 8]  # replace 7 by word 2 + 4
    assert _edit_row(row, 1, Fixed([2, 2, 5]), 10, 4, 0, 2) == [5, 6, 8, 8]  # 2 + 5 = 7 is skipped
    assert _edit_row([5, 6], 1, Fixed([1, 0]), 10, 4, 0, 2) == [5, 5, 6]  # drop on a short row -> repeat


@pytest.mark.parametrize("kw,match", [
    (dict(n_train=0), "n_train"), (dict(seq_len=0), "seq_len"), (dict(vocab_size=2), "vocab_size"),
    (dict(noise_fraction=1.5), "noise_fraction"), (dict(noise_edits=-1), "noise_edits"),
    (dict(corpus_stories=50), "corpus_stories"), (dict(corpus="nope"), "corpus"),
    (dict(corpus="text:"), "corpus"),
])
def test_bad_arguments(kw, match):
    with pytest.raises(UsageError, match=match):
        _load(**kw)


# ------------------------------------------------------------------------------- local files, offline
STORIES = [f"Story {i}: Tom saw {i} cats and {i % 3} dogs in the park. They played all day." for i in range(40)]


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network: any socket connection fails the test at once (instead of tfds' minutes of retries)."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("LEARNING_LAW_CACHE", str(tmp_path / "cache"))


def _small(corpus, **kw):
    args = dict(n_train=16, n_dev=6, n_test=5, seq_len=8, vocab_size=30, noise_fraction=0.0, noise_edits=0,
                seed=0) | kw
    return load_lm_data(corpus, **args)


def _write(tmp_path, fmt, stories=STORIES):
    if fmt == "txt":
        p = tmp_path / "TinyStories-train.txt"
        p.write_text("\n<|endoftext|>\n".join(stories) + "\n<|endoftext|>\n", encoding="utf-8")
    elif fmt == "json":
        p = tmp_path / "data00.json"
        p.write_text(json.dumps([{"story": s, "source": "GPT-4"} for s in stories]), encoding="utf-8")
    elif fmt == "jsonl":
        p = tmp_path / "stories.jsonl"
        p.write_text("\n".join(json.dumps({"story": s}) for s in stories) + "\n", encoding="utf-8")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        p = tmp_path / "train.parquet"
        pq.write_table(pa.table({"text": stories}), p)
    return p


def test_text_file_paragraphs_and_lines(tmp_path):
    paras = tmp_path / "paras.txt"
    paras.write_text("\n\n".join(s.replace(" They", "\nThey") for s in STORIES), encoding="utf-8")
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(STORIES) + "\nshort\n", encoding="utf-8")  # "short" is dropped (<= 10 chars)
    a, b = _small(f"text:{paras}"), _small(f"text:{lines}")
    for s in ("train", "dev", "test"):
        np.testing.assert_array_equal(getattr(a, s), getattr(b, s))
    assert a.entropy_per_token is None and "text file" in a.description
    # the splits are the stories of the file after the seeded shuffle
    te, de, tr, _ = split_indices(len(STORIES), n_test=5, n_dev=6, n_train=16, seed=0)
    for row, i in zip(a.dev, de):
        assert list(row) == a.tokenizer.encode(STORIES[i])[:9]
    c = _small(f"text:{lines}", vocab_size=200)  # train words all in the vocabulary: lossless
    assert c.tokenizer.decode(c.train[0]) == " ".join(c.tokenizer.normalize(STORIES[tr[0]]).split()[:9])


@pytest.mark.parametrize("fmt", ["txt", "json", "jsonl", "parquet"])
def test_tinystories_local_formats(tmp_path, offline, fmt):
    from learning_law.data.tinystories import load_tinystories

    path = _write(tmp_path, fmt)
    assert sorted(load_tinystories(path)) == sorted(STORIES)
    d = _small(f"tinystories:{path}", vocab_size=500)
    assert "TinyStories" in d.description and d.unk_id not in d.train
    windows = {tuple(d.tokenizer.encode(s)[:9]) for s in STORIES}
    assert {tuple(r) for split in (d.train, d.dev, d.test) for r in split} <= windows
    texts = {d.tokenizer.decode(r) for r in d.train}  # training words are all in the vocabulary
    assert len(texts) == 16 and texts <= {" ".join(d.tokenizer.normalize(s).split()[:9]) for s in STORIES}


def test_tinystories_builder_cache_and_folder(tmp_path, offline):
    from learning_law.data.tinystories import load_tinystories, prepare

    folder = tmp_path / "ts"
    folder.mkdir()
    _write(folder, "txt", STORIES[:30])
    (folder / "TinyStories-valid.txt").write_text("A valid story here.<|endoftext|>Another valid one.",
                                                  encoding="utf-8")
    b = prepare(folder)
    assert set(b.info.splits) == {"train", "validation"}
    files = sorted(p.name for p in Path(b.data_dir).iterdir())
    assert any(f.endswith(".array_record-00000-of-00001") for f in files)
    assert sorted(load_tinystories(folder)) == sorted(STORIES[:30])
    assert sorted(load_tinystories(folder, split="validation")) == ["A valid story here.", "Another valid one."]
    mtime = Path(b.data_dir).stat().st_mtime_ns
    assert Path(prepare(folder).data_dir).stat().st_mtime_ns == mtime  # reused, not rebuilt


def test_bad_files(tmp_path, offline):
    missing = tmp_path / "nope.txt"
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Le café était très bon, merci beaucoup.\n".encode("latin-1"))
    few = tmp_path / "few.txt"
    few.write_text("\n".join(STORIES[:10]), encoding="utf-8")
    cases = [(f"text:{missing}", "does not exist"), (f"text:{empty}", "empty"),
             (f"text:{latin}", "not UTF-8"), (f"text:{few}", "has 10 stories .* 27 are needed"),
             (f"tinystories:{missing}", "does not exist"), (f"tinystories:{tmp_path / 'x.csv'}", "does not exist"),
             (f"tinystories:{latin}", "not UTF-8")]
    (tmp_path / "empty.json").write_text("", encoding="utf-8")
    (tmp_path / "bad.json").write_text('[{"title": "no story"}]', encoding="utf-8")
    cases += [(f"tinystories:{tmp_path / 'empty.json'}", "empty"), (f"tinystories:{tmp_path / 'bad.json'}", "story")]
    for corpus, match in cases:
        with pytest.raises(UsageError, match=match):
            _small(corpus)
    with pytest.raises(UsageError, match="vocab_size"):
        _small(f"text:{_write(tmp_path, 'txt')}", vocab_size=1)


def test_validation_split_follows_train_and_leaves_the_others_unchanged():
    te, de, tr, va = split_indices(200, n_test=16, n_dev=24, n_train=96, n_val=40, seed=3)
    te0, de0, tr0, va0 = split_indices(200, n_test=16, n_dev=24, n_train=96, seed=3)
    for a, b in ((te, te0), (de, de0), (tr, tr0)):
        np.testing.assert_array_equal(a, b)  # adding a validation split changes none of the other three
    assert len(va) == 40 and len(va0) == 0
    assert not set(va) & (set(te) | set(de) | set(tr))
    with pytest.raises(UsageError, match="n_val"):
        split_indices(150, n_test=16, n_dev=24, n_train=96, n_val=40, seed=3)
    d = load_lm_data("text:" + str(_write_stories()), **dict(SIZES, n_train=12, n_dev=4, n_test=4, seq_len=8),
                     noise_fraction=0.5, noise_edits=3, seed=0, n_val=5)
    assert d.val.shape == (5, 9) and d.dev.shape == (4, 9)


def _write_stories() -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "stories.txt"
    path.write_text("\n\n".join(f"story number {i} tells of a cat and a dog who play in the sun all day long"
                                for i in range(40)))
    return path
