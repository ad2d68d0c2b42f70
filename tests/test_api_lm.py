"""learning_law.api.lm_task / tokenizer / read_texts: a causal LM on the user's own texts (docs/api.md), and the LM's XLA CPU flags applied for the user, or a warning when they can no longer take effect.
Construction only (no training: docs/api.md's example trains one, tests/test_readme_lm_example.py)."""

import doctest
import os

import jax
import numpy as np
import pytest

import learning_law.api as ll
from learning_law import xla_flags as XF
from learning_law.errors import UsageError
from learning_law.models.transformer import sequence_losses
from learning_law.tasks import lm_text

TRAIN = ["the cat sat on the mat .", "a dog ran to the park .", "the dog sat .", "Mia saw the cat ."]
DEV = ["the cat ran to the mat .", "a dog sat on the park ."]
SMALL = dict(seq_len=6, d_model=8, n_heads=2, d_ff=16, xla_flags=False)


def test_docstring_examples():
    assert doctest.testmod(lm_text, raise_on_error=True).attempted >= 3


def test_a_task_from_files_is_the_task_from_lists(tmp_path):
    (tmp_path / "train.txt").write_text("\n\n".join(TRAIN))
    (tmp_path / "dev.txt").write_text("\n".join(DEV))  # no blank line: one text per line
    assert ll.read_texts(tmp_path / "dev.txt") == DEV
    a = ll.lm_task(TRAIN, DEV, texts_val=DEV[:1], **SMALL)
    b = ll.lm_task(tmp_path / "train.txt", str(tmp_path / "dev.txt"), texts_val=DEV[:1], **SMALL)
    for split in ("train", "dev", "test", "val"):
        np.testing.assert_array_equal(getattr(a, split)["tokens"], getattr(b, split)["tokens"])
    assert a.per_example_loss == b.per_example_loss and hash(a.per_example_loss) == hash(b.per_example_loss)
    assert a.config == b.config  # the same settings and tokens: one compiled program for both
    tok = ll.tokenizer(TRAIN, 5000)
    np.testing.assert_array_equal(a.dev["tokens"], tok.encode_batch(DEV, 7))
    assert a.vocab_size == tok.vocab_size == a.config["vocab_size"] and a.config["test_is_dev"]
    assert (a.n_train, a.config["n_dev"], a.config["n_val"]) == (4, 2, 1) and a.symbol_probs is not None
    # the loss: per sequence, the mean token cross-entropy over its non-padding targets
    want = jax.jit(sequence_losses, static_argnums=(0, 3))(a.per_example_loss.cfg, a.init_params, a.dev["tokens"],
                                                           tok.pad_id)
    np.testing.assert_allclose(jax.jit(a.per_example_loss)(a.init_params, a.dev), want, rtol=1e-6)
    assert a.config["tokens_sha256"] != ll.lm_task(TRAIN, DEV[::-1], **SMALL).config["tokens_sha256"]


def test_windows_make_every_token_after_the_first_a_target_once():
    tok = ll.tokenizer(TRAIN, 50)
    text = " ".join(TRAIN)  # 23 tokens
    ids = tok.encode(text)
    rows = lm_text.sequences(tok, [text], seq_len=6, windows=True)
    assert rows.shape == (4, 7)  # starts 0, 6, 12, 18: the last holds 5 tokens and 2 pads
    targets = [int(t) for r in rows for t in r[1:] if t != tok.pad_id]
    assert targets == ids[1:]
    one = lm_text.sequences(tok, [text], seq_len=6)  # one row per text: its first 7 tokens
    np.testing.assert_array_equal(one, [ids[:7]])


@pytest.mark.parametrize("change, match", [
    (dict(texts_train="no/such/file.txt"), r"^texts_train='no/such/file.txt' is not a file"),
    (dict(texts_dev=[]), r"^texts_dev is empty"),
    (dict(texts_dev=[1, 2]), r"^texts_dev is invalid: allowed a list of strings"),
    (dict(texts_dev=["the", "cat sat"]), r"^texts_dev\[0\] \('the'\) has fewer than 2 tokens"),
    (dict(n_heads=3), r"^n_heads=3 is invalid: allowed a divisor of d_model=8"),
    (dict(norm="batch"), r"^norm='batch' is invalid"),
    (dict(seq_len=0), r"^seq_len=0 is invalid"),
    (dict(vocab_size=2), r"^vocab_size=2 is invalid"),
    (dict(tokenizer="words"), r"^tokenizer='words' is invalid"),
])
def test_bad_input_names_the_argument(change, match):
    args = dict(texts_train=TRAIN, texts_dev=DEV, **SMALL)
    args.update(change)
    with pytest.raises(UsageError, match=match):
        ll.lm_task(**args)


def test_the_flags_are_applied_while_the_backend_has_not_started(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.delenv(XF.OPT_OUT, raising=False)
    monkeypatch.setattr(XF, "_jaxlib_version", lambda: (0, 10))
    monkeypatch.setattr(XF, "backend_started", lambda: False)
    assert XF.apply_for_lm() == list(XF.CPU_FLAGS) and os.environ["XLA_FLAGS"].split() == list(XF.CPU_FLAGS)


def test_a_started_backend_gets_a_warning_and_an_unchanged_environment(monkeypatch):
    jax.numpy.zeros(1).block_until_ready()  # the backend has started (as in any test process)
    assert XF.backend_started()
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
    monkeypatch.delenv(XF.OPT_OUT, raising=False)
    monkeypatch.setattr(XF, "_jaxlib_version", lambda: (0, 10))
    with pytest.warns(UserWarning, match=r"^lm_task: JAX's backend has already started.*cannot take effect"):
        ll.lm_task(TRAIN, DEV, **{**SMALL, "xla_flags": True})
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=1"
    monkeypatch.setenv(XF.OPT_OUT, "0")  # XLA's defaults asked for: nothing to say
    monkeypatch.setattr(XF.warnings, "warn", lambda *a, **k: pytest.fail(f"warned: {a}"))
    assert XF.apply_for_lm() == []
