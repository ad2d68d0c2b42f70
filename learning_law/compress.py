r"""Prequential compression, for real (paper App. A, Algorithms 1-2; PAPER.md Section 1).

At every inner step t = 0..T-1 the next item of the stream, the desired (dev) example ``t mod K``, is
arithmetic-coded under the model as it is at that step, theta_t; then the model takes its step under
the policy. The code length is the sum of the per-symbol losses in bits plus the coder's few bits
(:mod:`theory.coding`), so this turns the AUC objective into a file size one can check:

.. math:: \text{coded bits} \approx \sum_{t=0}^{T-1} -\log_2 p_{\theta_t}(x_t)
          \approx T\,\mathrm{AUC} / \ln 2 \quad\text{(one example per step)}.

The training (the task's full-batch inner run, as in :mod:`learning_law.inner`) runs as jitted
``lax.scan`` chunks that also return the predictive distribution of the one example coded at each step
(``Task.symbol_probs``); the host quantises and codes each chunk while the next one is computed. Chunks
are sized so ``[steps, S, V]`` never exceeds :data:`PROBS_BUDGET` floats.

Decoding re-runs the same training from theta_0 (the decoder knows the train split, the policy and
the dev inputs; the coded symbols are the stream) and decodes each step's symbols with that step's
model; the stream is lossless when the decoded symbols equal the coded ones (``roundtrip_ok``). The
model's distribution at a position depends only on theta_t and, for the LM, on the tokens before it,
which a sequential decoder has already recovered; we compute those distributions in one batched pass.

What the code does not count: the decoder's side information (train split, dev inputs, theta_0, the
settings and the policy). For the constant policy that is a short program, as in the paper's "tiny
training code"; an optimised gamma is a stored ``[T, N]`` array, searched on these same dev examples,
whose own description length is not included in ``coded_bits``.
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import theory
from learning_law import config as C
from learning_law import optimizers as O
from learning_law import policy as P
from learning_law import record as R
from learning_law.errors import NumericalError, UsageError
from learning_law.inner import eval_losses, gd_step, lr_schedule, mean_loss
from learning_law.progress import bar
from learning_law.sharding import place_policy
from learning_law.tasks.base import PyTree, Task
from theory import coding

PROBS_BUDGET = 1 << 24  # floats of [steps, S, V] held per chunk (64 MiB in float32)
MAX_CHUNK = 250  # steps per chunk at most (progress and NaN checks between chunks)


def chunk_steps(positions: int, vocab: int, steps: int) -> int:
    """Steps per chunk: at most MAX_CHUNK and PROBS_BUDGET / (S V), at least 1."""
    return max(1, min(MAX_CHUNK, steps, PROBS_BUDGET // max(1, positions * vocab)))


@partial(jax.jit, static_argnames=("loss_fn", "probs_fn", "opt"))
def stream_chunk(loss_fn, probs_fn, opt: O.InnerOpt, params: PyTree, opt_state, train: PyTree, dev: PyTree,
                 gamma, etas, t0):
    """``C = gamma.shape[0]`` inner steps from step ``t0``, recording what step t codes before it trains.

    Returns ``(params, opt_state, rec)`` with ``rec``: ``probs [C, S, V]``, ``symbols [C, S]``,
    ``mask [C, S]`` of the dev example ``t mod K`` under theta_t, its loss ``[C]`` (nats) and the dev
    loss L(theta_t) ``[C]``.
    """
    k = jax.tree_util.tree_leaves(dev)[0].shape[0]
    ts = t0 + jnp.arange(gamma.shape[0])

    def step(carry, xs):
        p, s = carry
        g_t, eta_t, t = xs
        example = jax.tree_util.tree_map(lambda a: jax.lax.dynamic_index_in_dim(a, t % k, keepdims=True), dev)
        probs, symbols, mask = probs_fn(p, example)
        rec = {"probs": probs[0], "symbols": symbols[0], "mask": mask[0], "loss": loss_fn(p, example)[0],
               "dev_loss": mean_loss(loss_fn, p, dev)}
        if opt == O.GD:  # the paper's update, bit for bit as in inner.run_chunk
            return (gd_step(loss_fn, p, train, g_t, eta_t), s), rec
        return O.step(loss_fn, opt, p, s, train, g_t, eta_t, t), rec

    (params, opt_state), rec = jax.lax.scan(step, (params, opt_state), (gamma, etas, ts))
    return params, opt_state, rec


def _stream(task: Task, gamma: np.ndarray, etas: np.ndarray, opt: O.InnerOpt, chunk: int, pbar):
    """Yield ``(t0, rec)`` per chunk (numpy), then ``(T, params_T)``: the run the coder and decoder share."""
    steps = gamma.shape[0]
    params, state = task.init_params, O.init_state(opt, task.init_params)
    for t0 in range(0, steps, chunk):
        c = min(chunk, steps - t0)
        params, state, rec = stream_chunk(task.per_example_loss, task.symbol_probs, opt, params, state,
                                          task.train, task.dev, place_policy(gamma[t0:t0 + c], task.mesh),
                                          jnp.asarray(etas[t0:t0 + c]), t0)
        rec = jax.device_get(rec)
        bad = ~np.isfinite(rec["dev_loss"]) | ~np.isfinite(rec["probs"]).reshape(c, -1).all(axis=1)
        if bad.any():
            raise NumericalError(f"the model's probabilities or the dev loss became NaN/inf at inner step "
                                 f"{t0 + int(np.argmax(bad))}; try a smaller --lr")
        yield t0, rec
        pbar.update(c)
    yield steps, params


def _coded(rec: dict) -> tuple[np.ndarray, np.ndarray]:
    """The real (masked) positions of a chunk, in stream order: probs ``[m, V]``, symbols ``[m]``."""
    mask = np.asarray(rec["mask"], dtype=bool).reshape(-1)
    probs = rec["probs"].reshape(mask.size, -1)[mask]
    return probs, np.asarray(rec["symbols"]).reshape(-1)[mask].astype(np.int64)


@partial(jax.jit, static_argnames=("probs_fn",))
def _real_positions(probs_fn, params: PyTree, dev: PyTree):
    """Number of coded (unmasked) positions of every dev example ``[K]``, one example at a time."""
    one = lambda ex: probs_fn(params, jax.tree_util.tree_map(lambda a: a[None], ex))[2].sum()  # noqa: E731
    return jax.lax.map(one, dev)


def _shapes(task: Task) -> tuple[int, int]:
    """(S, V) of ``task.symbol_probs`` on one dev example; UsageError when it is missing or malformed."""
    if task.symbol_probs is None:
        raise UsageError(f"task={task.name!r} has no symbol_probs (its predictive distribution per coded "
                         "symbol), so it cannot be arithmetic-coded; tasks with it: perceptron")
    one = jax.tree_util.tree_map(lambda a: a[:1], task.dev)
    probs, symbols, mask = jax.eval_shape(task.symbol_probs, task.init_params, one)
    if len(probs.shape) != 3 or probs.shape[0] != 1 or symbols.shape != probs.shape[:2] or mask.shape != symbols.shape:
        raise UsageError(f"task {task.name!r}: symbol_probs returned shapes {probs.shape}, {symbols.shape}, "
                         f"{mask.shape}: expected [n, S, V], [n, S], [n, S]")
    if not jnp.issubdtype(symbols.dtype, jnp.integer):
        raise UsageError(f"task {task.name!r}: symbol_probs returned symbols of dtype {symbols.dtype}: expected ints")
    return int(probs.shape[1]), int(probs.shape[2])


def compress(
    task: Task,
    policy,
    inner: C.InnerConfig,
    out: str | Path,
    *,
    policy_name: str | None = None,
    total: int = coding.DEFAULT_TOTAL,
    verify: bool = True,
    progress: bool = True,
    extra_config: dict | None = None,
) -> dict:
    """Train under ``policy`` and arithmetic-code the dev stream prequentially; write ``out``.

    Args:
      task: any task with ``symbol_probs``.
      policy: ``gamma [T, N]``, or a spec for :func:`learning_law.policy.resolve` ('constant', a .npy,
        an optimize folder).
      inner: the inner run (T = ``inner.steps``; one dev example coded per step).
      total: target sum of each position's integer frequencies (quantisation; see theory.coding).
      verify: decode the bytes back (re-running the training) and compare: ``roundtrip_ok``.

    Writes ``config.json``, ``stream.bin`` (the code) and, last, ``summary.json``; returns the summary.
    """
    positions, vocab = _shapes(task)
    steps, n = inner.steps, task.n_train
    if not (isinstance(total, int) and vocab + 1 <= total <= coding.MAX_TOTAL):
        raise UsageError(f"total={total!r} is invalid: allowed an integer in [|V| + 1 = {vocab + 1}, 2^40]")
    if inner.batch_size > n:
        raise UsageError(f"batch_size={inner.batch_size} is invalid: allowed [0, n_train={n}]")
    if isinstance(policy, (str, Path)):
        gamma, name = P.resolve(str(policy), steps, n)
    else:
        gamma, name = P.validate(policy, steps, n, name="policy"), "array"
    policy_name = policy_name or name
    opt = O.from_config(inner)
    etas = lr_schedule(steps, inner.lr, inner.warmup_steps)
    chunk = chunk_steps(positions, vocab, steps)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    R.write_json(out / "config.json", {
        "kind": "compress", "task": task.name, "task_config": C.asdict(task.config), "inner": C.asdict(inner),
        "policy": policy_name, "total": total, "verify": verify, "versions": R.versions(), **(extra_config or {})})

    t_start = time.perf_counter()
    enc = coding.Encoder()
    coded_symbols, dev_loss = [], []
    loss_bits = loss_bits_from_losses = 0.0
    code_s = 0.0
    with bar(steps, "train+encode", progress) as pbar:
        for t0, rec in _stream(task, gamma, etas, opt, chunk, pbar):
            if t0 == steps:
                params_final = rec
                break
            t_code = time.perf_counter()
            probs, symbols = _coded(rec)
            enc.encode_probs(symbols, probs, total)
            code_s += time.perf_counter() - t_code
            loss_bits += coding.ideal_bits(symbols, probs)
            n_real = np.asarray(rec["mask"]).sum(axis=1)
            loss_bits_from_losses += float(np.dot(rec["loss"].astype(np.float64), n_real)) / math.log(2)
            coded_symbols.append(symbols)
            dev_loss.append(rec["dev_loss"])
            pbar.set_postfix(bits=f"{8 * enc.size_bytes}", loss_bits=f"{loss_bits:.0f}")
    t_code = time.perf_counter()
    data = enc.finish()
    code_s += time.perf_counter() - t_code
    train_encode_s = time.perf_counter() - t_start
    R.atomic_write(out / "stream.bin", lambda f: f.write(data))
    coded_symbols = np.concatenate(coded_symbols)

    roundtrip_ok, decode_s = None, None
    if verify:
        t_dec = time.perf_counter()
        dec = coding.Decoder(data)
        decoded = []
        with bar(steps, "re-train+decode", progress) as pbar:
            for t0, rec in _stream(task, gamma, etas, opt, chunk, pbar):
                if t0 == steps:
                    break
                probs, _ = _coded(rec)  # the decoder uses only the model's distributions
                decoded.append(dec.decode_probs(probs, total))
        decoded = np.concatenate(decoded)
        roundtrip_ok = bool(decoded.shape == coded_symbols.shape and (decoded == coded_symbols).all())
        decode_s = time.perf_counter() - t_dec

    final_dev, _ = eval_losses(task.per_example_loss, params_final, task.dev, task.dev)
    dev_curve = np.concatenate(dev_loss + [[float(final_dev)]]).astype(np.float64)
    auc = float(theory.auc(dev_curve))
    mean_positions = float(np.mean(_real_positions(task.symbol_probs, task.init_params, task.dev)))
    coded_bits = 8 * len(data)
    n_symbols = int(coded_symbols.size)
    raw_bits = n_symbols * math.log2(vocab) if vocab > 1 else 0.0
    summary = {
        "task": task.name,
        "policy": policy_name,
        "steps": steps,
        "symbols": n_symbols,
        "vocab_size": vocab,
        "positions_per_example": positions,
        "bytes": len(data),
        "coded_bits": coded_bits,
        "loss_bits": loss_bits,
        "loss_bits_from_losses": loss_bits_from_losses,
        "excess_bits": coded_bits - loss_bits,
        "coded_over_loss": coded_bits / loss_bits if loss_bits > 0 else None,
        "overhead_bound_bits": coding.overhead_bound_bits(n_symbols, vocab, total),
        "raw_bits": raw_bits,
        "compression_ratio_bits": raw_bits / coded_bits if coded_bits else None,
        "compression_ratio_bits_ideal": raw_bits / loss_bits if loss_bits > 0 else None,
        "bits_per_symbol": coded_bits / n_symbols if n_symbols else None,
        "roundtrip_ok": roundtrip_ok,
        "auc": auc,
        "expected_bits_from_auc": steps * auc * mean_positions / math.log(2),
        "final_dev_loss": float(final_dev),
        "quantization_total": total,
        "chunk_steps": chunk,
        "train_encode_s": train_encode_s,
        "encode_s": code_s,
        "decode_s": decode_s,
        "finished": True,
    }
    R.write_json(out / "summary.json", summary)
    return summary
