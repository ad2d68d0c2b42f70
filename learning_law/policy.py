"""Learning policies gamma[T, N]: one weight per training example per step, each row on the simplex.

Constructors return float32 ``[T, N]`` arrays; :func:`validate` checks any array before a run starts.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from learning_law.errors import UsageError

ROW_SUM_ATOL = 1e-4  # float32 rows of 4096 weights sum to 1 within ~1e-6; leave room for saved files


def constant(steps: int, n: int, row=None) -> np.ndarray:
    """Conventional training: gamma[t, n] = 1 / N, or ``row`` ``[N]`` at every step (a task's ``constant_row``)."""
    if row is None:
        return np.full((steps, n), 1.0 / n, dtype=np.float32)
    return np.ascontiguousarray(np.broadcast_to(np.asarray(row, np.float32), (steps, n)))


def one_hot(steps: int, n: int, index: int) -> np.ndarray:
    """All weight on example ``index`` at every step."""
    gamma = np.zeros((steps, n), dtype=np.float32)
    gamma[:, index] = 1.0
    return gamma


def validate(gamma, steps: int, n: int, name: str = "policy") -> np.ndarray:
    """Check ``gamma`` is a finite, non-negative ``[steps, n]`` array with rows summing to 1.

    Returns it as float32; raises :class:`UsageError` saying what is wrong and where.
    """
    gamma = np.asarray(gamma)
    if gamma.ndim != 2 or gamma.shape != (steps, n):
        raise UsageError(f"{name} has shape {gamma.shape}: expected [steps, n_train] = [{steps}, {n}]")
    if not np.issubdtype(gamma.dtype, np.floating):
        raise UsageError(f"{name} has dtype {gamma.dtype}: expected a floating-point array")
    bad = ~np.isfinite(gamma)
    if bad.any():
        t, i = np.argwhere(bad)[0]
        raise UsageError(f"{name} has a non-finite value at step {t}, example {i}: all weights must be finite")
    if (gamma < 0).any():
        t, i = np.argwhere(gamma < 0)[0]
        raise UsageError(f"{name}[{t}, {i}] = {gamma[t, i]:.3g} < 0: weights must be >= 0")
    sums = gamma.sum(axis=1, dtype=np.float64)
    off = np.abs(sums - 1.0)
    if (off > ROW_SUM_ATOL).any():
        t = int(np.argmax(off))
        raise UsageError(f"{name} row {t} sums to {sums[t]:.6g}: every row must sum to 1 "
                         f"(within {ROW_SUM_ATOL})")
    return gamma.astype(np.float32, copy=False)


def fingerprint(gamma) -> str:
    """SHA-256 of a policy's content (shape and float32 values, C order): what identifies the policy a
    run was trained under, whatever its file is called or wherever it moved."""
    arr = np.ascontiguousarray(np.asarray(gamma, dtype=np.float32))
    h = hashlib.sha256(f"float32{arr.shape}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def load(path: str | os.PathLike, mmap: bool = True) -> np.ndarray:
    """Load a policy from a ``.npy`` file or from a run folder holding ``gamma.npy``."""
    p = Path(path)
    if p.is_dir():
        p = p / "gamma.npy"
    if not p.exists():
        raise UsageError(f"policy={str(path)!r}: no such file (give 'constant', a .npy file [T, N], "
                         "or a folder written by 'learning-law optimize')")
    try:
        return np.load(p, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise UsageError(f"policy={str(path)!r} is not a readable .npy array: {e}") from None


def resolve(spec: str, steps: int, n: int) -> tuple[np.ndarray, str]:
    """Turn a CLI policy spec (``constant`` or a path) into a validated ``[steps, n]`` array."""
    if spec == "constant":
        return constant(steps, n), "constant"
    gamma = load(spec)
    return validate(gamma, steps, n, name=f"policy {spec!r}"), str(Path(spec).resolve())
