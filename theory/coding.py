r"""Exact arithmetic (range) coding: the prequential code of paper App. A, for real.

A stream of symbols :math:`x_1..x_S` is coded with a probability vector :math:`p_i` over the |V|
symbols at each position (in prequential coding: the model as it is at that step). The decoder, given
the same vectors, recovers the stream exactly. The code length approaches the ideal
:math:`-\sum_i \log_2 p_i(x_i)` bits, the sum of the losses in bits (:func:`ideal_bits`).

Method. Probabilities are quantised per position to integer frequencies ``f_v = 1 + floor(p_v M)`` with
``M = total - |V|`` (every symbol >= 1, so nothing is impossible; the row sum is at most ``total``). The
coder is a byte-oriented range coder with carry propagation (the scheme of LZMA's ``rc``: a pending byte
plus a run of 0xFF bytes absorbs a carry), held in exact Python integers with a 64-bit window: after
renormalisation the range is >= 2^56, so ``range // row_total`` truncates by a factor of at most
``1 - total / 2^56``. The stream is finished with the number of fewest bits in the final interval, and
trailing zero bytes are dropped (the decoder reads zeros past the end).

Overhead bound (proved in the docstring of :func:`overhead_bound_bits`): for a stream of S symbols,

.. math:: \text{coded bits} < \text{ideal bits} + 8
          + S\,[\log_2(\text{total}/(\text{total}-|V|)) - \log_2(1 - \text{total}/2^{56})],

i.e. at most 1 bit to terminate the arithmetic code plus < 7 bits rounding to whole bytes, plus the
quantisation loss (about ``S |V| / (total ln 2)`` bits: 0.5 bit for 300k symbols of |V| = 5000 at
``total = 2^32``) and the range truncation (~1e-7 bit per symbol). The code may also be *shorter* than
the ideal (a frequency of 1 rounds a tiny probability up).

Only numpy; the coding loop is a Python loop over symbols (integer work); quantisation is vectorised.
Quantisation is deterministic (IEEE float64 ops on the same float inputs), so encoder and decoder agree
given the same probabilities.
"""

from __future__ import annotations

import math

import numpy as np

WINDOW_BITS = 64
FULL = 1 << WINDOW_BITS  # the initial range: the whole interval [0, 1) in units of 2^-64
TOP = 1 << (WINDOW_BITS - 8)  # renormalise (emit a byte) while range < TOP
MASK = FULL - 1
DEFAULT_TOTAL = 1 << 32  # target sum of the integer frequencies of one position
MAX_TOTAL = 1 << 40  # keeps range // total >= 2^16 and p * M exact enough in float64


def _check_total(total: int, vocab: int) -> int:
    total = int(total)
    if not (vocab + 1 <= total <= MAX_TOTAL):
        raise ValueError(f"total={total} is invalid: allowed [|V| + 1 = {vocab + 1}, 2^40]")
    return total


ROWS_PER_BLOCK = 256  # rows quantised at once: keeps the float64 temporaries in cache


def _scaled_floor(p: np.ndarray, total: int) -> np.ndarray:
    """``floor(p * (M / sum(p)))`` in float64 ``[n, V]`` (integers, exact), M = total - V.

    The one place probabilities become integers: the encoder and the decoder both come through here,
    so they get the same table from the same inputs.
    """
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"probs has shape {p.shape}: expected [S, V] with V >= 1")
    total = _check_total(total, p.shape[1])
    if p.size == 0:
        return np.zeros(p.shape, dtype=np.float64)
    s = p.sum(axis=1, dtype=np.float64)
    if not (np.isfinite(s).all() and p.min() >= 0):
        raise ValueError("probs must be finite and >= 0")
    if not (s > 0).all():
        raise ValueError(f"probs row {int(np.argmin(s))} sums to 0: expected a distribution")
    f = np.multiply(p, (float(total - p.shape[1]) / s)[:, None], dtype=np.float64)
    return np.floor(f, out=f)


def _blocks(n: int):
    for i in range(0, n, ROWS_PER_BLOCK):
        yield slice(i, min(n, i + ROWS_PER_BLOCK))


def frequencies(probs, total: int = DEFAULT_TOTAL) -> np.ndarray:
    """Integer frequencies ``[S, V]`` (int64): ``1 + floor(p M / sum(p))``, M = total - V; rows sum to <= total."""
    p = np.asarray(probs)
    return (_scaled_floor(p, total) + 1.0).astype(np.int64)


def quantize(probs, total: int = DEFAULT_TOTAL) -> np.ndarray:
    """Cumulative frequency table ``cum: [S, V+1]`` (int64): ``cum[i, 0] = 0``, ``cum[i, V]`` = row total.

    Symbol v of position i owns ``[cum[i, v], cum[i, v+1])``; its coding probability is
    ``q = (cum[i, v+1] - cum[i, v]) / cum[i, V] >= p_v (total - V) / total``.
    """
    p = np.asarray(probs)
    cum = np.zeros((p.shape[0], p.shape[-1] + 1), dtype=np.int64)
    for b in _blocks(p.shape[0]):
        f = _scaled_floor(p[b], total).astype(np.int64)
        f += 1
        np.cumsum(f, axis=1, out=f)  # in place: contiguous, much faster than into the strided table
        cum[b, 1:] = f
    return cum


def intervals(symbols, probs, total: int = DEFAULT_TOTAL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, freq, row_total) ``[S]`` int64 of the coded symbols: all the encoder needs.

    Equal to ``cum[i, x_i], cum[i, x_i + 1] - cum[i, x_i], cum[i, V]`` of :func:`quantize`, without the
    table: one segmented sum per row below and from the symbol.
    """
    p = np.asarray(probs)
    if p.ndim != 2:
        raise ValueError(f"probs has shape {p.shape}: expected [S, V]")
    sym = _check_symbols(symbols, p.shape)
    n, v = p.shape
    low, freq, tot = (np.empty(n, dtype=np.int64) for _ in range(3))
    for b in _blocks(n):
        f = _scaled_floor(p[b], total)
        m = f.shape[0]
        s = sym[b]
        rows = np.arange(m)
        starts = np.stack([rows * v, rows * v + s], axis=1).reshape(-1)
        sums = np.add.reduceat(f.reshape(-1), starts) if m else np.zeros(0)
        below = np.where(s > 0, sums[0::2], 0.0)  # reduceat gives f[start] for an empty segment
        low[b] = below.astype(np.int64) + s
        freq[b] = f[rows, s].astype(np.int64) + 1
        tot[b] = (below + sums[1::2]).astype(np.int64) + v
    return low, freq, tot


def _check_symbols(symbols, shape) -> np.ndarray:
    sym = np.asarray(symbols)
    if sym.shape != (shape[0],) or (sym.size and not np.issubdtype(sym.dtype, np.integer)):
        raise ValueError(f"symbols has shape {sym.shape} and dtype {sym.dtype}: expected integers [{shape[0]}]")
    if sym.size and (sym.min() < 0 or sym.max() >= shape[1]):
        raise ValueError(f"symbols must lie in [0, V={shape[1]}), got [{sym.min()}, {sym.max()}]")
    return sym.astype(np.int64)


def ideal_bits(symbols, probs) -> float:
    r"""Ideal code length :math:`-\sum_i \log_2 p_i(x_i)` in bits (float64; rows normalised). inf if some p = 0."""
    p = np.asarray(probs)
    if p.ndim != 2:
        raise ValueError(f"probs has shape {p.shape}: expected [S, V]")
    sym = _check_symbols(symbols, p.shape)
    s = p.sum(axis=1, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return float((np.log2(s) - np.log2(p[np.arange(p.shape[0]), sym].astype(np.float64))).sum())


def overhead_bound_bits(n_symbols: int, vocab: int, total: int = DEFAULT_TOTAL) -> float:
    r"""Upper bound on ``coded bits - ideal bits`` for ``n_symbols`` symbols over ``vocab``.

    Proof sketch. Quantisation: ``q_v = f_v / F`` with ``f_v >= p_v M`` and ``F <= total``, so
    :math:`-\log_2 q_v \le -\log_2 p_v + \log_2(\text{total}/M)`. Truncation: the sub-interval is
    ``(range // F) f_v >= range (1 - F/range) q_v`` and range >= 2^56 before every symbol. So the final
    interval has width :math:`W \ge 2^{-(\text{ideal} + S \epsilon)}`. Any interval of width
    :math:`W \ge 2^{-n}` holds a multiple of :math:`2^{-n}`; the coder emits the one with the fewest bits,
    n < -log2 W + 1, padded to whole bytes (< 7 more bits).
    """
    eps = math.log2(total / (total - vocab)) - math.log2(1.0 - total / TOP)
    return 8.0 + n_symbols * eps


class Encoder:
    """Range encoder: feed ``(low, freq, total)`` intervals with :meth:`encode`, then :meth:`finish`.

    Stateful by nature (the coder's state is the interval); used as a short-lived object.
    """

    def __init__(self):
        self.low = 0  # 64-bit window of the interval's lower end (bit 64: a pending carry)
        self.range = FULL
        self._cache = 0  # the last byte not yet written (a carry may still change it)
        self._pending = 1  # cache plus a run of 0xFF bytes; the very first byte is the integer part (0)
        self._out = bytearray()
        self.count = 0
        self._done = False

    @property
    def size_bytes(self) -> int:
        """Approximate size of the code so far in bytes (written plus pending); for progress displays."""
        return len(self._out) + self._pending

    def _shift_low(self) -> None:
        low = self.low
        if low < (0xFF << (WINDOW_BITS - 8)) or low >= FULL:
            carry = low >> WINDOW_BITS
            self._out.append((self._cache + carry) & 0xFF)
            if self._pending > 1:
                self._out.extend(bytes([(0xFF + carry) & 0xFF]) * (self._pending - 1))
            self._pending = 0
            self._cache = (low >> (WINDOW_BITS - 8)) & 0xFF
        self._pending += 1
        self.low = (low << 8) & MASK

    def encode(self, low, freq, total) -> None:
        """Encode symbols given their intervals ``[low, low + freq)`` out of ``total`` (arrays ``[n]``)."""
        if self._done:
            raise ValueError("encoder already finished")
        lows, freqs, totals = (np.asarray(a, dtype=np.int64).tolist() for a in (low, freq, total))
        lo_, rng = self.low, self.range
        for a, f, t in zip(lows, freqs, totals):
            r = rng // t
            lo_ += r * a
            rng = r * f
            while rng < TOP:
                rng <<= 8
                self.low = lo_
                self._shift_low()
                lo_ = self.low
        self.low, self.range = lo_, rng
        self.count += len(lows)

    def encode_probs(self, symbols, probs, total: int = DEFAULT_TOTAL) -> None:
        """Encode ``symbols: [n]`` under ``probs: [n, V]`` (quantised with ``total``)."""
        self.encode(*intervals(symbols, probs, total))

    def finish(self) -> bytes:
        """Terminate with the fewest-bit number in the final interval; return the code (bytes)."""
        if self._done:
            raise ValueError("encoder already finished")
        lo, hi = self.low, self.low + self.range - 1
        k = (lo ^ hi).bit_length()  # lo and hi agree above bit k-1; hi has a 1 there, lo a 0
        if lo & ((1 << k) - 1):
            self.low = (hi >> (k - 1)) << (k - 1)  # common prefix, then 1, then zeros
        for _ in range(WINDOW_BITS // 8 + 1):
            self._shift_low()
        self._done = True
        out = bytes(self._out)
        assert out[0] == 0, "the integer part of the code value must be 0"
        return out[1:].rstrip(b"\x00")


class Decoder:
    """Range decoder of :class:`Encoder`'s bytes: call :meth:`decode` with the same tables in order."""

    def __init__(self, data: bytes):
        self._data = bytes(data)
        self._pos = WINDOW_BITS // 8
        self.code = int.from_bytes(self._data[: self._pos].ljust(self._pos, b"\x00"), "big")
        self.range = FULL
        self.count = 0

    def decode(self, cum) -> np.ndarray:
        """Decode one symbol per row of ``cum: [n, V+1]`` (see :func:`quantize`); returns ``[n]`` int64."""
        cum = np.asarray(cum, dtype=np.int64)
        totals = cum[:, -1].tolist()
        out = np.empty(cum.shape[0], dtype=np.int64)
        data, pos, code, rng = self._data, self._pos, self.code, self.range
        n_data = len(data)
        search = np.searchsorted
        for i, t in enumerate(totals):
            row = cum[i]
            r = rng // t
            target = min(code // r, t - 1)
            s = int(search(row, target, side="right")) - 1
            a = int(row[s])
            code -= r * a
            rng = r * (int(row[s + 1]) - a)
            while rng < TOP:
                rng <<= 8
                code = (code << 8) | (data[pos] if pos < n_data else 0)
                pos += 1
            out[i] = s
        self._pos, self.code, self.range = pos, code, rng
        self.count += cum.shape[0]
        return out

    def decode_probs(self, probs, total: int = DEFAULT_TOTAL) -> np.ndarray:
        """Decode ``[n]`` symbols given ``probs: [n, V]`` (the encoder's, quantised with the same total)."""
        return self.decode(quantize(probs, total))


def encode(symbols, probs, total: int = DEFAULT_TOTAL) -> bytes:
    """Arithmetic-code ``symbols: [S]`` (ints in [0, V)) under ``probs: [S, V]``; returns the bytes.

    >>> encode([1, 0, 1, 1, 0, 0, 0, 0, 1], [[0.5, 0.5]] * 9)  # exact halves: the bits themselves
    b'\\xb0\\x80'
    """
    enc = Encoder()
    enc.encode_probs(symbols, probs, total)
    return enc.finish()


def decode(data: bytes, probs, total: int = DEFAULT_TOTAL) -> np.ndarray:
    """Inverse of :func:`encode`: the ``[S]`` symbols (int64) from ``data`` and the same ``probs: [S, V]``."""
    return Decoder(data).decode_probs(probs, total)
