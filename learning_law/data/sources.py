"""Text sources of the language-model task: stories -> splits -> tokenizer -> sequences -> noise.

Paper Sec. 4 (Transformer LM): stories longer than 10 characters, seeded shuffle; test = first 512,
desired (dev) = next 512, train = next N; sequences of 64 tokens (+1 for the targets); a vocabulary of the
most frequent tokens with [UNK] and padding; padding is not a target. Noise on the train split: a share
of the training sequences gets k random perturbations each (repeat a token, delete the last token, or
replace a position with a random token); the paper's text says 50% x 20, its figure runs used 80% x 30.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from learning_law.data.text import read_utf8, split_stories
from learning_law.errors import UsageError

MIN_CHARS = 10  # stories of at most this many characters are dropped (paper: "longer than 10 characters")
CORPORA = '"default", "news", "text:PATH", "tinystories:PATH" or "tinystories:download"'
EMBEDDED = ("default", "news")  # corpora the project generates from a seed (no file, no network)
OPS = ("repeat", "drop_last", "replace")


@dataclass(frozen=True)
class LMData:
    """Token-id splits of one LM experiment.

    Attributes:
      train: int32 [N, L+1] token ids (padded with pad_id); noise already applied.
      dev: int32 [K, L+1] (clean): the desired data.
      test: int32 [K', L+1] (clean).
      vocab_size: |V| including the special tokens.
      pad_id: padding id; a target equal to pad_id is never a target.
      unk_id: id of out-of-vocabulary words.
      noisy_rows: bool [N]: rows of train that received noise edits.
      entropy_per_token: nats; the irreducible loss per target token of the dev/test sequences: the
        expected -log p of the true model (the grammar) over the coded (non-pad) target positions 1..L of
        a window of the first L+1 tokens of a story, total over total (corpus.window_entropy). Exact for
        the embedded corpus when the tokenizer covers every word that can occur in a window; None
        otherwise (and for other corpora).
      tokenizer: WordTokenizer: encode(str) -> list[int], decode(list[int]) -> str, vocab (list[str]).
      description: e.g. "embedded grammar corpus (seed 0, 20000 stories)".
      entropy_per_sequence: nats; the same expectation taken per sequence (mean over sequences of each
        sequence's mean-token loss), the floor of a dev loss defined that way. Equal to
        entropy_per_token when every story is longer than L+1 tokens (the embedded corpus for L <= 97).
      val: int32 [K'', L+1] (clean) validation sequences, or None: the policy search selects on them.
      sources: int32 [N], the source id of every train row (a training mixture,
        :func:`learning_law.data.mixture.load_mixture_data`: ids in the order of the train spec), or None
        (one corpus).
      source_names: the sources' specs as given, without shares; ``source_names[d]`` for id d (empty for
        one corpus).
    """

    train: np.ndarray
    dev: np.ndarray
    test: np.ndarray
    vocab_size: int
    pad_id: int
    unk_id: int
    noisy_rows: np.ndarray
    entropy_per_token: float | None
    tokenizer: object
    description: str
    entropy_per_sequence: float | None = None
    val: np.ndarray | None = None
    sources: np.ndarray | None = None
    source_names: tuple = ()


# ------------------------------------------------------------------------------------------ reading
def read_text_stories(path: str | os.PathLike) -> list[str]:
    """Stories of any UTF-8 text file (see :func:`split_stories`)."""
    return split_stories(read_utf8(path, "corpus=text:PATH"))


def filter_stories(stories: list[str]) -> list[str]:
    """Keep stories longer than MIN_CHARS characters (paper Sec. 4)."""
    return [s for s in stories if len(s.strip()) > MIN_CHARS]


# ------------------------------------------------------------------------------------------- splits
def split_indices(n_stories: int, *, n_test: int, n_dev: int, n_train: int, seed: int, n_val: int = 0,
                  corpus: str = "corpus") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded shuffle of ``n_stories`` indices; test = first n_test, dev = next n_dev, train = next n_train,
    validation = next n_val (after train, so that adding a validation split leaves the other three as they were)."""
    need = n_test + n_dev + n_train + n_val
    if n_stories < need:
        raise UsageError(f"corpus={corpus!r} has {n_stories} stories (longer than {MIN_CHARS} characters), too few for "
                         f"the splits: n_test + n_dev + n_train + n_val = {n_test} + {n_dev} + {n_train} + {n_val} = "
                         f"{need} are needed; lower n_train/n_dev/n_test/n_val or use a larger corpus")
    perm = np.random.default_rng([seed, 0x5B117]).permutation(n_stories)
    a, b, c = n_test, n_test + n_dev, n_test + n_dev + n_train
    return perm[:a], perm[a:b], perm[b:c], perm[c:need]


# -------------------------------------------------------------------------------------------- noise
def _edit_row(row: list[int], k: int, rng: np.random.Generator, vocab_size: int, width: int,
              pad_id: int, first_word_id: int) -> list[int]:
    """Apply ``k`` random edits to the real (non-pad) tokens ``row``; returns the new real tokens."""
    row = list(row)
    for _ in range(k):
        n = len(row)
        op = OPS[int(rng.integers(3))]
        if op == "drop_last" and n < 3:  # keep at least one target in the row
            op = "repeat"
        if op == "repeat" and n > 0:
            i = int(rng.integers(n))
            row.insert(i + 1, row[i])
            del row[width:]
        elif op == "drop_last":
            row.pop()
        elif op == "replace" and n > 0:
            i = int(rng.integers(n))
            is_word = row[i] >= first_word_id
            n_cands = vocab_size - first_word_id - int(is_word)  # words other than the one there
            if n_cands > 0:
                r = first_word_id + int(rng.integers(n_cands))
                row[i] = r + int(is_word and r >= row[i])
    return row


def inject_noise(seqs: np.ndarray, *, fraction: float, edits: int, vocab_size: int, pad_id: int,
                 rng: np.random.Generator, first_word_id: int = 2, max_tries: int = 100
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Perturb round(fraction * N) rows of ``seqs`` [N, W] with ``edits`` random edits each.

    Each edit, chosen uniformly: repeat a random token (the row shifts right, truncated to W), drop the
    last token (only while the row keeps >= 2 tokens, else a repeat), or replace a random position by a
    different random word id in [first_word_id, vocab_size) (never <pad>/<unk>). A draw that leaves its
    row unchanged is redrawn, so exactly round(fraction * N) rows differ from the input.

    Returns (noisy copy [N, W], noisy_rows bool [N]).
    """
    if not 0.0 <= fraction <= 1.0:
        raise UsageError(f"noise_fraction={fraction!r} is invalid: allowed [0, 1]")
    if edits < 0:
        raise UsageError(f"noise_edits={edits!r} is invalid: allowed >= 0")
    n, width = seqs.shape
    n_noisy = int(round(fraction * n)) if edits > 0 else 0
    out = seqs.copy()
    mask = np.zeros(n, bool)
    if n_noisy == 0:
        return out, mask
    rows = np.sort(rng.choice(n, size=n_noisy, replace=False))
    for r in rows:
        real = [int(x) for x in seqs[r] if x != pad_id]
        for _ in range(max_tries):
            new = _edit_row(real, edits, rng, vocab_size, width, pad_id, first_word_id)
            if new != real:
                break
        else:
            raise UsageError(f"noise: row {r} cannot be changed by {edits} edits (vocab_size={vocab_size})")
        out[r] = pad_id
        out[r, : len(new)] = new
    mask[rows] = True
    return out, mask


# ------------------------------------------------------------------------------------------ loading
def _check_int(name: str, value, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise UsageError(f"{name}={value!r} is invalid: allowed integer >= {lo}")
    return int(value)


def load_stories(corpus: str, *, needed: int, seed: int, corpus_stories: int = 0
                 ) -> tuple[list[str], str]:
    """(stories, description) of a corpus spec; stories are not yet filtered or shuffled.

    The embedded corpora ("default": grammar stories, "news": news reports) are generated from ``seed``,
    ``corpus_stories`` of them (0: ``needed``); files are read whole.
    """
    if not isinstance(corpus, str):
        raise UsageError(f"corpus={corpus!r} is invalid: allowed {CORPORA}")
    if corpus == "default":
        from learning_law.data.corpus import generate_corpus

        n = corpus_stories or needed
        stories, _ = generate_corpus(n, seed)
        return stories, f"embedded grammar corpus (seed {seed}, {n} stories)"
    if corpus == "news":
        from learning_law.data.news import generate_news

        n = corpus_stories or needed
        return generate_news(n, seed), f"embedded news corpus (seed {seed}, {n} stories)"
    kind, sep, path = corpus.partition(":")
    if not sep or not path or kind not in ("text", "tinystories"):
        raise UsageError(f"corpus={corpus!r} is invalid: allowed {CORPORA}")
    if kind == "text":
        stories = read_text_stories(path)
        return stories, f"text file {path} ({len(stories)} stories)"
    from learning_law.data.tinystories import load_tinystories

    stories = load_tinystories(path)
    return stories, f"TinyStories from {path} ({len(stories)} stories)"


def grammar_entropy(tok, seq_len: int) -> tuple[float | None, float | None]:
    """(entropy_per_token, entropy_per_sequence) of windows of seq_len + 1 tokens of the grammar corpus
    (corpus.window_entropy), when ``tok`` covers every word that can occur in such a window; else
    (None, None) with a warning (an <unk> merges words, so the grammar's entropy is no longer the floor)."""
    from learning_law.data.corpus import window_entropy

    we = window_entropy(seq_len)
    if tok.covers(we.words):
        return we.per_token, we.per_sequence
    missing = sorted(w for w in we.words if w not in set(tok.vocab))
    warnings.warn(f"the tokenizer (vocab_size={tok.vocab_size}) does not cover {len(missing)} word(s) "
                  f"of the grammar that can occur in a window (e.g. {missing[:5]}): the irreducible "
                  f"loss is not exact and is left None; raise vocab_size or n_train", stacklevel=3)
    return None, None


def load_lm_data(corpus: str, *, n_train: int, n_dev: int, n_test: int, seq_len: int, vocab_size: int,
                 noise_fraction: float, noise_edits: int, seed: int, corpus_stories: int = 0, n_val: int = 0):
    """Stories -> splits -> tokenizer (trained on train) -> [n, seq_len + 1] int32 sequences -> noise.

    Args:
      corpus: "default" (the embedded grammar corpus generated from ``seed``), "news" (embedded news
        reports, learning_law.data.news, generated from ``seed``), "text:PATH" (any UTF-8
        file: blank-line separated paragraphs, or lines) or "tinystories:PATH" (a TinyStories copy:
        .txt with <|endoftext|> separators, .json/.jsonl with "story", .parquet, or a folder of them).
      n_train, n_dev, n_test: split sizes (paper: 16384, 512, 512).
      n_val: validation split (clean, like dev), the stories after train; 0 for none.
      seq_len: tokens per sequence; each row holds seq_len + 1 tokens (inputs and shifted targets).
      vocab_size: |V| including <pad> and <unk> (paper: 5000); the tokenizer may end up smaller when the
        training split has fewer distinct words (LMData.vocab_size is the actual size).
      noise_fraction, noise_edits: share of training rows perturbed and edits per row (paper text 0.5 x 20,
        figure runs 0.8 x 30); 0 for clean data.
      seed: the corpus (default), the shuffle and the noise.
      corpus_stories: stories generated for "default"/"news" (0: exactly n_test + n_dev + n_train + n_val).

    Returns:
      LMData (see learning_law.data.LMData).
    """
    from learning_law.data.tokenizer import train_tokenizer

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
    needed = n_test + n_dev + n_train + n_val
    if corpus in EMBEDDED and 0 < corpus_stories < needed:
        raise UsageError(f"corpus_stories={corpus_stories} is too few for the splits: n_test + n_dev + "
                         f"n_train + n_val = {needed} are needed (0 = exactly that many)")

    stories, description = load_stories(corpus, needed=needed, seed=seed, corpus_stories=corpus_stories)
    stories = filter_stories(stories)
    i_test, i_dev, i_train, i_val = split_indices(len(stories), n_test=n_test, n_dev=n_dev, n_train=n_train,
                                                  n_val=n_val, seed=seed, corpus=corpus)
    pick = lambda idx: [stories[i] for i in idx]  # noqa: E731
    train_texts = pick(i_train)
    tok = train_tokenizer(train_texts, vocab_size)
    width = seq_len + 1
    train = tok.encode_batch(train_texts, width)
    dev = tok.encode_batch(pick(i_dev), width)
    test = tok.encode_batch(pick(i_test), width)
    val = tok.encode_batch(pick(i_val), width) if n_val else None
    train, noisy = inject_noise(train, fraction=float(noise_fraction), edits=noise_edits,
                                vocab_size=tok.vocab_size, pad_id=tok.pad_id,
                                rng=np.random.default_rng([seed, 0x9015E]))
    entropy, entropy_seq = grammar_entropy(tok, seq_len) if corpus == "default" else (None, None)
    if noise_edits > 0 and noise_fraction > 0:
        description += f"; noise {noise_fraction:g} x {noise_edits} edits"
    return LMData(train=train, dev=dev, test=test, vocab_size=tok.vocab_size, pad_id=tok.pad_id,
                  unk_id=tok.unk_id, noisy_rows=noisy, entropy_per_token=entropy, tokenizer=tok,
                  description=description, entropy_per_sequence=entropy_seq, val=val)
