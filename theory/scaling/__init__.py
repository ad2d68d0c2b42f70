r"""Scaling law of the loss curve and the acceleration ratio it implies (paper Section 4.6, Eq. 8-9).

The paper models the desired loss of a run after t steps as

.. math::  L(t) = L_0 + \left(\frac{B}{t}\right)^{\beta}, \qquad t > t_0            \tag{Eq. 8}

and compares two runs (1 = reference / constant policy, 2 = faster / near-optimal policy) through the
acceleration ratio :math:`AR(T) = T / t^*`, with :math:`t^*` the step at which curve 2 reaches the loss
curve 1 has at step T. For :math:`L_0`-free curves this has the closed form

.. math::  AR(T) = \frac{T^{1 - \beta_1/\beta_2} B_1^{\beta_1/\beta_2}}{B_2}.         \tag{Eq. 9}

Modules (pure functions of arrays; numpy/scipy only), all re-exported here:

- :mod:`theory.scaling.law` -- Eq. 8, :class:`ScalingFit`, and the acceleration ratios:
  :func:`acceleration_ratio_eq9` (Eq. 9), :func:`acceleration_ratio` (with :math:`L_0`, closed form),
  :func:`acceleration_ratio_root` (any two decreasing curves, by root finding).
- :mod:`theory.scaling.robust` -- :func:`fit_scaling_law`, the robust fit (Huber loss on log residuals, a
  grid of starts, L-BFGS), in the style of Hoffmann et al. 2022 ("Chinchilla", App. D.2).
- :mod:`theory.scaling.paper` -- :func:`fit_paper`, the paper's own procedure: linear regression of
  :math:`\ln(L - L_0)` on :math:`\ln t` for :math:`t > t_0`, searching :math:`L_0` and :math:`t_0` for the
  best correlation, optionally on a Gaussian-smoothed curve (the authors' script used sigma = 100 steps).
- :mod:`theory.scaling.chinchilla` -- :func:`fit_chinchilla`, :math:`L(N, D) = E + A/N^\alpha + B/D^\beta`
  (Hoffmann et al. 2022, Eq. 2).
- :mod:`theory.scaling.bootstrap` -- moving-block bootstrap and the percentile intervals of every fit.
- :mod:`theory.scaling.fitting` -- what the fits share: the curve's checks, smoothing, weights, Huber loss.
"""

from theory.scaling.bootstrap import BOUND_RTOL
from theory.scaling.chinchilla import CHIN_EXP_RANGE, CHINCHILLA_GRID, ChinchillaFit, chinchilla_law, fit_chinchilla
from theory.scaling.fitting import HUBER_DELTA, log_spacing_weights, smooth_curve
from theory.scaling.law import (ScalingFit, acceleration_ratio, acceleration_ratio_eq9, acceleration_ratio_root,
                                scaling_law)
from theory.scaling.paper import fit_paper
from theory.scaling.robust import (BETA_STARTS, BOOT_GRID_STARTS, L0_FRACTIONS, ROBUST_BETA_RANGE,
                                   fit_scaling_law)

__all__ = [
    "BETA_STARTS",
    "BOOT_GRID_STARTS",
    "BOUND_RTOL",
    "CHIN_EXP_RANGE",
    "CHINCHILLA_GRID",
    "ChinchillaFit",
    "HUBER_DELTA",
    "L0_FRACTIONS",
    "ROBUST_BETA_RANGE",
    "ScalingFit",
    "acceleration_ratio",
    "acceleration_ratio_eq9",
    "acceleration_ratio_root",
    "chinchilla_law",
    "fit_chinchilla",
    "fit_paper",
    "fit_scaling_law",
    "log_spacing_weights",
    "scaling_law",
    "smooth_curve",
]
