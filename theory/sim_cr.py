r"""SIM vs the compression ratio (paper Fig. 3B / 7): the empirical curve SIM = k ln(a / (b - CR)) and its fit.

Re-exported by :mod:`theory.law` (``theory.law.fit_sim_cr``).
"""

from __future__ import annotations

import numpy as np


def sim_cr_curve(cr, k, a, b):
    r"""The paper's empirical relation between SIM and the compression ratio (Fig. 3B / 7):

    .. math:: SIM = k \ln \frac{a}{b - CR},

    defined for CR < b; SIM -> infinity as CR approaches the asymptote b (the best compression
    reachable, where the Learning Law holds exactly)."""
    return k * np.log(a / (b - np.asarray(cr, dtype=np.float64)))


def fit_sim_cr(cr, sim, *, n_grid: int = 200) -> dict:
    r"""Least-squares fit of :func:`sim_cr_curve` to points (CR_i, SIM_i), e.g. one per outer checkpoint.

    The model is linear in (k, k ln a) for a fixed b, so b is first profiled on a grid above max CR
    (offsets from 1e-3 to 1e3 times the spread of CR, log-spaced); ``scipy.optimize.curve_fit`` then
    refines (k, ln a, b) from the best grid point with b > max CR enforced by a bound.

    Args:
      cr, sim: ``[n]`` finite points, n >= 3 (NaN/inf points are dropped first).

    Returns a dict: ``k``, ``a``, ``b``, their standard errors ``k_se``, ``a_se``, ``b_se`` (from the
    covariance of curve_fit; NaN when it is not defined, e.g. n = 3), ``r2`` (of SIM), ``n``,
    ``rmse``, ``asymptote_identified`` (False when the data do not locate b: no interior minimum of
    the profile, or b's standard error exceeds its distance from max CR). Raises ValueError with fewer than 3 finite points or when CR has no spread.
    """
    from scipy.optimize import curve_fit

    cr = np.asarray(cr, dtype=np.float64).ravel()
    sim = np.asarray(sim, dtype=np.float64).ravel()
    if cr.shape != sim.shape:
        raise ValueError(f"cr and sim must have the same length, got {cr.size} and {sim.size}")
    keep = np.isfinite(cr) & np.isfinite(sim)
    cr, sim = cr[keep], sim[keep]
    if cr.size < 3:
        raise ValueError(f"only {cr.size} finite (CR, SIM) points: need at least 3 for (k, a, b)")
    spread = float(np.ptp(cr))
    if not spread > 0:
        raise ValueError("the compression ratios are all equal: the fit needs CR to vary")
    top = float(np.max(cr))

    def linear(b):
        x = -np.log(b - cr)
        A = np.stack([x, np.ones_like(x)], axis=1)
        coef, *_ = np.linalg.lstsq(A, sim, rcond=None)
        return coef, float(np.sum((A @ coef - sim) ** 2))

    grid = top + spread * np.geomspace(1e-3, 1e3, n_grid)
    sse = [linear(b)[1] for b in grid]
    best = int(np.argmin(sse))
    b0 = float(grid[best])
    (k0, c0), _ = linear(b0)
    k0 = k0 if abs(k0) > 1e-12 else 1e-12
    model = lambda x, k, log_a, b: k * (log_a - np.log(b - x))  # noqa: E731
    lo_b = np.nextafter(top, np.inf) + 1e-12 * max(abs(top), 1.0)
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            p, cov = curve_fit(model, cr, sim, p0=(k0, c0 / k0, b0),
                               bounds=([-np.inf, -np.inf, lo_b], [np.inf, np.inf, np.inf]), maxfev=20000)
    except RuntimeError:  # no convergence: keep the profiled solution, without errors
        p, cov = np.array([k0, c0 / k0, b0]), np.full((3, 3), np.nan)
    k, log_a, b = (float(v) for v in p)
    se = np.sqrt(np.clip(np.diag(cov), 0, None)) if np.all(np.isfinite(cov)) else np.full(3, np.nan)
    pred = model(cr, k, log_a, b)
    tot = float(np.sum((sim - sim.mean()) ** 2))
    resid = float(np.sum((sim - pred) ** 2))
    a = float(np.exp(log_a)) if log_a < 700 else float("inf")
    return {"k": k, "a": a, "b": b, "k_se": float(se[0]), "a_se": float(a * se[1]), "b_se": float(se[2]),
            "r2": 1.0 - resid / tot if tot > 0 else float("nan"), "n": int(cr.size),
            "rmse": float(np.sqrt(resid / cr.size)),
            # The data pin the asymptote down only when the profile has an interior minimum and b is
            # known to better than its distance from the largest CR; otherwise SIM is ~linear in CR.
            "asymptote_identified": bool(best < n_grid - 1 and np.isfinite(se[2]) and se[2] < b - top)}
