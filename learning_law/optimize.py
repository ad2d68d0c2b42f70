"""Search the learning policy gamma minimising the dev AUC (paper Section 4.1), and select what to keep.

The update rules (:mod:`learning_law.search`): ``auto`` (the default of every command and preset:
exponentiated gradient with backtracking for its first outer steps, then L-BFGS on the softmax logits, each
row's step normalised after a stall; no step size to choose, never raises the AUC), ``eg``, ``qn`` and
``rows`` (each part alone), ``apg`` (the same guarantees, accelerated projected gradient) and ``fixed`` (the reference's
``gamma <- Proj(gamma - eps_k dAUC/dgamma)`` with ``--outer-lr`` and ``--schedule``), all with the exact
gradient of :mod:`learning_law.metagrad`. The first ``frozen_steps`` rows stay at the constant policy.
How they compare, with the commands: docs/search.md and experiments/results/search_robustness.md.

**Selection.** The search fits the dev split, so its last policy is not necessarily its best on the
desired distribution. Every ``eval_every`` outer steps the policy's AUC on the validation split
(``n_val``, a third draw never fitted) is measured; ``gamma.npy`` is the policy with the lowest
validation AUC among those whose dev AUC is not above the constant policy's, the constant policy
included. Without a validation split the dev AUC decides. ``patience`` stops the search after that many
outer steps without a better one; ``until_kkt`` once the policy's run-level KKT residual
(:func:`theory.certificate.kkt_residual`, computed from the meta-gradient each step already has) is below
it. A stall (no trial step realises the decrease the gradient promises) stops the search loudly
(:mod:`learning_law.search_record`). The test split is never used for a choice; it is logged only.

**Guards.** A fixed-step AUC that is non-finite or above :data:`OUTER_DIVERGENCE` x the constant
policy's stops the search with the outer step named (the checkpoint before it is kept).

The outer state (policy, step size, histories, best policy) is checkpointed with orbax every
``checkpoint_every`` outer steps; ``resume=True`` continues from the latest readable checkpoint, and
since each outer step is a deterministic function of that state the result is bit-identical.

Output folder::

    config.json           task/inner/outer configs, versions
    metrics.jsonl         one line per outer step: outer_step, auc and kkt_residual (of the policy the step
                          started from), step_size, trials (forward runs), at evaluations the EVAL_FIELDS
    outer_auc.npy         [K] the same AUCs (NaN after an early stop)
    outer_evals.npy       [K, 6] row k, after k + 1 updates: EVAL_FIELDS (NaN between evaluations)
    policies/gamma_KKKKK.npy  the policy after k updates, every save_every outer steps (and the last)
    gamma.npy             the selected policy [T, N]; gamma_last.npy the last one when they differ
    checkpoints/          orbax checkpoints of the outer state
    summary.json          written last (the run is finished when it exists)
"""

from __future__ import annotations

import json
import math
import os
import sys
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
from learning_law import precision as PR
from learning_law import record as R
from learning_law import search as S
from learning_law import search_record as SR
from learning_law import selection as SEL
from learning_law.selection import STOPS, SearchState
from learning_law.distributed import is_writer
from learning_law.errors import NumericalError, UsageError
from learning_law.inner import lr_schedule
from learning_law.metagrad import auc_and_grad, auc_grad_and_curves, records_curves
from learning_law.progress import bar
from learning_law.sharding import place_policy
from learning_law.tasks.base import Task
from theory.simplex import project_rows_onto_simplex
from theory.speedup import speedup_ratio

OUTER_DIVERGENCE = 2.0  # a fixed step that doubles the AUC of the constant policy has left the region
#                         where the gradient predicts anything: stop and say so


def shares_evaluation(outer: C.OuterConfig, opt: O.InnerOpt) -> bool:
    """Whether the search evaluates a policy inside the meta-gradient its next outer step uses (the fixed
    search on the adjoint path: plain GD, memory theta or block) instead of by a forward run of its own."""
    return outer.search == "fixed" and records_curves(outer.memory, opt)


def outer_lr(outer: C.OuterConfig, k: int) -> np.float32:
    """eps_k of the fixed search: linear decay from outer_lr to 0 over the K outer steps (or constant)."""
    if outer.schedule == "linear":
        return np.float32(outer.outer_lr * (1.0 - k / outer.outer_steps))
    return np.float32(outer.outer_lr)


@partial(jax.jit, static_argnames=("loss_fn", "memory", "block_size", "opt"), donate_argnames=("gamma",))
def outer_step(loss_fn, gamma, lr, frozen_steps, params0, train, dev, etas, memory="theta", block_size=0,
               opt=O.GD):
    """One fused projected gradient step on ``gamma: [T, N]``; returns (new gamma, AUC of the old one)."""
    auc, grad = auc_and_grad(loss_fn, params0, train, dev, gamma, etas, memory, block_size, opt)
    frozen = (jnp.arange(gamma.shape[0]) < frozen_steps)[:, None]
    new = project_rows_onto_simplex(gamma - lr * grad)
    return jnp.where(frozen, gamma, new), auc


def plan(task: Task, gamma, etas, outer: C.OuterConfig, verbose: bool = True, check: bool = True,
         opt: O.InnerOpt = O.GD, held: tuple | None = None):
    """Compile the meta-gradient ahead of time, estimate its memory, refuse it if it cannot fit.

    Returns the compiled ``(params0, train, dev, gamma, etas) -> (AUC, dAUC/dgamma)``; with ``held`` (splits),
    the compiled :func:`~learning_law.metagrad.auc_grad_and_curves` ``(params0, train, dev, held, gamma, etas,
    mode) -> (AUC, dAUC/dgamma, curves)`` instead (its memory estimate is the one printed and checked).
    """
    def compiled(memory: str):
        if held is not None and memory == outer.memory:
            return auc_grad_and_curves.lower(task.per_example_loss, task.init_params, task.train, task.dev, held,
                                             gamma, etas, np.int32(0), memory, outer.block_size).compile()
        return auc_and_grad.lower(task.per_example_loss, task.init_params, task.train, task.dev, gamma, etas,
                                  memory, outer.block_size, opt).compile()

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
    on_metrics=None,
) -> dict:
    """Run the policy search and write its folder; returns the summary dict (and ``gamma``, the selection).

    ``on_metrics``: optional ``(row: dict) -> None`` called with each metrics.jsonl row as it is written
    (a tracker, e.g. :func:`learning_law.tensorboard.live_optimize`).
    """
    examples_task = task  # the per-example task: its sources are recorded, whatever the policy's granularity
    if outer.policy_granularity == "domain":
        from learning_law.domains import grouped_task

        if inner.batch_size:
            raise UsageError(f"batch_size={inner.batch_size} is invalid with policy_granularity='domain': allowed 0 "
                             "(full batch; a mini-batch would draw whole sources)")
        task = grouped_task(task)
    steps, n = inner.steps, task.n_train
    if outer.frozen_steps >= steps:
        raise UsageError(f"frozen_steps={outer.frozen_steps} is invalid: allowed [0, steps={steps})")
    if inner.batch_size > n:
        raise UsageError(f"batch_size={inner.batch_size} is invalid: allowed [0, n_train={n}]")
    if outer.memory == "block" and outer.block_size > steps:
        raise UsageError(f"block_size={outer.block_size} is invalid: allowed [0, steps={steps}]")
    out = Path(out)
    config = {"kind": "optimize", "task": task.name, "task_config": C.asdict(task.config),
              "inner": C.asdict(inner), "outer": C.asdict(outer), "matmul_precision": PR.current(),
              **(extra_config or {})}
    if resume and (out / "config.json").exists():
        old = R.read_json(out / "config.json")
        for key in ("task", "task_config", "inner", "outer", "matmul_precision"):
            if json.dumps(old.get(key), sort_keys=True) != json.dumps(R._jsonable(config[key]), sort_keys=True):
                raise UsageError(f"--resume: the settings differ from the run in {out} ({key}); "
                                 "resume with the same options or start a new --out")
    R.write_json(out / "config.json", {**config, "versions": R.versions()})
    R.save_sources(out, examples_task)

    etas = jnp.asarray(lr_schedule(steps, inner.lr, inner.warmup_steps))
    K = outer.outer_steps
    st = SearchState(steps, n, K)
    st.gamma = st.best_gamma = place_policy(P.constant(steps, n, task.constant_row), task.mesh)
    if outer.search in S.WITH_MEMORY:  # the template a restore fills (the empty memory at the constant policy)
        st.memory = S.search_memory(st.gamma, outer.search, outer.qn_memory)
    mngr = _checkpointer(out / "checkpoints")
    if resume and mngr.all_steps():
        tree = _restore_latest_good(mngr, st.tree(), progress)
        if tree is not None:
            st.load(tree, task.mesh)
    elif is_writer():
        (out / "summary.json").unlink(missing_ok=True)
    start, stopped_before = st.done, bool(st.stop)
    SR.rewrite_metrics(out, st, start)

    opt = O.from_config(inner)
    fs = np.int32(outer.frozen_steps)
    running = start < K and not st.stop
    # The fixed search evaluates a policy with the meta-gradient its next outer step needs anyway (the
    # held-out losses recorded in the same run): no second compiled program, and only the last evaluation,
    # which no outer step follows, runs it forward only.
    held = SEL.held_splits(task) if shares_evaluation(outer, opt) else None
    compiled = plan(task, st.gamma, etas, outer, verbose=progress and running, opt=opt, held=held)
    curves_of = last_curves = const_run = None
    if held is None:
        vg = lambda g: compiled(task.init_params, task.train, task.dev, g, etas)  # noqa: E731
    else:
        vg = SEL.RecordedCurves(compiled, task, etas)
        # an evaluation's run keeps its meta-gradient when an outer step follows (the last one: forward only)
        curves_of = lambda g: vg.curves(g, gradient=st.done < K and not st.stop)  # noqa: E731
        last_curves = lambda g: vg.curves(g, gradient=False)  # noqa: E731
        if running:  # the constant policy's curves; at the start, with the first outer step's meta-gradient
            const_run = (vg.curves(st.gamma) if start == 0 else
                         vg.curves(place_policy(P.constant(steps, n, task.constant_row), task.mesh),
                                   gradient=False))
    value, val = SEL.forward_fns(task, etas, opt, outer.select,
                                 val_const=None if const_run is None else const_run[2])
    if held is not None:  # the last policy's AUC in _finish: its last evaluation answers it
        value = lambda g: (vg.auc(g), None)  # noqa: E731
    const_curves = None if not running else (const_run[:2] if const_run is not None else
                                             SEL.curves(task, P.constant(steps, n, task.constant_row), etas, opt))
    auto = None
    step_rule = S.STEP_RULES.get(outer.search)
    if outer.search in S.BACKTRACKING and start < K and not st.stop:
        if start == 0:
            vg = S.reuse_first(vg)  # the first step's meta-gradient is auto_init's
            auto = S.auto_init(vg, st.gamma, outer.frozen_steps, outer.search, outer.qn_memory)
            _check_finite(auto.auc, start)
            if outer.search == "auto" and inner.batch_size == 0 and S.oscillates(const_curves[0]):
                auto = S.start_in_rows(auto)
                print("note: the constant run's dev loss turns between rising and falling at many inner steps (it "
                      "oscillates): the search starts with each row's step normalised (summary.json "
                      "switched_to_rows)", file=sys.stderr)
            st.auc[0] = float(auto.auc)
            SEL.consider_constant(st, val, task.constant_row)  # the first candidate (ties keep it)
        else:  # the search's whole state comes back from the checkpoint: bit-identical
            f, t, t_prev, alpha = (jnp.float32(v) for v in st.scalars)
            auto = S.AutoState(st.gamma, f, st.mom[0], st.mom[1], t, t_prev, alpha,
                               () if st.memory is None else st.memory)
    t0 = time.perf_counter()
    # each part's first accepted step (search_record.collapsed); a resumed search keeps its very first one
    collapsing, first_step = False, ({1.0: float(st.step_size[0])} if start else {})
    with bar(K, f"optimize ({outer.search})", progress, unit="outer step") as pbar, \
            open(out / "metrics.jsonl" if is_writer() else os.devnull, "a") as log:
        pbar.update(start)
        try:
            for k in range(start, K if not st.stop else start):
                # --- one outer step: the policy after k updates -> after k + 1
                if auto is not None:
                    st.auc[k] = float(auto.auc)
                    new, info = step_rule(auto, value, vg, outer.frozen_steps,
                                          stop_below=-1.0 if outer.until_kkt is None else outer.until_kkt)
                    st.kkt[k] = info.kkt
                    if info.stationary:  # stationary, stalled, or certified by --until-kkt (search_record)
                        st.stop = STOPS.index(info.reason)
                        st.step_size[k], st.trials[k] = info.alpha, info.trials
                        if info.reason == S.CERTIFIED:  # its residual is logged: the row of the policy kept
                            log.write(SR.metrics_line(k, st))
                        elif k:
                            st.auc[k] = np.nan
                        break
                    st.step_size[k], st.trials[k] = info.alpha, info.trials
                    if outer.search == "auto" and float(new.t_prev) == S.ROWS_MODE != float(auto.t_prev):
                        print(f"\nnote: at outer step {k} one step for the whole policy stalled (its largest "
                              "meta-gradient entries set it); the search goes on with each row's step normalised "
                              "(summary.json switched_to_rows)", file=sys.stderr)
                    ratio = SR.collapsed(first_step, SR.step_mode(outer.search, auto, new), float(st.step_size[k]))
                    if not collapsing and ratio is not None and progress:
                        collapsing = True
                        print(f"\nwarning: the search's step fell to {st.step_size[k]:.3g}, {ratio:.2g}x its first "
                              f"accepted one, at outer step {k}: it may stall (see summary.json stop_reason)",
                              file=sys.stderr)
                    auto, st.gamma, st.mom = new, new.gamma, (new.z, new.prev)
                    st.memory = new.memory or None
                    st.scalars = np.array([new.auc, new.t, new.t_prev, new.alpha], np.float32)
                    if info.moved:  # a candidate: its forward run measured the validation curve too
                        score = float(new.auc) if val is None else val.score(info.extra)
                        if val is not None:
                            st.evals[k, 4:] = np.mean(info.extra), speedup_ratio(val.const, info.extra)["speedup"]
                        st.consider(st.gamma, score, float(new.auc), k + 1, float(st.auc[0]))
                else:
                    auc, grad = vg(st.gamma)
                    auc = float(auc)
                    st.kkt[k] = float(S.kkt_total(st.gamma, S.masked_grad(grad, outer.frozen_steps)))
                    base = auc if k == 0 else float(st.auc[0])
                    if not math.isfinite(auc) or auc > OUTER_DIVERGENCE * base:
                        raise NumericalError(
                            f"the search objective (dev AUC) became {auc:.4g} at outer step {k}, "
                            f"{'non-finite' if not math.isfinite(auc) else f'{auc / base:.3g}x'} the constant "
                            f"policy's {base:.4g} (fixed outer_lr={outer.outer_lr}): the step is too large. Run "
                            f"without --outer-lr (the default search needs no step), or lower it; the last good "
                            f"state is the checkpoint in {out / 'checkpoints'}")
                    st.auc[k], st.step_size[k] = auc, outer_lr(outer, k)
                    if k == 0:
                        SEL.consider_constant(st, val, task.constant_row)
                    if task.val is None:
                        st.consider(st.gamma, auc, auc, k, float(st.auc[0]))
                    st.gamma = S.fixed_update(st.gamma, S.masked_grad(grad, outer.frozen_steps),
                                              st.step_size[k], fs)
                st.done = k + 1
                if st.done % outer.eval_every == 0 or st.done == K:
                    SEL.evaluate_policy(st, task, const_curves, etas, opt, val, curves_of)
                    if outer.patience and st.done - int(st.best[2]) >= outer.patience and st.done < K:
                        st.stop = STOPS.index("patience")
                line = SR.metrics_line(k, st)
                log.write(line)
                log.flush()
                if on_metrics is not None:
                    on_metrics(json.loads(line))
                pbar.update(1)
                pbar.set_postfix(auc=f"{st.auc[k]:.5f}", kkt=f"{st.kkt[k]:.3f}", step=f"{st.step_size[k]:.3g}",
                                 **({"warn": "step collapsing"} if collapsing else {}),
                                 **({} if np.isnan(st.evals[k, 0]) else
                                    {"val": f"{st.evals[k, 4]:.5f}", "test_speedup": f"{st.evals[k, 2]:.2f}x"}))
                if st.done % outer.save_every == 0 or st.done == K:
                    R.save_npy(out / "policies" / f"gamma_{st.done:05d}.npy", st.gamma)
                if st.done % outer.checkpoint_every == 0 or st.done == K:
                    mngr.save(st.done, args=ocp.args.StandardSave(st.tree()))
                if st.stop:
                    break
            if st.stop and not stopped_before:  # the last policy is evaluated, saved and checkpointed, and the stop survives a resume
                if st.done and np.isnan(st.evals[st.done - 1, 0]):
                    SEL.evaluate_policy(st, task, const_curves, etas, opt, val, curves_of)
                R.save_npy(out / "policies" / f"gamma_{st.done:05d}.npy", st.gamma)
                if st.done in mngr.all_steps():
                    mngr.delete(st.done)
                mngr.save(st.done, args=ocp.args.StandardSave(st.tree()))
                if progress or STOPS[st.stop] == "stalled":  # a stall is always said
                    print(f"stopped after {st.done} outer steps: "
                          + SR.stop_message(st, outer.patience, task.val is not None, outer.until_kkt,
                                            None if const_curves is None else const_curves[0]), file=sys.stderr)
        except KeyboardInterrupt:
            # Keep the finished outer steps: checkpoint the state as it is, then stop (also when the
            # interrupt came between an outer step's end and its scheduled checkpoint).
            if st.done > start and st.done not in mngr.all_steps():
                try:
                    mngr.save(st.done, args=ocp.args.StandardSave(st.tree()))
                    mngr.wait_until_finished()
                except Exception:  # noqa: BLE001 - best effort on the way out
                    pass
            mngr.close()
            raise
    mngr.wait_until_finished()
    mngr.close()
    return SR.finish(task, inner, outer, out, st, etas, opt, value, val, wall=time.perf_counter() - t0,
                   resumed_from=start, curves_of=last_curves, const_curves=const_curves)


def _check_finite(auc, k: int) -> None:
    if not math.isfinite(float(auc)):
        raise NumericalError(f"the search objective is not finite at the policy after {k} outer steps "
                             "(NaN/inf in the inner run): lower the inner lr")


def _restore_latest_good(mngr: ocp.CheckpointManager, target: dict, verbose: bool) -> dict | None:
    """Restore the newest checkpoint that reads back whole; fall back to older ones with a message."""
    for step in sorted(mngr.all_steps(), reverse=True):
        try:
            state = mngr.restore(step, args=ocp.args.StandardRestore(target))
            gamma = np.asarray(state["gamma"])
            if int(state["step"]) != step or not np.all(np.isfinite(gamma)):
                raise ValueError("contents do not match the step")
            return state
        except Exception as e:  # noqa: BLE001 - any read failure means this checkpoint is unusable
            print(f"warning: checkpoint at outer step {step} is unreadable ({type(e).__name__}: "
                  f"{str(e)[:120]}); trying the previous one", file=sys.stderr)
    print("warning: no readable checkpoint; starting from the constant policy", file=sys.stderr)
    return None
