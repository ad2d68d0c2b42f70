r"""Scaling law of the loss curve and the acceleration ratio it implies (paper Section 4.6, Eq. 8-9).

The paper models the desired loss of a run after t steps as

.. math::  L(t) = L_0 + \left(\frac{B}{t}\right)^{\beta}, \qquad t > t_0            \tag{Eq. 8}

and compares two runs (1 = reference / constant policy, 2 = faster / near-optimal policy) through the
acceleration ratio :math:`AR(T) = T / t^*`, with :math:`t^*` the step at which curve 2 reaches the loss
curve 1 has at step T. For :math:`L_0`-free curves this has the closed form

.. math::  AR(T) = \frac{T^{1 - \beta_1/\beta_2} B_1^{\beta_1/\beta_2}}{B_2}.         \tag{Eq. 9}

Fits offered here (pure functions of arrays; numpy/scipy only):

- :func:`fit_scaling_law` -- robust fit (Huber loss on log residuals, a grid of starts, L-BFGS), in the
  style of Hoffmann et al. 2022 ("Chinchilla", App. D.2), with bootstrap percentile intervals.
- :func:`fit_paper` -- the paper's own procedure: linear regression of :math:`\ln(L - L_0)` on
  :math:`\ln t` for :math:`t > t_0`, searching :math:`L_0` and :math:`t_0` for the best correlation,
  optionally on a Gaussian-smoothed curve (the authors' script used sigma = 100 steps).
- :func:`fit_chinchilla` -- :math:`L(N, D) = E + A/N^\alpha + B/D^\beta` (Hoffmann et al. 2022, Eq. 2).

Acceleration ratios: :func:`acceleration_ratio_eq9` (Eq. 9), :func:`acceleration_ratio` (with
:math:`L_0`, closed form), :func:`acceleration_ratio_root` (any two decreasing curves, by root finding).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import brentq, minimize, minimize_scalar
from scipy.special import expit, logsumexp

HUBER_DELTA = 1e-3  # Hoffmann et al. 2022 App. D.2
# Starting grid of the time-form fit: L0 as a fraction of the smallest loss fitted, and beta.
L0_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 0.9, 0.97)
BETA_STARTS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
# Hoffmann et al. 2022 App. D.2 grid of initialisations (a = log A, b = log B, e = log E).
CHINCHILLA_GRID = {"alpha": (0.0, 0.5, 1.0, 1.5, 2.0), "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
                   "e": (-1.0, -0.5, 0.0, 0.5, 1.0), "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
                   "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)}
_LBFGS = {"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20}
# A parameter within BOUND_RTOL (relative to its scale: min L for L0, the bound itself for beta) of a bound
# of its range is reported *at* that bound (flag ``at_bound``). Below ~1e-5 min L, L0 changes the fitted
# log curve by < 1e-5, far under the Huber threshold: the data cannot tell it from 0, and the optimiser
# stalls on that plateau wherever it happens to be (1e-14 or 1e-10: noise, not an estimate).
BOUND_RTOL = 1e-5
# Logistic starts/restarts of the robust fit keep L0 / min L in [1e-6, 1 - 1e-6], off the flat plateaus.
_FRAC_CLIP = 1e-6
ROBUST_BETA_RANGE = (1e-6, 50.0)
CHIN_EXP_RANGE = (0.0, 10.0)  # alpha, beta of the Chinchilla form
# A bootstrap refit of the robust fit starts from each local optimum the grid's starts reached on the data
# (the estimate first) and from the sample's own best BOOT_GRID_STARTS grid points. Measured against the
# full search (best n_starts grid points + the estimate) on 340 samples of 7 curves: never a worse
# optimum (parameters equal to 1e-6 relative), 2.5-4x faster.
BOOT_GRID_STARTS = 1


# --------------------------------------------------------------------------------------- the law


def scaling_law(t, L0, B, beta):
    r"""Eq. 8: :math:`L(t) = L_0 + (B / t)^\beta` (numpy or jax arrays; broadcasts)."""
    return L0 + (B / t) ** beta


def chinchilla_law(N, D, E, A, B, alpha, beta):
    r"""Hoffmann et al. 2022, Eq. 2: :math:`L(N, D) = E + A / N^\alpha + B / D^\beta`."""
    return E + A / N**alpha + B / D**beta


# ------------------------------------------------------------------------------------ fit results


def _dict_of_fit(fit) -> dict:
    out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(fit).items()}
    out["interval_extended"] = {k: list(v) for k, v in fit.interval_extended.items()}
    return out


@dataclasses.dataclass(frozen=True)
class ScalingFit:
    """A fit of Eq. 8 with bootstrap intervals at ``level`` (NaN when n_boot = 0).

    ``r2`` is the coefficient of determination of ``ln L`` (robust fit: with the fit's weights; paper
    fit: the squared correlation of ln(L - L0) with ln t, the number the paper reports in Table 1).
    ``t_min``: only steps t > t_min were fitted (the paper's t0; for ``fit_paper`` the one it chose).

    Interval rule: each bootstrap sample is refitted by the same procedure as the estimate; the interval
    is the percentile interval of the refits, widened to contain the estimate (and, for a parameter in
    ``at_bound``, the bound itself). So every reported interval contains its estimate. Where the
    percentile interval alone did not (missed it by more than ``BOUND_RTOL`` relative; the resampled curves prefer another branch of the fit, e.g. when
    Eq. 8 describes the curve poorly or a parameter sits on a bound), ``interval_extended[name]`` holds
    that raw percentile interval: treat such coefficients with caution.

    ``at_bound``: ``{name: "lower" | "upper"}`` for a parameter on a bound of its range (L0 in
    [0, min L]; the robust fit's beta in ``ROBUST_BETA_RANGE``), within ``BOUND_RTOL``. The robust fit
    then reports the bound itself (e.g. L0 = 0). ``boot_failed``: bootstrap samples the procedure could
    not fit (left out of the intervals).
    """

    L0: float
    B: float
    beta: float
    L0_interval: tuple[float, float]
    B_interval: tuple[float, float]
    beta_interval: tuple[float, float]
    r2: float
    n: int
    t_min: float
    method: str
    level: float
    n_boot: int
    at_bound: dict = dataclasses.field(default_factory=dict)
    interval_extended: dict = dataclasses.field(default_factory=dict)
    boot_failed: int = 0

    def __call__(self, t):
        """The fitted curve at steps ``t``."""
        return scaling_law(t, self.L0, self.B, self.beta)

    def to_dict(self) -> dict:
        return _dict_of_fit(self)


@dataclasses.dataclass(frozen=True)
class ChinchillaFit:
    """A fit of L(N, D) = E + A/N^alpha + B/D^beta with bootstrap intervals at ``level``; same interval
    rule and flags as :class:`ScalingFit` (alpha, beta are kept in [0, 10])."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    E_interval: tuple[float, float]
    A_interval: tuple[float, float]
    B_interval: tuple[float, float]
    alpha_interval: tuple[float, float]
    beta_interval: tuple[float, float]
    r2: float
    n: int
    method: str
    level: float
    n_boot: int
    at_bound: dict = dataclasses.field(default_factory=dict)
    interval_extended: dict = dataclasses.field(default_factory=dict)

    def __call__(self, N, D):
        return chinchilla_law(N, D, self.E, self.A, self.B, self.alpha, self.beta)

    def to_dict(self) -> dict:
        return _dict_of_fit(self)


# ---------------------------------------------------------------------------------------- helpers


def _huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Huber loss / delta and its derivative (so the quadratic part is r^2 / (2 delta), slope <= 1)."""
    a = np.abs(r)
    quad = a <= delta
    val = np.where(quad, 0.5 * r * r / delta, a - 0.5 * delta)
    return val, np.clip(r / delta, -1.0, 1.0)


def _as_curve(steps, losses, name: str = "losses") -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(steps, dtype=np.float64).ravel()
    L = np.asarray(losses, dtype=np.float64).ravel()
    if t.shape != L.shape:
        raise ValueError(f"steps and {name} must have the same length, got {t.shape[0]} and {L.shape[0]}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(L))):
        raise ValueError(f"steps and {name} must be finite")
    order = np.argsort(t, kind="stable")
    return t[order], L[order]


def smooth_curve(steps: np.ndarray, losses: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-smoothed losses (``mode='nearest'``), sigma in steps (the authors' script: sigma = 100).

    Steps must be equally spaced (sigma is converted to samples with that spacing).
    """
    L = np.asarray(losses, dtype=np.float64)
    if sigma <= 0:
        return L
    t = np.asarray(steps, dtype=np.float64)
    gaps = np.diff(t)
    if gaps.size and not np.allclose(gaps, gaps[0], rtol=1e-6):
        raise ValueError("smoothing (sigma > 0) needs equally spaced steps")
    spacing = gaps[0] if gaps.size else 1.0
    return gaussian_filter1d(L, sigma / spacing, mode="nearest")


def log_spacing_weights(t: np.ndarray) -> np.ndarray:
    """Weight of each point = half the gap in ln t to its two neighbours (trapezoid rule in ln t).

    The weighted sum then approximates an integral over ln t: every decade of steps counts the same,
    however densely it is sampled, so the thousands of late steps of a linearly sampled curve do not
    drown the early ones. Normalised to sum to the number of points.
    """
    x = np.log(t)
    if x.size == 1:
        return np.ones(1)
    gaps = np.diff(x)
    w = np.zeros_like(x)
    w[:-1] += 0.5 * gaps
    w[1:] += 0.5 * gaps
    if not np.all(w > 0):
        raise ValueError("steps must be distinct for weighting='log'")
    return w * (x.size / w.sum())


def _weights(t: np.ndarray, weighting: str) -> np.ndarray:
    if weighting == "log":
        return log_spacing_weights(t)
    if weighting == "uniform":
        return np.ones_like(t)
    raise ValueError(f"weighting={weighting!r} is invalid: allowed 'log' or 'uniform'")


def _r2(y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> float:
    ybar = np.sum(w * y) / np.sum(w)
    tot = np.sum(w * (y - ybar) ** 2)
    return float(1.0 - np.sum(w * (y - pred) ** 2) / tot) if tot > 0 else float("nan")


def _one_blas_thread():
    """Limit BLAS to one thread while fitting: L-BFGS-B's 3-5 parameter updates call BLAS, and a
    multi-threaded OpenBLAS on a busy machine made each iteration ~30x slower (measured: 20 s vs 0.8 s
    for 50 bootstrap refits). A no-op when threadpoolctl is not installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


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


def _curve_cut(t, L, t_min, sigma):
    """(smoothed losses, mask of the points fitted: t > max(t_min, 0)); raises unless they are > 0."""
    Ls = smooth_curve(t, L, sigma) if sigma > 0 else L
    keep = t > max(t_min, 0.0)
    if np.any(Ls[keep] <= 0):
        raise ValueError("losses must be > 0 to be fitted in log space")
    return Ls, keep


def _boot_losses(t, L_raw, keep, log_fit, resid, blk, sigma, rng):
    """One moving-block bootstrap curve ``[keep.sum()]``, made as the estimate's data were: the fitted
    curve (t > t_min) times block-resampled raw log residuals, the raw points t <= t_min kept, then
    smoothed with the same sigma and cut at t_min."""
    Lb = L_raw.copy()
    Lb[keep] = np.exp(log_fit + resid[_block_indices(resid.size, blk, rng)])
    return (smooth_curve(t, Lb, sigma) if sigma > 0 else Lb)[keep]


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


# ---------------------------------------------------------------------------- acceleration ratio


def acceleration_ratio_eq9(T, B1, b1, B2, b2):
    r"""Eq. 9: :math:`AR(T) = T^{1 - b_1/b_2} B_1^{b_1/b_2} / B_2` for :math:`L_0`-free curves.

    Curve 1 is the reference (constant policy), curve 2 the faster one. From
    :math:`(B_2/t^*)^{b_2} = (B_1/T)^{b_1}`: :math:`t^* = B_2 (T/B_1)^{b_1/b_2}` and AR = T / t*.
    Vectorised over T (and the parameters); computed in logs to avoid overflow.
    """
    T = np.asarray(T, dtype=np.float64)
    q = np.asarray(b1, dtype=np.float64) / np.asarray(b2, dtype=np.float64)
    return np.exp((1 - q) * np.log(T) + q * np.log(B1) - np.log(B2))


def acceleration_ratio(T, L0_1, B1, b1, L0_2, B2, b2):
    r"""AR(T) = T / t* for curves with asymptotes: :math:`L_{0,2} + (B_2/t^*)^{b_2} = L_{0,1} + (B_1/T)^{b_1}`.

    Closed form :math:`t^* = B_2 / (L_1(T) - L_{0,2})^{1/b_2}` (reduces to Eq. 9 when both L0 = 0).
    Where curve 2 never gets down to L_1(T) (its asymptote :math:`L_{0,2} \ge L_1(T)`), t* = inf and
    **AR = 0**: no horizon of curve 2 matches curve 1 at T. NaN only for T <= 0. Vectorised over T.
    """
    T = np.asarray(T, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        gap = scaling_law(T, L0_1, B1, b1) - L0_2
        log_t_star = np.log(B2) - np.log(gap) / b2
        ar = np.where(gap > 0, np.exp(np.log(T) - log_t_star), 0.0)
    return np.where(T > 0, ar, np.nan)


def acceleration_ratio_root(T, curve1: Callable, curve2: Callable, t_lo: float = 1e-12,
                            t_hi: float = 1e30):
    """AR(T) = T / t* with ``curve2(t*) = curve1(T)`` found by ``brentq`` on ln t, for any two
    decreasing curves (callables of t > 0). t* = inf -> AR = 0 when curve 2 stays above the level on
    [t_lo, t_hi]; t* below t_lo is clipped to t_lo. Loops over T (use for checks and odd curves;
    :func:`acceleration_ratio` is the vectorised closed form for Eq. 8 curves)."""
    T = np.atleast_1d(np.asarray(T, dtype=np.float64))
    out = np.empty_like(T)
    for k, Tk in enumerate(T):
        if not Tk > 0:
            out[k] = np.nan
            continue
        level = float(curve1(Tk))
        f = lambda s: float(curve2(np.exp(s))) - level  # noqa: E731
        a, b = np.log(t_lo), np.log(t_hi)
        if f(b) > 0:
            out[k] = 0.0
        elif f(a) <= 0:
            out[k] = Tk / t_lo
        else:
            out[k] = Tk / np.exp(brentq(f, a, b, xtol=1e-13, rtol=1e-14, maxiter=500))
    return out


# ------------------------------------------------------------------------- Chinchilla L(N, D)
#
# Parameters q = (a, b, e, alpha, beta): A = e^a, B = e^b, E = e^e (Hoffmann et al. 2022, App. D.2):
# ln L_hat = LSE(a - alpha ln N, b - beta ln D, e).


def _chin_objective(q, lnN, lnD, y, w, delta):
    a, b, e, alpha, beta = q
    Z = np.stack([a - alpha * lnN, b - beta * lnD, np.full_like(lnN, e)])
    lp = logsumexp(Z, axis=0)
    S = np.exp(Z - lp)
    val, dval = _huber(lp - y, delta)
    g = w * dval
    W = np.sum(w)
    grad = np.array([np.sum(g * S[0]), np.sum(g * S[1]), np.sum(g * S[2]),
                     -np.sum(g * S[0] * lnN), -np.sum(g * S[1] * lnD)])
    return np.sum(w * val) / W, grad / W


def _chin_screen(lnN, lnD, y, w, delta, grid, n_starts):
    """The n_starts grid points with the lowest objective (evaluated vectorised over the grid)."""
    mesh = np.meshgrid(grid["a"], grid["b"], grid["e"], grid["alpha"], grid["beta"], indexing="ij")
    Q = np.stack([g.ravel() for g in mesh], axis=1)  # [G, 5]
    lp = logsumexp(np.stack([Q[:, :1] - Q[:, 3:4] * lnN, Q[:, 1:2] - Q[:, 4:5] * lnD,
                             np.broadcast_to(Q[:, 2:3], (Q.shape[0], lnN.size))]), axis=0)
    vals = (_huber(lp - y, delta)[0] * w).sum(axis=1)
    return Q[np.argsort(vals)[:n_starts]]


def _chin_fit_points(lnN, lnD, y, w, delta, starts):
    best, best_val = None, np.inf
    for s in starts:
        res = minimize(_chin_objective, np.asarray(s, dtype=np.float64), args=(lnN, lnD, y, w, delta), jac=True,
                       method="L-BFGS-B", bounds=[(None, None)] * 3 + [CHIN_EXP_RANGE] * 2, options=_LBFGS)
        if res.fun < best_val:
            best, best_val = res.x, float(res.fun)
    return best


def _chin_params(q):
    a, b, e, alpha, beta = q
    with np.errstate(over="ignore"):
        return np.array([np.exp(e), np.exp(a), np.exp(b), alpha, beta])


def fit_chinchilla(N, D, losses, *, delta: float = HUBER_DELTA, grid: dict | None = None, n_starts: int = 16,
                   n_boot: int = 0, level: float = 0.95, seed=0) -> ChinchillaFit:
    r"""Fit :math:`L(N, D) = E + A/N^\alpha + B/D^\beta` as Hoffmann et al. 2022 (App. D.2): Huber loss
    (delta = 1e-3) on :math:`\mathrm{LSE}(a - \alpha \ln N, b - \beta \ln D, e) - \ln L`, L-BFGS, a grid
    of starts (``CHINCHILLA_GRID``, their grid). Unlike them we do not run L-BFGS from all 4500 grid
    points: the grid is screened by objective value and L-BFGS runs from the best ``n_starts``.
    alpha, beta are kept in [0, 10].

    Bootstrap: ``n_boot`` resamples of the (N, D, L) points with replacement, each refitted from the best
    fit; percentile intervals at ``level``. ``r2``: R^2 of ln L.
    """
    _check_common(n_boot, level)
    N = np.asarray(N, dtype=np.float64).ravel()
    D = np.asarray(D, dtype=np.float64).ravel()
    L = np.asarray(losses, dtype=np.float64).ravel()
    if not N.shape == D.shape == L.shape:
        raise ValueError(f"N, D and losses must have the same length, got {N.size}, {D.size}, {L.size}")
    if not (np.all(np.isfinite(N)) and np.all(np.isfinite(D)) and np.all(np.isfinite(L))):
        raise ValueError("N, D and losses must be finite")
    if np.any(N <= 0) or np.any(D <= 0) or np.any(L <= 0):
        raise ValueError("N, D and losses must be > 0")
    if N.size < 6:
        raise ValueError(f"only {N.size} points: need at least 6 for 5 parameters")
    with _one_blas_thread():
        return _fit_chin(np.log(N), np.log(D), np.log(L), np.ones_like(L), delta, grid, n_starts, n_boot, level, seed)


def _fit_chin(lnN, lnD, y, w, delta, grid, n_starts, n_boot, level, seed) -> ChinchillaFit:
    starts = _chin_screen(lnN, lnD, y, w, delta, grid or CHINCHILLA_GRID, n_starts)
    q = _chin_fit_points(lnN, lnD, y, w, delta, starts)
    lp = logsumexp(np.stack([q[0] - q[3] * lnN, q[1] - q[4] * lnD, np.full_like(lnN, q[2])]), axis=0)
    E, A, B, alpha, beta = (float(v) for v in _chin_params(q))
    at = {name: f for name, v in (("alpha", alpha), ("beta", beta)) if (f := _bound_flag(v, *CHIN_EXP_RANGE, 1.0))}
    intervals, extended = [(float("nan"),) * 2] * 5, {}
    if n_boot > 0:
        rng = _rng(seed)
        draws = np.empty((n_boot, 5))
        for k in range(n_boot):
            idx = rng.integers(0, y.size, size=y.size)
            draws[k] = _chin_params(_chin_fit_points(lnN[idx], lnD[idx], y[idx], w[idx], delta, [q]))
        intervals, extended = _intervals(draws, (E, A, B, alpha, beta), ("E", "A", "B", "alpha", "beta"), level, {})
    return ChinchillaFit(E=E, A=A, B=B, alpha=alpha, beta=beta, E_interval=intervals[0], A_interval=intervals[1],
                         B_interval=intervals[2], alpha_interval=intervals[3], beta_interval=intervals[4],
                         r2=_r2(y, lp, w), n=int(y.size), method=f"chinchilla (Huber delta={delta:g})",
                         level=float(level), n_boot=int(n_boot), at_bound=at, interval_extended=extended)
