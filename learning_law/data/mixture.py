"""Training mixtures: train on several text sources, desire (dev/val/test from) another or one of them.

A mixture spec is ``SPEC[=SHARE],SPEC[=SHARE],...`` with SPEC a corpus spec (``default``, ``news``,
``text:PATH``, ``tinystories:PATH``; see :func:`learning_law.data.sources.load_stories`). Source i gets

    n_i = floor(share_i * n_train + 1/2)  for i < D - 1,     n_{D-1} = n_train - sum_{i < D-1} n_i,

training stories (no shares: share_i = 1/D), every n_i >= 1. The desired source (dev, val and test) is a
single spec, by default the first training source.

Every source keeps its own seeded split, a function of (seed, the spec string) and of its own sizes only,
so adding or removing another source leaves it unchanged: the source's stories are shuffled by a generator
seeded by (seed, crc32(spec)); when the source is the desired one, test, dev and val are its first
n_test + n_dev + n_val shuffled stories and its train stories come after them (disjoint); otherwise its
train stories are the first n_i. The embedded sources are generated from the seed (seed, crc32(spec)) too,
so "default" and "news" never share text and do not depend on each other. The word-level tokenizer is
trained on the whole training mixture; noise edits are applied to the mixed train rows, as for one corpus.
Train rows are ordered by source (all of source 0, then source 1, ...); ``LMData.sources`` holds the ids.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from learning_law.data.sources import (EMBEDDED, MIN_CHARS, LMData, _check_int, filter_stories, grammar_entropy,
                                       inject_noise, load_stories)
from learning_law.errors import UsageError

SOURCE_KINDS = "default, news, text:PATH, tinystories:PATH"
SHARE_TOL = 1e-6  # |sum of shares - 1| allowed


def _valid_source(spec: str) -> bool:
    if spec in EMBEDDED:
        return True
    kind, sep, path = spec.partition(":")
    return bool(sep) and bool(path) and kind in ("text", "tinystories")


def parse_sources(spec: str, option: str = "--train-corpus") -> list[tuple[str, float | None]]:
    """The sources of a mixture spec ``SPEC[=SHARE],...``, as ``[(spec, share or None), ...]``.

    A share is split off an item at its last "=" only when what follows parses as a float (so a path may
    hold "="; it may not hold ","). Shares are given for all items or for none (None: equal shares, see
    :func:`mixture_shares`); each in (0, 1], summing to 1 (within 1e-6); no source twice.

    Args:
      spec: the comma-separated items.
      option: the option named by errors (``--train-corpus``, ``--desired-corpus``).

    Returns:
      list of (source spec, share | None), in the order given.

    Raises:
      UsageError: its message starts with ``option``.

    >>> parse_sources("default=0.7,news=0.3", "--train-corpus")
    [('default', 0.7), ('news', 0.3)]
    >>> parse_sources("default,text:/a=b.txt", "--train-corpus")
    [('default', None), ('text:/a=b.txt', None)]
    """
    def bad(why: str) -> UsageError:
        return UsageError(f"{option} {spec!r} is invalid: {why}")

    if not isinstance(spec, str) or not spec.strip():
        raise bad(f"allowed SPEC[=SHARE],... with SPEC one of {SOURCE_KINDS}")
    out: list[tuple[str, float | None]] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            raise bad("an empty item (two commas, or a comma at an end)")
        name, share = item, None
        head, eq, tail = item.rpartition("=")
        if eq:
            try:
                share = float(tail)
                name = head.strip()
            except ValueError:
                pass
        if not _valid_source(name):
            raise bad(f"unknown source {name!r}: allowed {SOURCE_KINDS}, each optionally =SHARE")
        if share is not None and not 0.0 < share <= 1.0:
            raise bad(f"share {tail!r} of {name!r}: allowed a number in (0, 1]")
        if name in (n for n, _ in out):
            raise bad(f"source {name!r} appears twice")
        out.append((name, share))
    given = [s is not None for _, s in out]
    if any(given) and not all(given):
        raise bad("give a share for every source or for none (none: equal shares)")
    if all(given) and abs(sum(s for _, s in out) - 1.0) > SHARE_TOL:
        raise bad(f"the shares sum to {sum(s for _, s in out):g}: allowed a sum of 1")
    return out


def parse_desired(spec: str, option: str = "--desired-corpus") -> str:
    """The one source spec of ``spec`` (no share), validated like :func:`parse_sources`."""
    items = parse_sources(spec, option)
    if len(items) != 1 or items[0][1] is not None:
        raise UsageError(f"{option} {spec!r} is invalid: allowed one source ({SOURCE_KINDS}) without a share")
    return items[0][0]


def mixture_shares(items: list[tuple[str, float | None]]) -> list[float]:
    """The shares of parsed items: as given, or 1/D each when none is given."""
    return [1.0 / len(items) if s is None else float(s) for _, s in items]


def mixture_counts(items: list[tuple[str, float | None]], n_train: int, option: str = "--train-corpus") -> list[int]:
    """Training stories per source: round-half-up of share_i * n_train, the last source the remainder.

    >>> mixture_counts(parse_sources("default=0.25,news=0.75"), 10)
    [3, 7]
    """
    shares = mixture_shares(items)
    counts = [int(math.floor(s * n_train + 0.5)) for s in shares[:-1]]
    counts.append(n_train - sum(counts))
    for (name, _), c, s in zip(items, counts, shares):
        if c < 1:
            raise UsageError(f"{option}: source {name!r} (share {s:g}) gets {c} of n_train={n_train} training "
                             f"stories; every source needs >= 1: raise n_train or its share")
    return counts


def source_seed(seed: int, spec: str) -> int:
    """An integer seed of (seed, spec): crc32 of the spec's UTF-8 bytes in the low 32 bits (stable across
    runs and Python versions, unlike ``hash``)."""
    return int(seed) * (1 << 32) + zlib.crc32(spec.encode("utf-8"))


def load_mixture_data(train_corpus: str, desired_corpus: str = "", *, n_train: int, n_dev: int, n_test: int,
                      n_val: int = 0, seq_len: int, vocab_size: int, noise_fraction: float, noise_edits: int,
                      seed: int, corpus_stories: int = 0) -> LMData:
    """Token-id splits of a training mixture and a desired source (see the module docstring).

    Args:
      train_corpus: ``SPEC[=SHARE],...`` (:func:`parse_sources`), the training sources.
      desired_corpus: one SPEC, the source of dev, val and test ("": the first training source).
      n_train, n_dev, n_test, n_val: split sizes; n_train is split among the sources by their shares.
      seq_len, vocab_size, noise_fraction, noise_edits: as in :func:`learning_law.data.load_lm_data`.
      seed: every source's generator, shuffle and the noise derive from it.
      corpus_stories: stories generated for each embedded source (0: just enough for its splits).

    Returns:
      LMData with ``sources`` (int32 [n_train], ids in the order of ``train_corpus``) and ``source_names``;
      the entropy fields are set only when the desired source is "default" and the tokenizer covers the
      grammar's window words.
    """
    from learning_law.data.tokenizer import train_tokenizer

    items = parse_sources(train_corpus, "--train-corpus")
    desired = parse_desired(desired_corpus, "--desired-corpus") if desired_corpus else items[0][0]
    n_train = _check_int("n_train", n_train, 1)
    n_dev = _check_int("n_dev", n_dev, 1)
    n_test = _check_int("n_test", n_test, 1)
    n_val = _check_int("n_val", n_val, 0)
    seq_len = _check_int("seq_len", seq_len, 1)
    vocab_size = _check_int("vocab_size", vocab_size, 3)
    noise_edits = _check_int("noise_edits", noise_edits, 0)
    seed = _check_int("seed", seed, 0)
    corpus_stories = _check_int("corpus_stories", corpus_stories, 0)
    if not isinstance(noise_fraction, (int, float, np.floating)) or not 0.0 <= noise_fraction <= 1.0:
        raise UsageError(f"noise_fraction={noise_fraction!r} is invalid: allowed [0, 1]")
    names = [name for name, _ in items]
    counts = dict(zip(names, mixture_counts(items, n_train)))
    n_eval = n_test + n_dev + n_val

    # Each source's stories and its own shuffle; all sizes are checked before any tokenizing.
    picked: dict[str, tuple[list[str], list[str]]] = {}  # spec -> (eval stories, train stories)
    descriptions = {}
    for spec in names + ([desired] if desired not in counts else []):
        k_eval = n_eval if spec == desired else 0
        k_train = counts.get(spec, 0)
        need = k_eval + k_train
        if spec in EMBEDDED and 0 < corpus_stories < need:
            raise UsageError(f"corpus_stories={corpus_stories} is too few for source {spec!r}: {need} stories are "
                             f"needed (0 = exactly that many)")
        stories, descriptions[spec] = load_stories(spec, needed=need, seed=source_seed(seed, spec),
                                                   corpus_stories=corpus_stories)
        stories = filter_stories(stories)
        if len(stories) < need:
            option = "--desired-corpus" if len(stories) < k_eval else "--train-corpus"
            parts = ([f"n_test + n_dev + n_val = {n_test} + {n_dev} + {n_val} for test/dev/val"] if k_eval else []) \
                + ([f"{k_train} for train, its share of n_train={n_train}"] if k_train else [])
            raise UsageError(f"{option}: source {spec!r} has {len(stories)} stories (longer than {MIN_CHARS} "
                             f"characters), too few: {need} are needed ({'; '.join(parts)}); lower the split "
                             f"sizes or the source's share, or use a larger corpus")
        perm = np.random.default_rng([seed, zlib.crc32(spec.encode("utf-8")), 0x5B117]).permutation(len(stories))
        picked[spec] = ([stories[i] for i in perm[:k_eval]], [stories[i] for i in perm[k_eval:need]])

    ev = picked[desired][0]
    test, dev, val = ev[:n_test], ev[n_test:n_test + n_dev], ev[n_test + n_dev:]
    train_texts = [t for spec in names for t in picked[spec][1]]
    sources = np.repeat(np.arange(len(names), dtype=np.int32), [counts[s] for s in names])
    tok = train_tokenizer(train_texts, vocab_size)
    width = seq_len + 1
    train, noisy = inject_noise(tok.encode_batch(train_texts, width), fraction=float(noise_fraction),
                                edits=noise_edits, vocab_size=tok.vocab_size, pad_id=tok.pad_id,
                                rng=np.random.default_rng([seed, 0x9015E]))
    entropy, entropy_seq = grammar_entropy(tok, seq_len) if desired == "default" else (None, None)
    description = ("mixture of " + " + ".join(f"{counts[s]} x {descriptions[s]}" for s in names)
                   + f"; desired: {descriptions[desired]}")
    if noise_edits > 0 and noise_fraction > 0:
        description += f"; noise {noise_fraction:g} x {noise_edits} edits"
    return LMData(train=train, dev=tok.encode_batch(dev, width), test=tok.encode_batch(test, width),
                  vocab_size=tok.vocab_size, pad_id=tok.pad_id, unk_id=tok.unk_id, noisy_rows=noisy,
                  entropy_per_token=entropy, tokenizer=tok, description=description,
                  entropy_per_sequence=entropy_seq, val=tok.encode_batch(val, width) if n_val else None,
                  sources=sources, source_names=tuple(names))


__all__ = ["parse_sources", "parse_desired", "mixture_shares", "mixture_counts", "source_seed", "load_mixture_data"]
