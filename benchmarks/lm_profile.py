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
import glob
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

import _common
from flops import matmul_peak, step_xla_flops, xla_flops
from learning_law import policy as P
from learning_law import xla_flags
from learning_law.inner import gd_step, lr_schedule, mean_loss, split_curves
from learning_law.metagrad import auc_and_grad, auc_grad_and_curves, auc_of_policy
from learning_law.models.transformer import n_params
from learning_law.search import fixed_update
from learning_law.tasks.lm import LM_PRESETS, make_lm, model_config
from theory.certificate import GRADIENT, GRADIENT_AND_CURVES

_common.lm_xla_flags()  # the CLI's XLA flags for LM runs, before the first computation

GFLOP = 1e9
REFERENCE_S = 17.0  # the reference's PyTorch Transformer, one outer step at the cpu preset's sizes (issue 16)


def timed(fn, repeats: int, warmup: int = 1) -> dict:
    """Median wall and process-CPU seconds of ``fn()`` (blocked), after ``warmup`` calls."""
    for _ in range(warmup):
        _common.block(fn())
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        _common.block(fn())
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus), "wall_min_s": min(walls)}


def compile_timed(lowered_fn):
    t0 = time.perf_counter()
    compiled = lowered_fn().compile()
    return compiled, time.perf_counter() - t0


def forward_flops_per_token(mcfg, length: int) -> float:
    """2 x non-embedding weights (q, k, v, out, FFN, head) + attention scores and mixing (2 x 2 L d)."""
    d, f, v = mcfg.d_model, mcfg.d_ff, mcfg.vocab_size
    per_layer = 2.0 * (4 * d * d + 2 * d * f) + 2.0 * 2 * length * d
    return mcfg.n_layers * per_layer + 2.0 * d * v


def analytic_flops(mcfg, length: int, n: int, k: int, steps: int) -> dict:
    tok = forward_flops_per_token(mcfg, length)
    train_fwd, dev_fwd = tok * n * length, tok * k * length
    step = 3.0 * train_fwd + dev_fwd  # forward + backward of the weighted train loss, dev loss
    forward = steps * step + dev_fwd
    return {"per_token_forward": tok, "train_forward_per_step": train_fwd, "inner_step": step,
            "forward_run": forward, "metagrad_useful": 3.0 * forward,
            "metagrad_executed": {"full": 3.0 * forward, "theta": 4.0 * forward, "block": 5.0 * forward}}


def lm_matmul_shapes(mcfg, n: int, length: int) -> list[tuple[str, int, int, int, int]]:
    """(name, batch, M, K, N) of the matmuls of one forward + backward over n sequences."""
    rows, d, f, v, h = n * length, mcfg.d_model, mcfg.d_ff, mcfg.vocab_size, mcfg.n_heads
    out = []
    for name, a, b in (("qkv", d, 3 * d), ("out", d, d), ("ff1", d, f), ("ff2", f, d), ("head", d, v)):
        out += [(f"{name} X W", 1, rows, a, b), (f"{name} dY W^T", 1, rows, b, a), (f"{name} X^T dY", 1, a, rows, b)]
    dh = d // h
    out += [("attn Q K^T", n * h, length, dh, length), ("attn A V", n * h, length, length, dh)]
    return out


def matmul_rate(batch: int, m: int, k: int, n: int, repeats: int) -> dict[str, float]:
    """Best GFLOP/s of a jitted float32 [batch,] m x k @ k x n matmul, 10 per call (a scan) so dispatch does
    not count; each iteration's right factor depends on the previous result (nothing is hoisted)."""
    shape_a = (batch, m, k) if batch > 1 else (m, k)
    shape_b = (batch, k, n) if batch > 1 else (k, n)
    a = jax.random.normal(jax.random.key(0), shape_a, jnp.float32)
    b = jax.random.normal(jax.random.key(1), shape_b, jnp.float32)

    @jax.jit
    def f(a, b):
        def body(s, _):
            y = jnp.matmul(a, b * s)
            return s + 1e-12 * y.reshape(-1)[0], None
        return jax.lax.scan(body, jnp.float32(1.0), None, length=10)[0]

    t = timed(lambda: f(a, b), repeats=repeats, warmup=2)
    flops = 10 * 2.0 * batch * m * k * n
    return {"flops": flops, "best_s": t["wall_min_s"], "gflops_per_s": flops / t["wall_min_s"] / GFLOP}


def _op_kinds(hlo_text: str, logits_elems: int) -> dict[str, str]:
    """HLO instruction name -> matmul | logits-sized | other, from the compiled module's text."""
    comps, cur = {}, None
    for line in hlo_text.splitlines():
        m = re.match(r"^\s*(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$", line)
        if m and "=" not in line.split("{")[0]:
            cur = m.group(1)
            comps[cur] = []
        elif cur is not None:
            comps[cur].append(line)
    has_dot = {c: any(" dot(" in l or " convolution(" in l for l in lines) for c, lines in comps.items()}
    kinds = {}
    for lines in comps.values():
        for line in lines:
            m = re.match(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(\w+)\[([\d,]*)\][^ ]*\s+(\w[\w-]*)\(", line)
            if not m:
                continue
            name, _, dims, op = m.groups()
            called = re.search(r"calls=%?([\w.\-]+)", line)
            elems = int(np.prod([int(x) for x in dims.split(",") if x])) if dims else 1
            if op in ("dot", "convolution") or (called and has_dot.get(called.group(1))):
                kinds[name] = "matmul"
            elif elems >= logits_elems:
                kinds[name] = "logits-sized"
            else:
                kinds[name] = "other"
    return kinds


def profile(compiled, args, logits_elems: int) -> dict:
    """Time per kind of XLA operation in one call, from a jax.profiler trace (perfetto JSON)."""
    try:
        kinds = _op_kinds(compiled.as_text(), logits_elems)
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            with jax.profiler.trace(d, create_perfetto_trace=True):
                _common.block(compiled(*args))
            wall = time.perf_counter() - t0
            files = sorted(glob.glob(f"{d}/**/*.trace.json.gz", recursive=True))
            trace = json.load(gzip.open(files[-1]))
    except Exception as e:  # noqa: BLE001 - the profiler's output format is not an API we control
        return {"error": f"{type(e).__name__}: {e}"[:300]}
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    per_kind, threads = {"matmul": 0.0, "logits-sized": 0.0, "other": 0.0}, set()
    for e in events:
        name = e.get("name", "")
        if e.get("ph") != "X" or name not in kinds:
            continue
        per_kind[kinds[name]] += e.get("dur", 0.0) / 1e6
        threads.add(e.get("tid"))
    busy = sum(per_kind.values())
    return {"wall_s_traced": wall, "op_seconds": per_kind, "op_seconds_total": busy,
            "share": {k: v / busy for k, v in per_kind.items()} if busy else None, "threads": len(threads)}


def reference_rates(mcfg, n: int, length: int, quick: bool) -> dict:
    """The 2048^3 matmul peak and the rates of the step's matmuls at their shapes, in this process's flags."""
    peak_n = 512 if quick else 2048
    peak = matmul_peak(peak_n, repeats=3 if quick else 5)
    shapes = []
    for name, b, m, kk, nn in lm_matmul_shapes(mcfg, n, length):
        r = matmul_rate(b, m, kk, nn, repeats=1 if quick else 3)
        shapes.append({"matmul": name, "shape": f"{b}x{m}x{kk}x{nn}" if b > 1 else f"{m}x{kk}x{nn}",
                       "GFLOP/s": r["gflops_per_s"], "_flops": r["flops"], "_s": r["best_s"]})
    return {"XLA_FLAGS": os.environ.get("XLA_FLAGS", ""), "peak_GFLOP/s": peak["gflops_per_s"],
            "peak_shape": f"{peak_n}x{peak_n}x{peak_n}", "shapes": shapes}


def rates_with_xla_defaults(quick: bool) -> dict:
    """:func:`reference_rates` in a fresh process with XLA's default flags (the CLI's flags make some matmuls
    slower on their own, e.g. the weight gradients on one thread, while the whole step is faster)."""
    env = {**os.environ, "XLA_FLAGS": "", xla_flags.OPT_OUT: "0"}
    cmd = [sys.executable, __file__, "--rates-only"] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"the matmul rates with XLA's defaults failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_rates(runs: list[dict]) -> dict:
    """Per matmul the faster of the runs (and the higher peak): the rates the step's matmuls can reach here."""
    def rate(shapes):
        return sum(x["_flops"] for x in shapes) / sum(x["_s"] for x in shapes) / GFLOP

    best = []
    for group in zip(*(r["shapes"] for r in runs)):
        i = max(range(len(group)), key=lambda j: group[j]["GFLOP/s"])
        best.append({**group[i], "from": runs[i]["label"]})
    top = max(runs, key=lambda r: r["peak_GFLOP/s"])
    return {"matmul_peak_GFLOP/s": top["peak_GFLOP/s"], "peak_shape": top["peak_shape"],
            "lm_shapes_GFLOP/s": rate(best),
            "lm_shapes": [{k: v for k, v in x.items() if not k.startswith("_")} for x in best],
            "per_flags": [{"label": r["label"], "XLA_FLAGS": r["XLA_FLAGS"] or "(none)",
                           "peak_GFLOP/s": r["peak_GFLOP/s"], "lm_shapes_GFLOP/s": rate(r["shapes"])} for r in runs]}


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
