"""Search the learning policy: projected gradient descent on gamma (paper Section 4.1).

    gamma <- Proj_simplex(gamma - eps_k * dAUC/dgamma),   eps_k = outer_lr * (1 - k / K)  (linear)

row by row, with the exact gradient from :mod:`learning_law.metagrad`. The first ``frozen_steps`` rows
stay at the constant policy. The whole outer state (gamma, step, AUC history) is checkpointed with
orbax every ``checkpoint_every`` outer steps; ``resume=True`` restores the latest checkpoint and
continues, and since each outer step is a deterministic jitted function of that state, the final
policy is bit-identical to an uninterrupted run.

Output folder::

    config.json           task/inner/outer configs, versions
    metrics.jsonl         one line per outer step: step, auc (of the policy before the update), lr
    outer_auc.npy         [K] the same AUCs
    outer_evals.npy       [K, 4] every eval_every steps, of the updated policy: dev AUC, test AUC,
                          speed-up on test and on dev over the constant policy (NaN between)
    policies/gamma_KKKKK.npy  the policy after k updates, every save_every outer steps (and the last)
    gamma.npy             the final policy [T, N]
    checkpoints/          orbax checkpoints of the outer state
    summary.json          written last (the run is finished when it exists)
"""

from __future__ import annotations

import json
import math
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from learning_law import config as C
from learning_law import memory as M
from learning_law import optimizers as O
from learning_law import policy as P
from learning_law import record as R
from learning_law.errors import NumericalError, UsageError
from learning_law.inner import loss_curves, lr_schedule
from learning_law.metagrad import auc_and_grad, auc_of_policy
from learning_law.progress import bar
from learning_law.sharding import place_policy
from learning_law.train import DIVERGENCE_FACTOR
from learning_law.tasks.base import Task
from theory.simplex import project_rows_onto_simplex
from theory.speedup import speedup_ratio


def outer_lr(outer: C.OuterConfig, k: int) -> np.float32:
    """eps_k: linear decay from outer_lr to 0 over the K outer steps (or constant)."""
    if outer.schedule == "linear":
        return np.float32(outer.outer_lr * (1.0 - k / outer.outer_steps))
    return np.float32(outer.outer_lr)


@partial(jax.jit, static_argnames=("loss_fn", "memory", "block_size", "opt"), donate_argnames=("gamma",))
def outer_step(loss_fn, gamma, lr, frozen_steps, params0, train, dev, etas, memory="theta", block_size=0,
               opt=O.GD):
    """One projected gradient step on ``gamma: [T, N]``; returns (new gamma, AUC of the old one)."""
    auc, grad = auc_and_grad(loss_fn, params0, train, dev, gamma, etas, memory, block_size, opt)
    frozen = (jnp.arange(gamma.shape[0]) < frozen_steps)[:, None]
    new = project_rows_onto_simplex(gamma - lr * grad)
    return jnp.where(frozen, gamma, new), auc


def plan(task: Task, gamma, etas, outer: C.OuterConfig, verbose: bool = True, check: bool = True,
         opt: O.InnerOpt = O.GD):
    """Compile the outer step ahead of time, estimate its memory, refuse it if it cannot fit.

    Returns the compiled step ``(gamma, lr, frozen_steps, params0, train, dev, etas) -> (gamma, auc)``.
    """
    import sys

    def compiled(memory: str):
        return outer_step.lower(task.per_example_loss, gamma, np.float32(0), outer.frozen_steps, task.init_params,
                                task.train, task.dev, etas, memory, outer.block_size, opt).compile()

    step = compiled(outer.memory)
    est = M.analysis_bytes(step)
    avail = M.available_bytes()
    if verbose:
        print(f"memory estimate ({outer.memory}): {est['total'] / M.GiB:.3f} GiB "
              f"(temporaries {est['temporaries'] / M.GiB:.3f} GiB)"
              + (f" of {avail / M.GiB:.1f} GiB available" if avail else ""), file=sys.stderr)
    if check and avail is not None and est["total"] > 0.9 * avail:
        others = {m: M.analysis_bytes(compiled(m)) for m in C.MEMORY_STRATEGIES if m != outer.memory}
        M.check_fits(est, outer.memory, others, avail)
    return step


def _checkpointer(path: Path) -> ocp.CheckpointManager:
    opts = ocp.CheckpointManagerOptions(max_to_keep=2, create=True, enable_async_checkpointing=False)
    return ocp.CheckpointManager(path.resolve(), options=opts)


def optimize(
    task: Task,
    inner: C.InnerConfig,
    outer: C.OuterConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    extra_config: dict | None = None,
) -> dict:
    """Run the policy search and write its folder; returns the summary dict (and ``gamma``)."""
    steps, n = inner.steps, task.n_train
    if outer.frozen_steps >= steps:
        raise UsageError(f"frozen_steps={outer.frozen_steps} is invalid: allowed [0, steps={steps})")
    if inner.batch_size > n:
        raise UsageError(f"batch_size={inner.batch_size} is invalid: allowed [0, n_train={n}]")
    if outer.memory == "block" and outer.block_size > steps:
        raise UsageError(f"block_size={outer.block_size} is invalid: allowed [0, steps={steps}]")
    out = Path(out)
    config = {
        "kind": "optimize",
        "task": task.name,
        "task_config": C.asdict(task.config),
        "inner": C.asdict(inner),
        "outer": C.asdict(outer),
        **(extra_config or {}),
    }
    ckpt_dir = out / "checkpoints"
    if resume and (out / "config.json").exists():
        old = R.read_json(out / "config.json")
        for key in ("task", "task_config", "inner", "outer"):
            if json.dumps(old.get(key), sort_keys=True) != json.dumps(R._jsonable(config[key]), sort_keys=True):
                raise UsageError(f"--resume: the settings differ from the run in {out} ({key}); "
                                 "resume with the same options or start a new --out")
    R.write_json(out / "config.json", {**config, "versions": R.versions()})

    etas = jnp.asarray(lr_schedule(steps, inner.lr, inner.warmup_steps))
    K = outer.outer_steps
    gamma = place_policy(P.constant(steps, n), task.mesh)
    auc_hist = np.full(K, np.nan, dtype=np.float32)
    evals = np.full((K, len(EVAL_FIELDS)), np.nan, dtype=np.float32)  # row k: after k + 1 updates
    start = 0
    mngr = _checkpointer(ckpt_dir)
    if resume and mngr.all_steps():
        target = {"gamma": np.zeros((steps, n), np.float32), "auc": auc_hist, "evals": evals,
                  "step": np.zeros((), np.int64)}
        start, state = _restore_latest_good(mngr, target, progress)
        if state is not None:
            gamma, auc_hist = place_policy(state["gamma"], task.mesh), np.asarray(state["auc"], dtype=np.float32)
            evals = np.asarray(state["evals"], dtype=np.float32)
    elif (out / "summary.json").exists():
        (out / "summary.json").unlink()
    _rewrite_metrics(out, auc_hist[:start], evals[:start], outer)
    if start >= K:
        mngr.close()
        return _finish(task, inner, outer, out, gamma, etas, auc_hist, evals, wall=0.0)

    opt = O.from_config(inner)
    step_fn = plan(task, gamma, etas, outer, verbose=progress, opt=opt)
    const_curves = _curves(task, place_policy(P.constant(steps, n), task.mesh), etas, opt)
    t0 = time.perf_counter()
    with bar(K, "optimize", progress, unit="outer step") as pbar, open(out / "metrics.jsonl", "a") as log:
        pbar.update(start)
        done = start
        try:
            for k in range(start, K):
                lr = outer_lr(outer, k)
                new_gamma, auc = step_fn(gamma, lr, outer.frozen_steps, task.init_params, task.train, task.dev,
                                         etas)
                auc = float(auc)
                if not math.isfinite(auc) or auc > DIVERGENCE_FACTOR * max(float(auc_hist[0] if k else auc), 1.0):
                    raise NumericalError(f"AUC became {auc:.4g} (NaN/inf or diverged) at outer step {k} "
                                         f"(outer_lr={outer.outer_lr}, lr={inner.lr}); the last good state is "
                                         f"the checkpoint in {ckpt_dir}: resume with a smaller --outer-lr")
                gamma, done = new_gamma, k + 1
                auc_hist[k] = auc
                if done % outer.eval_every == 0 or done == K:
                    evals[k] = _held_out(const_curves, _curves(task, gamma, etas, opt))
                log.write(_metrics_line(k, auc, evals[k], outer))
                log.flush()
                pbar.update(1)
                pbar.set_postfix(auc=f"{auc:.5f}", **({} if np.isnan(evals[k, 0]) else
                                                      {"speedup_test": f"{evals[k, 2]:.2f}x"}))
                if done % outer.save_every == 0 or done == K:
                    R.save_npy(out / "policies" / f"gamma_{done:05d}.npy", gamma)
                if done % outer.checkpoint_every == 0 or done == K:
                    mngr.save(done, args=ocp.args.StandardSave(
                        {"gamma": np.asarray(gamma), "auc": auc_hist, "evals": evals,
                         "step": np.asarray(done, np.int64)}))
        except KeyboardInterrupt:
            # Keep the finished outer steps: checkpoint the state as it is, then stop.
            if done > start and done % outer.checkpoint_every != 0:
                try:  # gamma may be a donated buffer if the interrupt came mid-step: then skip
                    state = {"gamma": np.asarray(gamma), "auc": auc_hist, "evals": evals,
                         "step": np.asarray(done, np.int64)}
                    mngr.save(done, args=ocp.args.StandardSave(state))
                    mngr.wait_until_finished()
                except Exception:  # noqa: BLE001
                    pass
            mngr.close()
            raise
    mngr.wait_until_finished()
    mngr.close()
    return _finish(task, inner, outer, out, gamma, etas, auc_hist, evals, wall=time.perf_counter() - t0,
                   resumed_from=start)


def _restore_latest_good(mngr: ocp.CheckpointManager, target: dict, verbose: bool):
    """Restore the newest checkpoint that reads back whole; fall back to older ones with a message."""
    import sys

    for step in sorted(mngr.all_steps(), reverse=True):
        try:
            state = mngr.restore(step, args=ocp.args.StandardRestore(target))
            gamma = np.asarray(state["gamma"])
            if int(state["step"]) != step or not np.all(np.isfinite(gamma)):
                raise ValueError("contents do not match the step")
            return int(step), state
        except Exception as e:  # noqa: BLE001 - any read failure means this checkpoint is unusable
            print(f"warning: checkpoint at outer step {step} is unreadable ({type(e).__name__}: "
                  f"{str(e)[:120]}); trying the previous one", file=sys.stderr)
    print("warning: no readable checkpoint; starting from the constant policy", file=sys.stderr)
    return 0, None


EVAL_FIELDS = ("auc_after", "auc_test_after", "speedup_test", "speedup_dev")


def _curves(task: Task, gamma, etas, opt: O.InnerOpt = O.GD) -> tuple[np.ndarray, np.ndarray]:
    dev, test = loss_curves(task.per_example_loss, task.init_params, task.train, task.dev, task.test, gamma, etas,
                            opt)
    return np.asarray(dev), np.asarray(test)


def _held_out(const: tuple, pol: tuple) -> np.ndarray:
    """AUC (dev, test) of the updated policy and its speed-ups over the constant policy (test, dev)."""
    return np.array([pol[0].mean(), pol[1].mean(), speedup_ratio(const[1], pol[1])["speedup"],
                     speedup_ratio(const[0], pol[0])["speedup"]], dtype=np.float32)


def _metrics_line(k: int, auc: float, ev: np.ndarray, outer: C.OuterConfig) -> str:
    row = {"outer_step": k, "auc": float(auc), "outer_lr": float(outer_lr(outer, k))}
    if not np.isnan(ev[0]):
        row.update({name: float(v) for name, v in zip(EVAL_FIELDS, ev)})
    return json.dumps(row) + "\n"


def _rewrite_metrics(out: Path, aucs: np.ndarray, evals: np.ndarray, outer: C.OuterConfig) -> None:
    lines = "".join(_metrics_line(k, a, e, outer) for k, (a, e) in enumerate(zip(aucs, evals)))
    R.atomic_write(out / "metrics.jsonl", lambda f: f.write(lines.encode()))


def _finish(task, inner, outer, out, gamma, etas, auc_hist, evals, wall, resumed_from=0) -> dict:
    final_auc = float(jax.jit(auc_of_policy, static_argnames=("loss_fn", "memory", "block_size", "opt"))(
        task.per_example_loss, task.init_params, task.train, task.dev, gamma, etas, opt=O.from_config(inner)))
    gamma = np.asarray(gamma)
    R.save_npy(out / "gamma.npy", gamma)
    R.save_npy(out / "outer_auc.npy", auc_hist)
    R.save_npy(out / "outer_evals.npy", evals)
    ran = outer.outer_steps - resumed_from
    summary = {
        "finished": True,
        "outer_steps": outer.outer_steps,
        "auc_constant": float(auc_hist[0]) if np.isfinite(auc_hist[0]) else None,
        "auc_final": final_auc,
        "wall_time_s": round(wall, 2),
        "seconds_per_outer_step": round(wall / ran, 4) if ran else None,
        "resumed_from_outer_step": resumed_from,
        "zero_weight_share": float(np.mean(gamma == 0)),
        **{f"final_{name}": float(v) for name, v in zip(EVAL_FIELDS, evals[-1])},
    }
    R.write_json(out / "summary.json", summary)
    return {**summary, "gamma": gamma}
