"""theory.coding: the range coder is lossless, and its size is the ideal code length within the bound."""

import numpy as np
import pytest

from theory import coding as C


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sample(rng, p):
    """One symbol per row of ``p`` (inverse CDF, independent of the coder)."""
    u = rng.random(p.shape[0])[:, None]
    return np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)


def test_exact_halves_code_the_bits_themselves():
    # p = [1/2, 1/2] quantises exactly (total / 2 each for a power-of-two total) and range // total
    # is exact, so the code value is 0.b1 b2 b3 ... in binary: the packed bits, trailing zeros dropped.
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, 1001)
    bits[-40:] = 0
    probs = np.full((bits.size, 2), 0.5)
    for total in (1 << 24, 1 << 31, 1 << 32):
        data = C.encode(bits, probs, total)
        assert data == np.packbits(bits).tobytes().rstrip(b"\x00")
        np.testing.assert_array_equal(C.decode(data, probs, total), bits)


def test_uniform_bytes_code_to_themselves():
    rng = np.random.default_rng(1)
    sym = rng.integers(0, 256, 500)
    probs = np.full((sym.size, 256), 1 / 256)
    data = C.encode(sym, probs)
    assert data == bytes(sym.astype(np.uint8)).rstrip(b"\x00")
    np.testing.assert_array_equal(C.decode(data, probs), sym)


def test_certain_symbols_cost_nothing():
    probs = np.tile([1 - 1e-9, 1e-9], (1000, 1))
    assert C.encode(np.zeros(1000, int), probs) == b""
    np.testing.assert_array_equal(C.decode(b"", probs), np.zeros(1000))
    assert C.encode([], np.zeros((0, 3))) == b""
    assert C.decode(b"", np.zeros((0, 3))).shape == (0,)


@pytest.mark.parametrize("vocab", [1, 2, 3, 17, 300, 5000])
@pytest.mark.parametrize("kind", ["flat", "skewed", "near-deterministic", "with-zeros", "adversarial"])
def test_round_trip(vocab, kind):
    rng = np.random.default_rng(vocab * 7 + len(kind))
    n = 400 if vocab < 1000 else 60
    scale = {"flat": 0.1, "skewed": 3.0, "near-deterministic": 40.0, "with-zeros": 3.0, "adversarial": 10.0}[kind]
    p = _softmax(scale * rng.standard_normal((n, vocab)))
    if kind == "with-zeros":
        p[rng.random(p.shape) < 0.5] = 0.0
        p[:, 0] += 1e-3  # keep every row a distribution
    sym = rng.integers(0, vocab, n) if kind in ("adversarial", "with-zeros") else _sample(rng, p)
    data = C.encode(sym, p.astype(np.float32))
    np.testing.assert_array_equal(C.decode(data, p.astype(np.float32)), sym)
    if np.isfinite(C.ideal_bits(sym, p)):
        assert 8 * len(data) <= C.ideal_bits(sym, p.astype(np.float32)) + C.overhead_bound_bits(n, vocab)


@pytest.mark.parametrize("vocab,n,scale", [(2, 20000, 2.0), (16, 5000, 1.0), (5000, 400, 3.0)])
def test_size_is_the_ideal_code_length(vocab, n, scale):
    rng = np.random.default_rng(vocab)
    p = _softmax(scale * rng.standard_normal((n, vocab)))
    sym = _sample(rng, p)
    ideal = C.ideal_bits(sym, p)
    coded = 8 * len(C.encode(sym, p))
    bound = C.overhead_bound_bits(n, vocab)
    assert bound < 9.0  # 8 bits + a fraction of a bit of quantisation at these sizes
    assert ideal - 8 <= coded <= ideal + bound, (coded, ideal)


def test_ideal_bits_brute_force():
    p = np.array([[0.25, 0.75], [0.5, 0.5], [2.0, 6.0]])  # last row unnormalised: 1/4, 3/4
    assert C.ideal_bits([0, 1, 1], p) == pytest.approx(2 + 1 + np.log2(4 / 3), abs=1e-12)
    assert C.ideal_bits([1], [[1.0, 0.0]]) == np.inf


def test_streaming_in_blocks_equals_one_call():
    rng = np.random.default_rng(3)
    p = _softmax(2 * rng.standard_normal((700, 11)))
    sym = _sample(rng, p)
    enc = C.Encoder()
    for b in (slice(0, 5), slice(5, 300), slice(300, 700)):
        enc.encode_probs(sym[b], p[b])
    data = enc.finish()
    assert data == C.encode(sym, p) and enc.count == 700
    dec = C.Decoder(data)
    got = np.concatenate([dec.decode_probs(p[b]) for b in (slice(0, 250), slice(250, 700))])
    np.testing.assert_array_equal(got, sym)


def test_carries_are_propagated():
    """Streams near the top of the interval produce carries through runs of 0xFF; decoding still works."""
    carries = []

    class Watch(C.Encoder):
        def _shift_low(self):
            carries.append(self.low >= C.FULL)
            super()._shift_low()

    rng = np.random.default_rng(4)
    p = np.tile([0.02, 0.98], (5000, 1))
    sym = (rng.random(5000) < 0.97).astype(int)  # mostly the top symbol: low creeps up to ...FFFF
    enc = Watch()
    enc.encode_probs(sym, p)
    data = enc.finish()
    assert any(carries)
    np.testing.assert_array_equal(C.decode(data, p), sym)


def test_quantize_table():
    rng = np.random.default_rng(5)
    p = _softmax(5 * rng.standard_normal((50, 9)))
    total = 1 << 20
    cum = C.quantize(p, total)
    f = np.diff(cum, axis=1)
    assert (cum[:, 0] == 0).all() and (f >= 1).all() and (cum[:, -1] <= total).all()
    # q_v >= p_v (total - V) / total: the quantisation loss bound
    q = f / cum[:, -1:]
    assert (q >= p * (total - 9) / total * (1 - 1e-12)).all()
    sym = rng.integers(0, 9, 50)
    low, freq, tot = C.intervals(sym, p, total)
    r = np.arange(50)
    np.testing.assert_array_equal(low, cum[r, sym])
    np.testing.assert_array_equal(freq, f[r, sym])
    np.testing.assert_array_equal(tot, cum[:, -1])


@pytest.mark.parametrize("probs,symbols,total,match", [
    ([[0.5, -0.5]], [0], C.DEFAULT_TOTAL, "finite and >= 0"),
    ([[np.nan, 0.5]], [0], C.DEFAULT_TOTAL, "finite and >= 0"),
    ([[0.0, 0.0]], [0], C.DEFAULT_TOTAL, "sums to 0"),
    ([[0.5, 0.5]], [2], C.DEFAULT_TOTAL, r"symbols must lie in \[0, V=2\)"),
    ([[0.5, 0.5]], [0, 1], C.DEFAULT_TOTAL, "symbols has shape"),
    ([[0.5, 0.5]], [0], 2, "total=2 is invalid"),
    ([0.5, 0.5], [0], C.DEFAULT_TOTAL, "expected"),
])
def test_bad_input_is_refused(probs, symbols, total, match):
    with pytest.raises(ValueError, match=match):
        C.encode(symbols, probs, total)
