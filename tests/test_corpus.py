"""The embedded grammar corpus: its exact entropy against sampling, and closed-form probabilities."""

import math
import re

import numpy as np
import pytest

from learning_law.data import corpus as C


@pytest.fixture(scope="module")
def stories():
    return C.sample_stories(6000, np.random.default_rng(123))


@pytest.mark.parametrize("seq_len", [32, 64, 150])
def test_analytic_entropy_matches_sampled_loss(stories, seq_len):
    """The forward recursion's expectation equals the mean -log p of sampled windows within 4 s.e.
    seq_len 150 exceeds the shortest stories, so termination and padding are exercised."""
    we = C.window_entropy(seq_len)
    n_targets = np.minimum(stories.lengths, seq_len + 1) - 1
    loss = -stories.logp[:, 1:seq_len + 1].sum(1)  # logp is 0 past the end of a story
    assert abs(n_targets.mean() - we.expected_targets) < 4 * n_targets.std() / math.sqrt(len(loss)) + 1e-9
    # per token: ratio estimator, delta-method standard error
    ratio = loss.sum() / n_targets.sum()
    resid = (loss - ratio * n_targets) / n_targets.mean()
    assert abs(ratio - we.per_token) < 4 * resid.std() / math.sqrt(len(loss))
    per_seq = loss / n_targets
    assert abs(per_seq.mean() - we.per_sequence) < 4 * per_seq.std() / math.sqrt(len(loss))
    if stories.lengths.min() > seq_len + 1:
        assert we.per_token == pytest.approx(we.per_sequence, rel=1e-12)
    else:
        assert we.per_token != pytest.approx(we.per_sequence, rel=1e-6)


def test_closed_form_probabilities(stories):
    """Spot checks against hand-computed probabilities: the story opening and the names' choices."""
    g = C.grammar()
    texts = stories.texts()
    first = [t.split()[0] for t in texts]
    # opening words: P(Once) = 0.5, P(There) = 0.3, P(a given name) = 0.2 / 40
    assert stories.logp[first.index("Once"), 0] == pytest.approx(math.log(0.5))
    assert stories.logp[first.index("There"), 0] == pytest.approx(math.log(0.3))
    i = next(k for k, w in enumerate(first) if w in C.CATEGORIES["NAME"])
    assert stories.logp[i, 0] == pytest.approx(math.log(0.2 / 40))
    frac = np.mean([w == "Once" for w in first])
    assert abs(frac - 0.5) < 4 * math.sqrt(0.25 / len(first))
    for k, t in enumerate(texts[:300]):
        words = t.split()
        named = [j + 1 for j, w in enumerate(words) if w in ("named", "called")]
        # the hero (first "named"/"called" of the intros 1-2) is one of 40 names; the friend one of 39
        if words[0] in ("Once", "There"):
            assert stories.logp[k, named[0]] == pytest.approx(-math.log(40))
            hero = words[named[0]]
        else:
            hero = words[0]
        friend = words[named[-1]]
        assert stories.logp[k, named[-1]] == pytest.approx(-math.log(39))
        assert friend != hero and words.count(hero) >= 4
        he = "He" if hero in C.BOYS else "She"
        assert words[words.index(".") + 1] == he  # "<hero.Pron> lived ..."
        assert words[-3:] == ["The", "end", "."]
    assert set(g.words) >= {w for t in texts for w in t.split()}


def test_tokens_are_single_pretokens():
    pat = re.compile(r"^(\w+|[^\w\s]+)$")
    assert all(pat.match(w) for w in C.grammar().words)


def test_options_sum_to_one_and_unifilar():
    g = C.grammar()
    live = np.arange(g.n_nodes) != g.end
    np.testing.assert_allclose(g.opt_prob[live].sum(1), 1.0, atol=1e-12)
    for s in np.nonzero(live)[0]:
        sets = [ws for ws, p in zip(g.opt_words[s], g.opt_prob[s]) if p > 0]
        # disjoint except copies of the hero vs friend names (which differ by construction)
        for i in range(len(sets)):
            for j in range(i):
                shared = sets[i] & sets[j]
                assert not shared or shared <= {g.words.index(n) for n in C.CATEGORIES["NAME"]}


def test_generation_is_seeded():
    a, _ = C.generate_corpus(50, 7)
    b, _ = C.generate_corpus(50, 7)
    c, _ = C.generate_corpus(50, 8)
    assert a == b and a != c
