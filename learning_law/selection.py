"""What the policy search keeps besides the policy: its histories, the best policy so far, and the scores
of held-out data that choose it (:mod:`learning_law.optimize` runs the loop).

The search fits the dev split. Every candidate (the constant policy, every policy the auto search
accepts, every fixed-search policy at an evaluation) is scored on the validation split: its AUC, or minus
its speed-up over the constant policy (``select``). Only candidates whose dev AUC is not above the constant
policy's count, so the kept policy is never worse than constant on the search objective. Without a
validation split the dev AUC scores.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from learning_law import optimizers as O
from learning_law.errors import NumericalError
from learning_law import policy as P
from learning_law.distributed import to_host
from learning_law.inner import loss_curves, split_curves
from learning_law.metagrad import auc_of_policy
from learning_law.sharding import place_policy
from learning_law.tasks.base import Task
from theory.certificate import CURVES, GRADIENT, GRADIENT_AND_CURVES
from theory.speedup import speedup_ratio

EVAL_FIELDS = ("auc_after", "auc_test_after", "speedup_test", "speedup_dev", "auc_val_after", "speedup_val_after")
STOPS = ("completed", "stationary", "patience", "stalled", "kkt")  # learning_law.search_record explains each


class SearchState:
    """Everything a resume needs, as host arrays (the checkpoint's tree) plus the device policy."""

    def __init__(self, steps: int, n: int, K: int):
        self.gamma = None  # the current policy (device)
        self.auc = np.full(K, np.nan, np.float32)  # AUC of the policy each outer step started from
        self.step_size = np.full(K, np.nan, np.float32)
        self.trials = np.zeros(K, np.int32)  # forward runs of the auto / apg line search
        self.kkt = np.full(K, np.nan, np.float32)  # run-level KKT residual of the policy each step started from
        self.evals = np.full((K, len(EVAL_FIELDS)), np.nan, np.float32)
        self.best_gamma = None  # the selected policy so far (device or host)
        self.best = np.array([np.inf, np.nan, 0.0])  # score, its dev AUC, outer step
        self.mom = None  # auto / apg: (z, x_prev) of the accelerated search (device; auto: both gamma)
        self.scalars = np.full(4, np.nan, np.float32)  # auto / apg: F(x), t, t_prev, last accepted step
        self.memory = None  # qn (and auto after its switch): the search's further arrays, a NamedTuple (device)
        self.done = 0
        self.stop = 0  # index into STOPS
        self.shape = (steps, n)

    def tree(self) -> dict:
        """Host arrays (gathered from every process in a multi-process run: a collective)."""
        return {"gamma": to_host(self.gamma), "auc": self.auc, "step_size": self.step_size,
                "trials": self.trials, "kkt": self.kkt, "evals": self.evals, "best_gamma": to_host(self.best_gamma),
                "best": self.best, "scalars": self.scalars,
                "z": to_host(self.gamma if self.mom is None else self.mom[0]),
                "prev": to_host(self.gamma if self.mom is None else self.mom[1]),
                "step": np.asarray(self.done, np.int64), "stop": np.asarray(self.stop, np.int64),
                **({} if self.memory is None else
                   {"memory": {k: to_host(v) for k, v in self.memory._asdict().items()}})}

    def load(self, tree: dict, mesh) -> None:
        self.gamma = place_policy(tree["gamma"], mesh)
        self.best_gamma = place_policy(tree["best_gamma"], mesh)
        for key in ("auc", "step_size", "trials", "kkt", "evals", "best", "scalars"):
            setattr(self, key, np.array(tree[key], dtype=getattr(self, key).dtype))
        self.mom = (place_policy(tree["z"], mesh), place_policy(tree["prev"], mesh))
        if self.memory is not None:  # the template set before the restore names the fields
            self.memory = type(self.memory)(**{k: place_policy(v, mesh) if np.ndim(v) == 2 else jnp.asarray(v)
                                               for k, v in tree["memory"].items()})
        self.done, self.stop = int(tree["step"]), int(tree["stop"])

    def consider(self, gamma, score: float, dev_auc: float, step: int, auc0: float) -> None:
        """Keep ``gamma`` if it is the best so far (never one whose dev AUC is above the constant's)."""
        if math.isfinite(score) and math.isfinite(dev_auc) and dev_auc <= auc0 and score < self.best[0]:
            self.best_gamma, self.best = gamma, np.array([score, dev_auc, float(step)])


def forward_fns(task: Task, etas, opt, select: str, val_const=None):
    """(value, val): ``value(gamma) -> (dev AUC, validation curve or None)`` in one forward run (the auto
    search's trial), and the validation scorer (None without a validation split). ``val_const``: the constant
    policy's validation curve when it is already known (else one run measures it)."""
    loss_fn, p0, train = task.per_example_loss, task.init_params, task.train
    if task.val is None:
        forward = jax.jit(auc_of_policy, static_argnames=("loss_fn", "memory", "block_size", "opt"))
        return (lambda g: (forward(loss_fn, p0, train, task.dev, g, etas, opt=opt), None)), None

    def value(g):
        dev, curve = loss_curves(loss_fn, p0, train, task.dev, task.val, g, etas, opt)
        return jnp.mean(dev), np.asarray(curve)

    const = (value(P.constant(*etas.shape, task.n_train, task.constant_row))[1] if val_const is None else
             np.asarray(val_const))
    return value, Validation(lambda g: value(g)[1], const, select)


class Validation:
    """Scores a policy by its validation loss curve: its AUC, or minus its speed-up over the constant policy."""

    def __init__(self, curve, const: np.ndarray, select: str):
        self.curve, self.const, self.select = curve, const, select
        self.name = "validation AUC" if select == "auc" else "validation speed-up"

    def score(self, curve: np.ndarray) -> float:
        if self.select == "auc":
            return float(np.mean(curve))
        speedup = speedup_ratio(self.const, curve)["speedup"]
        return -speedup if math.isfinite(speedup) else math.inf  # t* = 0 (the constant never improved): no rank


def consider_constant(st: SearchState, val, row=None) -> None:
    """The constant policy (``row`` at every step: the task's ``constant_row``) is a candidate of the selection
    (by its validation score when there is a split)."""
    const = P.constant(*st.shape, row)
    auc0 = float(st.auc[0])
    st.consider(const, val.score(val.const) if val is not None else auc0, auc0, 0, auc0)


def evaluate_policy(st: SearchState, task: Task, const_curves, etas, opt, val, curves_of=None) -> None:
    """EVAL_FIELDS of the policy after st.done updates; with a validation split, it becomes a candidate.

    ``curves_of``: optional ``gamma -> (dev, test, validation or None)`` curves (e.g. :meth:`RecordedCurves.curves`);
    by default one forward run of the policy measures them."""
    row = st.done - 1
    try:
        if curves_of is not None:
            dev, test, curve = curves_of(st.gamma)
        elif val is not None:  # dev, test and validation from one run of the policy
            dev, test, curve = (np.asarray(c) for c in split_curves(
                task.per_example_loss, task.init_params, task.train, (task.dev, task.test, task.val),
                place_policy(st.gamma, task.mesh), etas, opt))
        else:
            (dev, test), curve = curves(task, st.gamma, etas, opt), None
        st.evals[row] = held_out(const_curves, (dev, test), curve, val.const if val is not None else None)
    except FloatingPointError as e:  # a NaN/inf in a curve: name the outer step as well as the inner one
        raise NumericalError(f"the policy after {st.done} outer steps: {e}; lower the (outer) step") from None
    if val is not None:
        st.consider(st.gamma, val.score(curve), float(st.evals[row, 0]), st.done, float(st.auc[0]))


def curves(task: Task, gamma, etas, opt: O.InnerOpt = O.GD) -> tuple[np.ndarray, np.ndarray]:
    gamma = place_policy(gamma, task.mesh)
    dev, test = loss_curves(task.per_example_loss, task.init_params, task.train, task.dev, task.test, gamma, etas,
                            opt)
    return np.asarray(dev), np.asarray(test)


def held_out(const: tuple, pol: tuple, val_curve, val_const) -> np.ndarray:
    """EVAL_FIELDS of the updated policy: AUC (dev, test), speed-ups over constant (test, dev), validation
    AUC and speed-up (NaN without a validation split)."""
    val = ((np.mean(val_curve), speedup_ratio(val_const, val_curve)["speedup"]) if val_curve is not None
           else (np.nan, np.nan))
    return np.array([pol[0].mean(), pol[1].mean(), speedup_ratio(const[1], pol[1])["speedup"],
                     speedup_ratio(const[0], pol[0])["speedup"], *val], dtype=np.float32)


def held_splits(task: Task) -> tuple:
    """The splits an evaluation records besides dev: test, and validation when the task has one."""
    return (task.test,) if task.val is None else (task.test, task.val)


class RecordedCurves:
    """The fixed search's meta-gradient, whose run also records the evaluation's curves when asked.

    ``compiled``: :func:`learning_law.metagrad.auc_grad_and_curves` compiled for ``held_splits(task)``. A call
    ``(gamma) -> (AUC, dAUC/dgamma)`` leaves the held-out rows unrecorded; :meth:`curves` records them (their
    forward passes are all it adds) and keeps the meta-gradient for one repeat call on the very same array,
    which is what the next outer step asks for: the policy is evaluated after an update and the next outer
    step starts from it. The same compiled program answers both, so the numbers do not depend on whether an
    evaluation came first (a resumed search is bit-identical). An evaluation no outer step follows (the last
    one) runs forward only.
    """

    def __init__(self, compiled, task: Task, etas):
        self._compiled, self._etas = compiled, etas
        self._args = (task.init_params, task.train, task.dev, held_splits(task))
        self._has_val = task.val is not None
        self._memo = self._auc = None

    def _run(self, gamma, mode: int):
        p0, train, dev, held = self._args
        return self._compiled(p0, train, dev, held, gamma, self._etas, np.asarray(mode, np.int32))

    def __call__(self, gamma):
        memo, self._memo = self._memo, None
        if memo is not None and memo[0] is gamma:
            return memo[1]
        auc, grad, _ = self._run(gamma, GRADIENT)
        return auc, grad

    def curves(self, gamma, gradient: bool = True) -> tuple:
        """(dev, test, validation or None) loss curves ``[T+1]`` of ``gamma``: from its meta-gradient's run,
        kept for the next call, or (``gradient`` False: no outer step follows) from a forward run."""
        auc, grad, rows = self._run(gamma, GRADIENT_AND_CURVES if gradient else CURVES)
        self._memo = (gamma, (auc, grad)) if gradient else None
        self._auc = (gamma, auc)
        rows = to_host(rows)
        return rows[0], rows[1], rows[2] if self._has_val else None

    def auc(self, gamma):
        """The dev AUC of ``gamma``: that of its last evaluation when it is the same array, else a forward run."""
        if self._auc is not None and self._auc[0] is gamma:
            return self._auc[1]
        return self._run(gamma, CURVES)[0]
