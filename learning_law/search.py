r"""Outer update rules of the policy search on gamma: the default one, an accelerated alternative, and the
reference's fixed step.

All minimise the search objective :math:`F(\gamma)` (the dev AUC, :mod:`learning_law.metagrad`) over
rows of gamma on the probability simplex, the first ``frozen_steps`` rows held at the constant policy.

``fixed`` -- the paper's projected gradient descent (Section 4.1) with a hand-set step:
:math:`\gamma \leftarrow \Pi(\gamma - \epsilon_k \nabla F)`, :math:`\epsilon_k` from ``--outer-lr`` and
``--schedule``. Its good values differ by orders of magnitude between settings (1e-3 on the perceptron
with theta_0 ~ N(0, I), 0.5 with theta_0 = 0, 0.05 under Adam) and a wrong one raises F without a word.

``auto`` (the default) -- exponentiated gradient (mirror descent with the entropy of each row; Kivinen &
Warmuth 1997, Beck & Teboulle 2003) with Armijo backtracking (:func:`eg_step`). From the accepted policy x,
with one meta-gradient :math:`\nabla F(x)`:

.. math::
    z_{t,n} = \frac{x_{t,n}\, e^{-a \nabla F(x)_{t,n}}}{\sum_m x_{t,m}\, e^{-a \nabla F(x)_{t,m}}}, \qquad
    F(z) \le F(x) + c\, \nabla F(x) \cdot (z - x) \quad \text{(else } a \leftarrow a/2\text{)},

:math:`c = 10^{-4}`, the trial a the last accepted one doubled; the first one makes the largest centred
gradient entry times a equal to 1 (that weight changes by a factor e against its row). Every entry moves
in proportion to itself, so a weight shrinks towards 0 without reaching it (the Learning Law's property
4.1 counts exact zeros: ``apg`` gives them).

Chosen by measurement (``python -m experiments.search_robustness --out DIR``, committed as
``experiments/results/search_robustness.md``): against the best of a three-step fixed-lr sweep, whose
choice looks at the test split, the test speed-up of ``auto`` / ``apg`` is 1.12 / 0.795 on the authors'
perceptron (6.73x vs 5.99x), 6.8 / 0.49 on its theta_0 = 0 variant (13.0x vs 1.90x), 8.4 / 11.7 with
4096 desired examples, 1.94 / 1.56 on the cpu preset, 1.03 / 1.00 on both LM settings, 1.16 / 0.99 under
Adam and 0.97 / 1.10 under mini-batch SGD: ``auto`` reaches 80% of the best fixed step in 8 of 8
settings, ``apg`` in 6. Its test AUC is the lowest of all searches in 7 of 8 (not with 4096 desired
examples, where ``apg`` ends lower: 0.064 vs 0.069 after 500 outer steps). On ``paper-init0`` the
projected-gradient searches generalise poorly from the 512 desired examples: at the same dev AUC of about
0.125 the validation AUC is 0.129 on the fixed step 0.5's path and 0.144 on ``apg``'s, while exponentiated
gradient's selected policy (outer step 33, dev AUC about 0.06) has 0.096 (each run's
``optimize/metrics.jsonl``). Every weight moving in proportion to itself lets a row concentrate on a few
examples within a few steps: at the selected policies on the authors' perceptron, row 0 is 0.88 away from
uniform in total variation under ``auto``, 0.78 under ``apg`` and 0.60 under the fixed step.

``apg`` -- monotone accelerated projected gradient (MFISTA, Beck & Teboulle 2009,
"Fast gradient-based algorithms for constrained total variation image denoising and deblurring", Sec.
V) with backtracking on the step and a restart of the momentum whenever it fails to lower F
(O'Donoghue & Candes 2015). At outer step k, from the accepted policy :math:`x_k`:

.. math::
    y = x_k + \tfrac{t_{k-1}}{t_k}(z_k - x_k) + \tfrac{t_{k-1} - 1}{t_k}(x_k - x_{k-1}), \qquad
    z_{k+1} = \Pi(y - a \nabla F(y)), \\
    F(z_{k+1}) \le F(y) + \nabla F(y) \cdot (z_{k+1} - y) + \tfrac{1}{2a}\lVert z_{k+1} - y\rVert^2
    \quad \text{(else } a \leftarrow a/2\text{)}, \qquad
    x_{k+1} = z_{k+1} \text{ if } F(z_{k+1}) \le F(x_k) \text{ else } x_k,

with :math:`t_{k+1} = (1 + \sqrt{1 + 4 t_k^2})/2`, the trial step doubled at each outer step before the
backtracking, and :math:`t` reset to 1 (so that y = x) after a step that was not taken. A plain step (y = x:
the first one and every one after a restart) is a projected-gradient step and backtracks on Armijo's
condition along the projection arc instead, :math:`F(z) \le F(x) + c\,\nabla F(x) \cdot (z - x)` with
:math:`c = 10^{-4}` (Bertsekas 1976): the quadratic bound asks for at least half the decrease that the
gradient predicts, which an inner loop under Adam never delivers (its AUC is far from quadratic in gamma), so
there the search shrank its step to 1e-13 and stalled after 10 outer steps, at 0.69 of the best fixed
step's speed-up; with Armijo's condition for plain steps it reaches 0.99 (``python -m
experiments.search_robustness --settings perceptron-paper-adam``), and the accelerated steps keep the bound
their momentum needs.
What ``auto`` and ``apg`` share:

- *nothing to tune*: the scale of F cancels everywhere (a scales as 1/F, the gradient as F, every test
  compares F with F), so multiplying the objective by 1000 gives the same trajectory
  (tests/test_search.py); the first trial step is set by the simplex, not by F: ``apg``'s moves the
  largest entry of gamma by 1/N (the constant policy's weight), ``auto``'s changes it by a factor e;
- *monotone*: the policy returned, :math:`x_k`, never moves to a point with a larger F (and a NaN trial
  counts as larger), so the search can never end above its start;
- *cheap*: a trial costs one forward run of the inner training (no meta-gradient); the meta-gradient is
  taken once per outer step (``python -m experiments.search_robustness`` tables the trials and the cost per
  step against the fixed step's).

``apg``'s own history: with Armijo's condition for every step the cpu preset falls from 22.2x to 7.6x;
its first version, a spectral (Barzilai-Borwein) step with monotone Armijo backtracking, ended at dev AUC
0.122 / test 6.3x on the cpu preset against ``apg``'s 0.111 / 22.2x (``python
benchmarks/search_candidates.py --preset cpu --steps 300`` runs that rule beside ``auto``, ``apg`` and a
row-normalised step).

The functions here act on whole arrays and take the objective as callables, so they know nothing of
tasks or files; :mod:`learning_law.optimize` runs the loop, checkpoints it and selects the policy.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from learning_law.run_config import BACKTRACKING, SEARCHES  # noqa: F401  (re-exported)
from theory.simplex import project_rows_onto_simplex

MAX_TRIALS = 40  # halvings of the trial step before a step is given up (a shrinks 2^40 x)
GROW = 2.0  # the trial step of an outer step: the last accepted one times this
MAX_STEP = 1e38  # ... at most this: it is passed as float32 (largest finite 3.4e38), never inf
ARMIJO = 1e-4  # sufficient decrease of a plain step, a share of the predicted one (Nocedal & Wright's value)
REL_TOL = 1e-7  # stationary when the predicted decrease is below this share of |F| (float32 noise)


class AutoState(NamedTuple):
    """The state of the default search between outer steps: all a resume needs (no gradient)."""

    gamma: Array  # [T, N] x_k, the accepted policy (what the search returns)
    auc: Array  # F(x_k), scalar
    z: Array  # [T, N] z_k, the last projected-gradient point
    prev: Array  # [T, N] x_{k-1}
    t: Array  # momentum parameters t_k and t_{k-1}, scalars
    t_prev: Array
    alpha: Array  # the last accepted trial step a, scalar


class StepInfo(NamedTuple):
    moved: bool  # the policy changed (F fell or stayed); False: the step was not taken, momentum restarts
    stationary: bool  # a plain projected-gradient step from x found no decrease: stop
    trials: int  # forward runs this step cost
    alpha: float  # the step accepted by the backtracking (or the last one tried)
    decrease: float  # F before - F after (0 when not moved)
    extra: object = None  # what ``value`` returned beside F for the new policy (e.g. the validation curve)


def _frozen_mask(shape, frozen_steps) -> Array:
    return (jnp.arange(shape[0]) < frozen_steps)[:, None]


@jax.jit
def fixed_update(gamma: Array, grad: Array, lr: Array, frozen_steps: Array) -> Array:
    """The projected step ``Pi(gamma - lr * grad)`` row by row; frozen rows unchanged."""
    return jnp.where(_frozen_mask(gamma.shape, frozen_steps), gamma, project_rows_onto_simplex(gamma - lr * grad))


@jax.jit
def _trial(y: Array, grad: Array, a: Array, frozen_steps: Array) -> tuple[Array, Array, Array]:
    """(z = Pi(y - a grad), grad . (z - y), ||z - y||^2)."""
    z = fixed_update(y, grad, a, frozen_steps)
    d = z - y
    return z, jnp.vdot(grad, d), jnp.vdot(d, d)


@jax.jit
def _extrapolate(x: Array, z: Array, prev: Array, t: Array, t_prev: Array) -> Array:
    return x + (t_prev / t) * (z - x) + ((t_prev - 1.0) / t) * (x - prev)


def masked_grad(grad: Array, frozen_steps: int) -> Array:
    """The gradient with the frozen rows zeroed (they are not variables of the search)."""
    return jnp.where(_frozen_mask(grad.shape, frozen_steps), 0.0, grad)


@jax.jit
def _first_alpha(gamma: Array, grad: Array) -> Array:
    # Moves the entry with the largest centred gradient by 1/N (the constant policy's weight): a step
    # defined by the simplex, not by the scale of F. Centring per row: the projection ignores row means.
    centred = grad - jnp.mean(grad, axis=1, keepdims=True)
    big = jnp.max(jnp.abs(centred))
    return jnp.where(big > 0, (1.0 / gamma.shape[1]) / jnp.where(big > 0, big, 1.0), 1.0)


@jax.jit
def _first_alpha_eg(gamma: Array, grad: Array) -> Array:
    # The largest relative change of one entry is a factor e: a step of the mirror map's own unit.
    centred = grad - jnp.sum(gamma * grad, axis=1, keepdims=True)
    big = jnp.max(jnp.abs(centred))
    return jnp.where(big > 0, 1.0 / jnp.where(big > 0, big, 1.0), 1.0)


@jax.jit
def _eg_trial(x: Array, grad: Array, a: Array, frozen_steps: Array) -> tuple[Array, Array]:
    """(z, grad . (z - x)) with z_tn proportional to x_tn exp(-a grad_tn), row by row; frozen rows unchanged.

    Computed as a softmax of log x - a grad, so no exponential overflows; a zero entry stays zero."""
    pos = x > 0
    logits = jnp.where(pos, jnp.log(jnp.where(pos, x, 1.0)) - a * grad, -jnp.inf)
    z = jnp.where(_frozen_mask(x.shape, frozen_steps), x, jax.nn.softmax(logits, axis=1))
    return z, jnp.vdot(grad, z - x)


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


def auto_init(value_and_grad: Callable[[Array], tuple[Array, Array]], gamma: Array, frozen_steps: int,
              rule: str = "auto") -> AutoState:
    """The state at the starting policy: its F and the first trial step (from its gradient).

    ``rule``: ``auto`` (exponentiated gradient, :func:`eg_step`) or ``apg`` (:func:`apg_step`)."""
    auc, grad = value_and_grad(gamma)
    first = _first_alpha_eg if rule == "auto" else _first_alpha
    alpha = first(gamma, masked_grad(grad, frozen_steps)) / GROW
    one = jnp.float32(1.0)
    return AutoState(gamma, auc, gamma, gamma, one, one, jnp.float32(alpha))


def apg_step(state: AutoState, value: Callable[[Array], tuple[Array, object]],
              value_and_grad: Callable[[Array], tuple[Array, Array]], frozen_steps: int
              ) -> tuple[AutoState, StepInfo]:
    """One outer step of the ``apg`` search (see the module docstring).

    Args:
      state: from :func:`auto_init` or a previous step.
      value: ``gamma -> (F(gamma), extra)``, one forward run; ``extra`` (anything computed in the same run,
        e.g. the validation curve) comes back in :class:`StepInfo` when the policy moves there.
      value_and_grad: ``gamma -> (F, dF/dgamma)``, called once per step, at the extrapolated point y.
      frozen_steps: rows of gamma that stay as they are.

    Returns the new state and what the step did. Every comparison is between values of F, so a NaN trial
    is rejected; ``x`` only ever moves to a point whose F is not larger.
    """
    fs = np.int32(frozen_steps)
    f_x = float(state.auc)
    plain = float(state.t) == 1.0  # y = x: a projected-gradient step from the accepted policy
    y = state.gamma if plain else _extrapolate(state.gamma, state.z, state.prev, state.t, state.t_prev)
    f_y, grad = value_and_grad(y)
    if not math.isfinite(float(f_y)) and not plain:  # the extrapolated point is off the map: restart
        plain, y = True, state.gamma
        f_y, grad = value_and_grad(y)
    f_y = float(f_y)
    grad = masked_grad(grad, frozen_steps)
    a = min(float(state.alpha) * GROW, MAX_STEP)
    z = None
    for trial in range(1, MAX_TRIALS + 1):
        cand, slope, dist2 = (float(v) if i else v for i, v in enumerate(_trial(y, grad, np.float32(a), fs)))
        if plain and not slope < -REL_TOL * max(abs(f_x), 1e-30):  # no predicted decrease left
            return state, StepInfo(False, True, trial - 1, a, 0.0)
        f, extra = value(cand)
        f = float(f)
        # A plain step needs only Armijo's decrease; an extrapolated one the quadratic bound that its
        # momentum's guarantee rests on (module docstring).
        bound = f_y + ARMIJO * slope if plain else f_y + slope + dist2 / (2.0 * a)
        if math.isfinite(f) and f <= bound:
            z = cand
            break
        a *= 0.5
    if z is None:  # no step size satisfied the bound: restart the momentum, or stop if already plain
        restart = AutoState(state.gamma, state.auc, state.gamma, state.gamma, jnp.float32(1.0), jnp.float32(1.0),
                            state.alpha)
        return restart, StepInfo(False, plain, MAX_TRIALS, a, 0.0)
    t_next = (1.0 + math.sqrt(1.0 + 4.0 * float(state.t) ** 2)) / 2.0
    if f <= f_x:  # the step is taken
        new = AutoState(z, jnp.float32(f), z, state.gamma, jnp.float32(t_next), state.t, jnp.float32(a))
        return new, StepInfo(True, False, trial, a, f_x - f, extra)
    # Not taken: x stays; the momentum restarts, so the next step is a plain projected-gradient step from x.
    new = AutoState(state.gamma, state.auc, state.gamma, state.gamma, jnp.float32(1.0), jnp.float32(1.0),
                    jnp.float32(a))
    return new, StepInfo(False, False, trial, a, 0.0)


def eg_step(state: AutoState, value: Callable[[Array], tuple[Array, object]],
            value_and_grad: Callable[[Array], tuple[Array, Array]], frozen_steps: int
            ) -> tuple[AutoState, StepInfo]:
    r"""One outer step of the default search: exponentiated gradient with Armijo backtracking.

    The same contract as :func:`apg_step` (whose state it uses, with ``z = prev = gamma`` and ``t = 1``):
    one meta-gradient at the accepted policy x, then trials :math:`z \propto x\,e^{-a\nabla F}` row by row
    from the last accepted ``a`` times :data:`GROW`, halved until Armijo's condition
    :math:`F(z) \le F(x) + c\,\nabla F(x) \cdot (z - x)` holds (so F never rises; a NaN trial fails it).
    Stationary (``StepInfo.stationary``) when the predicted decrease falls below :data:`REL_TOL` of |F| or
    no trial passes.
    """
    fs = np.int32(frozen_steps)
    f_x = float(state.auc)
    _, grad = value_and_grad(state.gamma)
    grad = masked_grad(grad, frozen_steps)
    a = min(float(state.alpha) * GROW, MAX_STEP)
    for trial in range(1, MAX_TRIALS + 1):
        cand, slope = _eg_trial(state.gamma, grad, np.float32(a), fs)
        slope = float(slope)
        if not slope < -REL_TOL * max(abs(f_x), 1e-30):  # no predicted decrease left
            return state, StepInfo(False, True, trial - 1, a, 0.0)
        f, extra = value(cand)
        f = float(f)
        if math.isfinite(f) and f <= f_x + ARMIJO * slope:
            one = jnp.float32(1.0)
            return (AutoState(cand, jnp.float32(f), cand, cand, one, one, jnp.float32(a)),
                    StepInfo(True, False, trial, a, f_x - f, extra))
        a *= 0.5
    return state, StepInfo(False, True, MAX_TRIALS, a, 0.0)


STEP_RULES = {"auto": eg_step, "apg": apg_step}  # search name -> its outer step
