"""LM meta-gradient with the inner run's scans unrolled k steps (``lax.scan(..., unroll=k)``), side by side.

    python benchmarks/lm_unroll.py [--quick] [--unroll 1,2,4] [--rounds 2]

Issue 16's question: does the CPU backend lose time per loop iteration (dispatch between the ~100 small
ops of a step) that unrolling the forward and reverse scans of the adjoint meta-gradient (memory
``theta``, the LM cpu preset's) would win back? Each round times every k (best of 2 calls after a first
one that compiles); the rounds interleave the k, so drift on a shared machine hits them alike. The AUC and
the gradient are printed per k (they agree to float rounding). The unroll is set by wrapping
``jax.lax.scan`` in this process only (the library takes no unroll argument), with JAX's caches cleared
between k so each is traced afresh.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp

import _common
from learning_law import policy as P
from learning_law.inner import lr_schedule
from learning_law.metagrad import auc_and_grad
from learning_law.tasks.lm import LM_PRESETS, make_lm

_common.lm_xla_flags()  # the CLI's XLA flags for LM runs, before the first computation


def main() -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--unroll", default="1,2,4", help="comma-separated unroll factors k (default 1,2,4)")
    p.add_argument("--rounds", type=int, default=2, help="rounds over all k (default 2)")
    args = p.parse_args()
    ks = [int(x) for x in args.unroll.split(",")]
    if not ks or min(ks) < 1 or args.rounds < 1:
        p.error(f"--unroll {args.unroll!r} / --rounds {args.rounds}: allowed integers >= 1")
    preset = LM_PRESETS["tiny" if args.quick else "cpu"]
    task = make_lm(preset.task)
    inner = preset.inner
    args_fixed = (task.per_example_loss, task.init_params, task.train, task.dev)
    gamma = jnp.asarray(P.constant(inner.steps, task.n_train))
    etas = jnp.asarray(lr_schedule(inner.steps, inner.lr, inner.warmup_steps))
    scan = jax.lax.scan
    rows = []
    try:
        for r in range(args.rounds):
            for k in ks:
                jax.clear_caches()
                jax.lax.scan = functools.partial(scan, unroll=k) if k > 1 else scan
                f = jax.jit(lambda g: auc_and_grad(*args_fixed, g, etas, "theta", 0))
                t0 = time.perf_counter()
                out = _common.block(f(gamma))
                first = time.perf_counter() - t0
                t = _common.time_call(lambda: f(gamma), repeats=2, warmup=0)
                rows.append({"round": r, "unroll": k, "meta-gradient s (best of 2)": t["min_s"],
                             "first call s (compile)": first, "auc": float(out[0]),
                             "sum |dAUC/dgamma|": float(jnp.abs(out[1]).sum())})
    finally:
        jax.lax.scan = scan
    text = _common.print_table(rows, title=f"LM {preset.name}: meta-gradient (theta, adjoint), scans unrolled k")
    base = [r for r in rows if r["unroll"] == ks[0]]
    diff = max(abs(r["sum |dAUC/dgamma|"] / base[0]["sum |dAUC/dgamma|"] - 1) for r in rows)
    print(f"largest relative difference of sum |dAUC/dgamma| between k: {diff:.2e}")
    _common.write_result("lm_unroll", args, {"preset": preset.name, "rows": rows, "grad_sum_max_rel_diff": diff,
                                             "table": text})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
