"""The LM outer step's FLOPs, counted analytically, and the matmul rates this CPU reaches at the model's own
shapes (``lm_profile.py``'s FLOP floor): a helper module of the benchmarks, not a script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

from _common import timed
from flops import matmul_peak
from learning_law import xla_flags

GFLOP = 1e9
PROFILE_SCRIPT = Path(__file__).resolve().parent / "lm_profile.py"  # its --rates-only runs reference_rates


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
    cmd = [sys.executable, str(PROFILE_SCRIPT), "--rates-only"] + (["--quick"] if quick else [])
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
