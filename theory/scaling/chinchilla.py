r"""Chinchilla's law of the loss in model size N and data D, :math:`L(N, D) = E + A/N^\alpha + B/D^\beta`
(Hoffmann et al. 2022, Eq. 2), and its robust fit (their App. D.2) with bootstrap intervals."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from theory.scaling.bootstrap import _bound_flag, _check_common, _intervals, _rng
from theory.scaling.fitting import _LBFGS, HUBER_DELTA, _huber, _one_blas_thread, _r2
from theory.scaling.law import _dict_of_fit

# Hoffmann et al. 2022 App. D.2 grid of initialisations (a = log A, b = log B, e = log E).
CHINCHILLA_GRID = {"alpha": (0.0, 0.5, 1.0, 1.5, 2.0), "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
                   "e": (-1.0, -0.5, 0.0, 0.5, 1.0), "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
                   "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)}
CHIN_EXP_RANGE = (0.0, 10.0)  # alpha, beta of the Chinchilla form


def chinchilla_law(N, D, E, A, B, alpha, beta):
    r"""Hoffmann et al. 2022, Eq. 2: :math:`L(N, D) = E + A / N^\alpha + B / D^\beta`."""
    return E + A / N**alpha + B / D**beta


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
