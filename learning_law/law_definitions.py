"""A run's Learning Law under both named definitions (``strict``, ``paper``; :mod:`theory.law`), and the SIM
controls between a policy run and the constant run (:mod:`theory.law_measures`): file-level glue.

- ``strict`` reads the run's own records (dev CT at theta_t every ``record_every`` steps): its numbers are
  those law.json has always had (``zero_share_negative_ct``, ``low_weight_share_learned``, ``sim_mean``);
- ``paper`` reads a replay of the run (:mod:`learning_law.law_replay`, cached beside it), since the
  authors' windows need every one of the first steps and test-split CT after the step.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from learning_law import config as C
from learning_law.law_replay import load_records, replay_of_run
from theory import law as LAW
from theory import law_measures as M

NAMES = ("strict", "paper")


def _strict_series(run: dict, sim_t: np.ndarray) -> dict:
    steps = np.asarray(run["record_steps"])
    return {"dense": {"steps": steps, "gamma": run["gamma_recorded"], "ct": run["ct"],
                      "train_loss": run.get("train_loss", np.full(np.shape(run["ct"]), np.inf))},
            "sim_t": np.asarray(sim_t, np.float64), "sim_steps": steps, "loss": np.asarray(run["dev_loss"])}


def series(run_dir: str | Path, name: str, sim_t: np.ndarray | None = None) -> dict | None:
    """The inputs of :func:`theory.law_measures.measure` for definition ``name`` of a run: for ``strict``
    its records with the strict ``sim_t`` given, for ``paper`` its cached replay (None when there is none)."""
    from learning_law import record as R

    if name == "paper":
        return load_records(run_dir, "paper")
    return _strict_series(R.load_run(run_dir), np.array([np.nan if v is None else v for v in sim_t], np.float64))


def measure_run(run_dir: str | Path, run: dict, per_step: dict, task_name: str, task=None, gamma=None,
                why: str | None = None, paper_target: float | None = None, progress: bool = False) -> dict:
    """``{"strict": measure, "paper": measure}`` of one run (each :func:`theory.law_measures.measure` plus
    ``description``), ``paper`` replayed (or reused) when ``task`` and ``gamma`` are given, else
    ``{"reason": why}``.

    Args:
      run: :func:`learning_law.record.load_run` of the folder; per_step: its strict per-step arrays.
      paper_target: the constant run's test loss at T-1 (the ``paper`` SIM window), None for the constant
        run itself.
    """
    inner = C.from_dict(C.InnerConfig, run["config"]["inner"])
    summary = run["summary"]
    out = {}
    strict = LAW.definition("strict", task_name)
    s = _strict_series(run, per_step["sim_t"])
    m = M.measure(s["dense"], s["sim_t"], s["sim_steps"], s["loss"], strict, vocab_size=2)
    m["cr"] = summary.get("cr_paper")  # log2|V| / AUC of the dev curve, from the run itself
    out["strict"] = {**m, "description": strict.describe()}
    paper = LAW.definition("paper", task_name)
    if task is None or gamma is None:
        out["paper"] = {"definition": "paper", "reason": why or "the task or the policy is not available"}
        return out
    rec = replay_of_run(run_dir, task, gamma, inner, paper, progress=progress)
    m = M.measure(rec["dense"], rec["sim_t"], rec["sim_steps"], rec["loss"], paper, vocab_size=task.vocab_size,
                  target=paper_target)
    out["paper"] = {**m, "target_loss": paper_target, "description": paper.describe()}
    return out


def constant_target(run_dir: str | Path) -> float | None:
    """The ``paper`` SIM window's target of the policies compared with this constant run: its test loss at
    T-1 (from its replay), or None when it has none."""
    rec = load_records(run_dir, "paper")
    return None if rec is None else float(rec["loss"][-2])


def controls_between(policy_dir: str | Path, constant_dir: str | Path, task_name: str, policy: dict,
                     constant: dict) -> dict:
    """``{name: theory.law_measures.controls(...)}`` for both definitions (``{"reason": ...}`` where a run
    lacks that definition's records), plus the constant run's Fig. 8 and Fig. 9 shares beside the
    policy's (control a for the shares).

    Args:
      policy, constant: the two runs' :func:`learning_law.analysis.law_of_run` results (``definitions``
        and ``per_step``).
    """
    out = {}
    for name in NAMES:
        pm, cm = policy["definitions"].get(name, {}), constant["definitions"].get(name, {})
        if "reason" in pm or "reason" in cm:
            out[name] = {"reason": pm.get("reason") or cm.get("reason")}
            continue
        ps = series(policy_dir, name, sim_t=policy["per_step"]["sim_t"])
        cs = series(constant_dir, name, sim_t=constant["per_step"]["sim_t"])
        if ps is None or cs is None:
            out[name] = {"reason": "no records for this definition"}
            continue
        d = LAW.definition(name, task_name)
        ctl = M.controls({"measure": pm, **{k: ps[k] for k in ("sim_t", "sim_steps", "loss")}},
                         {"measure": cm, **{k: cs[k] for k in ("sim_t", "sim_steps", "loss")}}, d)
        ctl["zero_share_constant"] = cm.get("zero_share")
        ctl["low_weight_share_constant"] = cm.get("low_weight_share")
        out[name] = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in ctl.items()}
    return out
