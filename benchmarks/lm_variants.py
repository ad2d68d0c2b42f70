"""Two LM formulations tried for the outer step (issue 16, item 4), each beside today's, in one process.

1. **Attention** on the LM ``cpu`` preset's shapes (N 512 sequences, length 16, 4 heads of 8): today's
   ``einsum`` over [n, L, h, dh] (``learning_law.models.transformer.Block``) against the batch axis
   (n x h = 2048) moved to the minor position so that every product is an element-wise multiply-add over
   2048 lanes, (b) unrolled over the contracted axis and (c) as ``jnp.sum`` over a broadcast axis. Timed:
   the forward, ``jax.grad`` and forward-over-reverse (``jax.jvp`` of the gradient), the three transforms
   an outer step runs. The three forms agree to float32 rounding (printed).
2. **One backward step of the run's adjoint** (``theory.certificate.adjoint_step``, as ``auc_and_adjoint`` runs it) on the whole model:
   today's forward-over-reverse (``jax.jvp`` of the losses and their weighted gradient, plus the dev
   gradient) against reverse-over-forward (``jax.grad`` of -eta gamma . (the losses' JVP along lambda) +
   L_dev / (T + 1), which gives H lambda and the dev gradient in one reverse pass and the N products
   lambda . grad l_n as its auxiliary output). A plain training-step gradient is timed beside them.
3. **The search's evaluation dispatched together with the next meta-gradient** (JAX dispatches both
   asynchronously; does the CPU backend overlap them?): the meta-gradient alone (``auc_and_grad``, memory
   ``theta``), one evaluation run alone (``split_curves``: dev, test, validation), and both dispatched
   before either is awaited, against their sum.

    python benchmarks/lm_variants.py [--quick] [--repeats R] [--out FILE]
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

import _common
from learning_law import policy as P
from learning_law.inner import lr_schedule, split_curves
from learning_law.metagrad import auc_and_grad
from learning_law.tasks.lm import LM_PRESETS, make_lm
from theory.certificate import adjoint_step

_common.lm_xla_flags()  # the CLI's XLA flags for LM runs, before the first computation


def attention_forms(n: int, length: int, heads: int, dh: int):
    """{name: qkv [n L, 3 d] -> y [n L, d]} of the three forms (causal, softmax over keys)."""
    d = heads * dh
    mask = jnp.tril(jnp.ones((length, length), bool))

    def einsum(qkv):
        q, k, v = jnp.split(qkv.reshape(n, length, 3, heads, dh), 3, axis=2)
        s = jnp.einsum("nqhd,nkhd->nhqk", q[:, :, 0], k[:, :, 0]) / math.sqrt(dh)
        a = jax.nn.softmax(jnp.where(mask, s, -1e9), axis=-1)
        return jnp.einsum("nhqk,nkhd->nqhd", a, v[:, :, 0]).reshape(n * length, d)

    def minor(qkv, unrolled: bool):
        t = qkv.reshape(n, length, 3, heads, dh).transpose(2, 1, 4, 0, 3).reshape(3, length, dh, n * heads)
        q, k, v = t[0], t[1], t[2]  # [L, dh, B]
        if unrolled:
            s = sum(q[:, None, c, :] * k[None, :, c, :] for c in range(dh))
        else:
            s = jnp.sum(q[:, None] * k[None, :], axis=2)
        a = jax.nn.softmax(jnp.where(mask[:, :, None], s / math.sqrt(dh), -1e9), axis=1)  # [Lq, Lk, B]
        if unrolled:
            y = sum(a[:, j, None, :] * v[None, j, :, :] for j in range(length))
        else:
            y = jnp.sum(a[:, :, None, :] * v[None, :, :, :], axis=1)
        return y.reshape(length, dh, n, heads).transpose(2, 0, 3, 1).reshape(n * length, d)

    return {"einsum (today)": einsum, "batch minor, unrolled": lambda x: minor(x, True),
            "batch minor, jnp.sum": lambda x: minor(x, False)}


def adjoint_steps(task, steps: int):
    """(today's, reverse-over-forward, training gradient) jitted functions of (params, lambda, gamma row)."""
    loss_fn, train, dev = task.per_example_loss, task.train, task.dev
    scale, eta = 1.0 / (steps + 1), 0.1
    fwd_over_rev = jax.jit(lambda p, lam_next, g_t: adjoint_step(loss_fn, train, dev, p, lam_next, g_t, eta, scale))

    @jax.jit
    def rev_over_fwd(p, lam_next, g_t):
        def phi(q):
            dots = jax.jvp(lambda r: loss_fn(r, train), (q,), (lam_next,))[1]
            l_dev = jnp.mean(loss_fn(q, dev))
            return -eta * jnp.dot(g_t, dots) + scale * l_dev, (dots, l_dev)
        g_phi, (dots, l_dev) = jax.grad(phi, has_aux=True)(p)
        return jax.tree_util.tree_map(jnp.add, lam_next, g_phi), dots, l_dev

    @jax.jit
    def gradient(p, g_t):
        return jax.grad(lambda q: jnp.dot(g_t, loss_fn(q, train)))(p)

    return fwd_over_rev, rev_over_fwd, gradient


def _rel_diff(a, b) -> float:
    return max(float(jnp.max(jnp.abs(x - y)) / (jnp.max(jnp.abs(x)) + 1e-30))
               for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def main() -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=None, help="timed calls per row (default 20; quick 3)")
    args = p.parse_args()
    if args.repeats is not None and args.repeats < 1:
        p.error(f"--repeats {args.repeats} is invalid: allowed an integer >= 1")
    preset = LM_PRESETS["tiny" if args.quick else "cpu"]
    repeats = args.repeats or (3 if args.quick else 20)
    task = make_lm(preset.task)
    cfg = preset.task
    n, length = task.n_train, cfg.seq_len
    heads, d = cfg.n_heads, cfg.d_model
    print(f"LM preset {preset.name}: N {n}, length {length}, heads {heads}, d {d}", flush=True)

    # 1. attention forms
    forms = attention_forms(n, length, heads, d // heads)
    x = jax.random.normal(jax.random.key(0), (n * length, 3 * d), jnp.float32)
    w = jax.random.normal(jax.random.key(1), (n * length, d), jnp.float32)
    ref = forms["einsum (today)"](x)
    att_rows = []
    for name, f in forms.items():
        loss = lambda q, f=f: jnp.sum(f(q) * w)  # noqa: E731
        fwd, grad = jax.jit(f), jax.jit(jax.grad(loss))
        hvp = jax.jit(lambda q, loss=loss: jax.jvp(jax.grad(loss), (q,), (jnp.ones_like(q),)))
        times = {k: 1e3 * _common.time_call(lambda fn=fn: fn(x), repeats=repeats)["median_s"]
                 for k, fn in (("forward ms", fwd), ("grad ms", grad), ("jvp(grad) ms", hvp))}
        att_rows.append({"form": name, **times, "max abs diff to today": float(jnp.max(jnp.abs(f(x) - ref)))})
    base = att_rows[0]["jvp(grad) ms"]
    for r in att_rows:
        r["jvp(grad) / today's"] = r["jvp(grad) ms"] / base
    _common.print_table(att_rows, title=f"attention, {n} sequences x {heads} heads, median of {repeats}")

    # 2. one backward step of the adjoint
    steps = preset.inner.steps
    fwd_over_rev, rev_over_fwd, gradient = adjoint_steps(task, steps)
    p0 = task.init_params
    g = jnp.asarray(P.constant(1, n))[0]
    lam = jax.tree_util.tree_map(lambda a: 1e-3 * jnp.ones_like(a), p0)
    diff = _rel_diff(fwd_over_rev(p0, lam, g), rev_over_fwd(p0, lam, g))
    step_rows = [{"backward step": name, "ms": 1e3 * _common.time_call(fn, repeats=repeats)["median_s"]}
                 for name, fn in (("forward-over-reverse + dev gradient (today)", lambda: fwd_over_rev(p0, lam, g)),
                                  ("reverse-over-forward (one jax.grad)", lambda: rev_over_fwd(p0, lam, g)),
                                  ("a training step's gradient (reference)", lambda: gradient(p0, g)))]
    for r in step_rows:
        r["/ today's"] = r["ms"] / step_rows[0]["ms"]
    _common.print_table(step_rows, title=f"one backward step of the adjoint, whole model (max relative difference "
                                         f"of the two: {diff:.2g}), median of {repeats}")
    # 3. evaluation and meta-gradient dispatched together
    inner = preset.inner
    gamma = jnp.asarray(P.constant(steps, n))
    etas = jnp.asarray(lr_schedule(steps, inner.lr, inner.warmup_steps))
    val = task.val if task.val is not None else task.test
    mg = lambda: auc_and_grad(task.per_example_loss, p0, task.train, task.dev, gamma, etas, "theta", 0)  # noqa: E731
    ev = lambda: split_curves(task.per_example_loss, p0, task.train, (task.dev, task.test, val), gamma, etas)  # noqa: E731
    r3 = max(1, repeats // 5)
    t_mg, t_ev = (_common.time_call(f, repeats=r3)["median_s"] for f in (mg, ev))
    t_both = _common.time_call(lambda: (ev(), mg()), repeats=r3)["median_s"]
    overlap = [{"run": "meta-gradient (theta)", "s": t_mg}, {"run": "evaluation (1 run)", "s": t_ev},
               {"run": "both, dispatched together", "s": t_both}, {"run": "their sum", "s": t_mg + t_ev}]
    _common.print_table(overlap, title=f"evaluation overlapped with the meta-gradient? saved {t_mg + t_ev - t_both:.2f} s "
                                       f"of the evaluation's {t_ev:.2f} s (median of {r3})")
    _common.write_result("lm_variants", args, {"attention": att_rows, "adjoint_step": step_rows,
                                                "adjoint_max_rel_diff": diff, "overlap": overlap})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
