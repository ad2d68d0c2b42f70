"""Text data of the language-model task (DESIGN.md "Task": lm).

``load_lm_data`` turns a corpus spec into token-id splits:

* ``"default"``: the embedded corpus of children's stories generated offline from a seed by a unifilar
  stochastic grammar (learning_law.data.corpus), whose irreducible loss is known exactly;
* ``"text:PATH"``: any UTF-8 text file (stories = blank-line separated paragraphs, or lines);
* ``"tinystories:PATH"``: a local TinyStories copy, prepared through a tensorflow-datasets builder
  (learning_law.data.tinystories).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


from learning_law.data.sources import inject_noise, load_lm_data  # noqa: E402

__all__ = ["LMData", "load_lm_data", "inject_noise"]
