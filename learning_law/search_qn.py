r"""``qn``: limited-memory BFGS on the softmax logits of the policy, with Armijo backtracking.

Problem: minimise the search objective :math:`F(\gamma)` (the dev AUC, :mod:`learning_law.metagrad`) over
policies whose rows lie on the probability simplex. Parametrise each row by its logits,
:math:`\gamma_t = \mathrm{softmax}(u_t)`, so the constraint disappears; the chain rule through the softmax
gives

.. math:: \nabla_u F = \gamma \odot (g - \langle \gamma_t, g_t \rangle), \qquad g = \nabla_\gamma F,

row by row (a segment of one meta-gradient: no new machinery). On :math:`u` run L-BFGS (Nocedal 1980; the
two-loop recursion, Nocedal & Wright 2006, Alg. 7.4) with the m most recent pairs
:math:`s_k = u_{k+1} - u_k`, :math:`y_k = \nabla_u F_{k+1} - \nabla_u F_k` (a pair is kept only when
:math:`s \cdot y > 0`, so the inverse-Hessian model stays positive definite) and the initial inverse Hessian

.. math:: H_0 = c\, \mathrm{diag}\big(1 / \max(\gamma, \phi / N)\big), \qquad
          c = \frac{s \cdot y}{y^\top \mathrm{diag}(1/\max(\gamma, \phi/N))\, y}

(Barzilai-Borwein scaling of the newest pair). :math:`H_0` is the inverse of the entropy's Hessian, so with
no pair the step is exponentiated gradient's (:mod:`learning_law.search`, ``eg``): c is ``eg``'s trial step,
the last accepted one doubled (the first: the largest centred gradient entry times c is 1), kept in
``AutoState.alpha``. The pairs add the curvature between rows and examples that one step size for the whole
policy cannot express. The trial
:math:`u + a d` starts from the quasi-Newton unit step a = 1 and halves until Armijo's condition
:math:`F(\mathrm{softmax}(u + a d)) \le F + 10^{-4} a\, \nabla_u F \cdot d` holds.

Guarantees (those of the other rules that find their own step, tests/test_search.py):

- *nothing to tune*: multiplying F by a constant scales :math:`y` and :math:`c` inversely, so the
  direction and the trajectory are the same;
- *monotone*: a step is taken only when F does not rise (a NaN trial is rejected);
- *cheap*: one meta-gradient per outer step (the pair is formed from it at the next step), a trial costs
  a forward run, the memory 2m + 3 arrays of gamma's shape;
- *resumable*: the whole state (:class:`QNMemory`) is checkpointed, so a resume is bit-identical;
- weights are never exactly 0 (a softmax), as under ``eg``.

Measured against the other rules: ``python benchmarks/search_convergence.py`` (benchmarks/README.md).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from learning_law.search_core import (ARMIJO, GROW, MAX_STEP, MAX_TRIALS, REL_TOL, AutoState, StepInfo,
                                      failed_reason, frozen_mask, open_step)

MEMORY = 10  # pairs kept (m): 10 reached the reference AUC sooner than 30 on the perceptron cpu preset
FLOOR = 0.01  # H_0's diag uses max(gamma, FLOOR / N): finite near weights that underflowed to 0
CURVATURE_TOL = 1e-6  # a pair is kept when s . y > this * |s| |y| (positive curvature beyond float32 noise)
TINY = 1e-30  # log of a weight that is exactly 0


class QNMemory(NamedTuple):
    """What ``qn`` keeps between outer steps (all a resume needs beside :class:`AutoState`)."""

    u: Array  # [T, N] logits of the accepted policy, each row's max at 0: gamma_t = softmax(u_t)
    u_prev: Array  # [T, N] logits where the previous meta-gradient was taken
    gu_prev: Array  # [T, N] dF/du there
    s: Array  # [m, T, N] the last m kept moves of u, oldest first (empty slots 0)
    y: Array  # [m, T, N] the matching changes of dF/du
    rho: Array  # [m] 1 / (s . y); 0 marks an empty slot
    started: Array  # scalar: 1 once u_prev / gu_prev hold a point


def qn_memory(gamma: Array, m: int = MEMORY) -> QNMemory:
    """The empty memory at ``gamma: [T, N]``."""
    u = jnp.log(jnp.maximum(gamma, TINY))
    u = u - jnp.max(u, axis=1, keepdims=True)
    zeros = jnp.zeros((m, *gamma.shape), gamma.dtype)
    return QNMemory(u, u, jnp.zeros_like(gamma), zeros, zeros, jnp.zeros((m,), gamma.dtype),
                    jnp.zeros((), gamma.dtype))


@jax.jit
def grad_logits(x: Array, grad: Array) -> Array:
    r"""dF/du for gamma = softmax(u) row by row: :math:`\gamma \odot (g - \langle\gamma_t, g_t\rangle)`."""
    return x * (grad - jnp.sum(x * grad, axis=1, keepdims=True))


@jax.jit
def two_loop(s: Array, y: Array, rho: Array, q: Array, h0: Array) -> Array:
    r"""The L-BFGS product :math:`H q` (Nocedal & Wright Alg. 7.4) for pairs ``s, y: [m, ...]`` (oldest first,
    ``rho = 1 / (s . y)``, 0 for an empty slot, which then changes nothing) and the diagonal initial inverse
    Hessian ``h0`` (q's shape).

    >>> import jax.numpy as jnp
    >>> s, y = jnp.array([[1.0, 0.0]]), jnp.array([[2.0, 0.0]])   # curvature 2 along e_1
    >>> [float(v) for v in two_loop(s, y, 1.0 / jnp.sum(s * y, axis=1), jnp.array([4.0, 4.0]), jnp.ones(2))]
    [2.0, 4.0]
    """
    m = s.shape[0]

    def backward(i, carry):
        q, alphas = carry
        j = m - 1 - i
        a = rho[j] * jnp.vdot(s[j], q)
        return q - a * y[j], alphas.at[j].set(a)

    q, alphas = jax.lax.fori_loop(0, m, backward, (q, jnp.zeros((m,), q.dtype)))
    r = h0 * q

    def forward(j, r):
        return r + s[j] * (alphas[j] - rho[j] * jnp.vdot(y[j], r))

    return jax.lax.fori_loop(0, m, forward, r)


@jax.jit
def _prepare(mem: QNMemory, x: Array, grad: Array, first: Array, warm: Array, floor: float = FLOOR
             ) -> tuple[QNMemory, Array, Array, Array, Array]:
    """(memory with the newest pair added when its curvature is positive, the direction d, its slope
    dF/du . d, dF/du, whether pairs shaped d) at the accepted policy ``x`` with gradient ``grad`` (frozen rows
    masked to 0). ``first``: H_0's scale when no pair is kept (``eg``'s step)."""
    gu = grad_logits(x, grad)
    s_new, y_new = mem.u - mem.u_prev, gu - mem.gu_prev
    sy = jnp.vdot(s_new, y_new)
    keep = (mem.started > 0) & (sy > CURVATURE_TOL * jnp.linalg.norm(s_new) * jnp.linalg.norm(y_new)) & (sy > 0)
    roll = lambda a, new: jnp.concatenate([a[1:], new[None]])  # noqa: E731 (oldest out, newest last)
    s = jnp.where(keep, roll(mem.s, s_new), mem.s)
    y = jnp.where(keep, roll(mem.y, y_new), mem.y)
    rho = jnp.where(keep, roll(mem.rho, 1.0 / jnp.where(sy > 0, sy, 1.0)), mem.rho)
    dinv = 1.0 / jnp.maximum(x, floor / x.shape[1])
    yDy = jnp.vdot(y[-1], dinv * y[-1])
    scale = jnp.where((rho[-1] > 0) & (yDy > 0), 1.0 / (rho[-1] * jnp.where(yDy > 0, yDy, 1.0)), first)
    d = -two_loop(s, y, rho, gu, scale * dinv)
    slope = jnp.vdot(gu, d)
    # Not a descent direction (the model went wrong): forget the pairs, take the scaled gradient's direction.
    # Fewer than ``warm`` pairs kept: eg's step, the pairs still collected.
    cold = jnp.sum(rho > 0) < warm
    bad = ~(slope < 0) | cold
    d = jnp.where(bad, -first * dinv * gu, d)
    slope = jnp.where(bad, jnp.vdot(gu, d), slope)
    zeros = jnp.zeros_like(s)
    reset = bad & ~cold
    mem = mem._replace(s=jnp.where(reset, zeros, s), y=jnp.where(reset, zeros, y),
                       rho=jnp.where(reset, jnp.zeros_like(rho), rho))
    return mem, d, slope, gu, ~bad & (rho[-1] > 0)


@jax.jit
def _qn_trial(u: Array, x: Array, d: Array, a: Array, frozen_steps: Array) -> tuple[Array, Array]:
    """(logits u + a d with each row's max at 0, their policy; frozen rows keep ``x``)."""
    un = u + a * d
    un = un - jnp.max(un, axis=1, keepdims=True)
    return un, jnp.where(frozen_mask(x.shape, frozen_steps), x, jax.nn.softmax(un, axis=1))


def qn_step(state: AutoState, value: Callable[[Array], tuple[Array, object]],
            value_and_grad: Callable[[Array], tuple[Array, Array]], frozen_steps: int, *,
            stop_below: float = -1.0, warm: int = 1) -> tuple[AutoState, StepInfo]:
    """One outer step of ``qn`` (module docstring), with the contract of :func:`learning_law.search.eg_step`.

    Args:
      state: from :func:`learning_law.search.auto_init` (rule ``qn``) or a previous step; ``state.memory``
        is a :class:`QNMemory`.
      value: ``gamma -> (F, extra)``, one forward run; value_and_grad: ``gamma -> (F, dF/dgamma)``, called
        once, at the accepted policy.
      frozen_steps: rows of gamma that stay as they are.
      stop_below: stop (reason :data:`CERTIFIED`, no trial) when the run-level KKT residual is below this.

    Returns the new state and what the step did (``alpha``: the accepted a, 1 for a full quasi-Newton step).
    Stops as ``eg`` does: :data:`STATIONARY` when no move promises a decrease float32 resolves,
    :data:`STALLED` when no trial passes while the residual is above the stall level.
    """
    fs = np.int32(frozen_steps)
    f_x, grad, kkt, stop = open_step(state, value_and_grad, frozen_steps, stop_below)
    if stop is not None:
        return state, stop
    first = np.float32(min(float(state.alpha) * GROW, MAX_STEP))
    mem, d, slope, gu, paired = _prepare(state.memory, state.gamma, grad, first, np.int32(warm))
    slope, paired = float(slope), bool(paired)
    a = 1.0
    for trial in range(1, MAX_TRIALS + 1):
        if not a * slope < -REL_TOL * max(abs(f_x), 1e-30):  # this trial predicts no decrease float32 can see
            return state, StepInfo(False, True, trial - 1, a, 0.0, kkt=kkt, reason=failed_reason(kkt))
        un, cand = _qn_trial(mem.u, state.gamma, d, np.float32(a), fs)
        f, extra = value(cand)
        f = float(f)
        if math.isfinite(f) and f <= f_x + ARMIJO * a * slope:
            new_mem = mem._replace(u=un, u_prev=mem.u, gu_prev=gu, started=jnp.ones((), gu.dtype))
            # With no pair, the step is eg's: its accepted size seeds the next one without pairs, as in eg.
            alpha = state.alpha if paired else jnp.float32(a * first)
            new = state._replace(gamma=cand, auc=jnp.float32(f), z=cand, prev=cand, alpha=alpha, memory=new_mem)
            return new, StepInfo(True, False, trial, a, f_x - f, extra, kkt=kkt)
        a *= 0.5
    return state, StepInfo(False, True, MAX_TRIALS, a, 0.0, kkt=kkt, reason=failed_reason(kkt))
