"""Speed-up of one training run over another, measured on their loss curves (paper Fig. 2, Eq. 9).

speed-up = T / t*, with t* the first step at which the faster run's loss reaches the reference run's
final loss L_ref(T). When the faster run never gets there, the ratio is below one: t_ref* / T with
t_ref* the first step at which the reference reaches the other run's final loss.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d


def first_step_reaching(curve: np.ndarray, level: float) -> int | None:
    """First index t with ``curve[t] <= level``, or None."""
    hits = np.nonzero(np.asarray(curve) <= level)[0]
    return int(hits[0]) if hits.size else None


def smooth(curve: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-smoothed curve (``mode='nearest'``), as the paper's analysis scripts did; sigma in steps."""
    if sigma <= 0:
        return np.asarray(curve, dtype=np.float64)
    return gaussian_filter1d(np.asarray(curve, dtype=np.float64), sigma, mode="nearest")


def speedup_ratio(reference: np.ndarray, candidate: np.ndarray, sigma: float = 0.0) -> dict:
    """Speed-up of ``candidate`` over ``reference``; both are loss curves ``[T+1]`` over t = 0..T.

    Returns a dict with ``speedup`` (T / t*), ``t_star`` (None if never reached), ``target`` (the
    reference's final loss) and ``sigma`` (smoothing used).
    """
    ref = smooth(reference, sigma)
    cand = smooth(candidate, sigma)
    if ref.shape != cand.shape or ref.ndim != 1 or ref.shape[0] < 2:
        raise ValueError(f"loss curves must be 1-D of equal length >= 2, got {ref.shape} and {cand.shape}")
    steps = ref.shape[0] - 1
    target = float(ref[-1])
    t_star = first_step_reaching(cand, target)
    if t_star is not None:
        ratio = steps / max(t_star, 1)
    else:
        t_ref = first_step_reaching(ref, float(cand[-1]))
        ratio = (t_ref if t_ref is not None else steps) / steps
    return {"speedup": float(ratio), "t_star": t_star, "target": target, "sigma": float(sigma)}
