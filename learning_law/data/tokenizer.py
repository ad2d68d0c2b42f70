"""Word-level tokenizer trained offline on the training split (paper Sec. 4: "a vocabulary of the most
frequent tokens (5K) with [UNK] and padding").

Built on Hugging Face ``tokenizers``: NFC normalisation, a whitespace/punctuation pre-tokenizer (``\\w+``
or ``[^\\w\\s]+``, no lower-casing) and a WordLevel model holding the ``vocab_size - 2`` most frequent
pre-tokens of the training texts (ties broken alphabetically, so the vocabulary is a function of the
training split alone, whatever its order). Ids: ``<pad>`` = 0 (padding; never a target), ``<unk>`` = 1
(every out-of-vocabulary word), then the words by decreasing frequency.

The "normalised text" of a string is its pre-tokens joined by single spaces; for text whose words are all
in the vocabulary, ``decode(encode(text)) == normalize(text)``.
"""

from __future__ import annotations

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from learning_law.errors import UsageError

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
MIN_VOCAB = 3  # <pad>, <unk> and at least one word


def _pipeline(tok: Tokenizer) -> Tokenizer:
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


class WordTokenizer:
    """A trained word-level tokenizer. Attributes: ``vocab`` (list of tokens, index = id), ``pad_id``,
    ``unk_id``, ``vocab_size``."""

    pad_id = PAD_ID
    unk_id = UNK_ID

    def __init__(self, hf: Tokenizer):
        self._hf = hf
        v = hf.get_vocab()
        self.vocab: list[str] = [w for w, _ in sorted(v.items(), key=lambda kv: kv[1])]
        if self.vocab[:2] != [PAD, UNK] or len(self.vocab) != len(v):
            raise ValueError("not a learning-law word tokenizer (ids 0, 1 must be <pad>, <unk>)")

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def normalize(self, text: str) -> str:
        """The text as the tokenizer sees it: pre-tokens joined by single spaces."""
        norm = self._hf.normalizer.normalize_str(text)
        return " ".join(w for w, _ in self._hf.pre_tokenizer.pre_tokenize_str(norm))

    def encode(self, text: str) -> list[int]:
        return self._hf.encode(text).ids

    def decode(self, ids) -> str:
        """Ids -> text; padding is dropped, ``<unk>`` is kept."""
        return " ".join(self.vocab[i] for i in ids if i != PAD_ID)

    def encode_batch(self, texts: list[str], length: int) -> np.ndarray:
        """[n, length] int32: the first ``length`` tokens of each text, padded with ``<pad>``."""
        out = np.full((len(texts), length), PAD_ID, np.int32)
        for row, enc in zip(out, self._hf.encode_batch(list(texts))):
            ids = enc.ids[:length]
            row[: len(ids)] = ids
        return out

    def covers(self, words) -> bool:
        """Whether every word in ``words`` has its own id (no ``<unk>``)."""
        have = set(self.vocab)
        return all(w in have for w in words)

    def to_json(self) -> str:
        return self._hf.to_str()

    @classmethod
    def from_json(cls, text: str) -> "WordTokenizer":
        return cls(Tokenizer.from_str(text))

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size})"


def train_tokenizer(texts: list[str], vocab_size: int) -> WordTokenizer:
    """Train on ``texts`` (the training split): ``<pad>``, ``<unk>`` and the ``vocab_size - 2`` most
    frequent words (fewer when the texts have fewer distinct words)."""
    if not isinstance(vocab_size, (int, np.integer)) or vocab_size < MIN_VOCAB:
        raise UsageError(f"vocab_size={vocab_size!r} is invalid: allowed >= {MIN_VOCAB} "
                         f"(<pad>, <unk> and at least one word)")
    if len(texts) == 0:
        raise UsageError("no training texts to train the tokenizer on")
    hf = _pipeline(Tokenizer(models.WordLevel(unk_token=UNK)))
    trainer = trainers.WordLevelTrainer(vocab_size=int(vocab_size), min_frequency=1,
                                        special_tokens=[PAD, UNK], show_progress=False)
    hf.train_from_iterator(texts, trainer=trainer)
    return WordTokenizer(hf)


__all__ = ["WordTokenizer", "train_tokenizer", "PAD", "UNK", "PAD_ID", "UNK_ID"]
