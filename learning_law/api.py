"""The Python API: your own model and data through the whole toolkit (README "Python API", docs/api.md).

    import learning_law.api as ll
    task = ll.make_task(loss, params, train, dev)       # plain pytree, NNX module or Linen apply
    res = ll.optimize(task, steps=200, outer_steps=20)  # the policy search; res.gamma: [T, N]
    ev = ll.evaluate(task, res)                         # constant vs res.gamma: ev.speedup, ev.curves

    task = ll.lm_task(texts_train, texts_dev)           # a causal LM on your own texts (lists or files):
                                                        # the toolkit's tokenizer and Transformer

Every function returns its values; files are written only when ``out=`` names a folder (the same files
as the command of the same name). Options are the fields of :class:`~learning_law.config.InnerConfig`
and :class:`~learning_law.config.OuterConfig` as keywords (``steps=``, ``lr=``, ``outer_steps=``, ...),
with the same defaults and checks; a bad one raises :class:`~learning_law.errors.UsageError` naming it.

These functions live here, not on the package: ``learning_law.optimize``, ``.evaluate`` and ``.train``
are the modules of the same names (only :func:`make_task` and :func:`load_params` are re-exported).
Heavy modules (optax, orbax) are imported on the first call, so ``import learning_law`` stays light.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from functools import cache
from pathlib import Path
from typing import Iterator

import jax
import numpy as np

from learning_law import config as C
from learning_law import policy as P
from learning_law.errors import UsageError
from learning_law.params_io import load_params
from learning_law.tasks.base import PyTree, Task
from learning_law.tasks.custom import PerExampleLossFn, make_task
from learning_law.tasks.lm_text import lm_task, read_texts, tokenizer

__all__ = ["make_task", "lm_task", "tokenizer", "read_texts", "optimize", "evaluate", "train", "contributions",
           "law", "load_params", "OptimizeResult", "EvaluateResult", "PerExampleLossFn"]

INNER_FIELDS = tuple(f.name for f in dataclasses.fields(C.InnerConfig))
OUTER_FIELDS = tuple(f.name for f in dataclasses.fields(C.OuterConfig))


@dataclasses.dataclass(frozen=True)
class OptimizeResult:
    """What :func:`optimize` found. ``gamma: [T, N]`` is the selected policy (docs/search.md "Which policy is
    kept"); ``outer_auc: [K]`` the dev AUC at each outer step (NaN after an early stop); ``summary`` the
    command's summary.json; ``inner``/``outer`` the settings used (``evaluate(task, result)`` reuses them)."""

    gamma: np.ndarray
    auc_constant: float
    auc_final: float
    outer_auc: np.ndarray
    summary: dict
    inner: C.InnerConfig
    outer: C.OuterConfig
    out: Path | None = None


@dataclasses.dataclass(frozen=True)
class EvaluateResult:
    """Constant vs a policy (:func:`evaluate`): ``speedup`` = T / t* on the test loss; the AUCs (mean loss
    over t = 0..T, :func:`theory.objective.auc`) of each run on dev (``auc_constant``, ``auc_policy``: the
    split the policy was optimised on) and on test (``auc_test_constant``, ``auc_test_policy``: held out);
    ``curves[run][curve]`` with run in (``constant``, ``policy``), curve in (``dev_loss``, ``test_loss``),
    each ``[T+1]``; ``summary`` is the command's summary.json (the same numbers under the same names)."""

    speedup: float
    auc_constant: float
    auc_policy: float
    auc_test_constant: float
    auc_test_policy: float
    curves: dict
    summary: dict
    out: Path | None = None


def configs(inner: C.InnerConfig | None = None, outer: C.OuterConfig | None = None,
            **options) -> tuple[C.InnerConfig, C.OuterConfig]:
    """The configs with ``options`` (field names of either) applied; the CLI's rules: ``outer_lr`` or
    ``schedule`` alone imply ``search='fixed'``, ``search='auto'`` (or ``'eg'``, ``'apg'``) drops a fixed step."""
    unknown = sorted(set(options) - set(INNER_FIELDS) - set(OUTER_FIELDS))
    if unknown:
        raise UsageError(f"unknown option(s) {unknown}: allowed the fields of InnerConfig {list(INNER_FIELDS)} "
                         f"and OuterConfig {list(OUTER_FIELDS)}")
    inner = C.InnerConfig() if inner is None else inner
    outer = C.OuterConfig() if outer is None else outer
    out_opts = {k: v for k, v in options.items() if k in OUTER_FIELDS}
    if out_opts.get("search") in C.BACKTRACKING:
        outer = dataclasses.replace(outer, search=out_opts["search"], outer_lr=None)
    elif any(k in out_opts for k in ("outer_lr", "schedule")) and "search" not in out_opts:
        out_opts["search"] = "fixed"
    inner = dataclasses.replace(inner, **{k: v for k, v in options.items() if k in INNER_FIELDS})
    return inner, dataclasses.replace(outer, **out_opts)


@contextlib.contextmanager
def _folder(out: str | Path | None, overwrite: bool) -> Iterator[Path]:
    """``out`` prepared as the commands do, or a temporary folder removed afterwards."""
    if out is not None:
        from learning_law import record as R

        yield R.prepare_out_dir(out, overwrite=overwrite)
        return
    with tempfile.TemporaryDirectory(prefix="learning-law-") as tmp:
        yield Path(tmp)


def _check_task(task) -> None:
    if not isinstance(task, Task):
        raise UsageError(f"task={task!r} is invalid: allowed a Task (learning_law.api.make_task builds one)")


def _policy(task: Task, policy, inner: C.InnerConfig | None, options: dict):
    """(gamma [T, N], name, inner config, frozen_steps) of ``policy``: 'constant', an array or an
    :class:`OptimizeResult` (whose inner settings are the default then; a per-domain one is expanded over the
    task's sources)."""
    frozen = 0
    if isinstance(policy, OptimizeResult):
        inner = policy.inner if inner is None else inner
        frozen, name, gamma = policy.outer.frozen_steps, "optimized", policy.gamma
        if policy.outer.policy_granularity == "domain" and task.groups is not None:  # w [T, D] -> gamma [T, N]
            from learning_law.domains import expand

            gamma = expand(gamma, task.groups)
    inner, _ = configs(inner, None, **options)
    if isinstance(policy, str):
        if policy != "constant":
            raise UsageError(f"policy={policy!r} is invalid: allowed 'constant', an array [T, N] or an "
                             "OptimizeResult")
        gamma, name = P.constant(inner.steps, task.n_train, task.constant_row), "constant"
    elif not isinstance(policy, OptimizeResult):
        gamma, name = np.asarray(policy), "array"
    return P.validate(gamma, inner.steps, task.n_train, name="policy"), name, inner, frozen


def optimize(task: Task, inner: C.InnerConfig | None = None, outer: C.OuterConfig | None = None, *,
             out: str | Path | None = None, overwrite: bool = False, progress: bool = True,
             **options) -> OptimizeResult:
    """Search the policy minimising the dev AUC (``learning-law optimize``; the default search needs no
    step). ``options``: InnerConfig/OuterConfig fields, e.g. ``steps=200, lr=0.5, outer_steps=20``."""
    from learning_law import optimize as OPT

    _check_task(task)
    inner, outer = configs(inner, outer, **options)
    run_outer = outer
    if out is None:  # nobody can resume from a folder about to be deleted: checkpoint once, at the end
        run_outer = dataclasses.replace(outer, checkpoint_every=outer.outer_steps, save_every=outer.outer_steps)
    with _folder(out, overwrite) as folder:
        s = OPT.optimize(task, inner, run_outer, folder, progress=progress)
        outer_auc = np.load(folder / "outer_auc.npy")
    summary = {k: v for k, v in s.items() if k != "gamma"}
    return OptimizeResult(np.asarray(s["gamma"]), s["auc_constant"], s["auc_final"], outer_auc, summary, inner,
                          outer, None if out is None else Path(out))


def evaluate(task: Task, policy, inner: C.InnerConfig | None = None, *, out: str | Path | None = None,
             overwrite: bool = False, smooth_sigma: float = 0.0, progress: bool = True,
             **options) -> EvaluateResult:
    """Train under the constant policy and under ``policy`` (an :class:`OptimizeResult` or an array
    ``[T, N]``) from the same theta_0; compare them (``learning-law evaluate``)."""
    from learning_law import evaluate as EV

    _check_task(task)
    gamma, name, inner, _ = _policy(task, policy, inner, options)
    if not smooth_sigma >= 0:
        raise UsageError(f"smooth_sigma={smooth_sigma!r} is invalid: allowed >= 0")
    with _folder(out, overwrite) as folder:
        s = EV.evaluate(task, inner, gamma, folder, policy_name=name, smooth_sigma=smooth_sigma,
                        progress=progress)
        curves = {run: {c: np.load(folder / run / f"{c}.npy") for c in ("dev_loss", "test_loss")}
                  for run in ("constant", "policy")}
    return EvaluateResult(speedup=s["speedup"], auc_constant=s["auc_constant"], auc_policy=s["auc_policy"],
                          auc_test_constant=s["auc_test_constant"], auc_test_policy=s["auc_test_policy"],
                          curves=curves, summary=s, out=None if out is None else Path(out))


def train(task: Task, policy="constant", inner: C.InnerConfig | None = None, *, out: str | Path | None = None,
          overwrite: bool = False, progress: bool = True, **options) -> dict:
    """Train under ``policy`` ('constant', an array ``[T, N]`` or an :class:`OptimizeResult`).

    Returns :func:`learning_law.train.train`'s dict: ``dev_loss, test_loss: [T+1]``, ``train_loss, ct,
    gamma_recorded: [T', N]``, ``record_steps: [T']``, ``params_final`` (a pytree like
    ``task.init_params``; :func:`load_params` reads it back from ``out``) and ``summary``.
    """
    from learning_law import train as TR

    _check_task(task)
    gamma, name, inner, _ = _policy(task, policy, inner, options)
    if out is None:
        return TR.train(task, gamma, inner, policy_name=name, progress=progress)
    with _folder(out, overwrite) as folder:
        return TR.train(task, gamma, inner, out=folder, policy_name=name, progress=progress)


@cache
def _contributions_jit():
    from learning_law.inner import contributions as ct

    return jax.jit(ct, static_argnums=0)


def contributions(task: Task, params: PyTree | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-example train losses ``[N]`` and contributions ``CT[n] = grad L_dev . grad l_n`` at ``params``
    (default theta_0): one JVP, no per-example gradient (:func:`learning_law.inner.contributions`)."""
    _check_task(task)
    params = task.init_params if params is None else params
    losses, ct = _contributions_jit()(task.per_example_loss, params, task.train, task.dev)
    return np.asarray(losses), np.asarray(ct)


def law(task: Task, policy="constant", inner: C.InnerConfig | None = None, *, until_loss: float | None = None,
        frozen_steps: int | None = None, out: str | Path | None = None, overwrite: bool = False,
        progress: bool = True, **options) -> dict:
    """Learning Law statistics and the KKT optimality certificate of a run under ``policy``
    (``learning-law law`` on a train run): trains it with records, then
    :func:`learning_law.analysis.law_of_run` (keys documented there: ``sim_mean``, ``ct_cv_support``,
    ``zero_share_negative_ct``, ``kkt_residual``, ``per_step``, ...). ``until_loss``: the level for the
    ``*_until`` averages, e.g. the constant run's final dev loss. ``frozen_steps`` (default: the
    OptimizeResult's) are left out of the KKT residual."""
    from learning_law import analysis as A
    from learning_law import train as TR

    _check_task(task)
    A.check_until_loss(until_loss)
    gamma, name, inner, frozen = _policy(task, policy, inner, options)
    frozen = frozen if frozen_steps is None else frozen_steps
    with _folder(out, overwrite) as folder:
        TR.train(task, gamma, inner, out=folder, policy_name=name, progress=progress)
        res = A.law_of_run(folder, until_loss, frozen_steps=frozen, write=out is not None, task=task, gamma=gamma)
        res = jax.tree_util.tree_map(lambda a: np.array(a) if isinstance(a, np.ndarray) else a, res)  # off the files
    if out is None:
        res["run"] = None
    return res
