"""Word-level tokenizer: round trip, vocabulary against an independent count, special ids, bad sizes."""

import collections
import random
import re

import numpy as np
import pytest

from learning_law.data.tokenizer import PAD_ID, UNK_ID, train_tokenizer
from learning_law.errors import UsageError

TEXTS = ["Tom saw a cat. The cat ran!", "Lily's dog ran to Tom.", "A cat, a dog and Tom ran , ran ."]


def _words(t):
    return re.findall(r"\w+|[^\w\s]+", t)


def test_vocab_is_most_frequent_words_ties_alphabetical():
    tok = train_tokenizer(TEXTS, 8)
    counts = collections.Counter(w for t in TEXTS for w in _words(t))
    expect = sorted(counts, key=lambda w: (-counts[w], w))[:6]
    assert tok.vocab == ["<pad>", "<unk>"] + expect
    assert tok.vocab_size == 8 and tok.pad_id == PAD_ID == 0 and tok.unk_id == UNK_ID == 1


def test_deterministic_for_a_training_split():
    shuffled = TEXTS[:]
    random.Random(0).shuffle(shuffled)
    assert train_tokenizer(TEXTS, 8).vocab == train_tokenizer(shuffled[::-1], 8).vocab


def test_round_trip_and_unk():
    tok = train_tokenizer(TEXTS, 100)
    for t in TEXTS:
        assert tok.decode(tok.encode(t)) == " ".join(_words(t)) == tok.normalize(t)
    ids = tok.encode("Tom zebra ran")
    assert ids[1] == UNK_ID and tok.decode(ids) == "Tom <unk> ran"
    small = train_tokenizer(TEXTS, 3)  # only the most frequent word survives
    assert set(small.encode("Lily dog")) == {UNK_ID}


def test_encode_batch_pads_and_truncates():
    tok = train_tokenizer(TEXTS, 100)
    arr = tok.encode_batch(["Tom ran", "Tom saw a cat . The cat ran !"], 4)
    assert arr.dtype == np.int32 and arr.shape == (2, 4)
    assert list(arr[0, 2:]) == [PAD_ID, PAD_ID] and PAD_ID not in arr[1]
    assert tok.decode(arr[1]) == "Tom saw a cat"


def test_serialisation_round_trip():
    tok = train_tokenizer(TEXTS, 100)
    again = type(tok).from_json(tok.to_json())
    assert again.vocab == tok.vocab and again.encode(TEXTS[1]) == tok.encode(TEXTS[1])


@pytest.mark.parametrize("bad", [0, 2, -5, 2.5])
def test_vocab_size_too_small(bad):
    with pytest.raises(UsageError, match="vocab_size"):
        train_tokenizer(TEXTS, bad)
