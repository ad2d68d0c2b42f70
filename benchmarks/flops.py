"""Achieved FLOP/s of the perceptron meta-gradient vs a measured matmul peak of this machine.

FLOPs of one ``auc_and_grad`` (AUC and dAUC/dgamma through T steps, learning_law.metagrad), counted
analytically: a forward step costs 2 N d (logits) + 2 N d (the gamma-weighted gradient X^T r) + 2 K d
(dev loss), the backward pass about twice the forward, so ~3 T (4 N d + 2 K d) in all (``theta`` and
``block`` recompute the forward once more: 4x). XLA's own count is given too: ``cost_analysis()`` of
the whole program counts a ``lax.scan`` body once (not T times), so we also count one step's
forward + VJP with it and multiply by T.

References measured in the same run: a jitted float32 matmul (2048 x 2048, best of several: the
compute peak) and the matrix-vector products of one step (X w and X^T r at N x d: the memory-bound
rate the perceptron can at best reach, since every step is two mat-vecs).

    python benchmarks/flops.py [--quick] [--out FILE]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import _common
from learning_law import config as C
from learning_law import policy as P
from learning_law.inner import gd_step, lr_schedule, mean_loss
from learning_law.metagrad import auc_and_grad
from learning_law.tasks import make_perceptron

GFLOP = 1e9


def xla_flops(compiled) -> float | None:
    """The ``flops`` entry of XLA's cost analysis (None if the backend gives none)."""
    try:
        cost = compiled.cost_analysis()
    except Exception:  # noqa: BLE001 - not every backend implements it
        return None
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else {}
    return float(cost["flops"]) if cost and "flops" in cost else None


def matmul_peak(n: int, repeats: int) -> dict:
    """Best FLOP/s of a jitted float32 n x n matmul."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    f = jax.jit(jnp.matmul)
    t = _common.time_call(lambda: f(a, b), repeats=repeats, warmup=2)
    return {"reference": f"matmul {n}x{n} (compute peak)", "flops": 2.0 * n**3, "best_s": t["min_s"],
            "gflops_per_s": 2.0 * n**3 / t["min_s"] / GFLOP}


def matvec_rate(n: int, d: int, repeats: int) -> dict:
    """Best FLOP/s of the two mat-vecs of one perceptron step (X w, then X^T r), repeated 100 times."""
    x = jax.random.normal(jax.random.key(2), (n, d), jnp.float32)
    w = jax.random.normal(jax.random.key(3), (d,), jnp.float32)

    @jax.jit
    def f(w):  # a scan so the call overhead does not dominate a ~10 us op
        def body(w, _):
            r = jnp.tanh(x @ w)
            return w - 1e-3 * (x.T @ r), None
        return jax.lax.scan(body, w, None, length=100)[0]

    t = _common.time_call(lambda: f(w), repeats=repeats, warmup=2)
    flops = 100 * 4.0 * n * d
    return {"reference": f"mat-vecs X w, X^T r at {n}x{d}, x100 (memory bound)", "flops": flops,
            "best_s": t["min_s"], "gflops_per_s": flops / t["min_s"] / GFLOP}


def step_xla_flops(task, memory: str) -> float | None:
    """XLA's count for one inner step's forward + VJP (forward recomputed once more for theta/block)."""
    loss_fn = task.per_example_loss
    n = task.n_train

    def step(p, g_t, eta_t):
        return gd_step(loss_fn, p, task.train, g_t, eta_t), mean_loss(loss_fn, p, task.dev)

    def fwd_bwd(p, g_t, eta_t, ct_p, ct_l):
        out, vjp = jax.vjp(step, p, g_t, eta_t)
        return out, vjp((ct_p, ct_l))

    args = (task.init_params, jnp.full((n,), 1.0 / n, jnp.float32), jnp.float32(0.1), task.init_params,
            jnp.float32(1.0))
    total = xla_flops(jax.jit(fwd_bwd).lower(*args).compile())
    if total is None or memory == "full":
        return total
    fwd = xla_flops(jax.jit(step).lower(*args[:3]).compile())
    return None if fwd is None else total + fwd


def main() -> int:
    p = _common.parser(__doc__.split("\n")[0])
    args = p.parse_args()
    quick = args.quick
    cfg = C.PerceptronConfig(dim=64, n_train=1024) if quick else C.PerceptronConfig()
    steps = 200 if quick else C.InnerConfig().steps
    repeats = 3 if quick else 5
    task = make_perceptron(cfg)
    n, d, k = cfg.n_train, cfg.dim, cfg.n_dev
    gamma = jnp.asarray(P.constant(steps, n))
    etas = jnp.asarray(lr_schedule(steps, 0.1))
    forward = steps * (4.0 * n * d + 2.0 * k * d) + 2.0 * k * d

    refs = [matmul_peak(1024 if quick else 2048, repeats=repeats), matvec_rate(n, d, repeats=repeats)]
    peak = refs[0]["gflops_per_s"]
    rows = []
    for memory in ("full", "theta", "block"):
        compiled = auc_and_grad.lower(task.per_example_loss, task.init_params, task.train, task.dev, gamma, etas,
                                      memory, 0).compile()
        t = _common.time_call(lambda: compiled(task.init_params, task.train, task.dev, gamma, etas), repeats=repeats)
        useful = 3.0 * forward  # forward + backward (~2x): the work any implementation must do
        executed = useful + (forward if memory != "full" else 0.0)  # plus the recomputed forward
        per_step = step_xla_flops(task, memory)
        rows.append({"strategy": memory, "time_s": t["median_s"], "analytic_GFLOP": useful / GFLOP,
                     "executed_GFLOP": executed / GFLOP,
                     "xla_step_x_T_GFLOP": None if per_step is None else per_step * steps / GFLOP,
                     "xla_whole_GFLOP": (lambda f: None if f is None else f / GFLOP)(xla_flops(compiled)),
                     "achieved_GFLOP/s": useful / t["median_s"] / GFLOP,
                     "executed_GFLOP/s": executed / t["median_s"] / GFLOP,
                     "frac_of_matmul_peak": useful / t["median_s"] / GFLOP / peak,
                     "frac_of_matvec_rate": useful / t["median_s"] / GFLOP / refs[1]["gflops_per_s"]})
    _common.print_table(refs, title="references (float32, jitted, best of several; 2-core shared CPU)")
    _common.print_table(rows, title=f"perceptron meta-gradient d={d}, N={n}, K={k}, T={steps}: achieved FLOP/s "
                                    "(analytic = 3 x forward; xla_whole counts the scan body once)")
    _common.write_result("flops", args, {"sizes": {"dim": d, "n_train": n, "n_dev": k, "steps": steps},
                                         "references": refs, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
