r"""Scaling law of a loss curve (paper Section 4.6, Eq. 8), its fitted form, and the acceleration ratio
it implies (Eq. 9).

.. math::  L(t) = L_0 + \left(\frac{B}{t}\right)^{\beta}, \qquad t > t_0            \tag{Eq. 8}

Two runs (1 = reference / constant policy, 2 = faster / near-optimal policy) are compared through the
acceleration ratio :math:`AR(T) = T / t^*`, with :math:`t^*` the step at which curve 2 reaches the loss
curve 1 has at step T; for :math:`L_0`-free curves

.. math::  AR(T) = \frac{T^{1 - \beta_1/\beta_2} B_1^{\beta_1/\beta_2}}{B_2}.         \tag{Eq. 9}

:class:`ScalingFit` is what both fits of Eq. 8 return (:mod:`theory.scaling.robust`,
:mod:`theory.scaling.paper`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
from scipy.optimize import brentq

# --------------------------------------------------------------------------------------- the law


def scaling_law(t, L0, B, beta):
    r"""Eq. 8: :math:`L(t) = L_0 + (B / t)^\beta` (numpy or jax arrays; broadcasts)."""
    return L0 + (B / t) ** beta


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
