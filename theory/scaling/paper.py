r"""The paper's fit of Eq. 8 (Section 4.6, :func:`fit_paper`): linear regression of :math:`\ln(L - L_0)`
on :math:`\ln t` for :math:`t > t_0`, searching :math:`L_0` and :math:`t_0` for the best correlation,
optionally on a Gaussian-smoothed curve (the authors' script used sigma = 100 steps)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import minimize_scalar

from theory.scaling.bootstrap import _boot_losses, _bound_flag, _check_common, _default_block, _intervals, _rng
from theory.scaling.fitting import _as_curve, _curve_cut
from theory.scaling.law import ScalingFit, scaling_law

# ------------------------------------------------------------------------- the paper's procedure


def _paper_regression(x, L, L0_grid):
    """For each L0: slope, intercept and correlation of ln(L - L0) on ln t. Arrays ``[len(L0_grid)]``;
    NaN where L0 >= min L."""
    L0 = np.asarray(L0_grid, dtype=np.float64)[:, None]
    ok = L0[:, 0] < np.min(L)
    with np.errstate(invalid="ignore", divide="ignore"):
        Y = np.log(np.where(ok[:, None], L[None, :] - L0, np.nan))
    xc = x - x.mean()
    Yc = Y - Y.mean(axis=1, keepdims=True)
    sxy = Yc @ xc
    sxx = xc @ xc
    syy = np.sum(Yc * Yc, axis=1)
    slope = sxy / sxx
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    intercept = Y.mean(axis=1) - slope * x.mean()
    return slope, intercept, r


def _paper_select(x, L, L0_grid, refine: bool):
    """(L0, beta, intercept, r) with the most negative correlation over ``L0_grid`` (then refined between
    the grid neighbours by a bounded 1-D search when ``refine``), or None if no L0 gives slope < 0."""
    L0_grid = np.asarray(L0_grid, dtype=np.float64)
    slope, intercept, r = _paper_regression(x, L, L0_grid)
    score = np.where(np.isfinite(r) & (slope < 0), -r, -np.inf)
    i = int(np.argmax(score))
    if not np.isfinite(score[i]):
        return None
    best = (float(L0_grid[i]), float(-slope[i]), float(intercept[i]), float(r[i]))
    if refine and L0_grid.size > 1:
        lo = L0_grid[max(i - 1, 0)]
        hi = L0_grid[i + 1] if i + 1 < L0_grid.size else min(2 * L0_grid[i] - lo, np.min(L))
        hi = min(hi, np.nextafter(np.min(L), 0))

        def neg_score(l0):
            sl, _, rr = _paper_regression(x, L, [l0])
            return float(rr[0]) if np.isfinite(rr[0]) and sl[0] < 0 else 1.0

        if hi > lo:
            res = minimize_scalar(neg_score, bounds=(lo, hi), method="bounded",
                                  options={"xatol": 1e-12 * max(hi, 1e-300)})
            if res.fun < best[3]:
                sl, ic, rr = _paper_regression(x, L, [res.x])
                best = (float(res.x), float(-sl[0]), float(ic[0]), float(rr[0]))
    return best


def fit_paper(steps, losses, *, t_min: float | Sequence[float] | None = None,
              L0: float | Sequence[float] | None = None, sigma: float = 0.0, n_L0: int = 200,
              refine: bool = True, n_boot: int = 0, level: float = 0.95, block: int | None = None,
              seed=0) -> ScalingFit:
    r"""The paper's fit of Eq. 8 (Section 4.6): ordinary least squares of :math:`\ln(L - L_0)` on
    :math:`\ln t` over :math:`t > t_0`, choosing :math:`L_0` and :math:`t_0` on grids for the best
    (most negative) correlation. Since :math:`\ln(L - L_0) = \beta \ln B - \beta \ln t`:
    :math:`\beta = -\text{slope}`, :math:`B = \exp(\text{intercept} / \beta)`.

    Args:
      steps, losses: ``[n]`` the curve (steps > 0 are used; losses > 0).
      t_min: t0 -- a number (fixed), a sequence (the grid searched), or None: 0 and 15 log-spaced steps
        up to the median step.
      L0: a number (fixed), a sequence (the grid), or None: ``n_L0`` values evenly spaced in [0, min L),
        the best one then refined between its grid neighbours (``refine``; bounded 1-D search). An L0
        within ``BOUND_RTOL`` of an end of its range ([0, min L), or the given grid) is flagged in
        ``at_bound``.
      sigma: Gaussian smoothing in steps before fitting (the authors' script: 100; equally spaced steps).
      n_boot: moving-block bootstrap of the raw log residuals about the fitted curve over t > t0; each
        sample is smoothed with the same sigma and refitted by the same procedure (L0 searched on the
        same kind of grid, which also holds the estimate's L0), t0 kept at the chosen value. Intervals:
        see :class:`ScalingFit` (they always contain the estimate).

    Searching t0 for the best correlation favours a late t0 (fewer, straighter points); give a fixed
    ``t_min`` when that matters.
    """
    _check_common(n_boot, level)
    t_full, L_raw = _as_curve(steps, losses)
    Ls, pos = _curve_cut(t_full, L_raw, 0.0, sigma)
    t_all, L_all = t_full[pos], Ls[pos]
    if t_min is None:
        hi = max(float(np.median(t_all)), float(t_all[0]))
        t0_grid = np.unique(np.concatenate([[0.0], np.geomspace(t_all[0], hi, 15)]))
    else:
        t0_grid = np.atleast_1d(np.asarray(t_min, dtype=np.float64))
    fixed_L0 = L0 is not None and np.ndim(L0) == 0
    user_grid = None if L0 is None else np.atleast_1d(np.asarray(L0, dtype=np.float64))

    def select(x, L, also=()):
        """The L0 search on one curve; ``also``: more grid values (the estimate's L0, for the refits)."""
        if user_grid is not None:
            return _paper_select(x, L, user_grid, False)
        grid = np.linspace(0.0, np.min(L), n_L0, endpoint=False)
        also = [a for a in also if 0.0 <= a < np.min(L)]
        return _paper_select(x, L, np.unique(np.concatenate([grid, also])) if also else grid, refine)

    best, best_t0 = None, None
    for t0 in t0_grid:
        keep = t_all > t0
        if keep.sum() < 4:
            continue
        sel = select(np.log(t_all[keep]), L_all[keep])
        if sel is not None and (best is None or sel[3] < best[3]):
            best, best_t0 = sel, float(t0)
    if best is None:
        raise ValueError("no (t0, L0) on the grids gives a decreasing ln(L - L0) with >= 4 points")
    L0_hat, beta, intercept, r = best
    B = float(np.exp(intercept / beta))
    keep = t_full > max(best_t0, 0.0)
    t, L = t_full[keep], Ls[keep]
    at, bound_values = {}, {}
    if not fixed_L0:
        lmin = float(np.min(L))
        valid = user_grid[user_grid < lmin] if user_grid is not None else np.array([0.0, lmin])
        flag = _bound_flag(L0_hat, float(valid.min()), float(valid.max()), lmin) if valid.size > 1 else None
        if flag:
            at["L0"] = flag
            bound_values["L0"] = float(valid.min() if flag == "lower" else valid.max())
    intervals, extended, failed = [(float("nan"),) * 2] * 3, {}, 0
    if n_boot > 0:
        rng = _rng(seed)
        lp = np.log(scaling_law(t, L0_hat, B, beta))
        resid = np.log(L_raw[keep]) - lp
        blk = block or _default_block(t.size)
        draws = np.full((n_boot, 3), np.nan)
        for k in range(n_boot):
            sel = select(np.log(t), _boot_losses(t_full, L_raw, keep, lp, resid, blk, sigma, rng), also=(L0_hat,))
            if sel is not None:
                draws[k] = (sel[0], np.exp(sel[2] / sel[1]), sel[1])
        failed = int(np.sum(~np.isfinite(draws[:, 0])))
        intervals, extended = _intervals(draws, (L0_hat, B, beta), ("L0", "B", "beta"), level, bound_values)
    return ScalingFit(L0=L0_hat, B=B, beta=beta, L0_interval=intervals[0], B_interval=intervals[1],
                      beta_interval=intervals[2], r2=float(r**2), n=int(t.size), t_min=best_t0,
                      method=f"paper (OLS of ln(L-L0) on ln t, sigma={sigma:g})", level=float(level),
                      n_boot=int(n_boot), at_bound=at, interval_extended=extended, boot_failed=failed)
