"""load_lm_data: splits, seeds, noise, local text/TinyStories files (no network), bad inputs."""

import json

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
    te, de, tr = split_indices(200, n_test=16, n_dev=24, n_train=96, seed=3)
    assert (len(te), len(de), len(tr)) == (16, 24, 96)
    assert len(set(te) | set(de) | set(tr)) == 136
    te2, _, _ = split_indices(200, n_test=16, n_dev=24, n_train=96, seed=4)
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
