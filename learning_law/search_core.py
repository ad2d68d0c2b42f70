r"""The contract the outer update rules share (:mod:`learning_law.search`, :mod:`learning_law.search_qn`).

A rule's outer step maps ``(state, value, value_and_grad, frozen_steps, stop_below)`` to ``(state, StepInfo)``:
``value(gamma) -> (F, extra)`` is one forward run of the inner training, ``value_and_grad(gamma) -> (F, dF/dgamma)``
one meta-gradient (:mod:`learning_law.metagrad`). Here: the state (:class:`AutoState`), what a step reports
(:class:`StepInfo`), the stop reasons, the run-level KKT certificate of a policy
(:func:`theory.certificate.kkt_residual`) and the constants of the backtracking line searches.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from theory.certificate import kkt_residual

MAX_TRIALS = 40  # halvings of the trial step before a step is given up (a shrinks 2^40 x)
GROW = 2.0  # the trial step of an outer step: the last accepted one times this
MAX_STEP = 1e38  # ... at most this: it is passed as float32 (largest finite 3.4e38), never inf
ARMIJO = 1e-4  # sufficient decrease of a plain step, a share of the predicted one (Nocedal & Wright's value)
REL_TOL = 1e-7  # stationary when the predicted decrease is below this share of |F| (float32 noise)
STALL_KKT = 0.5  # no trial passed although the KKT residual is above this: stalled, not stationary


class AutoState(NamedTuple):
    """The state of the default search between outer steps: all a resume needs (no gradient)."""

    gamma: Array  # [T, N] x_k, the accepted policy (what the search returns)
    auc: Array  # F(x_k), scalar
    z: Array  # [T, N] z_k, the last projected-gradient point
    prev: Array  # [T, N] x_{k-1}
    t: Array  # momentum parameters t_k and t_{k-1}, scalars
    t_prev: Array
    alpha: Array  # the last accepted trial step a, scalar
    memory: tuple = ()  # a rule's further arrays (``qn``: :class:`learning_law.search_qn.QNMemory`), else ()


class StepInfo(NamedTuple):
    moved: bool  # the policy changed (F fell or stayed); False: the step was not taken, momentum restarts
    stationary: bool  # the search stops here: see ``reason``
    trials: int  # forward runs this step cost
    alpha: float  # the step accepted by the backtracking (or the last one tried)
    decrease: float  # F before - F after (0 when not moved)
    extra: object = None  # what ``value`` returned beside F for the new policy (e.g. the validation curve)
    kkt: float = math.nan  # run-level KKT residual (theory.certificate) where this step took its gradient
    reason: str = ""  # why it stops: STATIONARY (no predicted decrease left), STALLED (no trial passed), CERTIFIED


STATIONARY, STALLED, CERTIFIED = "stationary", "stalled", "kkt"  # StepInfo.reason of a stop


@jax.jit
def kkt_total(gamma: Array, grad: Array) -> Array:
    """The run-level KKT residual of :func:`theory.certificate.kkt_residual` (frozen rows, whose masked
    gradient is constant, count as 0): one pass over the arrays the step already holds."""
    return kkt_residual(gamma, grad)[1]


def frozen_mask(shape, frozen_steps) -> Array:
    return (jnp.arange(shape[0]) < frozen_steps)[:, None]


def masked_grad(grad: Array, frozen_steps: int) -> Array:
    """The gradient with the frozen rows zeroed (they are not variables of the search)."""
    return jnp.where(frozen_mask(grad.shape, frozen_steps), 0.0, grad)


@jax.jit
def first_alpha_eg(gamma: Array, grad: Array) -> Array:
    # The largest relative change of one entry is a factor e: a step of the mirror map's own unit.
    centred = grad - jnp.sum(gamma * grad, axis=1, keepdims=True)
    big = jnp.max(jnp.abs(centred))
    return jnp.where(big > 0, 1.0 / jnp.where(big > 0, big, 1.0), 1.0)


def reuse_first(value_and_grad: Callable[[Array], tuple[Array, Array]]) -> Callable[[Array], tuple[Array, Array]]:
    """``value_and_grad`` that keeps its first answer for one repeat call on the very same array.

    :func:`auto_init` takes the meta-gradient at the start policy and the first outer step takes it again at
    that policy (its x, or y = x); with this wrapper the repeat is not computed. Nothing else is kept."""
    memo: dict = {"first": True}

    def wrapped(gamma: Array) -> tuple[Array, Array]:
        if memo.get("gamma") is gamma:
            out = memo["out"]
            memo.clear()
            return out
        out = value_and_grad(gamma)
        if memo.pop("first", False):
            memo.update(gamma=gamma, out=out)
        else:
            memo.clear()
        return out

    return wrapped


@jax.jit
def certificate(gamma: Array, grad: Array) -> tuple[Array, Array]:
    """(run-level KKT residual, total Frank-Wolfe gap sum_t (gamma_t . g_t - min_n g_tn)): the residual's
    numerator is the largest first-order decrease any move of the weights offers, so the search is
    stationary when it is below float32's resolution of F."""
    gap = jnp.sum(jnp.maximum(jnp.sum(gamma * grad, axis=1) - jnp.min(grad, axis=1), 0.0))
    return kkt_residual(gamma, grad)[1], gap


def open_step(state: AutoState, value_and_grad: Callable[[Array], tuple[Array, Array]], frozen_steps: int,
              stop_below: float) -> tuple[float, Array, float, StepInfo | None]:
    """The opening every rule that takes its meta-gradient at the accepted policy shares (``eg``, ``rows``,
    ``qn``): (F at x, dF/dgamma at x with frozen rows masked, the run-level KKT residual, the step's answer
    when it stops before any trial: :data:`CERTIFIED` below ``stop_below``, :data:`STATIONARY` when no move
    promises a decrease float32 resolves; else None)."""
    f_x = float(state.auc)
    _, grad = value_and_grad(state.gamma)
    grad = masked_grad(grad, frozen_steps)
    kkt, gap = (float(v) for v in certificate(state.gamma, grad))
    stop = None
    if kkt < stop_below:
        stop = StepInfo(False, True, 0, float(state.alpha), 0.0, kkt=kkt, reason=CERTIFIED)
    elif no_decrease_left(gap, f_x):
        stop = StepInfo(False, True, 0, float(state.alpha), 0.0, kkt=kkt, reason=STATIONARY)
    return f_x, grad, kkt, stop


def no_decrease_left(gap: float, f_x: float) -> bool:
    return not gap > REL_TOL * max(abs(f_x), 1e-30)


def failed_reason(kkt: float) -> str:
    """Why no trial passed: a stall when the certificate says the policy is still far from stationary (its
    KKT residual above :data:`STALL_KKT`: at least that share of the uniform policy's first-order gap is
    left), else a stationary point to float precision."""
    return STALLED if kkt > STALL_KKT else STATIONARY
