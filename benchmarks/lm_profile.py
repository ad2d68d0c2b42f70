"""Where the time of one LM outer step goes, and the FLOP floor of this CPU (issue 16, item 4).

At the sizes of the LM ``cpu`` preset (1 layer x 32, 4 heads, FFN 128, length 16, |V| ~300, N 512,
dev 128, T 100) it times, jitted, compiled ahead of time (compile times reported apart), warmed up,
median of ``--repeats``, in one process:

- the forward run (``learning_law.metagrad.auc_of_policy``: the AUC only);
- the meta-gradient (``auc_and_grad``) with each memory strategy; reverse = meta-gradient - forward;
- the row-wise simplex projection of gamma (``search.fixed_update``: the fixed search's update);
- one evaluation by a forward run (``split_curves``: the dev, test and validation curves of one run);
- the meta-gradient as the fixed search runs it (``auc_grad_and_curves``, the preset's memory), without and
  with the evaluation's curves recorded in the same run (the search's evaluations);
- the outer step as ``optimize`` runs the preset: that meta-gradient + projection + (the recording's extra
  time) / eval_every; and, for each memory, meta-gradient + projection + a forward run's evaluation /
  eval_every (a search that evaluates by a separate run, as it did before the shared evaluation).

Wall time and the process's CPU time (all its threads) are both given: on a shared machine the wall time
grows with the load, the CPU time much less.

FLOPs of the outer step, counted analytically: a forward of the model is 2 x (non-embedding weights) per
token plus the attention (2 x 2 L d per token); one inner step is the forward and backward (2x) of the N
training sequences plus the dev loss (forward of K sequences); the meta-gradient's reverse pass is ~2x
the forward run, and ``theta`` (``block``) recompute the forward run once (twice) more. XLA's own count:
``cost_analysis()`` of one inner step's forward (+ VJP) times T (as ``flops.py``; the whole program's
count has the scan body once). References measured in the same process: a 2048 x 2048 float32 matmul (the
compute peak) and the matmuls of one training step at their actual shapes (rows N x L = 8192: the
forward X W, and the backward's dX = dY W^T and dW = X^T dY of each linear layer, plus the attention's
batched [L, dh] x [dh, L] products), whose FLOP-weighted rate is the best the step's matmuls can reach.

Profile (``jax.profiler`` trace of the meta-gradient at a smaller T, perfetto JSON): the time of XLA's
operations by kind: matmuls (``dot`` and XNNPACK dot fusions), element-wise work on arrays of the
logits' size [N x L, |V|] (softmax, its derivatives, the scatter of the target gradient), and the rest.

    python benchmarks/lm_profile.py [--quick] [--repeats R] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import _common
from _common import timed
from _lm_rates import GFLOP, analytic_flops, best_rates, rates_with_xla_defaults, reference_rates
from _trace import profile
from flops import step_xla_flops, xla_flops
from learning_law import policy as P
from learning_law.inner import gd_step, lr_schedule, mean_loss, split_curves
from learning_law.metagrad import auc_and_grad, auc_grad_and_curves, auc_of_policy
from learning_law.models.transformer import n_params
from learning_law.search import fixed_update
from learning_law.tasks.lm import LM_PRESETS, make_lm, model_config
from theory.certificate import GRADIENT, GRADIENT_AND_CURVES

_common.lm_xla_flags()  # the CLI's XLA flags for LM runs, before the first computation

REFERENCE_S = 17.0  # the reference's PyTorch Transformer, one outer step at the cpu preset's sizes (issue 16)


def compile_timed(lowered_fn):
    t0 = time.perf_counter()
    compiled = lowered_fn().compile()
    return compiled, time.perf_counter() - t0


def main() -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=None, help="timed calls per row (default 2; quick 2)")
    p.add_argument("--memory", nargs="+", choices=("full", "theta", "theta-jaxgrad", "block"), default=None,
                   help="memory strategies to time (default all, and theta-jaxgrad: theta by jax.grad through the "
                        "scan instead of the adjoint; quick: the preset's)")
    p.add_argument("--profile-steps", type=int, default=None, help="T of the profiled run (default 10)")
    p.add_argument("--rates-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    preset = LM_PRESETS["tiny" if args.quick else "cpu"]
    repeats = args.repeats or 2
    if args.rates_only:  # the child of rates_with_xla_defaults
        t = make_lm(preset.task)
        print(json.dumps(reference_rates(model_config(preset.task, t.vocab_size), t.n_train, preset.task.seq_len,
                                         args.quick)))
        return 0
    task = make_lm(preset.task)
    cfg, inner, outer = preset.task, preset.inner, preset.outer
    steps, n, k, length = inner.steps, task.n_train, cfg.n_dev, cfg.seq_len
    mcfg = model_config(cfg, task.vocab_size)
    loss_fn, p0, train, dev = task.per_example_loss, task.init_params, task.train, task.dev
    gamma = jnp.asarray(P.constant(steps, n))
    etas = jnp.asarray(lr_schedule(steps, inner.lr, inner.warmup_steps))
    sizes = {"preset": preset.name, "n_layers": mcfg.n_layers, "d_model": mcfg.d_model, "n_heads": mcfg.n_heads,
             "d_ff": mcfg.d_ff, "seq_len": length, "vocab_size": mcfg.vocab_size, "n_train": n, "n_dev": k,
             "steps": steps, "n_params": n_params(mcfg), "outer_memory": outer.memory,
             "eval_every": outer.eval_every}
    print(f"LM {sizes}", flush=True)

    # --- compile (ahead of time), then time each part
    fwd_jit = jax.jit(auc_of_policy, static_argnames=("loss_fn", "memory", "block_size", "opt"))
    rows, compiled = [], {}
    compiled["forward"], c_fwd = compile_timed(lambda: fwd_jit.lower(loss_fn, p0, train, dev, gamma, etas, "full"))
    strategies = args.memory or ([outer.memory] if args.quick else ["full", "theta", "theta-jaxgrad", "block"])
    if outer.memory not in strategies:
        strategies.append(outer.memory)
    for memory in strategies:
        mem, adjoint = ("theta", False) if memory == "theta-jaxgrad" else (memory, None)
        compiled[memory], c = compile_timed(
            lambda: auc_and_grad.lower(loss_fn, p0, train, dev, gamma, etas, mem, 0, adjoint=adjoint))
        rows.append({"part": f"meta-gradient ({memory})", "compile_s": c})
    proj = jax.jit(fixed_update)
    lr, fs = jnp.float32(outer.outer_lr or 0.3), jnp.int32(0)
    compiled["projection"], c_proj = compile_timed(lambda: proj.lower(gamma, gamma, lr, fs))
    val = task.val if task.val is not None else task.test
    compiled["curves"], c_eval = compile_timed(
        lambda: split_curves.lower(loss_fn, p0, train, (dev, task.test, val), gamma, etas))
    held = (task.test, val)
    compiled["search"], c_search = compile_timed(
        lambda: auc_grad_and_curves.lower(loss_fn, p0, train, dev, held, gamma, etas, np.int32(GRADIENT),
                                          outer.memory, 0))

    t_fwd = timed(lambda: compiled["forward"](p0, train, dev, gamma, etas), repeats)
    rows.insert(0, {"part": "forward run (AUC only)", "compile_s": c_fwd, **t_fwd})
    mg = {}
    for row in rows[1:]:
        memory = row["part"].split("(")[1][:-1]
        mg[memory] = timed(lambda: compiled[memory](p0, train, dev, gamma, etas), repeats)
        row.update(mg[memory])
        row["reverse_wall_s"] = mg[memory]["wall_s"] - t_fwd["wall_s"]
        row["metagrad/forward"] = mg[memory]["wall_s"] / t_fwd["wall_s"]
    t_proj = timed(lambda: compiled["projection"](gamma, gamma, lr, fs), max(repeats, 5))
    rows.append({"part": "projection of gamma [T, N]", "compile_s": c_proj, **t_proj})
    t_eval = timed(lambda: compiled["curves"](p0, train, (dev, task.test, val), gamma, etas), repeats)
    rows.append({"part": "evaluation (1 run: dev, test, val)", "compile_s": c_eval, **t_eval})
    search = {}
    for record in (False, True):
        mode = np.int32(GRADIENT_AND_CURVES if record else GRADIENT)
        search[record] = timed(lambda: compiled["search"](p0, train, dev, held, gamma, etas, mode), repeats)
    for record, what in ((False, "fixed search's program"), (True, "the same, recording the evaluation")):
        rows.append({"part": f"meta-gradient ({what})", "compile_s": c_search, **search[record]})
    extra = {key: max(search[True][key] - search[False][key], 0.0) for key in ("wall_s", "cpu_s")}
    outer_steps = {m: mg[m]["wall_s"] + t_proj["wall_s"] + t_eval["wall_s"] / outer.eval_every for m in mg}
    outer_cpu = {m: mg[m]["cpu_s"] + t_proj["cpu_s"] + t_eval["cpu_s"] / outer.eval_every for m in mg}
    # The search's outer step: the meta-gradient, the update and the evaluation's share (its extra splits).
    outer_steps["search"] = search[False]["wall_s"] + t_proj["wall_s"] + extra["wall_s"] / outer.eval_every
    outer_cpu["search"] = search[False]["cpu_s"] + t_proj["cpu_s"] + extra["cpu_s"] / outer.eval_every

    # --- FLOPs: analytic and XLA's count of one step x T
    fl = analytic_flops(mcfg, length, n, k, steps)
    step_fwd = jax.jit(lambda p, g, e: (gd_step(loss_fn, p, train, g, e), mean_loss(loss_fn, p, dev)))
    xla_fwd_step = xla_flops(step_fwd.lower(p0, gamma[0], etas[0]).compile())
    xla = {m: step_xla_flops(task, m) if m in strategies or m == "full" else None for m in ("full", "theta")}
    flops = {"analytic_GFLOP": {"inner_step": fl["inner_step"] / GFLOP, "forward_run": fl["forward_run"] / GFLOP,
                                "metagrad_useful": fl["metagrad_useful"] / GFLOP,
                                **{f"metagrad_executed_{m}": v / GFLOP for m, v in fl["metagrad_executed"].items()}},
             "xla_step_x_T_GFLOP": {
                 "forward_run": None if xla_fwd_step is None else xla_fwd_step * steps / GFLOP,
                 "metagrad_full": None if xla["full"] is None else xla["full"] * steps / GFLOP,
                 "metagrad_theta": None if xla["theta"] is None else xla["theta"] * steps / GFLOP},
             "xla_whole_program_GFLOP": (lambda f: None if f is None else f / GFLOP)(
                 xla_flops(compiled[strategies[0]]))}

    # --- reference rates: the best of this process (the CLI's XLA flags) and a fresh one with XLA's defaults
    refs = best_rates([{**reference_rates(mcfg, n, length, args.quick), "label": "this process"},
                       {**rates_with_xla_defaults(args.quick), "label": "XLA defaults"}])
    lm_rate = refs["lm_shapes_GFLOP/s"]

    # --- achieved rates and the floor
    useful = fl["metagrad_useful"] / GFLOP
    for row in rows:
        part = row["part"]
        if part.startswith("meta-gradient"):
            row["achieved_GFLOP/s"] = useful / row["wall_s"]
            row["of_peak"] = row["achieved_GFLOP/s"] / refs["matmul_peak_GFLOP/s"]
            row["of_lm_rate"] = row["achieved_GFLOP/s"] / lm_rate
        elif part.startswith("forward"):
            row["achieved_GFLOP/s"] = fl["forward_run"] / GFLOP / row["wall_s"]
            row["of_peak"] = row["achieved_GFLOP/s"] / refs["matmul_peak_GFLOP/s"]
            row["of_lm_rate"] = row["achieved_GFLOP/s"] / lm_rate
    best = min((m for m in outer_steps if m != "search"), key=outer_steps.get)
    floor = {"useful_GFLOP": useful, "floor_at_peak_s": useful / refs["matmul_peak_GFLOP/s"],
             "floor_at_lm_rate_s": useful / lm_rate,
             "outer_step_s": outer_steps, "outer_step_cpu_s": outer_cpu, "preset_memory": outer.memory,
             "fastest_memory": best,
             "floor_at_lm_rate/outer_step": useful / lm_rate / outer_steps["search"],
             "floor_at_peak/outer_step": useful / refs["matmul_peak_GFLOP/s"] / outer_steps["search"]}
    # Against the reference (measured on idle cores): valid as a ratio when this run had the cores to itself
    # (the load average printed with it says); the reference's outer step is its meta-gradient and update.
    floor["reference_s"] = REFERENCE_S
    floor["target_3x_s"] = REFERENCE_S / 3
    floor["reference/outer_step"] = REFERENCE_S / outer_steps["search"]
    floor["reference/(metagrad+projection)"] = REFERENCE_S / (search[False]["wall_s"] + t_proj["wall_s"])
    floor["reference/outer_step_with_separate_evaluation"] = REFERENCE_S / outer_steps[outer.memory]

    # --- profile: time by kind of operation, at a smaller T (same per-step composition)
    pt = min(args.profile_steps or (steps if args.quick else 10), steps)
    g_small, e_small = gamma[:pt], etas[:pt]
    if pt == steps:  # the one already compiled and warmed up
        small = compiled[outer.memory]
    else:
        small = auc_and_grad.lower(loss_fn, p0, train, dev, g_small, e_small, outer.memory, 0).compile()
        _common.block(small(p0, train, dev, g_small, e_small))
    prof = {"steps": pt, "memory": outer.memory,
            **profile(small, (p0, train, dev, g_small, e_small), logits_elems=n * length * mcfg.vocab_size)}

    load = [round(x, 2) for x in os.getloadavg()]
    _common.print_table(rows, columns=["part", "compile_s", "wall_s", "cpu_s", "reverse_wall_s", "metagrad/forward",
                                       "achieved_GFLOP/s", "of_peak", "of_lm_rate"],
                        title=f"LM {preset.name} preset (N={n}, L={length}, |V|={mcfg.vocab_size}, T={steps}); "
                              f"load average {load}")
    per_flags = "; ".join(f"{r['label']} {r['lm_shapes_GFLOP/s']:.0f}" for r in refs["per_flags"])
    _common.print_table(refs["lm_shapes"], title=f"matmul rates at the LM's shapes, per matmul the faster of this "
                        f"process (the CLI's XLA flags) and a fresh one with XLA's defaults (FLOP-weighted: {per_flags}"
                        f" GFLOP/s) (peak "
                        f"{refs['peak_shape']}: {refs['matmul_peak_GFLOP/s']:.1f} GFLOP/s; FLOP-weighted LM rate "
                        f"{lm_rate:.1f} GFLOP/s)")
    print(f"FLOPs: {json.dumps(flops)}")
    print(f"outer step (s): {json.dumps({m: round(v, 3) for m, v in outer_steps.items()})}; floor at the LM rate "
          f"{floor['floor_at_lm_rate_s']:.3f} s, at peak {floor['floor_at_peak_s']:.3f} s")
    print(f"reference ({REFERENCE_S:.0f} s) / our outer step (the search's, {outer_steps['search']:.3f} s): "
          f"{floor['reference/outer_step']:.2f}x; / our meta-gradient + projection: "
          f"{floor['reference/(metagrad+projection)']:.2f}x; with a separate evaluation run: "
          f"{floor['reference/outer_step_with_separate_evaluation']:.2f}x (3x: {floor['target_3x_s']:.2f} s)")
    if "share" in prof and prof["share"]:
        print(f"profile (T={pt}, {outer.memory}): op seconds {json.dumps({k2: round(v, 3) for k2, v in prof['op_seconds'].items()})}"
              f", traced wall {prof['wall_s_traced']:.3f} s on {prof['threads']} threads")
    else:
        print(f"profile: {prof}")
    _common.write_result("lm_profile", args,
                         {"sizes": sizes, "load_average": load, "rows": rows, "flops": flops, "references": refs,
                          "floor": floor, "profile": prof})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
