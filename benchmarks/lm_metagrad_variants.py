"""Four more ways to run the LM meta-gradient (issue 16, item 4), each beside today's, as whole runs; and
attention's share of it.

    python benchmarks/lm_metagrad_variants.py [--quick] [--skip-flags] [--out FILE]

Every row is the whole meta-gradient of the LM ``cpu`` preset's run (``theory.certificate.auc_and_adjoint``,
memory ``theta``, the constant policy), best of 2 calls after one that compiles; every row prints its AUC and
sum |dAUC/dgamma| (the same run, so they agree to float32 rounding):

1. **today**: the adjoint recursion as the library runs it.
2. **stored linearisation**: the forward scan keeps ``jax.linearize`` of theta -> (losses, weighted gradient)
   at every step (its residuals), so that the reverse scan applies only the tangent map instead of a whole
   ``jax.jvp`` (no recomputation of the primal forward and backward). Its XLA temporaries are printed.
3. **micro-batched losses** (64 and 128 rows per chunk, with and without ``jax.checkpoint``): smaller
   activations that stay in cache, against more, smaller operations.
4. **attention without major-axis contractions**: the profile of today's step shows batched products
   that contract the query axis (the major axis of both operands: the reverse pass's d v = att^T d y and
   d k = d s^T q). XLA's CPU backend runs that form much slower than the other two (it does not go to its
   fast library path; the times: benchmarks/README.md). Here the two attention products are a custom-JVP ``bmm`` whose tangent writes
   a @ d b with materialised transposes, so that its transpose contracts minor axes: no such product is
   left in the compiled program (forward, reverse and forward-over-reverse).
6. **attention removed** (an ablation, not a model: each block's attention output is its values ``v``, the
   rest unchanged): how much of the meta-gradient's time the attention takes. Its AUC differs, of course.
Rows 1-4 and 6 run in this process, with the XLA flags the CLI sets (``learning_law.xla_flags``; printed).

5. **XLA CPU flags and cores** (each in a fresh process, as flags are process-wide; the row "XLA defaults"
   is run the same way for a fair comparison; "both" is what the CLI sets): YNNPACK for every individual dot
   (``--xla_cpu_experimental_ynn_fusion_type=individual_dot``), single-threaded Eigen, both, and one core.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import subprocess
import sys
import time

FLAG_ROWS = (("XLA defaults", "", None),
             ("YNNPACK individual dots", "--xla_cpu_experimental_ynn_fusion_type=individual_dot", None),
             ("single-threaded Eigen", "--xla_cpu_multi_thread_eigen=false", None),
             ("both", "--xla_cpu_experimental_ynn_fusion_type=individual_dot --xla_cpu_multi_thread_eigen=false",
              None),
             ("one core", "", 1))


def _child_setup() -> None:
    """``--child CORES``: pin this process to that many cores before JAX starts its thread pools."""
    if "--child" in sys.argv:
        cores = int(sys.argv[sys.argv.index("--child") + 1])
        if cores > 0:
            os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))


_child_setup()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import _common  # noqa: E402
from learning_law import policy as P  # noqa: E402
from learning_law import xla_flags  # noqa: E402
from learning_law.inner import lr_schedule  # noqa: E402
from learning_law.models import transformer as TR  # noqa: E402
from learning_law.tasks.lm import LM_PRESETS, make_lm  # noqa: E402
from theory.certificate import auc_and_adjoint  # noqa: E402

_common.lm_xla_flags()  # the CLI's XLA flags for LM runs, before the first computation


def linearised_adjoint(loss_fn, params0, train, dev, gamma, etas):
    """(AUC, dAUC/dgamma) with the reverse scan applying the stored linearisation of every step."""
    steps = gamma.shape[0]
    scale = 1.0 / (steps + 1)
    dev_vg = jax.value_and_grad(lambda p: jnp.mean(loss_fn(p, dev)))

    def forward(p, xs):
        g_t, eta_t = xs

        def losses_and_grad(q):
            losses, pullback = jax.vjp(lambda r: loss_fn(r, train), q)
            return losses, pullback(g_t)[0]

        (_, grad), tangent_map = jax.linearize(losses_and_grad, p)  # a Partial: a pytree of residuals
        return jax.tree_util.tree_map(lambda a, b: a - eta_t * b, p, grad), (p, tangent_map)

    theta_T, (thetas, maps) = jax.lax.scan(forward, params0, (gamma, etas))
    loss_T, g_T = dev_vg(theta_T)

    def backward(lam_next, xs):
        p, tangent_map, eta_t = xs
        dots, hvp = tangent_map(lam_next)
        l_dev, g_dev = dev_vg(p)
        lam = jax.tree_util.tree_map(lambda gd, ln, hv: scale * gd + ln - eta_t * hv, g_dev, lam_next, hvp)
        return lam, (-eta_t * dots, l_dev)

    lam_T = jax.tree_util.tree_map(lambda x: scale * x, g_T)
    _, (grad, losses) = jax.lax.scan(backward, lam_T, (thetas, maps, etas), reverse=True)
    return (jnp.sum(losses) + loss_T) * scale, grad


@dataclasses.dataclass(frozen=True)
class ChunkedLoss:
    """The task's per-sequence loss over chunks of ``rows`` sequences (``lax.map``) without rematerialisation
    (the library's ``TransformerLoss(micro_batch=rows)`` checkpoints every chunk)."""

    base: TR.TransformerLoss
    rows: int

    def __call__(self, params, batch):
        seqs = batch["tokens"]
        n = seqs.shape[0]
        fn = functools.partial(TR.sequence_losses, self.base.cfg, params, pad_id=self.base.pad_id)
        if n <= self.rows or n % self.rows:
            return fn(seqs)
        return jax.lax.map(fn, seqs.reshape(n // self.rows, self.rows, -1)).reshape(n)


@jax.custom_jvp
def bmm(a, b):
    """Batched a @ b ([..., m, k] @ [..., k, n])."""
    return jnp.matmul(a, b)


@bmm.defjvp
def _bmm_jvp(primals, tangents):
    a, b = primals
    da, db = tangents
    # a @ db written as ((db^T a^T))^T with both transposes materialised (optimization_barrier keeps XLA from
    # folding them back into the dot): its transpose, the cotangent of b, is then ct^T a with ct^T and a^T
    # real arrays, a dot contracting the minor axis of both instead of the major axis.
    bar = jax.lax.optimization_barrier
    a_t = bar(jnp.swapaxes(a, -1, -2))
    t2 = bar(jnp.swapaxes(bar(jnp.matmul(jnp.swapaxes(db, -1, -2), a_t)), -1, -2))
    return jnp.matmul(a, b), jnp.matmul(da, b) + t2


def block_without_major_contractions(self, x):
    """``learning_law.models.transformer.Block.__call__`` with the two attention products through :func:`bmm`."""
    n, length, d = x.shape
    h = self.n_heads
    x = x.reshape(n * length, d)
    qkv = jnp.transpose(self.qkv(self.norm1(x)).reshape(n, length, 3, h, d // h), (2, 0, 3, 1, 4))
    q, k, v = qkv[0], qkv[1], qkv[2]  # [n, h, L, dh]
    scores = bmm(q, jnp.swapaxes(k, -1, -2)) / math.sqrt(d // h)
    causal = jnp.tril(jnp.ones((length, length), dtype=bool))
    att = jax.nn.softmax(jnp.where(causal, scores, jnp.asarray(-1e30, scores.dtype)), axis=-1)
    y = jnp.transpose(bmm(att, v), (0, 2, 1, 3)).reshape(n * length, d)
    x = x + self.proj(y)
    x = x + self.ff2(jax.nn.relu(self.ff1(self.norm2(x))))
    return x.reshape(n, length, d)


def block_without_attention(self, x):
    """The ablation of item 6: ``Block.__call__`` with the attention output replaced by the values."""
    n, length, d = x.shape
    x = x.reshape(n * length, d)
    y = jnp.split(self.qkv(self.norm1(x)), 3, axis=-1)[2]
    x = x + self.proj(y)
    x = x + self.ff2(jax.nn.relu(self.ff1(self.norm2(x))))
    return x.reshape(n, length, d)


def measure(fn, args) -> dict:
    """Compile + first call, then the best of 2 calls; the AUC, sum |grad| and XLA's temporaries."""
    jitted = jax.jit(fn)
    t0 = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    out = _common.block(compiled(*args))
    first = time.perf_counter() - t0
    best = _common.time_call(lambda: compiled(*args), repeats=2, warmup=0)["min_s"]
    try:
        temp = compiled.memory_analysis().temp_size_in_bytes / 2**30
    except Exception:  # noqa: BLE001 - not every backend reports it
        temp = float("nan")
    return {"meta-gradient s": best, "compile + first s": first, "XLA temporaries GiB": temp,
            "auc": float(out[0]), "sum |dAUC/dgamma|": float(jnp.abs(out[1]).sum())}


def setting(quick: bool):
    preset = LM_PRESETS["tiny" if quick else "cpu"]
    task = make_lm(preset.task)
    inner = preset.inner
    gamma = jnp.asarray(P.constant(inner.steps, task.n_train))
    etas = jnp.asarray(lr_schedule(inner.steps, inner.lr, inner.warmup_steps))
    return preset, task, (task.init_params, task.train, task.dev, gamma, etas)


def today(loss_fn):
    return lambda p0, tr, dv, g, e: auc_and_adjoint(loss_fn, p0, tr, dv, g, e, "theta", 1, False)[:2]


def main() -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--skip-flags", action="store_true", help="leave out item 5 (the fresh processes)")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    preset, task, run_args = setting(args.quick)
    loss = task.per_example_loss
    if args.child is not None:  # one row of item 5: today's meta-gradient in this process's flags
        print(json.dumps(measure(today(loss), run_args)), flush=True)
        return 0
    print(f"LM preset {preset.name}: N {task.n_train}, T {preset.inner.steps}; XLA_FLAGS in this process: "
          f"{os.environ.get('XLA_FLAGS', '') or '(none)'}", flush=True)
    rows = [{"variant": "today (adjoint, memory theta)", **measure(today(loss), run_args)},
            {"variant": "stored linearisation",
             **measure(lambda *a: linearised_adjoint(loss, *a), run_args)}]
    rows_per = (4, 8) if args.quick else (64, 128)
    for r in rows_per:
        for remat in (True, False):
            chunked = dataclasses.replace(loss, micro_batch=r) if remat else ChunkedLoss(loss, r)
            rows.append({"variant": f"micro-batches of {r}{' (checkpointed)' if remat else ''}",
                         **measure(today(chunked), run_args)})
    block_call = TR.Block.__call__
    for name, call in (("attention without major-axis contractions", block_without_major_contractions),
                       ("attention removed (ablation; another AUC)", block_without_attention)):
        try:
            TR.Block.__call__ = call
            jax.clear_caches()
            rows.append({"variant": name, **measure(today(loss), run_args)})
        finally:
            TR.Block.__call__ = block_call
            jax.clear_caches()
    flag_rows = []
    if not args.skip_flags:
        for name, flags, cores in FLAG_ROWS:
            env = {**os.environ, "XLA_FLAGS": flags, xla_flags.OPT_OUT: "0"}  # exactly these flags
            cmd = [sys.executable, __file__, "--child", str(cores or 0)] + (["--quick"] if args.quick else [])
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
            if proc.returncode != 0:
                raise SystemExit(f"{name}: the child process failed:\n{proc.stderr[-2000:]}")
            flag_rows.append({"variant": name, "XLA_FLAGS": flags or "(none)", "cores": cores or os.cpu_count(),
                              **json.loads(proc.stdout.strip().splitlines()[-1])})
    base = rows[0]
    for r in rows + flag_rows:
        ref = flag_rows[0] if r in flag_rows else base
        r["/ today's"] = r["meta-gradient s"] / ref["meta-gradient s"]
    cols = ["variant", "meta-gradient s", "/ today's", "XLA temporaries GiB", "auc", "sum |dAUC/dgamma|"]
    text = _common.print_table(rows, cols, title=f"LM {preset.name}: the meta-gradient, best of 2 calls")
    if flag_rows:
        text += "\n" + _common.print_table(flag_rows, ["variant", "cores", "meta-gradient s", "/ today's",
                                                       "sum |dAUC/dgamma|"],
                                           title="today's meta-gradient in fresh processes (flags / cores)")
    _common.write_result("lm_metagrad_variants", args, {"preset": preset.name, "rows": rows,
                                                        "flag_rows": flag_rows, "table": text})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
