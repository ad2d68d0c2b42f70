"""Bootstrap intervals of the fits: moving-block resampling of a curve's log residuals (Kuensch 1989),
percentile intervals widened to contain the estimate, and the flag of a parameter on a bound of its range.
The interval rule is documented on :class:`theory.scaling.law.ScalingFit`."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from theory.scaling.fitting import smooth_curve

# A parameter within BOUND_RTOL (relative to its scale: min L for L0, the bound itself for beta) of a bound
# of its range is reported *at* that bound (flag ``at_bound``). Below ~1e-5 min L, L0 changes the fitted
# log curve by < 1e-5, far under the Huber threshold: the data cannot tell it from 0, and the optimiser
# stalls on that plateau wherever it happens to be (1e-14 or 1e-10: noise, not an estimate).
BOUND_RTOL = 1e-5


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _block_indices(n: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of one moving-block bootstrap sample of length n (Kuensch 1989): random blocks of
    ``block`` consecutive positions, concatenated and truncated."""
    block = int(min(max(block, 1), n))
    starts = rng.integers(0, n - block + 1, size=-(-n // block))
    return (starts[:, None] + np.arange(block)[None, :]).ravel()[:n]


def _default_block(n: int) -> int:
    return max(1, int(round(n ** (1.0 / 3.0))))


def _boot_losses(t, L_raw, keep, log_fit, resid, blk, sigma, rng):
    """One moving-block bootstrap curve ``[keep.sum()]``, made as the estimate's data were: the fitted
    curve (t > t_min) times block-resampled raw log residuals, the raw points t <= t_min kept, then
    smoothed with the same sigma and cut at t_min."""
    Lb = L_raw.copy()
    Lb[keep] = np.exp(log_fit + resid[_block_indices(resid.size, blk, rng)])
    return (smooth_curve(t, Lb, sigma) if sigma > 0 else Lb)[keep]


def _percentile(samples: np.ndarray, level: float) -> tuple[float, float]:
    s = samples[np.isfinite(samples)]
    if s.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(s, [(1 - level) / 2, (1 + level) / 2])
    return (float(lo), float(hi))


def _bound_flag(value: float, lo: float, hi: float, scale: float) -> str | None:
    """'lower' / 'upper' when ``value`` lies within ``BOUND_RTOL * scale`` of that end of [lo, hi]."""
    tol = BOUND_RTOL * scale
    if value - lo <= tol:
        return "lower"
    if hi - value <= tol:
        return "upper"
    return None


def _intervals(draws: np.ndarray, estimates: Sequence[float], names: Sequence[str], level: float,
               bounds: dict) -> tuple[list[tuple[float, float]], dict]:
    """The reported intervals (see :class:`ScalingFit`): the percentile interval of ``draws[:, j]``
    widened to contain ``estimates[j]`` and, where ``bounds[name]`` is given (a parameter at a bound),
    that bound. Returns the intervals and ``{name: percentile interval}`` for those that missed the
    estimate by more than ``BOUND_RTOL`` relative."""
    out, extended = [], {}
    for j, name in enumerate(names):
        lo, hi = _percentile(draws[:, j], level)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            out.append((lo, hi))
            continue
        est = float(estimates[j])
        if not np.isfinite(est):  # e.g. B overflowed: nothing to contain
            out.append((lo, hi))
            continue
        tol = BOUND_RTOL * abs(est)  # refits agree with the estimate only to the optimiser's tolerance
        if not lo - tol <= est <= hi + tol:
            extended[name] = (lo, hi)
        pts = [lo, hi, est] + ([float(bounds[name])] if name in bounds else [])
        out.append((float(min(pts)), float(max(pts))))
    return out, extended


def _check_common(n_boot: int, level: float) -> None:
    if n_boot < 0:
        raise ValueError(f"n_boot={n_boot} is invalid: allowed >= 0")
    if not 0 < level < 1:
        raise ValueError(f"level={level} is invalid: allowed in (0, 1)")
