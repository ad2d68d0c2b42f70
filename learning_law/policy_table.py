"""A policy gamma[T, N] as a sparse table of (example, step, weight) rows, for analysis outside the toolkit.

Rows are the entries with ``gamma[step, example] > threshold`` (default 0: every non-zero weight, so the
table holds the whole policy and :func:`read_table` gives it back exactly), ordered by step, then example.
Two formats, chosen by the file name:

- ``.csv``: a header ``example,step,weight``, a comment line ``# shape,T,N`` (readers that skip lines
  starting with ``#`` see a plain table), then one row per entry; weights printed with 9 significant
  digits, so float32 values round-trip exactly;
- ``.npz``: arrays ``example`` (int32), ``step`` (int32), ``weight`` (float32) and ``shape`` ([T, N]).

Both are written atomically (:mod:`learning_law.record`), in blocks of steps, so a large memory-mapped
policy is never held twice.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from learning_law import record as R
from learning_law.errors import UsageError

FORMATS = (".csv", ".npz")
BLOCK = 256  # steps per block: bounds the memory of one np.nonzero


def _check(path: Path, threshold: float) -> str:
    if path.suffix not in FORMATS:
        raise UsageError(f"out={str(path)!r} is invalid: allowed a file name ending in {' or '.join(FORMATS)}")
    if not (np.isfinite(threshold) and threshold >= 0):
        raise UsageError(f"threshold={threshold!r} is invalid: allowed a finite number >= 0")
    return path.suffix


def _entries(gamma: np.ndarray, threshold: float):
    """Yield ``(example [k], step [k], weight [k])`` block by block."""
    for t0 in range(0, gamma.shape[0], BLOCK):
        block = np.asarray(gamma[t0:t0 + BLOCK], dtype=np.float32)
        step, example = np.nonzero(block > threshold)
        yield example.astype(np.int32), (step + t0).astype(np.int32), block[step, example]


def export_table(gamma, out: str | Path, threshold: float = 0.0) -> int:
    """Write the rows of ``gamma: [T, N]`` with weight > ``threshold`` to ``out`` (.csv or .npz).

    Returns the number of rows. Raises UsageError for another suffix, a negative threshold or a gamma
    that is not a 2-d array.
    """
    out = Path(out)
    fmt = _check(out, threshold)
    if np.ndim(gamma) != 2:
        raise UsageError(f"policy has shape {np.shape(gamma)}: expected [T, N]")
    T, N = np.shape(gamma)
    if fmt == ".npz":
        parts = list(_entries(gamma, threshold))
        cols = [np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(3)]
        R.save_npz(out, example=cols[0].astype(np.int32), step=cols[1].astype(np.int32),
                   weight=cols[2].astype(np.float32), shape=np.array([T, N], np.int64))
        return int(cols[0].size)
    count = 0

    def write(f) -> None:
        nonlocal count
        f.write(f"example,step,weight\n# shape,{T},{N}\n".encode())
        for example, step, weight in _entries(gamma, threshold):
            buf = io.StringIO()
            np.savetxt(buf, np.column_stack([example, step, weight.astype(np.float64)]),
                       fmt=("%d", "%d", "%.9g"), delimiter=",")
            f.write(buf.getvalue().encode())
            count += example.size

    R.atomic_write(out, write)
    return count


def read_table(path: str | Path) -> np.ndarray:
    """The dense ``[T, N]`` float32 policy of a table written by :func:`export_table` (0 where no row)."""
    path = Path(path)
    _check(path, 0.0)
    if path.suffix == ".npz":
        with np.load(path) as z:
            T, N = (int(v) for v in z["shape"])
            example, step, weight = z["example"], z["step"], z["weight"]
    else:
        with open(path) as f:
            f.readline()
            T, N = (int(v) for v in f.readline().strip().split(",")[1:])
            data = np.loadtxt(f, delimiter=",", ndmin=2, dtype=np.float64)
        example, step, weight = data[:, 0].astype(int), data[:, 1].astype(int), data[:, 2]
    gamma = np.zeros((T, N), np.float32)
    gamma[step, example] = weight
    return gamma
