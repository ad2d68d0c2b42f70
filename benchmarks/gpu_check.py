"""The prepared GPU check: one command that times the paper-scale searches on one accelerator.

    python benchmarks/gpu_check.py [--steps 400] [--outer-steps 2] [--micro-batch 2048] [--out FILE]
    python benchmarks/gpu_check.py --tiny      # the same code at tiny sizes, on CPU in seconds (a test runs it)

What it measures (one process, the first device):

1. **The paper's LM** (``lm`` preset ``paper``: N = 16384 sequences of length 64, |V| 5000, 2 layers x 128,
   memory ``block``, micro-batches of ``--micro-batch``) with T reduced to ``--steps``: seconds per outer
   step (the meta-gradient through the T steps and the projection of the fixed search, as
   ``learning-law optimize`` runs it), what an evaluation adds (the same program recording the held-out
   losses, and its forward-only mode), the device's measured peak memory
   (``device.memory_stats()['peak_bytes_in_use']``; CPU devices have none) beside XLA's compiled estimate
   (:mod:`learning_law.memory`, the number ``optimize`` prints).
2. **The extrapolation to the paper's run**: T = 4000 (the scan over T is sequential, so time grows
   linearly in T; XLA's memory estimate at T = 4000 is compiled, not run) and the preset's 15 outer
   steps with their evaluations, counted as ``optimize`` runs them (:func:`evaluation_runs`).
3. **The perceptron's paper search** (preset ``paper``: d = 128, N = 4096, T = 2000): seconds per
   outer step, extrapolated to its outer steps.

Budget: about 5-7 minutes on one large GPU at the defaults (data and tokenizer ~1 min on the host,
compilations ~1-2 min, two LM outer steps and about three more meta-gradients' worth of timing the
evaluation's modes); ``--steps`` and ``--outer-steps`` trade precision for time.
Writes ``benchmarks/results/gpu_check.json`` (``gpu_check_tiny.json`` with ``--tiny``) atomically.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import _common
from learning_law import config as C
from learning_law import memory as M
from learning_law import optimizers as O
from learning_law import policy as P
from learning_law import precision as PR
from learning_law import search as S
from learning_law import selection as SEL
from learning_law.inner import lr_schedule
from learning_law.metagrad import auc_grad_and_curves
from learning_law.optimize import plan, shares_evaluation
from learning_law.tasks import build_task
from theory.certificate import CURVES, GRADIENT, GRADIENT_AND_CURVES

PAPER_T = 4000  # the paper's LM run: T and outer steps (learning_law/tasks/lm.py, preset paper)
PAPER_OUTER = 15


def peak_memory(device) -> dict:
    """The device's measured peak memory, or why there is none."""
    try:
        stats = device.memory_stats()
    except Exception as e:  # noqa: BLE001 - backends without the call
        stats, why = None, f"{type(e).__name__}: {e}"
    else:
        why = "not available on CPU" if device.platform == "cpu" else "memory_stats() gave no peak"
    if stats and "peak_bytes_in_use" in stats:
        return {"peak_bytes": int(stats["peak_bytes_in_use"]), "bytes_limit": stats.get("bytes_limit")}
    return {"peak_bytes": None, "why": why}


def time_search(task, inner: C.InnerConfig, outer: C.OuterConfig, outer_steps: int) -> dict:
    """Compile the meta-gradient as ``optimize`` does (with XLA's memory estimate), run ``outer_steps``
    fixed-search steps from the constant policy, then time the same program once in each mode: the gradient
    alone, the gradient recording the held-out curves, and the forward run only; seconds of each."""
    steps, n = inner.steps, task.n_train
    etas = jnp.asarray(lr_schedule(steps, inner.lr, inner.warmup_steps))
    gamma = jnp.asarray(P.constant(steps, n))
    held = SEL.held_splits(task)  # the fixed search's program, which can record its evaluations
    t0 = time.perf_counter()
    compiled = plan(task, gamma, etas, outer, verbose=False, check=False, held=held)
    compile_s = time.perf_counter() - t0
    estimate = M.analysis_bytes(compiled)
    lr, fs = np.float32(outer.outer_lr or 0.1), np.int32(outer.frozen_steps)
    args = (task.init_params, task.train, task.dev, held)
    times, aucs = [], []
    for _ in range(outer_steps):
        t0 = time.perf_counter()
        auc, grad, _ = compiled(*args, gamma, etas, np.int32(GRADIENT))
        gamma = jax.block_until_ready(S.fixed_update(gamma, grad, lr, fs))
        times.append(time.perf_counter() - t0)
        aucs.append(float(auc))
    modes = {}
    # the other two modes twice (the best of both): a branch's first call may set up its kernels
    for name, mode, calls in (("gradient_s", GRADIENT, 1), ("record_s", GRADIENT_AND_CURVES, 2),
                              ("forward_s", CURVES, 2)):
        for _ in range(calls):
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(*args, gamma, etas, np.int32(mode)))
            modes[name] = min(modes.get(name, math.inf), time.perf_counter() - t0)
    return {"steps": steps, "n_train": n, "memory": outer.memory, "search": outer.search,
            "shared_evaluation": shares_evaluation(outer, O.from_config(inner)),
            "compile_s": compile_s, "outer_step_s": times, "outer_step_s_steady": times[-1], **modes,
            "record_extra_s": max(modes["record_s"] - modes["gradient_s"], 0.0),
            "auc": aucs, "xla_estimate_bytes": estimate["total"], "xla_estimate": estimate}


def estimate_at(task, inner: C.InnerConfig, outer: C.OuterConfig, steps: int) -> dict:
    """XLA's memory estimate of one outer step at ``steps`` inner steps (compiled, nothing allocated)."""
    gamma = jax.ShapeDtypeStruct((steps, task.n_train), jnp.float32)
    etas = jax.ShapeDtypeStruct((steps,), jnp.float32)
    compiled = auc_grad_and_curves.lower(task.per_example_loss, task.init_params, task.train, task.dev,
                                         SEL.held_splits(task), gamma, etas, np.int32(GRADIENT), outer.memory,
                                         outer.block_size).compile()
    return M.analysis_bytes(compiled)


def evaluation_runs(outer_steps: int, eval_every: int, shared: bool) -> dict:
    """What the evaluations of a search of ``outer_steps`` outer steps run, as ``learning-law optimize`` does.

    Evaluations come after every ``eval_every`` outer steps and after the last. With the shared evaluation
    (the fixed search, plain GD, memory theta or block) an evaluation records the held-out curves in the
    meta-gradient that the next outer step needs anyway, and the constant policy's curves come from outer
    step 0's run: ``recordings`` such runs, plus one forward run for the last evaluation, which no outer step
    follows. Otherwise each evaluation is a forward run, and the constant policy one more.
    """
    evals = len({k for k in range(1, outer_steps + 1) if k % eval_every == 0 or k == outer_steps})
    if shared:
        return {"evaluations": evals, "recordings": evals, "forward_runs": 1}  # 1 + (evals - 1) recordings
    return {"evaluations": evals, "recordings": 0, "forward_runs": evals + 1}


def extrapolate(run: dict, steps: int, outer_steps: int, eval_every: int) -> dict:
    """Seconds of ``outer_steps`` outer steps and their evaluations at ``steps`` inner steps, linear in T; the
    one-off compilation is added once."""
    scale = steps / run["steps"]
    step_s = run["outer_step_s_steady"] * scale
    forward_s, record_s = run["forward_s"] * scale, run["record_extra_s"] * scale
    runs = evaluation_runs(outer_steps, eval_every, run["shared_evaluation"])
    total = outer_steps * step_s + runs["recordings"] * record_s + runs["forward_runs"] * forward_s + run["compile_s"]
    return {"steps": steps, "outer_steps": outer_steps, **runs, "outer_step_s": step_s, "forward_s": forward_s,
            "record_extra_s": record_s, "total_s": total, "total_min": total / 60}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny sizes on any device (seconds): a smoke run")
    p.add_argument("--steps", type=int, default=None, help="T of the LM run (default 400; --tiny: the preset's)")
    p.add_argument("--outer-steps", type=int, default=2, help="LM outer steps to time, in [1, 20]")
    p.add_argument("--micro-batch", type=int, default=2048, help="LM sequences per forward chunk (0: all)")
    p.add_argument("--corpus", default="default",
                   help="LM text (as learning-law's --corpus): the embedded corpus has ~300 words, so |V| and the "
                        "logits are smaller than the paper's 5000; tinystories:PATH (a local copy) gives |V| 5000")
    p.add_argument("--perceptron-outer-steps", type=int, default=3, help="perceptron outer steps to time, in [1, 20]")
    p.add_argument("--matmul-precision", default=PR.DEFAULT, choices=PR.CHOICES, help=PR.HELP)
    p.add_argument("--out", type=Path, default=None,
                   help="JSON file (default: benchmarks/results/gpu_check.json, gpu_check_tiny.json with --tiny)")
    args = p.parse_args(argv)
    for name in ("outer_steps", "perceptron_outer_steps"):
        if not 1 <= getattr(args, name) <= 20:
            p.error(f"--{name.replace('_', '-')}={getattr(args, name)} is invalid: allowed [1, 20]")
    if args.steps is not None and not 2 <= args.steps <= PAPER_T:
        p.error(f"--steps={args.steps} is invalid: allowed [2, {PAPER_T}]")
    if args.micro_batch < 0:
        p.error(f"--micro-batch={args.micro_batch} is invalid: allowed >= 0")

    preset = "tiny" if args.tiny else "paper"
    device = jax.devices()[0]
    result = {"device": str(device), "platform": device.platform, "preset": preset,
              "matmul_precision": args.matmul_precision}
    print(f"device {device} ({device.platform}); presets {preset}", flush=True)
    with PR.matmul_precision(args.matmul_precision):
        lm = C.get_preset("lm", preset)
        tcfg = dataclasses.replace(lm.task, micro_batch=args.micro_batch if not args.tiny else lm.task.micro_batch,
                                   corpus=args.corpus)
        inner = dataclasses.replace(lm.inner, steps=args.steps or (lm.inner.steps if args.tiny else 400))
        t0 = time.perf_counter()
        task = build_task("lm", tcfg)
        result["lm_task_s"] = time.perf_counter() - t0
        result["lm_sizes"] = {"n_train": task.n_train, "vocab_size": task.vocab_size, "n_params": task.n_params,
                              "corpus": args.corpus}
        print(f"LM task built in {result['lm_task_s']:.1f} s (N={task.n_train}, |V|={task.vocab_size}, "
              f"|theta|={task.n_params:,}); "
              f"timing {args.outer_steps} outer steps at T={inner.steps}", flush=True)
        # The authors' fixed step (the paper presets' reference); tiny stands in with a fixed 0.5.
        lm_outer = lm.reference or dataclasses.replace(lm.outer, search="fixed", outer_lr=0.5)
        run = time_search(task, inner, lm_outer, args.outer_steps)
        run["measured_peak"] = peak_memory(device)
        result["lm"] = run
        paper_t = PAPER_T if not args.tiny else 4 * inner.steps  # tiny: the same arithmetic, small numbers
        est = estimate_at(task, inner, lm_outer, paper_t)
        result["lm_extrapolated"] = {**extrapolate(run, paper_t, PAPER_OUTER if not args.tiny else
                                                   lm_outer.outer_steps, lm_outer.eval_every),
                                     "xla_estimate_bytes": est["total"]}
        del task

        perc = C.get_preset("perceptron", preset)
        ptask = build_task("perceptron", perc.task)
        perc_outer = perc.reference or dataclasses.replace(perc.outer, search="fixed", outer_lr=0.5)
        prun = time_search(ptask, perc.inner, perc_outer, args.perceptron_outer_steps)
        result["perceptron"] = prun
        result["perceptron_extrapolated"] = extrapolate(prun, perc.inner.steps, perc_outer.outer_steps,
                                                        perc_outer.eval_every)

    gib = lambda b: "n/a" if b is None else f"{b / M.GiB:.2f} GiB"  # noqa: E731
    peak = run["measured_peak"]
    ext, pext = result["lm_extrapolated"], result["perceptron_extrapolated"]
    print(f"LM T={run['steps']}: {run['outer_step_s_steady']:.2f} s per outer step (all: "
          f"{', '.join(f'{t:.2f}' for t in run['outer_step_s'])}), recording the held-out curves +"
          f"{run['record_extra_s']:.2f} s, forward run {run['forward_s']:.2f} s, compile "
          f"{run['compile_s']:.1f} s; peak memory {gib(peak['peak_bytes'])}"
          f"{'' if peak['peak_bytes'] is not None else ' (' + peak['why'] + ')'} vs XLA estimate "
          f"{gib(run['xla_estimate_bytes'])}", flush=True)
    print(f"LM extrapolated to T={ext['steps']}: {ext['outer_step_s']:.1f} s per outer step, {ext['outer_steps']} "
          f"outer steps + {ext['evaluations']} evaluations ({ext['recordings']} recorded, {ext['forward_runs']} "
          f"forward run{'s' if ext['forward_runs'] != 1 else ''}) = {ext['total_min']:.1f} min; XLA estimate "
          f"{gib(ext['xla_estimate_bytes'])}", flush=True)
    print(f"perceptron T={prun['steps']}, N={prun['n_train']}: {prun['outer_step_s_steady']:.3f} s per outer step; "
          f"{pext['outer_steps']} outer steps = {pext['total_min']:.1f} min", flush=True)
    out = args.out or _common.RESULTS / f"gpu_check{'_tiny' if args.tiny else ''}.json"
    _common.write_result("gpu_check", argparse.Namespace(out=out, quick=args.tiny), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
