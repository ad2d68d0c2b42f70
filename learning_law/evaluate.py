"""Evaluate a policy against the constant one: same task, same theta_0, same data (paper Fig. 2).

Writes ``OUT/constant`` and ``OUT/policy`` (training run records) and ``OUT/summary.json`` with the
speed-up on the test loss (raw and on Gaussian-smoothed curves), the AUC of each run and their
compression ratios; for a classification task (``Task.correct``) also each run's final test accuracy
(``test_accuracy_constant``, ``test_accuracy_policy``).
"""

from __future__ import annotations

import sys

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import theory
from learning_law import config as C
from learning_law import policy as P
from learning_law import precision as PR
from learning_law import record as R
from learning_law.errors import NumericalError, UsageError
from learning_law.tasks.base import Task
from learning_law.train import train


def evaluate(
    task: Task,
    inner: C.InnerConfig,
    gamma,
    out: str | Path,
    *,
    policy_name: str = "policy",
    smooth_sigma: float = 0.0,
    progress: bool = True,
    extra_config: dict | None = None,
    resume: bool = False,
    online: tuple[str, dict] | None = None,
) -> dict:
    """Train under the constant policy and under ``gamma`` (or the ``online`` policy ``(name,
    hparams)``); compare them. Returns the summary.

    With ``resume``, a finished sub-run is read back instead of trained again only when it was made
    with the same content: task, inner settings, matmul precision and the policy itself (its SHA-256 for
    a scheduled policy; the name and every hyper-parameter for an online one), never by name alone.

    Raises :class:`NumericalError` when a curve holds a NaN/inf (naming the run, curve and step) or a
    speed-up is not finite (t* = 0: the constant run never improved on L(theta_0)).
    """
    out = Path(out)
    (out / "summary.json").unlink(missing_ok=True)  # a comparison of earlier runs must not survive
    if online is None:
        gamma = P.validate(gamma, inner.steps, task.n_train, name=f"policy {policy_name!r}")
        policy_id = {"policy_sha256": P.fingerprint(gamma)}
    else:
        from learning_law.online import spec_record

        policy_id = {"online": spec_record(*online)}
    R.write_json(out / "config.json", {"kind": "evaluate", "task": task.name,
                                       "task_config": C.asdict(task.config), "inner": C.asdict(inner),
                                       "policy": policy_name, **policy_id, "smooth_sigma": smooth_sigma,
                                       "matmul_precision": PR.current(), "versions": R.versions(),
                                       **(extra_config or {})})
    constant = P.constant(inner.steps, task.n_train, task.constant_row)
    runs = {}
    for name, g, label, ident in (("constant", constant, "constant", {"policy_sha256": P.fingerprint(constant)}),
                                  ("policy", gamma, policy_name, policy_id)):
        sub = out / name
        if resume and R.is_finished(sub) and same_settings(sub, task, inner, label, ident):
            runs[name] = R.load_run(sub)
            continue
        (sub / "summary.json").unlink(missing_ok=True)  # a failed retraining must not look finished
        if name == "policy" and online is not None:
            from learning_law.online import train_online

            runs[name] = train_online(task, online[0], inner, out=sub, progress=progress,
                                      extra_config=extra_config, desc=f"evaluate {name}", **online[1])
        else:
            runs[name] = train(task, g, inner, out=sub, policy_name=label, progress=progress,
                               desc=f"evaluate {name}", extra_config=extra_config)
    summary = compare(runs["constant"], runs["policy"], smooth_sigma)
    summary["policy"] = policy_name
    if summary["slower_than_constant"]:  # whichever search made it: said, not only written
        print(f"WARNING: the policy is slower than the constant one on test (speed-up {summary['speedup']:.3g}x, "
              f"test AUC {summary['auc_test_policy']:.5g} vs {summary['auc_test_constant']:.5g}): it fits the "
              f"dev split but does not carry to test ({out / 'summary.json'})", file=sys.stderr)
    if task.correct is not None:  # classification: the clean test accuracy the users of noisy labels ask for
        for name in ("constant", "policy"):
            summary[f"test_accuracy_{name}"] = accuracy(task, final_params(task, runs[name], out / name))
    if "time_ratio_vs_constant" in runs["policy"]["summary"]:
        summary["time_ratio_vs_constant"] = runs["policy"]["summary"]["time_ratio_vs_constant"]
    R.write_json(out / "summary.json", summary)
    return summary


@partial(jax.jit, static_argnames=("correct",))
def _mean_correct(correct, params, batch):
    return jnp.mean(correct(params, batch))


def accuracy(task: Task, params, split: str = "test") -> float:
    """Share of the ``split`` examples whose predicted label is their label (``task.correct``)."""
    if task.correct is None:
        raise UsageError(f"task {task.name!r} has no labels to predict (Task.correct is None): no accuracy")
    return float(_mean_correct(task.correct, params, getattr(task, split)))


def final_params(task: Task, run: dict, folder: Path):
    """theta_T of a run: in memory after training, else read back from ``folder/params_final.npz``."""
    if "params_final" in run:
        return run["params_final"]
    from learning_law.params_io import load_params

    return load_params(folder, task.init_params)


def same_settings(run: Path, task: Task, inner: C.InnerConfig, policy_name: str, policy_id: dict) -> bool:
    """Whether the run folder ``run`` was made with this task, inner config, matmul precision and
    policy content (``policy_id``: ``{"policy_sha256": ...}`` or ``{"online": spec}``).

    A run made before these keys were recorded is never re-used: its content cannot be checked.
    """
    cfg = R.read_json(run / "config.json")
    want = R._jsonable({"task_config": C.asdict(task.config), "inner": C.asdict(inner), "policy": policy_name,
                        "matmul_precision": PR.current(), **policy_id})
    return all(cfg.get(k) == v for k, v in want.items())


def _finite_curves(run: dict, label: str) -> None:
    """Stop with the run, the curve and the step of the first NaN/inf of a curve that feeds a metric."""
    for key in ("dev_loss", "test_loss"):
        try:
            theory.speedup.check_finite(run[key], f"the {label} run's {key}")
        except FloatingPointError as e:
            raise NumericalError(f"{e} ({run.get('path', 'in memory')})") from None


def compare(const: dict, pol: dict, smooth_sigma: float = 0.0) -> dict:
    """Speed-up, AUCs and compression ratios of run ``pol`` against run ``const`` (test-loss curves).

    Raises :class:`NumericalError` for a NaN/inf in either run's curves (naming the step) and for an
    infinite speed-up (t* = 0: the constant run's final loss is not below L(theta_0)).
    """
    _finite_curves(const, "constant")
    _finite_curves(pol, "policy")
    raw = theory.speedup_ratio(const["test_loss"], pol["test_loss"])
    dev = theory.speedup_ratio(const["dev_loss"], pol["dev_loss"])
    out = {
        "finished": True,
        "steps": const["summary"]["steps"],
        "speedup": raw["speedup"],
        "t_star": raw["t_star"],
        "target_test_loss": raw["target"],
        "speedup_dev": dev["speedup"],  # on the split the policy was optimised on: optimistic
        "t_star_dev": dev["t_star"],
        "auc_constant": const["summary"]["auc"],
        "auc_policy": pol["summary"]["auc"],
        "auc_test_constant": const["summary"]["auc_test"],
        "auc_test_policy": pol["summary"]["auc_test"],
        "final_test_loss_constant": const["summary"]["final_test_loss"],
        "final_test_loss_policy": pol["summary"]["final_test_loss"],
        "cr_bits_constant": const["summary"]["cr_bits"],
        "cr_bits_policy": pol["summary"]["cr_bits"],
        "cr_paper_constant": const["summary"]["cr_paper"],
        "cr_paper_policy": pol["summary"]["cr_paper"],
        # a policy that loses to constant on test: flagged whatever search produced it
        "slower_than_constant": bool(raw["speedup"] < 1.0),
    }
    if smooth_sigma > 0:
        sm = theory.speedup_ratio(const["test_loss"], pol["test_loss"], sigma=smooth_sigma)
        out.update(speedup_smoothed=sm["speedup"], t_star_smoothed=sm["t_star"], smooth_sigma=smooth_sigma)
    for key, curve in (("speedup", "test"), ("speedup_dev", "dev"), ("speedup_smoothed", "test")):
        if key in out and not np.isfinite(out[key]):
            raise NumericalError(
                f"{key} is {out[key]}: the policy run's {curve} loss at t = 0 is already at or below the "
                f"constant run's final {curve} loss (t* = 0), i.e. the constant run did not improve on "
                f"L(theta_0); train longer (--steps) or with a larger --lr")
    return out
