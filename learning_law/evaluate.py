"""Evaluate a policy against the constant one: same task, same theta_0, same data (paper Fig. 2).

Writes ``OUT/constant`` and ``OUT/policy`` (training run records) and ``OUT/summary.json`` with the
speed-up on the test loss (raw and on Gaussian-smoothed curves), the AUC of each run and their
compression ratios.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import theory
from learning_law import config as C
from learning_law import policy as P
from learning_law import record as R
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
    """Train under the constant policy and under ``gamma``; compare them. Returns the summary.

    With ``resume``, a finished sub-run (its summary.json exists) made with the same settings is read
    back instead of trained again.
    """
    out = Path(out)
    if online is None:
        gamma = P.validate(gamma, inner.steps, task.n_train, name=f"policy {policy_name!r}")
    R.write_json(out / "config.json", {"kind": "evaluate", "task": task.name,
                                       "task_config": C.asdict(task.config), "inner": C.asdict(inner),
                                       "policy": policy_name, "smooth_sigma": smooth_sigma,
                                       "versions": R.versions(), **(extra_config or {})})
    runs = {}
    for name, g, label in (("constant", P.constant(inner.steps, task.n_train), "constant"),
                           ("policy", gamma, policy_name)):
        sub = out / name
        if resume and R.is_finished(sub) and _same_settings(sub, task, inner, label):
            runs[name] = R.load_run(sub)
            continue
        (sub / "summary.json").unlink(missing_ok=True)
        if name == "policy" and online is not None:
            from learning_law.online import train_online

            runs[name] = train_online(task, online[0], inner, out=sub, progress=progress,
                                      extra_config=extra_config, **online[1])
            continue
        runs[name] = train(task, g, inner, out=sub, policy_name=label, progress=progress,
                           desc=f"evaluate {name}", extra_config=extra_config)
    summary = compare(runs["constant"], runs["policy"], smooth_sigma)
    summary["policy"] = policy_name
    if "time_ratio_vs_constant" in runs["policy"]["summary"]:
        summary["time_ratio_vs_constant"] = runs["policy"]["summary"]["time_ratio_vs_constant"]
    R.write_json(out / "summary.json", summary)
    return summary


def _same_settings(run: Path, task: Task, inner: C.InnerConfig, policy_name: str) -> bool:
    cfg = R.read_json(run / "config.json")
    want = R._jsonable({"task_config": C.asdict(task.config), "inner": C.asdict(inner), "policy": policy_name})
    return all(cfg.get(k) == v for k, v in want.items())


def compare(const: dict, pol: dict, smooth_sigma: float = 0.0) -> dict:
    """Speed-up, AUCs and compression ratios of run ``pol`` against run ``const`` (test-loss curves)."""
    raw = theory.speedup_ratio(const["test_loss"], pol["test_loss"])
    dev = theory.speedup_ratio(const["dev_loss"], pol["dev_loss"])
    out = {
        "finished": True,
        "steps": const["summary"]["steps"],
        "speedup": raw["speedup"],
        "t_star": raw["t_star"],
        "target_test_loss": raw["target"],
        "speedup_dev": dev["speedup"],  # on the split the policy was optimised on: optimistic
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
    }
    if smooth_sigma > 0:
        sm = theory.speedup_ratio(const["test_loss"], pol["test_loss"], sigma=smooth_sigma)
        out.update(speedup_smoothed=sm["speedup"], t_star_smoothed=sm["t_star"], smooth_sigma=smooth_sigma)
    return out


def load_policy_for(spec: str, steps: int, n: int) -> tuple[np.ndarray, str]:
    """A policy from 'constant', a .npy file, or an optimisation folder (its gamma.npy)."""
    return P.resolve(spec, steps, n)
