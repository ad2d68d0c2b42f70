"""Learning Law statistics and the optimality certificate of recorded runs (file-level glue).

Reads run folders, calls :mod:`theory.law` (SIM, spread of CT on the support, share of gamma = 0 among
CT < 0, CT vs -dL/dt) and :mod:`theory.certificate` (the KKT residual of the policy from the
hand-written adjoint), and writes the results beside the runs:

- :func:`law_of_run`: a train run folder -> ``RUN_DIR/law.json``;
- :func:`law_of_evaluate`: an evaluate folder (``constant/`` and ``policy/``) -> both runs' law.json and
  ``EV_DIR/law.json`` with a side-by-side table;
- :func:`outer_trajectory`: an optimize folder -> each saved policy trained with records under
  ``OPT_DIR/trajectory/step_KKKKK/`` and ``OPT_DIR/trajectory.json`` (keys documented there).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from learning_law import config as C
from learning_law import law_definitions as LD
from learning_law import policy as P
from learning_law import precision as PR
from learning_law import record as R
from learning_law.errors import UsageError
from learning_law.inner import lr_schedule
from theory import law as LAW
from theory import law_measures as LM
from theory.certificate import auc_and_adjoint, kkt_residual

# Run-level numbers shown side by side for an evaluate folder (and in the CLI tables).
TABLE_KEYS = ("auc", "cr_paper", "sim_mean", "sim_mean_until", "ct_cv_support", "ct_cv_support_until",
              "zero_share_negative_ct", "zero_share_negative_ct_until", "support_fraction",
              "ct_to_neg_dldt_ratio", "ct_support_rel_dev", "kkt_residual", "sim_adjoint_mean")


def _inner_of(cfg: dict) -> C.InnerConfig:
    return C.from_dict(C.InnerConfig, cfg["inner"])


def _policy_of_run(run_dir: Path, cfg: dict) -> tuple[np.ndarray | None, Path | None, str | None]:
    """(full policy [T, N], the file it came from, None) or (None, None, why it cannot be rebuilt).

    The policy is checked by content: its SHA-256 must equal the one the run recorded (config.json for
    a scheduled policy, summary.json for an online run's gamma.npy), so a file overwritten or replaced
    at the same path since the run is never taken for the run's policy.
    """
    inner = _inner_of(cfg)
    if (run_dir / "gamma.npy").exists():  # online runs store the rows they used
        gamma, source = np.load(run_dir / "gamma.npy"), run_dir / "gamma.npy"
        recorded = R.read_json(run_dir / "summary.json").get("policy_sha256")
    else:
        spec = cfg.get("policy")
        n = int(np.load(run_dir / "ct.npy", mmap_mode="r").shape[1])
        recorded = cfg.get("policy_sha256")
        if spec == "constant":
            gamma, source = P.constant(inner.steps, n), None
        elif not spec:
            return None, None, "config.json names no policy"
        else:
            path = Path(spec)
            if not path.exists():
                return None, None, f"the policy {spec!r} named in config.json is not there any more"
            try:
                gamma = P.validate(P.load(path, mmap=False), inner.steps, n, name=f"policy {spec!r}")
            except UsageError as e:
                return None, None, str(e)
            source = path / "gamma.npy" if path.is_dir() else path
    if recorded is None:
        return None, None, ("the run recorded no policy_sha256 (made by an older version): the policy "
                            f"{str(source or 'constant')!r} cannot be checked to be the one it was trained under")
    if P.fingerprint(gamma) != recorded:
        return None, None, (f"the policy {str(source or 'constant')!r} changed since the run (its SHA-256 "
                            "differs from the one recorded): re-run the training with it")
    return gamma, source, None


def _frozen_steps_of(policy_file: Path | None) -> int:
    """frozen_steps of the optimize folder a policy file was written by (0 when it is not from one)."""
    if policy_file is None:
        return 0
    for folder in (policy_file.parent, policy_file.parent.parent):
        cfg_path = folder / "config.json"
        if cfg_path.exists():
            cfg = R.read_json(cfg_path)
            if cfg.get("kind") == "optimize":
                return int(cfg.get("outer", {}).get("frozen_steps", 0))
    return 0


def _build_task(cfg: dict):
    from learning_law.tasks import build_task

    classes = C.task_config_classes()
    name = cfg.get("task")
    if name not in classes:
        raise UsageError(f"task={name!r} is invalid: allowed {sorted(classes)}")
    task = build_task(name, C.from_dict(classes[name], cfg["task_config"]))
    if (cfg.get("outer") or {}).get("policy_granularity") == "domain":  # its policies are w [T, D]: the sources
        from learning_law.domains import grouped_task

        task = grouped_task(task)
    return task


def task_and_policy(run_dir: Path, cfg: dict, task=None, gamma=None):
    """(task, policy [T, N], the policy's file, None) of a run, or (None, None, None, why not).

    ``task`` and ``gamma`` given in memory are used as they are (``gamma`` still checked against the
    SHA-256 the run recorded); otherwise the policy is read back (:func:`_policy_of_run`) and the task
    rebuilt from config.json."""
    if gamma is None:
        gamma, policy_file, why = _policy_of_run(run_dir, cfg)
    else:
        gamma, policy_file = np.asarray(gamma), None
        why = None if P.fingerprint(gamma) == cfg.get("policy_sha256") else \
            "the policy given is not the one the run recorded (its SHA-256 differs)"
    if why is not None:
        return None, None, None, why
    if task is None:
        try:
            task = _build_task(cfg)
        except (UsageError, KeyError, TypeError) as e:
            return None, None, None, f"cannot rebuild the task: {e}"
    return task, gamma, policy_file, None


def certificate_of_run(run_dir: str | Path, frozen_steps: int | None = None, *, task=None, gamma=None) -> dict:
    """KKT residual of a run's policy by the hand-written adjoint (:mod:`theory.certificate`).

    ``task`` and ``gamma`` (optional) are the run's task and policy in memory, for a task that cannot be
    rebuilt from config.json (one made by :func:`learning_law.api.make_task`); ``gamma`` is still checked
    against the SHA-256 the run recorded.

    Returns ``kkt_residual`` (run level, over the rows t >= frozen_steps), ``kkt_residual_t: [T]``,
    ``act: [T, N]`` (adjoint-weighted contributions), ``auc_adjoint``, ``frozen_steps``,
    ``kkt_reason`` None — or only ``kkt_residual: None`` and ``kkt_reason`` when it cannot be computed
    (inner optimiser other than full-batch GD, policy file gone, unknown task).
    """
    run_dir = Path(run_dir)
    cfg = R.read_json(run_dir / "config.json")
    inner = _inner_of(cfg)
    if inner.optimizer != "gd" or inner.batch_size:
        return {"kkt_residual": None, "kkt_reason": f"inner optimizer {inner.optimizer!r} (batch_size "
                f"{inner.batch_size}): the certificate is for full-batch GD only"}
    task, gamma, policy_file, why = task_and_policy(run_dir, cfg, task, gamma)
    if why is not None:
        return {"kkt_residual": None, "kkt_reason": why}
    frozen = _frozen_steps_of(policy_file) if frozen_steps is None else int(frozen_steps)
    etas = lr_schedule(inner.steps, inner.lr, inner.warmup_steps)
    auc, grad, act = auc_and_adjoint(task.per_example_loss, task.init_params, task.train, task.dev,
                                     np.asarray(gamma, np.float32), etas)
    rows, _ = kkt_residual(gamma, grad)
    rows = np.asarray(rows, np.float64)
    rows[:frozen] = np.nan
    _, total = kkt_residual(gamma[frozen:], np.asarray(grad)[frozen:])
    return {"kkt_residual": float(total), "kkt_reason": None, "kkt_residual_t": rows, "act": np.asarray(act),
            "auc_adjoint": float(auc), "frozen_steps": frozen}


def law_of_run(run_dir: str | Path, until_loss: float | None = None, *, frozen_steps: int | None = None,
               certificate: bool = True, write: bool = True, task=None, gamma=None, definitions: bool = True,
               paper_target: float | None = None, progress: bool = False) -> dict:
    """Learning Law statistics (+ KKT certificate) of a finished train run; writes ``RUN_DIR/law.json``.

    Args:
      run_dir: a folder written by :func:`learning_law.train.train` (or an online run).
      until_loss: target desired loss; the ``*_until`` averages use the record steps before the run
        reaches it (``dev_loss[t] > until_loss``).
      frozen_steps: rows left out of the KKT residual (default: the optimize folder's, when the policy
        came from one; else 0).
      certificate: compute the KKT residual (needs the policy and the task rebuilt).
      task, gamma: the run's task and policy in memory (see :func:`certificate_of_run`).
      definitions: also measure the Law under both named definitions (``definitions`` in the result,
        :func:`learning_law.law_definitions.measure_run`; ``paper`` replays the run once, cached beside it).
      paper_target: the constant run's test loss at T-1, the ``paper`` SIM window's target (None: the
        run's own every step, as for the constant run).

    Returns a dict: run-level scalars of :func:`theory.law.law_table` (``sim_mean``, ``ct_cv_support``,
    ``zero_share_negative_ct``, ...), ``kkt_residual`` (None with ``kkt_reason`` when not computable),
    ``sim_adjoint_mean`` and ``act_cv_support`` (the same SIM / CV for the adjoint-weighted
    contributions, the quantity the discrete-time law equalises), ``auc``, ``cr_paper``, ``cr_bits``,
    ``final_dev_loss`` from the run's summary, and ``per_step``: the per-record-step arrays (plus
    ``kkt_residual_t`` and ``sim_adjoint_t`` at the record steps).
    """
    run_dir = Path(run_dir)
    run = R.load_run(run_dir)
    for key in ("ct", "gamma_recorded", "record_steps", "dev_loss"):
        if key not in run:
            raise UsageError(f"run={str(run_dir)!r} has no {key}.npy: not a train run folder with records")
    cfg = run["config"]
    inner = _inner_of(cfg)
    etas = lr_schedule(inner.steps, inner.lr, inner.warmup_steps)
    steps = np.asarray(run["record_steps"])
    per, stats = LAW.law_table(run["gamma_recorded"], run["ct"], steps, run["dev_loss"], etas, until_loss,
                               train_loss=run.get("train_loss"))
    summary = run["summary"]
    out = {"run": str(run_dir), "policy": cfg.get("policy"), "optimizer": inner.optimizer,
           **{k: summary.get(k) for k in ("auc", "auc_test", "cr_paper", "cr_bits", "final_dev_loss")},
           **stats}
    why = None
    if certificate or definitions:  # the task is rebuilt (and the policy checked) once for both
        task, gamma, policy_file, why = task_and_policy(run_dir, cfg, task, gamma)
        if frozen_steps is None:
            frozen_steps = _frozen_steps_of(policy_file)
    if not certificate:
        cert = {"kkt_residual": None, "kkt_reason": "not requested"}
    elif why is not None:
        cert = {"kkt_residual": None, "kkt_reason": why}
    else:
        cert = certificate_of_run(run_dir, frozen_steps, task=task, gamma=gamma)
    out["kkt_residual"] = cert["kkt_residual"]
    out["kkt_reason"] = cert["kkt_reason"]
    if cert["kkt_residual"] is not None:
        adj = LAW.support_stats(run["gamma_recorded"], cert["act"][steps])
        out["sim_adjoint_mean"] = LAW.finite_mean(adj["sim_t"])
        out["act_cv_support"] = LAW.finite_mean(adj["ct_cv_support_t"])
        out["auc_adjoint"] = cert["auc_adjoint"]
        out["frozen_steps"] = cert["frozen_steps"]
        per["kkt_residual_t"] = cert["kkt_residual_t"][steps]
        per["sim_adjoint_t"] = adj["sim_t"]
    else:
        out["sim_adjoint_mean"] = out["act_cv_support"] = None
    if definitions:
        out["definitions"] = LD.measure_run(run_dir, run, per, cfg.get("task", ""), task, gamma, why, paper_target,
                                            progress)
    out["per_step"] = per
    if write:
        R.write_json(run_dir / "law.json", out)
    return out


def is_evaluate_folder(path: Path) -> bool:
    return R.is_finished(path / "constant") and R.is_finished(path / "policy")


def law_of_evaluate(ev_dir: str | Path, until_loss: float | None = None, write: bool = True) -> dict:
    """Both runs of an evaluate folder, with ``until_loss`` = the constant run's final dev loss by default.

    Writes ``constant/law.json``, ``policy/law.json`` and ``EV_DIR/law.json`` = {``until_loss``,
    ``constant``: run-level dict, ``policy``: run-level dict, ``table``: [[key, constant, policy], ...],
    ``controls``: {definition: the SIM controls and the constant run's shares}
    (:func:`learning_law.law_definitions.controls_between`)} (the per-step arrays stay in the sub-runs'
    files); each run-level dict has ``definitions``: {``strict``, ``paper``} (the policy's ``paper`` SIM
    window ends where its test loss reaches the constant run's at T-1). Returns that dict.
    """
    ev_dir = Path(ev_dir)
    if not is_evaluate_folder(ev_dir):
        raise UsageError(f"run_dir={str(ev_dir)!r} is not a finished evaluate folder (constant/ and policy/)")
    if until_loss is None:
        until_loss = float(R.read_json(ev_dir / "constant" / "summary.json")["final_dev_loss"])
    res = {"constant": law_of_run(ev_dir / "constant", until_loss, write=write)}
    target = LD.constant_target(ev_dir / "constant")
    res["policy"] = law_of_run(ev_dir / "policy", until_loss, write=write, paper_target=target)
    flat = {name: {k: v for k, v in r.items() if k != "per_step"} for name, r in res.items()}
    task_name = R.read_json(ev_dir / "constant" / "config.json").get("task", "")
    out = {"until_loss": until_loss, **flat,
           "table": [[k, flat["constant"].get(k), flat["policy"].get(k)] for k in TABLE_KEYS],
           "controls": LD.controls_between(ev_dir / "policy", ev_dir / "constant", task_name, res["policy"],
                                           res["constant"])}
    if write:
        R.write_json(ev_dir / "law.json", out)
    return out


def is_optimize_folder(path: Path) -> bool:
    cfg = path / "config.json"
    return cfg.exists() and R.read_json(cfg).get("kind") == "optimize"


def _saved_policies(opt_dir: Path) -> list[tuple[int, Path]]:
    found = []
    for f in (opt_dir / "policies").glob("gamma_*.npy"):
        m = re.fullmatch(r"gamma_(\d+)\.npy", f.name)
        if m:
            found.append((int(m.group(1)), f))
    return sorted(found)


CHECKPOINT_KEYS = ("auc", "auc_test", "cr_paper", "cr_bits", "final_dev_loss", "sim_mean", "sim_mean_until",
                   "ct_cv_support", "ct_cv_support_until", "zero_share_negative_ct",
                   "zero_share_negative_ct_until", "support_fraction", "ct_to_neg_dldt_ratio",
                   "ct_support_rel_dev", "kkt_residual", "kkt_reason", "sim_adjoint_mean", "act_cv_support",
                   "low_weight_share_learned", "n_learned")


def _reusable(sub: Path, gamma: np.ndarray, policy_name: str, inner: C.InnerConfig) -> bool:
    """A checkpoint's run can be reused when it finished with this very policy (by content: its SHA-256,
    every row, not only the recorded ones), these inner settings and the matmul precision in force."""
    if not (R.is_finished(sub) and (sub / "gamma_recorded.npy").exists()):
        return False
    cfg = R.read_json(sub / "config.json")
    return (cfg.get("policy") == policy_name and cfg.get("policy_sha256") == P.fingerprint(gamma)
            and cfg.get("inner") == R._jsonable(C.asdict(inner))
            and cfg.get("matmul_precision") == PR.current())


def outer_trajectory(opt_dir: str | Path, until_loss: float | None = None, *, progress: bool = True,
                     write: bool = True) -> dict:
    r"""Learning Law statistics and KKT residual of every saved policy of a policy search (paper Fig. 6).

    Each saved policy ``policies/gamma_KKKKK.npy`` (and the constant policy as outer step 0) is trained
    with records into ``OPT_DIR/trajectory/step_KKKKK/`` (a train run folder with its own law.json);
    checkpoints already there with the same policy are reused, so a re-run only adds new ones.

    ``OPT_DIR/trajectory.json`` (written atomically; the figures read it) holds:

    - ``opt_dir``, ``task``, ``steps`` (T), ``n_train`` (N), ``frozen_steps``;
    - ``until_loss``: the target of the ``*_until`` averages (default: the constant run's final dev loss);
    - ``record_steps``: ``[T']`` the inner steps of the per-step arrays below;
    - ``checkpoints``: a list, one per policy in increasing outer step, each a dict with
      ``outer_step`` (0 = constant), ``policy`` (file or "constant"), ``run_dir``,
      ``auc``, ``auc_test``, ``cr_paper``, ``cr_bits``, ``final_dev_loss`` (from the run's summary),
      ``sim_mean``, ``sim_mean_until``, ``ct_cv_support``, ``ct_cv_support_until``,
      ``zero_share_negative_ct``, ``zero_share_negative_ct_until``, ``support_fraction``,
      ``ct_to_neg_dldt_ratio``, ``ct_support_rel_dev`` (see :func:`theory.law.law_table`),
      ``kkt_residual`` (null with ``kkt_reason`` when not computable), ``sim_adjoint_mean``,
      ``act_cv_support``, and per-record-step lists ``sim_t``, ``dev_loss_t``, ``ct_cv_support_t``,
      ``kkt_residual_t`` (length T'; null where undefined); ``definitions`` ({``strict``, ``paper``}:
      :func:`learning_law.law_definitions.measure_run`, the ``paper`` SIM window ending where the policy's
      test loss reaches the constant run's at T-1), ``controls`` (against the constant policy:
      :func:`learning_law.law_definitions.controls_between`), and the ``paper`` definition's SIM_t at every
      step ``paper_sim_t`` with the test loss of each row ``paper_loss_t`` (length T; Fig. 6).

    Returns the same dict.
    """
    from learning_law.progress import bar
    from learning_law.train import train

    opt_dir = Path(opt_dir)
    if not is_optimize_folder(opt_dir):
        raise UsageError(f"run_dir={str(opt_dir)!r} is not an optimize folder (config.json with kind 'optimize')")
    cfg = R.read_json(opt_dir / "config.json")
    inner = _inner_of(cfg)
    outer = C.from_dict(C.OuterConfig, cfg["outer"])
    task = _build_task(cfg)
    n = task.n_train
    todo = [(0, None)] + [(k, f) for k, f in _saved_policies(opt_dir) if k > 0]
    checkpoints = []
    with bar(len(todo), "law trajectory", progress, unit="policy") as pbar:
        for k, f in todo:
            sub = opt_dir / "trajectory" / f"step_{k:05d}"
            name = "constant" if f is None else str(f.resolve())
            gamma = (P.constant(inner.steps, n, task.constant_row) if f is None else
                     P.validate(np.load(f), inner.steps, n, name=f"policy {str(f)!r}"))
            if not _reusable(sub, gamma, name, inner):
                (sub / "summary.json").unlink(missing_ok=True)
                (sub / "law.json").unlink(missing_ok=True)
                train(task, gamma, inner, out=sub, policy_name=name, progress=False,
                      extra_config={"outer_step": k, "opt_dir": str(opt_dir.resolve())})
            if until_loss is None:  # the first checkpoint is the constant policy
                until_loss = float(R.read_json(sub / "summary.json")["final_dev_loss"])
            target = None if k == 0 else LD.constant_target(opt_dir / "trajectory" / "step_00000")
            old = R.read_json(sub / "law.json") if (sub / "law.json").exists() else None
            if (old is not None and old.get("until_loss") == until_loss and "per_step" in old
                    and "low_weight_share_learned" in old and "definitions" in old
                    and old["definitions"]["paper"].get("target_loss") == target
                    and ("reason" in old["definitions"]["paper"] or (sub / "law_records_paper.json").exists())):
                res = old
            else:
                res = law_of_run(sub, until_loss, frozen_steps=outer.frozen_steps, task=task, gamma=gamma,
                                 paper_target=target)
            if k == 0:
                first = res
            per = res["per_step"]
            paper = LD.series(sub, "paper")
            row_loss = (None if paper is None else
                        LM.loss_at_rows(paper["loss"], paper["sim_steps"], LAW.definition("paper", cfg["task"])))
            checkpoints.append({"outer_step": k, "policy": name, "run_dir": str(sub),
                                **{key: res.get(key) for key in CHECKPOINT_KEYS},
                                "sim_t": per["sim_t"], "dev_loss_t": per["dev_loss_t"],
                                "ct_cv_support_t": per["ct_cv_support_t"],
                                "kkt_residual_t": per.get("kkt_residual_t"),
                                "definitions": res["definitions"],
                                "controls": LD.controls_between(sub, opt_dir / "trajectory" / "step_00000",
                                                                cfg["task"], res, first),
                                "paper_sim_t": None if paper is None else paper["sim_t"],
                                "paper_loss_t": row_loss})
            pbar.update(1)
    out = {"opt_dir": str(opt_dir), "task": cfg["task"], "steps": inner.steps, "n_train": n,
           "frozen_steps": outer.frozen_steps, "until_loss": until_loss,
           "record_steps": np.arange(0, inner.steps, inner.record_every), "checkpoints": checkpoints}
    if write:
        R.write_json(opt_dir / "trajectory.json", out)
    return out


def check_until_loss(value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UsageError(f"until_loss={value!r} is invalid: allowed a finite number > 0 (a desired-loss level)")
