"""A causal language model on your own texts (README "Your own model"): :func:`lm_task`.

The same pieces as the ``lm`` task (:mod:`learning_law.tasks.lm`), on texts you give instead of a
corpus spec: the word-level tokenizer (:mod:`learning_law.data.tokenizer`, trained on the training texts
alone), token sequences ``[n, seq_len + 1]`` padded with ``<pad>`` (never a target), and the causal
Transformer (:mod:`learning_law.models.transformer`) whose per-example loss is a sequence's mean token
cross-entropy (nats) over its non-padding targets. No noise is added: what the policy can learn to
down-weight is whatever in your training texts does not help on your dev texts.

Exposed as ``learning_law.api.lm_task``, ``.tokenizer`` and ``.read_texts``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from learning_law.errors import UsageError
from learning_law.tasks.base import Task
from learning_law.tasks.lm import MAX_SEQ_LEN, NORMS

Texts = Union[Sequence[str], str, os.PathLike]  # a list of texts, or the path of a UTF-8 file of them


def read_texts(path: str | os.PathLike) -> list[str]:
    """The texts of a UTF-8 file: its blank-line separated paragraphs, or its lines when it has no
    blank line; whitespace inside a text is collapsed to single spaces (the ``text:PATH`` corpus's rule).

    Raises:
      UsageError naming the file when it does not exist, is not UTF-8 or is empty.

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
    >>> _ = p.write_text("The cat sat.\\n\\nThe dog ran\\n  away.\\n")
    >>> read_texts(p)
    ['The cat sat.', 'The dog ran away.']
    """
    from learning_law.data.text import read_utf8, split_stories

    return split_stories(read_utf8(path, "read_texts"))


def tokenizer(texts: Sequence[str], vocab_size: int = 5000):
    """The toolkit's word-level tokenizer trained on ``texts`` (:class:`~learning_law.data.tokenizer.WordTokenizer`).

    Pre-tokens are ``\\w+`` or ``[^\\w\\s]+`` runs (NFC, case kept); the vocabulary is ``<pad>`` (id 0,
    never a target), ``<unk>`` (id 1, every other word) and the ``vocab_size - 2`` most frequent
    pre-tokens of ``texts`` (ties alphabetical), fewer when the texts have fewer distinct words.

    Args:
      texts: the training texts (a list of strings).
      vocab_size: |V| asked for, the two special tokens included (>= 3).

    Returns:
      A ``WordTokenizer``: ``encode(text) -> list[int]``, ``decode(ids) -> str``, ``vocab`` (id -> word),
      ``vocab_size`` (the actual size), ``encode_batch(texts, length) -> int32 [n, length]``.

    >>> tok = tokenizer(["the cat sat", "the dog sat"], vocab_size=5)
    >>> tok.vocab, tok.encode("the cat ran")
    (['<pad>', '<unk>', 'sat', 'the', 'cat'], [3, 4, 1])
    """
    from learning_law.data.tokenizer import train_tokenizer

    return train_tokenizer(_texts(texts, "texts"), vocab_size)


def _texts(texts, name: str) -> list[str]:
    """``texts`` as a list of strings: a list/tuple of str as it is, a str or path read by :func:`read_texts`."""
    if isinstance(texts, (str, os.PathLike)):
        if not Path(texts).expanduser().is_file():
            raise UsageError(f"{name}={str(texts)[:60]!r} is not a file: give the path of a UTF-8 text file, "
                             "or the texts as a list of strings")
        return read_texts(texts)
    if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise UsageError(f"{name} is invalid: allowed a list of strings (one text each) or the path of a "
                         f"UTF-8 text file (got {type(texts).__name__})")
    if not texts:
        raise UsageError(f"{name} is empty: every split needs at least one text")
    return list(texts)


def sequences(tok, texts: Sequence[str], seq_len: int, windows: bool = False, name: str = "texts") -> np.ndarray:
    """The token sequences of ``texts``: int32 ``[n, seq_len + 1]`` (inputs ``[:, :-1]``, targets ``[:, 1:]``).

    ``windows=False``: one row per text, its first ``seq_len + 1`` tokens (a longer text is cut, a shorter
    one padded). ``windows=True``: every text cut into windows of ``seq_len + 1`` tokens starting every
    ``seq_len`` tokens (consecutive windows share one token, so each token after a text's first is a
    target exactly once); the last window of a text is padded, a window of one token dropped.

    Raises:
      UsageError naming the text when a row would hold fewer than 2 tokens (nothing to predict).
    """
    width = seq_len + 1
    if not windows:
        out = tok.encode_batch(list(texts), width)
        short = np.flatnonzero((out != tok.pad_id).sum(axis=1) < 2)
        if short.size:
            i = int(short[0])
            raise UsageError(f"{name}[{i}] ({texts[i][:40]!r}) has fewer than 2 tokens: nothing to predict; "
                             f"drop it ({short.size} such text(s) in {name})")
        return out
    rows = []
    for ids in (tok.encode(t) for t in texts):
        for start in range(0, max(len(ids) - 1, 0), seq_len):
            rows.append(ids[start:start + width])
    if not rows:
        raise UsageError(f"{name} holds no window of 2 or more tokens: nothing to predict")
    out = np.full((len(rows), width), tok.pad_id, np.int32)
    for row, ids in zip(out, rows):
        row[: len(ids)] = ids
    return out


def _int(name: str, value, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo or (hi and value > hi):
        allowed = f"an integer in [{lo}, {hi}]" if hi else f"an integer >= {lo}"
        raise UsageError(f"{name}={value!r} is invalid: allowed {allowed}")
    return int(value)


def lm_task(
    texts_train: Texts,
    texts_dev: Texts,
    texts_test: Texts | None = None,
    texts_val: Texts | None = None,
    *,
    seq_len: int = 16,
    vocab_size: int = 5000,
    d_model: int = 32,
    n_heads: int = 4,
    d_ff: int = 128,
    n_layers: int = 1,
    norm: str = "rms",
    windows: bool = False,
    tokenizer=None,
    micro_batch: int = 0,
    seed: int = 0,
    name: str = "lm_text",
    xla_flags: bool = True,
) -> Task:
    """A causal Transformer LM on your own texts, as a :class:`~learning_law.tasks.base.Task` for
    :func:`learning_law.api.optimize`, ``.evaluate``, ``.train``, ``.law`` and ``.contributions``.

    The policy weighs the N training sequences; the objective is the dev loss
    ``L(theta) = mean over dev sequences of (mean over its non-padding targets of -log p(token | prefix))``
    (nats), and the AUC the mean of ``L(theta_t)`` over t = 0..T. The tokenizer is trained on
    ``texts_train`` alone (unless ``tokenizer`` is given), so a dev/test word it has not seen is ``<unk>``.
    The model is the ``lm`` task's (pre-norm blocks of causal multi-head attention and a ReLU FFN,
    learned positions, untied embedding and head, no biases, no dropout; the defaults are the LM ``cpu``
    preset's sizes); theta_0 is drawn from ``seed``.

    XLA flags: with ``xla_flags`` (default) the LM's CPU flags (:mod:`learning_law.xla_flags`, the
    LM's meta-gradient in 0.88-0.94 of the time) are added to ``XLA_FLAGS`` before this function's first
    JAX computation, which works only while JAX's backend has not started: call ``lm_task`` before any
    other JAX computation of the process (importing jax, flax or learning_law is fine), or start Python
    with the flags set; otherwise a warning says so and the run keeps XLA's defaults. They hold for the
    whole process (later tasks too), as for the CLI's LM runs.

    Args:
      texts_train, texts_dev: the texts (a list of strings, or the path of a UTF-8 file read by
        :func:`read_texts`) of the training split (weighed by the policy) and of the desired data.
      texts_test: where metrics (the speed-up) are reported; default: the dev texts.
      texts_val: optional texts of the desired distribution the search selects its policy on.
      seq_len: L, tokens per input sequence (each row holds L + 1 tokens), in [1, 4096].
      vocab_size: |V| asked of the tokenizer (special tokens included); the actual size can be smaller.
      d_model, n_heads, d_ff, n_layers, norm: the Transformer's sizes (``n_heads`` divides ``d_model``;
        ``norm``: ``rms`` or ``layer``).
      windows: False: one sequence per text (its first L + 1 tokens); True: every text cut into windows of
        L + 1 tokens (see :func:`sequences`), for long texts such as whole files of prose.
      tokenizer: a trained tokenizer (:func:`tokenizer`) to use instead of training one.
      micro_batch: sequences per chunk of the forward pass, bounds memory (0: all at once).
      seed: theta_0's seed (the texts are used in the order given: nothing is shuffled).
      name: the task's name in config.json.
      xla_flags: add the LM's XLA CPU flags (see above); False leaves ``XLA_FLAGS`` alone.

    Returns:
      A Task whose splits are ``{"tokens": int32 [n, L + 1]}``, ``per_example_loss`` the Transformer's
      (:class:`~learning_law.models.TransformerLoss`), ``symbol_probs`` its next-token distribution (for
      ``compress``) and ``config`` a dict of the settings, split sizes, parameter count and a SHA-256 of
      the token arrays (written to config.json).

    Raises:
      UsageError naming the argument, before any training: texts that are not strings or a file, an empty
      split, a text with fewer than 2 tokens, a bad size.

    >>> task = lm_task(["the cat sat on the mat", "a dog ran to the cat"] * 4, ["the dog sat on the mat"],
    ...                seq_len=6, d_model=8, n_heads=2, d_ff=16, xla_flags=False)
    >>> task.n_train, task.train["tokens"].shape, task.vocab_size
    (8, (8, 7), 11)
    """
    if xla_flags:
        from learning_law import xla_flags as XF

        XF.apply_for_lm("lm_task")
    seq_len = _int("seq_len", seq_len, 1, MAX_SEQ_LEN)
    for k, v in (("d_model", d_model), ("n_heads", n_heads), ("d_ff", d_ff), ("n_layers", n_layers)):
        _int(k, v, 1)
    _int("micro_batch", micro_batch, 0)
    _int("seed", seed, 0)
    if d_model % n_heads:
        raise UsageError(f"n_heads={n_heads} is invalid: allowed a divisor of d_model={d_model}")
    if norm not in NORMS:
        raise UsageError(f"norm={norm!r} is invalid: allowed one of {NORMS}")
    if not (isinstance(name, str) and name):
        raise UsageError(f"name={name!r} is invalid: allowed a non-empty string")
    if not isinstance(windows, bool):
        raise UsageError(f"windows={windows!r} is invalid: allowed True or False")
    splits = {"train": _texts(texts_train, "texts_train"), "dev": _texts(texts_dev, "texts_dev")}
    for split, texts in (("test", texts_test), ("val", texts_val)):
        if texts is not None:
            splits[split] = _texts(texts, f"texts_{split}")
    if tokenizer is None:
        from learning_law.data.tokenizer import train_tokenizer

        tok = train_tokenizer(splits["train"], _int("vocab_size", vocab_size, 3))
    elif all(hasattr(tokenizer, a) for a in ("encode", "encode_batch", "vocab_size", "pad_id")):
        tok = tokenizer
    else:
        raise UsageError(f"tokenizer={tokenizer!r} is invalid: allowed None or a tokenizer from "
                         "learning_law.api.tokenizer")
    tokens = {k: sequences(tok, v, seq_len, windows, f"texts_{k}") for k, v in splits.items()}

    import jax
    import jax.numpy as jnp

    from learning_law.models.transformer import (TransformerConfig, TransformerLoss, TransformerSymbolProbs,
                                                 init_params, n_params)

    mcfg = TransformerConfig(vocab_size=int(tok.vocab_size), max_len=seq_len, d_model=d_model, n_heads=n_heads,
                             d_ff=d_ff, n_layers=n_layers, norm=norm)
    pad = int(tok.pad_id)
    params = init_params(mcfg, jax.random.fold_in(jax.random.key(seed), 1))  # as the lm task's theta_0
    digest = hashlib.sha256()
    for k in sorted(tokens):
        digest.update(k.encode() + tokens[k].tobytes())
    config = {"name": name, "source": "texts", "seq_len": seq_len, "vocab_size": int(tok.vocab_size),
              "vocab_size_asked": None if tokenizer is not None else int(vocab_size), "windows": windows,
              "d_model": d_model, "n_heads": n_heads, "d_ff": d_ff, "n_layers": n_layers, "norm": norm,
              "micro_batch": micro_batch, "seed": seed, "test_is_dev": "test" not in tokens,
              **{f"n_{k}": int(v.shape[0]) for k, v in tokens.items()},
              "n_params": n_params(mcfg), "tokens_sha256": digest.hexdigest()}
    batch = lambda k: {"tokens": jnp.asarray(tokens[k])}  # noqa: E731
    return Task(name=name, train=batch("train"), dev=batch("dev"),
                test=batch("test" if "test" in tokens else "dev"), init_params=params,
                per_example_loss=TransformerLoss(mcfg, pad, micro_batch), vocab_size=int(tok.vocab_size),
                config=config, symbol_probs=TransformerSymbolProbs(mcfg, pad),
                val=batch("val") if "val" in tokens else None)


__all__ = ["lm_task", "tokenizer", "read_texts", "sequences"]
