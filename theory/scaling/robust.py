"""Robust fit of Eq. 8 (:func:`fit_scaling_law`): Huber loss on log residuals, a grid of starts and
L-BFGS, in the style of Hoffmann et al. 2022 ("Chinchilla", App. D.2), with moving-block bootstrap
intervals."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from theory.scaling.bootstrap import BOUND_RTOL, _boot_losses, _check_common, _default_block, _intervals, _rng
from theory.scaling.fitting import (_LBFGS, HUBER_DELTA, _as_curve, _curve_cut, _huber, _one_blas_thread, _r2,
                                    _weights)
from theory.scaling.law import ScalingFit

# Starting grid of the time-form fit: L0 as a fraction of the smallest loss fitted, and beta.
L0_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 0.9, 0.97)
BETA_STARTS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
# Logistic starts/restarts of the robust fit keep L0 / min L in [1e-6, 1 - 1e-6], off the flat plateaus.
_FRAC_CLIP = 1e-6
ROBUST_BETA_RANGE = (1e-6, 50.0)
# A bootstrap refit of the robust fit starts from each local optimum the grid's starts reached on the data
# (the estimate first) and from the sample's own best BOOT_GRID_STARTS grid points. Measured against the
# full search (best n_starts grid points + the estimate) on 340 samples of 7 curves: never a worse
# optimum (parameters equal to 1e-6 relative), 2.5-4x faster.
BOOT_GRID_STARTS = 1


# ---------------------------------------------------------------------- robust fit of Eq. 8 (time)
#
# Parameters p = (u, c, beta):  L0 = Lmin * sigmoid(u) in (0, Lmin), Lmin the smallest loss fitted;
# the power term is exp(c - beta * (ln t - m)), m the weighted mean of ln t, i.e. c = ln of the power
# term at the centre of the data. (c, beta) are far less correlated than (ln B, beta); B = exp(lnA/beta)
# with lnA = c + beta * m is recovered at the end.


def _time_objective(p, x, y, w, m, log_lmin, delta):
    u, c, beta = p
    log_l0 = log_lmin - np.logaddexp(0.0, -u)
    z = c - beta * (x - m)
    lp = np.logaddexp(log_l0, z)
    s0 = np.exp(log_l0 - lp)
    val, dval = _huber(lp - y, delta)
    g = w * dval
    W = np.sum(w)
    g1 = g * (1 - s0)
    # dot products, not np.sum of products: this runs ~40 times per L-BFGS run, thousands per bootstrap
    grad = np.array([(g @ s0) * expit(-u), np.sum(g1), -(g1 @ (x - m))])
    return (w @ val) / W, grad / W


def _time_minimize(p0, x, y, w, m, delta):
    log_lmin = float(np.min(y))
    res = minimize(_time_objective, np.asarray(p0, dtype=np.float64), args=(x, y, w, m, log_lmin, delta),
                   jac=True, method="L-BFGS-B", bounds=[(-60, 60), (None, None), ROBUST_BETA_RANGE],
                   options=_LBFGS)
    return res.x, float(res.fun)


def _time_params(p, y, m) -> tuple[float, float, float, dict]:
    """(L0, B, beta, at_bound) from the optimiser's parameters; a parameter within ``BOUND_RTOL`` of a bound
    is set to that bound (L0 = 0 or min L: the logistic transform only reaches them in the limit, and near
    them the objective is flat, so the optimiser's stopping point there carries no information)."""
    u, c, beta = (float(v) for v in p)
    lmin = float(np.exp(np.min(y)))
    at = {}
    if expit(u) <= BOUND_RTOL:
        L0, at["L0"] = 0.0, "lower"
    elif expit(-u) <= BOUND_RTOL:
        L0, at["L0"] = lmin, "upper"
    else:
        L0 = lmin * float(expit(u))
    for end, bound in zip(("lower", "upper"), ROBUST_BETA_RANGE):
        if abs(beta - bound) <= BOUND_RTOL * bound:
            beta, at["beta"] = bound, end
    with np.errstate(over="ignore"):
        B = float(np.exp((c + beta * m) / beta))
    return L0, B, beta, at


def _logit_start(frac: float) -> float:
    frac = min(max(frac, _FRAC_CLIP), 1 - _FRAC_CLIP)
    return float(np.log(frac / (1 - frac)))


def _time_starts(x, y, w, m):
    """Grid of (u, c, beta) starts: L0 fraction x beta; c by weighted least squares given both."""
    lmin = np.exp(np.min(y))
    L = np.exp(y)
    starts = []
    for frac in L0_FRACTIONS:
        u = _logit_start(frac)
        gap = np.log(np.maximum(L - expit(u) * lmin, 1e-300))
        for beta in BETA_STARTS:
            c = np.sum(w * (gap + beta * (x - m))) / np.sum(w)
            starts.append((u, c, beta))
    return starts


def _time_fit_points(x, y, w, delta, n_starts, extra_starts=()):
    """The robust fit's search: L-BFGS from the best ``n_starts`` points of the grid of starts (screened by
    objective value) and from each of ``extra_starts``. Returns the best parameters, m, and every run's
    end point (the local optima the starts led to), best first."""
    m = float(np.sum(w * x) / np.sum(w))
    starts = _time_starts(x, y, w, m)
    log_lmin = float(np.min(y))
    vals = [_time_objective(np.array(s), x, y, w, m, log_lmin, delta)[0] for s in starts]
    starts = [starts[i] for i in np.argsort(vals)[:n_starts]] + list(extra_starts)
    ends = sorted((_time_minimize(s, x, y, w, m, delta) for s in starts), key=lambda pv: pv[1])
    return ends[0][0], m, [p for p, _ in ends]


def _restart(L0, c, beta, y_new):
    """The estimate (L0, c, beta) as a start for a bootstrap sample: L0 against the sample's smallest loss,
    kept off the flat ends of the logistic transform like the grid's starts (``_FRAC_CLIP``)."""
    return (_logit_start(L0 / float(np.exp(np.min(y_new)))), c, beta)


def fit_scaling_law(steps, losses, *, t_min: float = 0.0, weighting: str = "log",
                    delta: float = HUBER_DELTA, sigma: float = 0.0, n_starts: int = 8, n_boot: int = 0,
                    level: float = 0.95, block: int | None = None, seed=0) -> ScalingFit:
    r"""Robust fit of Eq. 8, :math:`L(t) = L_0 + (B/t)^\beta`, to a loss curve.

    Minimises :math:`\sum_i w_i\, \mathrm{Huber}_\delta(\ln \hat L(t_i) - \ln L_i)` with
    :math:`\ln \hat L = \mathrm{LSE}(\ln L_0, \ln A - \beta \ln t)` (Hoffmann et al. 2022, App. D.2),
    :math:`0 < L_0 < \min L` by a logistic transform, L-BFGS-B from the best ``n_starts`` points of a
    grid over L0 (fractions of min L) x beta (``L0_FRACTIONS`` x ``BETA_STARTS``). An L0 within
    ``BOUND_RTOL`` of 0 or of min L is reported as that bound and flagged in ``at_bound``.

    Args:
      steps, losses: ``[n]`` the curve (any order; steps > 0 after the ``t_min`` cut, losses > 0).
      t_min: fit only t > t_min (the paper's t0).
      weighting: ``'log'`` (default) weights each point by its share of ln t (:func:`log_spacing_weights`)
        so the many late steps of a linearly sampled curve do not dominate; ``'uniform'``: weight 1.
      delta: Huber threshold on log residuals.
      sigma: Gaussian smoothing in steps before fitting (0: none; equally spaced steps needed).
      n_boot: bootstrap resamples for the intervals (0: no intervals, NaN). Moving-block bootstrap of
        the raw log residuals about the fitted curve (blocks of ``block`` consecutive points, default
        n^(1/3)); the design (steps, weights) stays fixed. Each sample is smoothed like the data and
        refitted from the estimate, from every other local optimum the grid's starts reached on the data,
        and from the sample's own best grid start (``BOOT_GRID_STARTS``): the basins the estimate's search
        explored, at a third of its cost. Intervals: see :class:`ScalingFit` (they contain the estimate).
      level: level of the percentile intervals.
      seed: int or ``np.random.Generator`` for the bootstrap.
    """
    _check_common(n_boot, level)
    if delta <= 0:
        raise ValueError(f"delta={delta} is invalid: allowed > 0")
    t_full, L_raw = _as_curve(steps, losses)
    Ls, keep = _curve_cut(t_full, L_raw, t_min, sigma)
    if keep.sum() < 4:
        raise ValueError(f"only {keep.sum()} points with t > t_min={t_min}: need at least 4")
    with _one_blas_thread():
        return _fit_time(t_full, L_raw, Ls, keep, delta, n_starts, n_boot, level, block, seed, t_min, weighting,
                         sigma)


def _fit_time(t_full, L_raw, Ls, keep, delta, n_starts, n_boot, level, block, seed, t_min, weighting,
              sigma) -> ScalingFit:
    t = t_full[keep]
    x, y, w = np.log(t), np.log(Ls[keep]), _weights(t, weighting)
    p, m, ends = _time_fit_points(x, y, w, delta, n_starts)
    L0, B, beta, at = _time_params(p, y, m)
    c = float(p[1])
    lp = np.logaddexp(np.log(L0) if L0 > 0 else -np.inf, c - beta * (x - m))
    intervals, extended = [(float("nan"),) * 2] * 3, {}
    if n_boot > 0:
        rng = _rng(seed)
        resid = np.log(L_raw[keep]) - lp
        blk = block or _default_block(t.size)
        # The basins the grid's starts fell into on the data, as (L0, c, beta): the estimate first.
        optima = [(L0, c, beta)] + [(_time_params(q, y, m)[0], float(q[1]), float(q[2])) for q in ends[1:]]
        draws = np.empty((n_boot, 3))
        for k in range(n_boot):
            yb = np.log(_boot_losses(t_full, L_raw, keep, lp, resid, blk, sigma, rng))
            starts = {tuple(np.round(_restart(*o, yb), 4)): _restart(*o, yb) for o in optima}  # dedupe
            pb, _, _ = _time_fit_points(x, yb, w, delta, BOOT_GRID_STARTS, extra_starts=starts.values())
            draws[k] = _time_params(pb, yb, m)[:3]
        bounds = {"L0": L0} if "L0" in at else {}
        intervals, extended = _intervals(draws, (L0, B, beta), ("L0", "B", "beta"), level, bounds)
    return ScalingFit(L0=L0, B=B, beta=beta, L0_interval=intervals[0], B_interval=intervals[1],
                      beta_interval=intervals[2], r2=_r2(y, lp, w), n=int(t.size), t_min=float(t_min),
                      method=f"robust (Huber delta={delta:g}, weighting={weighting}, sigma={sigma:g})",
                      level=float(level), n_boot=int(n_boot), at_bound=at, interval_extended=extended)
