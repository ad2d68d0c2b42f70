r"""Outer update rules of the policy search on gamma: the reference's fixed step, and the default one.

Both minimise the search objective :math:`F(\gamma)` (the dev AUC, :mod:`learning_law.metagrad`) over
rows of gamma on the probability simplex, the first ``frozen_steps`` rows held at the constant policy.

``fixed`` -- the paper's projected gradient descent (Section 4.1) with a hand-set step:
:math:`\gamma \leftarrow \Pi(\gamma - \epsilon_k \nabla F)`, :math:`\epsilon_k` from ``--outer-lr`` and
``--schedule``. Its good values differ by orders of magnitude between settings (1e-3 on the perceptron
with theta_0 ~ N(0, I), 0.5 with theta_0 = 0, 0.05 under Adam) and a wrong one raises F without a word.

``auto`` (the default) -- projected gradient with a spectral (Barzilai-Borwein) trial step and monotone
Armijo backtracking along the projection arc (Birgin, Martinez & Raydan 2000, "SPG", in its monotone
form; Bertsekas 1976 for the arc):

.. math::
    \gamma(\alpha) = \Pi(\gamma - \alpha \nabla F), \qquad
    F(\gamma(\alpha)) \le F(\gamma) + c_1\, \nabla F \cdot (\gamma(\alpha) - \gamma),

trying :math:`\alpha` first at the BB step :math:`s^\top s / s^\top y` of the last accepted move
(:math:`s = \gamma_{k} - \gamma_{k-1}`, :math:`y = \nabla F_k - \nabla F_{k-1}`), and shrinking it by
safeguarded quadratic interpolation until the condition holds. Why this one:

- *nothing to tune*: every quantity it uses is a ratio in which the scale of F cancels (the BB step
  scales as 1/F, the gradient as F, the test compares F with F), so multiplying the objective by 1000
  gives the same trajectory (tests/test_search.py); the first step moves the largest entry of gamma by
  the constant policy's weight 1/N, the only natural scale of the simplex;
- *monotone*: a trial that raises F (or does not lower it by the Armijo margin) is never taken, so the
  search can never end above its start, and a NaN trial counts as a rise;
- *cheap*: a trial costs one forward run of the inner training (no meta-gradient); the meta-gradient is
  taken once per accepted step, at the accepted point (``python -m experiments.search_robustness``
  tables the trials and the cost per step against the fixed step's).

Measured against a row-normalised step (each row of gamma moves its largest entry by a set fraction of
1/N, the fraction doubled or halved by the line search; also scale-free) with
``python benchmarks/search_candidates.py``: on the paper's perceptron the BB trial step's path passes
through policies with about twice the test speed-up within 30 outer steps; moving every row (inner step)
as far as the early ones spends the step where the AUC gains least.

The functions here act on whole arrays and take the objective as callables, so they know nothing of
tasks or files; :mod:`learning_law.optimize` runs the loop, checkpoints it and selects the policy.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from theory.simplex import project_rows_onto_simplex

SEARCHES = ("auto", "fixed")
ARMIJO_C1 = 1e-4  # sufficient-decrease constant (the usual 1e-4 of Nocedal & Wright, Alg. 3.1)
SHRINK = (0.1, 0.5)  # a backtrack keeps this share of the trial step at least / at most
MAX_TRIALS = 30  # backtracks before the point is declared stationary (alpha shrinks >= 2^30 x)
BB_RANGE = 1e3  # the BB step stays within this factor of the last accepted step (a safeguard)
GROW = 2.0  # trial step after a move of non-positive curvature (s.y <= 0), times the accepted step
REL_TOL = 1e-7  # stationary when the predicted decrease is below this share of |F| (float32 noise)


class AutoState(NamedTuple):
    """The state of the default search at an accepted point: all a resume needs besides the gradient."""

    gamma: Array  # [T, N] the current policy
    auc: Array  # F(gamma), scalar
    grad: Array  # dF/dgamma [T, N], zero on frozen rows
    alpha: Array  # the next trial step, scalar


class StepInfo(NamedTuple):
    accepted: bool  # False: no trial lowered F: the point is stationary to float precision
    trials: int  # forward runs this step cost (accepted trial included)
    alpha: float  # the step that was accepted (or the last one tried)
    decrease: float  # F before - F after (0 when not accepted)
    extra: object = None  # what ``value`` returned beside F for the accepted trial (e.g. a validation AUC)


def _frozen_mask(shape, frozen_steps) -> Array:
    return (jnp.arange(shape[0]) < frozen_steps)[:, None]


@jax.jit
def fixed_update(gamma: Array, grad: Array, lr: Array, frozen_steps: Array) -> Array:
    """The reference's projected step ``Pi(gamma - lr * grad)``; frozen rows unchanged."""
    return jnp.where(_frozen_mask(gamma.shape, frozen_steps), gamma, project_rows_onto_simplex(gamma - lr * grad))


@jax.jit
def arc_point(gamma: Array, grad: Array, alpha: Array, frozen_steps: Array) -> tuple[Array, Array]:
    """(gamma(alpha) = Pi(gamma - alpha grad) with frozen rows kept, the predicted change grad . (gamma(alpha) - gamma))."""
    new = fixed_update(gamma, grad, alpha, frozen_steps)
    return new, jnp.vdot(grad, new - gamma)


@jax.jit
def _bb(gamma_old: Array, grad_old: Array, gamma_new: Array, grad_new: Array) -> tuple[Array, Array]:
    s = gamma_new - gamma_old
    y = grad_new - grad_old
    return jnp.vdot(s, s), jnp.vdot(s, y)


def masked_grad(grad: Array, frozen_steps: int) -> Array:
    """The gradient with the frozen rows zeroed (they are not variables of the search)."""
    return jnp.where(_frozen_mask(grad.shape, frozen_steps), 0.0, grad)


@partial(jax.jit, static_argnames=())
def _first_alpha(gamma: Array, grad: Array) -> Array:
    # Moves the entry with the largest centred gradient by 1/N (the constant policy's weight): a step
    # defined by the simplex, not by the scale of F. Centring per row: the projection ignores row means.
    centred = grad - jnp.mean(grad, axis=1, keepdims=True)
    big = jnp.max(jnp.abs(centred))
    return jnp.where(big > 0, (1.0 / gamma.shape[1]) / jnp.where(big > 0, big, 1.0), 1.0)


def auto_init(value_and_grad: Callable[[Array], tuple[Array, Array]], gamma: Array, frozen_steps: int) -> AutoState:
    """The state at the starting policy: its F, its gradient and the first trial step."""
    auc, grad = value_and_grad(gamma)
    grad = masked_grad(grad, frozen_steps)
    return AutoState(gamma, auc, grad, _first_alpha(gamma, grad))


def auto_step(state: AutoState, value: Callable[[Array], tuple[Array, object]],
              value_and_grad: Callable[[Array], tuple[Array, Array]], frozen_steps: int
              ) -> tuple[AutoState, StepInfo]:
    """One step of the default search: backtrack from the BB trial until Armijo holds, then take the gradient.

    Args:
      state: the accepted point (:func:`auto_init`, or a previous step's).
      value: ``gamma -> (F(gamma), extra)``, one forward run; ``extra`` (anything computed in the same run,
        e.g. the validation AUC) comes back in :class:`StepInfo` for the accepted trial.
      value_and_grad: ``gamma -> (F, dF/dgamma)``, called once, at the accepted point.
      frozen_steps: rows of gamma that stay as they are.

    Returns the new state (the old one, unchanged, when no trial lowered F within :data:`MAX_TRIALS`) and
    what the step cost. Every comparison is between values of F, so a NaN trial is rejected.
    """
    f0 = float(state.auc)
    alpha = float(state.alpha)
    fs = np.int32(frozen_steps)
    for trial in range(1, MAX_TRIALS + 1):
        cand, slope = arc_point(state.gamma, state.grad, np.float32(alpha), fs)
        slope = float(slope)
        if not slope < -REL_TOL * max(abs(f0), 1e-30):  # no predicted decrease left: stationary
            return state, StepInfo(False, trial - 1, alpha, 0.0)
        f, extra = value(cand)
        f = float(f)
        if math.isfinite(f) and f <= f0 + ARMIJO_C1 * slope:
            break
        # Minimiser of the quadratic through F(0), its slope along the arc and F(alpha), kept in SHRINK.
        excess = (f - f0 - slope) if math.isfinite(f) else math.inf
        ratio = -slope / (2.0 * excess) if excess > 0 else SHRINK[0]
        alpha *= min(max(ratio, SHRINK[0]), SHRINK[1])
    else:
        return state, StepInfo(False, MAX_TRIALS, alpha, 0.0)
    auc, grad = value_and_grad(cand)
    grad = masked_grad(grad, frozen_steps)
    ss, sy = (float(v) for v in _bb(state.gamma, state.grad, cand, grad))
    if sy > 0 and ss > 0:
        nxt = min(max(ss / sy, alpha / BB_RANGE), alpha * BB_RANGE)
    else:
        nxt = alpha * GROW
    return (AutoState(cand, auc, grad, jnp.float32(nxt)),
            StepInfo(True, trial, alpha, f0 - float(auc), extra))
