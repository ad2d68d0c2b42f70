r"""Outer update rules of the policy search on gamma: the default one, four that find their own step, and the
reference's fixed step.

All minimise the search objective :math:`F(\gamma)` (the dev AUC, :mod:`learning_law.metagrad`) over
rows of gamma on the probability simplex, the first ``frozen_steps`` rows held at the constant policy.

``eg`` -- exponentiated gradient (mirror descent with the entropy of each row; Kivinen & Warmuth 1997,
Beck & Teboulle 2003) with Armijo backtracking (:func:`eg_step`). From the accepted policy x, with one
meta-gradient :math:`g = \nabla F(x)` and a direction d (``eg``: d = g):

.. math::
    z_{t,n} = \frac{x_{t,n}\, e^{-a d_{t,n}}}{\sum_m x_{t,m}\, e^{-a d_{t,m}}}, \qquad
    F(z) \le F(x) + c\, g \cdot (z - x) \quad \text{(else } a \leftarrow a/2\text{)},

:math:`c = 10^{-4}`, the trial a the last accepted one doubled, the first one making the largest centred
entry of g times a equal to 1 (that weight changes by a factor e against its row).

``rows`` -- the same with a diagonal preconditioner, one scale per row (:func:`rows_step`):
:math:`d_{t,n} = (g_{t,n} - x_t \cdot g_t) / \max_m |g_{t,m} - x_t \cdot g_t|` (:func:`row_direction`),
a dimensionless, still descent direction, first trial a = 1. One step for the whole policy is set by the
meta-gradient's largest entries (the first inner steps, or the spikes of an inner run that oscillates), so
under ``eg`` the other rows barely move or the step collapses; ``rows`` moves every row by the same
relative amount.

``qn`` -- limited-memory BFGS on each row's softmax logits, Armijo backtracking from the unit step
(:mod:`learning_law.search_qn`): the curvature between rows and examples that one step size cannot express.

``auto`` (the default) -- ``eg`` for the first :data:`EG_STEPS` outer steps, then ``qn`` from the policy eg
reached (:func:`auto_step`); ``rows`` for the rest of the search after a step stalls, and from the start when the
full-batch constant run oscillates (:func:`oscillates`: the meta-gradient's spikes would set one step for the
whole policy). eg's first steps are cheap and robust where the gradient is far from quadratic; qn then converges
several times faster than eg or apg (benchmarks/README.md, "Search convergence"; the robustness against a
fixed-step sweep: experiments/results/search_robustness.md).

``apg`` -- monotone accelerated projected gradient (MFISTA, Beck & Teboulle 2009, Sec. V) with
backtracking on the step and a restart of the momentum whenever it fails to lower F (O'Donoghue &
Candes 2015). At outer step k, from the accepted policy :math:`x_k`:

.. math::
    y = x_k + \tfrac{t_{k-1}}{t_k}(z_k - x_k) + \tfrac{t_{k-1} - 1}{t_k}(x_k - x_{k-1}), \qquad
    z_{k+1} = \Pi(y - a \nabla F(y)), \\
    F(z_{k+1}) \le F(y) + \nabla F(y) \cdot (z_{k+1} - y) + \tfrac{1}{2a}\lVert z_{k+1} - y\rVert^2
    \quad \text{(else } a \leftarrow a/2\text{)}, \qquad
    x_{k+1} = z_{k+1} \text{ if } F(z_{k+1}) \le F(x_k) \text{ else } x_k,

:math:`t_{k+1} = (1 + \sqrt{1 + 4 t_k^2})/2`, t reset to 1 (y = x) after a step not taken; a plain step
(y = x) backtracks on Armijo's condition along the projection arc (Bertsekas 1976) instead of the
quadratic bound, which an inner loop under Adam never meets. It gives exact zeros in gamma.

``fixed`` -- the paper's projected gradient descent (Section 4.1) with a hand-set step:
:math:`\gamma \leftarrow \Pi(\gamma - \epsilon_k \nabla F)`, :math:`\epsilon_k` from ``--outer-lr`` and
``--schedule``; its good values differ by orders of magnitude between settings.

What ``auto``, ``eg``, ``rows``, ``qn`` and ``apg`` guarantee:

- *nothing to tune*: the scale of F cancels (``rows``' a is dimensionless; the others' scale as 1/F), so multiplying the objective by 1000 gives the same trajectory (tests/test_search.py);
- *monotone*: the policy returned never moves to a point with a larger F (a NaN trial counts as larger);
- *cheap*: a trial costs one forward run of the inner training; the meta-gradient is taken once per
  outer step, and the certificate (the run-level KKT residual, :func:`kkt_total`) is computed from it at
  the cost of one pass over gamma;
- *a stop says why* (``StepInfo.reason``): :data:`STATIONARY` (no move of the weights promises a decrease
  float32 can resolve), :data:`STALLED` (no trial passed while the KKT residual is above :data:`STALL_KKT`:
  the gradient does not predict F beyond a tiny step) or :data:`CERTIFIED` (the residual fell below
  ``stop_below``, ``--until-kkt``).

Measured: ``python benchmarks/search_convergence.py`` (dev AUC and KKT residual against meta-gradients,
benchmarks/README.md) and ``python -m experiments.search_robustness`` (test speed-ups against a fixed-lr
sweep, experiments/results/search_robustness.md).

The functions here act on whole arrays and take the objective as callables, so they know nothing of
tasks or files; :mod:`learning_law.optimize` runs the loop, checkpoints it and selects the policy.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from learning_law import search_qn as QN
from learning_law.run_config import BACKTRACKING, SEARCHES  # noqa: F401  (re-exported)
from learning_law.search_core import (  # noqa: F401  (re-exported: the rules' shared contract)
    ARMIJO, CERTIFIED, GROW, MAX_STEP, MAX_TRIALS, REL_TOL, STALL_KKT, STALLED, STATIONARY, AutoState, StepInfo,
    kkt_total, masked_grad, reuse_first)
from learning_law.search_core import certificate as _certificate
from learning_law.search_core import failed_reason as _failed
from learning_law.search_core import first_alpha_eg as _first_alpha_eg
from learning_law.search_core import frozen_mask as _frozen_mask
from learning_law.search_core import no_decrease_left as _no_decrease_left
from learning_law.search_core import open_step as _open_step
from theory.simplex import project_rows_onto_simplex

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


@jax.jit
def _first_alpha(gamma: Array, grad: Array) -> Array:
    # Moves the entry with the largest centred gradient by 1/N (the constant policy's weight): a step
    # defined by the simplex, not by the scale of F. Centring per row: the projection ignores row means.
    centred = grad - jnp.mean(grad, axis=1, keepdims=True)
    big = jnp.max(jnp.abs(centred))
    return jnp.where(big > 0, (1.0 / gamma.shape[1]) / jnp.where(big > 0, big, 1.0), 1.0)


@jax.jit
def _eg_trial(x: Array, grad: Array, a: Array, frozen_steps: Array, direction: Array | None = None
              ) -> tuple[Array, Array]:
    """(z, grad . (z - x)) with z_tn proportional to x_tn exp(-a d_tn), row by row (d = ``direction``,
    default the gradient); frozen rows unchanged.

    Computed as a softmax of log x - a d, so no exponential overflows; a zero entry stays zero."""
    d = grad if direction is None else direction
    pos = x > 0
    logits = jnp.where(pos, jnp.log(jnp.where(pos, x, 1.0)) - a * d, -jnp.inf)
    z = jnp.where(_frozen_mask(x.shape, frozen_steps), x, jax.nn.softmax(logits, axis=1))
    return z, jnp.vdot(grad, z - x)


@jax.jit
def row_direction(x: Array, grad: Array) -> Array:
    r"""The ``rows`` search's direction: each row's gradient centred at its weighted mean and divided by
    its largest entry, :math:`d_{t,n} = (g_{t,n} - x_t \cdot g_t) / \max_m |g_{t,m} - x_t \cdot g_t|` (0 for a
    row whose gradient is constant: frozen or exactly stationary). Dimensionless, so a step a changes the
    entry of row t with the largest centred gradient by a factor :math:`e^{\pm a}` against the row's mean
    whatever the row's gradient scale."""
    centred = grad - jnp.sum(x * grad, axis=1, keepdims=True)
    big = jnp.max(jnp.abs(centred), axis=1, keepdims=True)
    return jnp.where(big > 0, centred / jnp.where(big > 0, big, 1.0), 0.0)


WITH_MEMORY = ("qn", "auto")  # the rules whose state carries arrays beside the policy (AutoState.memory)


def search_memory(gamma: Array, rule: str, m: int = QN.MEMORY):
    """The empty memory of ``rule`` (one of :data:`WITH_MEMORY`; ``m`` pairs) at ``gamma``: what a checkpoint
    holds beside the policy, and the template its restore fills."""
    return QN.qn_memory(gamma, m)


def auto_init(value_and_grad: Callable[[Array], tuple[Array, Array]], gamma: Array, frozen_steps: int,
              rule: str = "auto", memory: int = QN.MEMORY) -> AutoState:
    """The state at the starting policy: its F and the first trial step (from its gradient).

    ``rule``: ``auto`` (:func:`auto_step`), ``eg`` (:func:`eg_step`), ``rows`` (:func:`rows_step`; its first
    trial step is 1), ``apg`` (:func:`apg_step`) or ``qn`` (:func:`learning_law.search_qn.qn_step`, with its
    empty :class:`~learning_law.search_qn.QNMemory` of ``memory`` pairs)."""
    if rule not in STEP_RULES:
        raise ValueError(f"rule={rule!r} is invalid: allowed {sorted(STEP_RULES)}")
    auc, grad = value_and_grad(gamma)
    if rule == "rows":
        alpha = 1.0 / GROW
    else:
        first = _first_alpha_eg if rule in ("auto", "eg", "qn") else _first_alpha
        alpha = first(gamma, masked_grad(grad, frozen_steps)) / GROW
    one = jnp.float32(1.0)
    kept = search_memory(gamma, rule, memory) if rule in WITH_MEMORY else ()
    return AutoState(gamma, auc, gamma, gamma, one, one, jnp.float32(alpha), kept)


def apg_step(state: AutoState, value: Callable[[Array], tuple[Array, object]],
              value_and_grad: Callable[[Array], tuple[Array, Array]], frozen_steps: int, *,
              stop_below: float = -1.0) -> tuple[AutoState, StepInfo]:
    """One outer step of the ``apg`` search (see the module docstring).

    Args:
      state: from :func:`auto_init` or a previous step.
      value: ``gamma -> (F(gamma), extra)``, one forward run; ``extra`` (anything computed in the same run,
        e.g. the validation curve) comes back in :class:`StepInfo` when the policy moves there.
      value_and_grad: ``gamma -> (F, dF/dgamma)``, called once per step, at the extrapolated point y.
      frozen_steps: rows of gamma that stay as they are.
      stop_below: stop (``reason`` :data:`CERTIFIED`) when the run-level KKT residual at x is below this; it
        is measured at the point the gradient is taken, so only a plain step (y = x) can certify.

    Returns the new state and what the step did (``kkt``: the residual at y). Every comparison is between
    values of F, so a NaN trial is rejected; ``x`` only ever moves to a point whose F is not larger. The stop
    reasons are those of :func:`eg_step`.
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
    kkt, gap = (float(v) for v in _certificate(y, grad))
    if plain and (kkt < stop_below or _no_decrease_left(gap, f_x)):
        return state, StepInfo(False, True, 0, float(state.alpha), 0.0, kkt=kkt,
                               reason=CERTIFIED if kkt < stop_below else STATIONARY)
    a = min(float(state.alpha) * GROW, MAX_STEP)
    z = None
    for trial in range(1, MAX_TRIALS + 1):
        cand, slope, dist2 = (float(v) if i else v for i, v in enumerate(_trial(y, grad, np.float32(a), fs)))
        if plain and not slope < -REL_TOL * max(abs(f_x), 1e-30):  # the trial predicts no visible decrease
            return state, StepInfo(False, True, trial - 1, a, 0.0, kkt=kkt, reason=_failed(kkt))
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
        return restart, StepInfo(False, plain, MAX_TRIALS, a, 0.0, kkt=kkt, reason=_failed(kkt) if plain else "")
    t_next = (1.0 + math.sqrt(1.0 + 4.0 * float(state.t) ** 2)) / 2.0
    if f <= f_x:  # the step is taken
        new = AutoState(z, jnp.float32(f), z, state.gamma, jnp.float32(t_next), state.t, jnp.float32(a))
        return new, StepInfo(True, False, trial, a, f_x - f, extra, kkt=kkt)
    # Not taken: x stays; the momentum restarts, so the next step is a plain projected-gradient step from x.
    new = AutoState(state.gamma, state.auc, state.gamma, state.gamma, jnp.float32(1.0), jnp.float32(1.0),
                    jnp.float32(a))
    return new, StepInfo(False, False, trial, a, 0.0, kkt=kkt)


def eg_step(state: AutoState, value: Callable[[Array], tuple[Array, object]],
            value_and_grad: Callable[[Array], tuple[Array, Array]], frozen_steps: int, *,
            rows: bool = False, stop_below: float = -1.0) -> tuple[AutoState, StepInfo]:
    r"""One outer step of exponentiated gradient with Armijo backtracking (``eg``; ``rows=True``: ``rows``).

    The same contract as :func:`apg_step` (whose state it uses, with ``z = prev = gamma`` and ``t = 1``):
    one meta-gradient at the accepted policy x, then trials :math:`z \propto x\,e^{-a d}` row by row with
    :math:`d = \nabla F(x)` (``eg``) or :func:`row_direction` (``rows``), from the last accepted ``a`` times
    :data:`GROW`, halved until Armijo's condition :math:`F(z) \le F(x) + c\,\nabla F(x) \cdot (z - x)`
    holds (so F never rises; a NaN trial fails it).

    Stops (``StepInfo.stationary``, with ``reason``): :data:`STATIONARY` when the largest first-order decrease
    left (the Frank-Wolfe gap, :func:`_certificate`) is below :data:`REL_TOL` of |F|; :data:`STALLED` when
    the gap is larger but no trial passes before the predicted decrease of the trial itself falls below that
    (the step collapsed: the gradient does not predict F beyond a tiny step, e.g. an inner run that
    oscillates); :data:`CERTIFIED` when the run-level KKT residual is below ``stop_below`` (then no trial
    runs: x is returned as it is).
    """
    fs = np.int32(frozen_steps)
    f_x, grad, kkt, stop = _open_step(state, value_and_grad, frozen_steps, stop_below)
    if stop is not None:
        return state, stop
    direction = row_direction(state.gamma, grad) if rows else None
    a = min(float(state.alpha) * GROW, MAX_STEP)
    for trial in range(1, MAX_TRIALS + 1):
        cand, slope = _eg_trial(state.gamma, grad, np.float32(a), fs, direction)
        slope = float(slope)
        if not slope < -REL_TOL * max(abs(f_x), 1e-30):  # this trial predicts no decrease float32 can see
            return state, StepInfo(False, True, trial - 1, a, 0.0, kkt=kkt, reason=_failed(kkt))
        f, extra = value(cand)
        f = float(f)
        if math.isfinite(f) and f <= f_x + ARMIJO * slope:
            one = jnp.float32(1.0)
            return (AutoState(cand, jnp.float32(f), cand, cand, one, one, jnp.float32(a)),
                    StepInfo(True, False, trial, a, f_x - f, extra, kkt=kkt))
        a *= 0.5
    return state, StepInfo(False, True, MAX_TRIALS, a, 0.0, kkt=kkt, reason=_failed(kkt))


def rows_step(state: AutoState, value: Callable[[Array], tuple[Array, object]],
              value_and_grad: Callable[[Array], tuple[Array, Array]], frozen_steps: int, *,
              stop_below: float = -1.0) -> tuple[AutoState, StepInfo]:
    """One outer step of ``rows``: :func:`eg_step` with each row's step normalised (:func:`row_direction`)."""
    return eg_step(state, value, value_and_grad, frozen_steps, rows=True, stop_below=stop_below)


ROWS_MODE = 2.0  # AutoState.t_prev of an ``auto`` search that has switched to row-normalised steps
QN_MODE = 3.0  # ... that has passed its first EG_STEPS outer steps and takes qn's (else 1: eg's)
TURNS = 0.1  # a full-batch constant run whose dev loss turns (rise <-> fall) at this share of its steps oscillates
EG_STEPS = 20  # auto's first outer steps are eg's (benchmarks/README.md, "Search convergence": 20 and 50 alike)


def oscillates(dev_curve) -> bool:
    """Whether a full-batch inner run oscillates: its dev loss ``[T+1]`` turns between rising and falling at
    :data:`TURNS` of its steps or more. Then the meta-gradient has spikes (tens of times its median) that set
    one step for the whole policy, and ``auto`` starts with each row's step normalised (:func:`rows_step`).
    A stable run turns at most a few times (a late rise from over-fitting turns once)."""
    d = np.diff(np.asarray(dev_curve, np.float64))
    turns = int(np.sum(np.sign(d[1:]) * np.sign(d[:-1]) < 0))
    return d.size > 1 and turns >= TURNS * d.size


def start_in_rows(state: AutoState) -> AutoState:
    """``auto``'s state switched to :func:`rows_step` from the unit step (an oscillating inner run)."""
    return state._replace(alpha=jnp.float32(1.0 / GROW), t_prev=jnp.float32(ROWS_MODE))


def auto_step(state: AutoState, value: Callable[[Array], tuple[Array, object]],
              value_and_grad: Callable[[Array], tuple[Array, Array]], frozen_steps: int, *,
              stop_below: float = -1.0) -> tuple[AutoState, StepInfo]:
    """One outer step of the default search (module docstring): :func:`eg_step` for the first
    :data:`EG_STEPS` outer steps, then :func:`learning_law.search_qn.qn_step` from an empty memory at the
    policy eg reached; if either stalls, :func:`rows_step` from the unit step a = 1 for the rest of the search.

    The mode is kept in the state (``t_prev``: 1, :data:`QN_MODE` or :data:`ROWS_MODE`; ``t``: 1 + the eg
    steps taken), and so is qn's memory, so a resume continues bit-identically; the meta-gradient of the
    step that stalled is reused, so the switch to rows costs forward runs only."""
    mode, memory = float(state.t_prev), state.memory
    memo: dict = {}

    def once(gamma):
        if memo.get("gamma") is not gamma:
            memo.update(gamma=gamma, out=value_and_grad(gamma))
        return memo["out"]

    if mode == ROWS_MODE:
        new, info = rows_step(state, value, value_and_grad, frozen_steps, stop_below=stop_below)
        return new._replace(t=state.t, t_prev=jnp.float32(ROWS_MODE), memory=memory), info
    if mode == QN_MODE:
        new, info = QN.qn_step(state, value, once, frozen_steps, stop_below=stop_below)
    else:
        new, info = eg_step(state, value, once, frozen_steps, stop_below=stop_below)
        if info.stationary and info.reason != STALLED:  # certified or stationary: the policy as it is
            return new, info
        done = float(state.t)  # eg steps taken before this one, plus 1
        new = new._replace(t=jnp.float32(done + 1.0), t_prev=state.t_prev, memory=memory)
        if done >= EG_STEPS and info.reason != STALLED:  # eg's part is over: qn from where eg stands
            new = new._replace(t_prev=jnp.float32(QN_MODE), memory=QN.qn_memory(new.gamma, memory.s.shape[0]))
    if info.reason != STALLED:
        return new, info
    switched = state._replace(alpha=jnp.float32(1.0 / GROW), t_prev=jnp.float32(ROWS_MODE))
    new, rinfo = rows_step(switched, value, once, frozen_steps, stop_below=stop_below)
    return (new._replace(t=state.t, t_prev=jnp.float32(ROWS_MODE), memory=memory),
            rinfo._replace(trials=info.trials + rinfo.trials))


STEP_RULES = {"auto": auto_step, "eg": eg_step, "rows": rows_step, "apg": apg_step, "qn": QN.qn_step}  # search name -> its outer step
