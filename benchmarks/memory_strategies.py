"""The three memory strategies of the meta-gradient (learning_law.metagrad): peak memory and time vs T.

``full`` stores every step's residuals (what XLA keeps of each step's forward pass: for the perceptron a
few [N] vectors per step, so ~ T N), ``theta`` stores only theta_t (~ T |theta|), ``block`` stores theta
every k ~ sqrt(T) steps and recomputes a block in the backward pass (~ (T/k + k) |theta| ~ sqrt(T)).
All three also take the [T, N] policy and return its [T, N] gradient (arguments and outputs, not
temporaries). Each (model, T, strategy) runs in a fresh subprocess, which reports

- XLA's compiled memory analysis of ``auc_and_grad``: temporaries, arguments, outputs (bytes);
- the measured peak RSS increase of one call: the peak is reset just before the call
  (``/proc/self/clear_refs``, then ``VmHWM``; ``resource.getrusage`` max RSS as a fallback);
- the wall time of the call (the better of two).

Two models: the perceptron at the paper's size (d=128, N=4096: the [T, N] policy and its gradient
dominate) and a wide one (d=2048, N=512: theta dominates). The table gives log-log slopes of memory
vs T fitted over the T values (expected: full ~1, theta ~1, block ~0.5 for the temporaries) and checks
the issue's target: block at T=4000 uses at most 1/10 of full's memory (temporaries).

    python benchmarks/memory_strategies.py [--quick] [--steps 250 500 ...] [--out FILE]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

MiB = 1024**2
MODELS = {  # name -> PerceptronConfig fields
    "perceptron paper (d=128, N=4096)": {"dim": 128, "n_train": 4096, "n_dev": 512},
    "perceptron wide (d=2048, N=512)": {"dim": 2048, "n_train": 512, "n_dev": 512},
}
QUICK_MODELS = {"perceptron wide (d=1024, N=128)": {"dim": 1024, "n_train": 128, "n_dev": 128}}
STRATEGIES = ("full", "theta", "block")


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(spec: dict) -> dict:
    """Run one configuration in this (fresh) process and return its measurements."""
    import jax
    import jax.numpy as jnp

    from learning_law import config as C
    from learning_law import policy as P
    from learning_law.inner import lr_schedule
    from learning_law.memory import analysis_bytes
    from learning_law.metagrad import auc_and_grad, default_block_size
    from learning_law.tasks import make_perceptron

    task = make_perceptron(C.PerceptronConfig(**spec["task"]))
    steps, memory = spec["steps"], spec["memory"]
    gamma = jnp.asarray(P.constant(steps, task.n_train))
    etas = jnp.asarray(lr_schedule(steps, 0.1))
    args = (task.per_example_loss, task.init_params, task.train, task.dev, gamma, etas, memory, 0)
    compiled = auc_and_grad.lower(*args).compile()
    mem = analysis_bytes(compiled)
    call_args = (task.init_params, task.train, task.dev, gamma, etas)
    jax.block_until_ready(call_args)

    exact = _reset_peak()
    rss0 = _status_kib("VmRSS") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(*call_args))
    t1 = time.perf_counter()
    peak = _status_kib("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del out
    t2 = time.perf_counter()
    jax.block_until_ready(compiled(*call_args))
    t3 = time.perf_counter()
    return {"memory": memory, "steps": steps, "block_size": default_block_size(steps) if memory == "block" else None,
            "temp_bytes": mem["temporaries"], "argument_bytes": mem["arguments"], "output_bytes": mem["outputs"],
            "total_bytes": mem["total"], "rss_delta_bytes": max(0, peak - rss0) * 1024,
            "rss_method": "clear_refs+VmHWM" if exact else "getrusage ru_maxrss (upper bound unknown)",
            "time_s": min(t1 - t0, t3 - t2)}


def slope(ts, ys, floor: float = 0.0) -> float | None:
    """Least-squares slope of log(y) against log(T) over the points with y > floor (None if < 2)."""
    pts = [(t, y) for t, y in zip(ts, ys) if y > floor]
    if len(pts) < 2:
        return None
    t, y = np.log(np.asarray(pts, dtype=np.float64)).T
    return float(np.polyfit(t, y, 1)[0])


def main() -> int:
    import _common

    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, nargs="+", default=None,
                   help="the T values (default 250 500 1000 2000 4000; quick 200 1600)")
    args = p.parse_args()
    steps_list = args.steps or ([200, 1600] if args.quick else [250, 500, 1000, 2000, 4000])
    models = QUICK_MODELS if args.quick else MODELS
    results = []
    for model, task_cfg in models.items():
        for steps in steps_list:
            for memory in STRATEGIES:
                spec = {"task": task_cfg, "steps": steps, "memory": memory}
                proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)],
                                      capture_output=True, text=True,
                                      check=False)
                if proc.returncode != 0:
                    print(proc.stderr[-2000:], file=sys.stderr)
                    raise SystemExit(f"child failed for {spec}")
                r = {"model": model, **json.loads(proc.stdout.strip().splitlines()[-1])}
                results.append(r)
                print(f"  {model}  T={steps:5d}  {memory:5s}  temp {r['temp_bytes'] / MiB:9.2f} MiB  "
                      f"rss +{r['rss_delta_bytes'] / MiB:9.2f} MiB  {r['time_s']:.3f} s", flush=True)

    table, slopes = [], []
    for model in models:
        for memory in STRATEGIES:
            rs = [r for r in results if r["model"] == model and r["memory"] == memory]
            for r in rs:
                table.append({"model": model, "strategy": memory, "T": r["steps"],
                              "temp_MiB": r["temp_bytes"] / MiB, "args_MiB": r["argument_bytes"] / MiB,
                              "out_MiB": r["output_bytes"] / MiB, "rss_delta_MiB": r["rss_delta_bytes"] / MiB,
                              "time_s": r["time_s"]})
            ts = [r["steps"] for r in rs]
            slopes.append({"model": model, "strategy": memory,
                           "slope_temp": slope(ts, [r["temp_bytes"] for r in rs]),
                           # RSS moves in pages and allocator pools: fit only increases above 1 MiB
                           "slope_rss": slope(ts, [r["rss_delta_bytes"] for r in rs], floor=MiB),
                           "slope_time": slope(ts, [r["time_s"] for r in rs])})
    _common.print_table(table, title="peak memory and time of auc_and_grad (XLA compiled analysis; measured RSS "
                                     "increase in a fresh process; 2-core shared CPU)")
    _common.print_table(slopes, title="log-log slopes vs T (full ~1, theta ~1, block ~0.5 expected)")

    t_max = max(steps_list)
    targets = []
    for model in models:
        by = {r["memory"]: r for r in results if r["model"] == model and r["steps"] == t_max}
        targets.append({"model": model, "T": t_max,
                        "block/full temp": by["block"]["temp_bytes"] / max(by["full"]["temp_bytes"], 1),
                        "block/full total": by["block"]["total_bytes"] / max(by["full"]["total_bytes"], 1),
                        "block/full rss": by["block"]["rss_delta_bytes"] / max(by["full"]["rss_delta_bytes"], 1),
                        "block/full time": by["block"]["time_s"] / by["full"]["time_s"]})
    _common.print_table(targets, title="block vs full at the largest T (issue target: temp ratio <= 0.1)")
    _common.write_result("memory_strategies", args, {"steps": steps_list, "models": models, "results": results,
                                                     "slopes": slopes, "block_vs_full": targets})
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        print(json.dumps(child(json.loads(sys.argv[2]))))
        raise SystemExit(0)
    raise SystemExit(main())
