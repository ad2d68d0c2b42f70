r"""Online, unroll-free learning policies: the run. gamma[t] is chosen at step t, inside the training scan,
by one of the rules of :mod:`learning_law.online_rules` (``online:NAME``), from the per-example
train losses and contributions measured at that step; training and the policy run in ONE ``lax.scan``
and the gamma actually used is returned, so :func:`learning_law.train.train` replays it exactly.

Inner optimisers and mini-batches (``--optimizer``, ``--batch-size``): the parameter update is the
inner optimiser's (:mod:`learning_law.optimizers`, its state carried in the scan) on the policy-weighted
gradient, over the step's mini-batch with gamma renormalised on it, exactly as a scheduled policy is
trained, so ``gamma.npy`` replays under the same settings. The contribution a policy sees follows the
optimiser as the optimised search does: under Adam it is the preconditioned
:math:`CT^P_{t,n} = \nabla L(\theta_t) \cdot P_t \nabla l_n(\theta_t)` (see :func:`_step`). Under
mini-batches the policy still measures all N examples at every refresh (its state covers them all), so a
refresh step costs a full-batch forward and JVP; ``every > 1`` makes the steps between refreshes cost a
mini-batch step.

Cost: one step of ``equalize``/``dropneg``/``greedy`` adds the dev gradient and one JVP of the N train
losses to a constant-policy step; :func:`train_online` measures and records the time ratio.
"""

from __future__ import annotations

import dataclasses
import math
import time
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from learning_law import config as C
from learning_law import optimizers as O
from learning_law import precision as PR
from learning_law import record as R
from learning_law.distributed import to_host
from learning_law.errors import NumericalError, UsageError
from learning_law.inner import eval_losses, lr_schedule, mean_loss, run_chunk
from learning_law.policy import constant as constant_policy
from learning_law.policy import fingerprint
from learning_law.progress import bar
from learning_law.tasks.base import PerExampleLoss, PyTree, Task
from learning_law.online_rules import (NAMES, POLICIES, PREFIX, DropNegative, Equalize, Greedy,  # noqa: F401 (re-exported)
                                       LossProportional, _uniform, is_online, make_policy, parse_spec, spec_record)
from learning_law.train import (_chunk_size, _save_partial, assemble_records, bar_auc, check_chunk, save_record,
                                summarize)

# ---------------------------------------------------------------------------------------------------
# The scanned run.


class Carry(NamedTuple):
    """What the scan carries from step to step (a pytree)."""

    params: PyTree  # theta_t
    opt_state: Any  # the inner optimiser's state (optax), s_t
    state: Any  # the policy's own state (equalize: the weights w)
    gamma: Array  # [N] the row used at step t - 1 (uniform before step 0)


def _weighted_grad(loss_fn: PerExampleLoss, opt: O.InnerOpt, params: PyTree, train: PyTree, transpose,
                   gamma_t: Array, t) -> PyTree:
    """The gradient the inner optimiser is given at step t: full batch from the linearisation already
    computed (``transpose``), or the step's mini-batch with gamma renormalised over it
    (:func:`learning_law.optimizers.weighted_grad`)."""
    if opt.batch_size == 0:
        return transpose(gamma_t)[0]
    return O.weighted_grad(loss_fn, opt, params, train, gamma_t, t)


def _step(loss_fn: PerExampleLoss, policy, opt: O.InnerOpt, train: PyTree, dev: PyTree, test: PyTree,
          carry: Carry, eta_t: Array, t, record: bool):
    """One online step: measure at theta_t, choose gamma_t, take the inner optimiser's step.

    ``record`` adds per-example outputs (losses, CT, and ``ct_precond`` under Adam) and forces the JVP
    even for a policy that does not need it.

    The train losses are linearised once (``jax.linearize``): the same forward pass gives the losses,
    CT (its JVP along grad L_dev, as :func:`learning_law.inner.contributions`) and the full-batch
    weighted gradient (its transpose applied to gamma_t), so a GD online step costs one forward, one JVP
    and one VJP over the N examples; constant training costs a forward and a VJP.

    The contribution a policy sees follows the optimiser, as the meta-gradient of the optimised search
    does: the weight of example n changes theta_{t+1} by -eta_t P_t grad l_n, so its one-step effect on
    the desired loss is CT_P[n] = grad L_dev . P_t grad l_n. P_t = I for gd, sgd and momentum (the
    momentum buffer is linear in g_t with coefficient 1); for Adam P_t = 1 / (sqrt(v_hat_t) + eps) with
    v_hat_t from a provisional step with the previous row gamma_{t-1} (the row gamma_t is not chosen
    yet); the records' ``ct_precond`` uses gamma_t itself, as :func:`learning_law.inner.run_chunk` does.
    """
    params, opt_state, state, gamma_prev = carry
    test_l = mean_loss(loss_fn, params, test)
    losses, lin = jax.linearize(lambda p: loss_fn(p, train), params)
    transpose = jax.linear_transpose(lin, params)
    adam = opt.name == "adam"
    if policy.uses_ct or record:
        dev_l, g_dev = jax.value_and_grad(lambda p: mean_loss(loss_fn, p, dev))(params)
        ct = lin(g_dev)
    else:
        dev_l, g_dev, ct = mean_loss(loss_fn, params, dev), None, None
    signal = ct
    if adam and policy.uses_ct:
        provisional = _weighted_grad(loss_fn, opt, params, train, transpose, gamma_prev, t)
        precond = O.preconditioner_from_grad(opt, provisional, opt_state, params)
        signal = lin(jax.tree_util.tree_map(jnp.multiply, precond, g_dev))
    gamma_t, state = policy.step(state, losses, signal)
    grads = _weighted_grad(loss_fn, opt, params, train, transpose, gamma_t, t)
    updates, opt_state = O.direction(opt).update(grads, opt_state, params)
    params = jax.tree_util.tree_map(lambda p, u: p - eta_t * u, params, updates)
    out = {"dev_loss": dev_l, "test_loss": test_l, "gamma": gamma_t}
    if record:
        out.update(train_loss=losses, ct=ct)
        if adam:  # P_t of the step actually taken (its state includes g_t), as inner.run_chunk records
            out["ct_precond"] = lin(jax.tree_util.tree_map(jnp.multiply, O.precond_of_state(opt, opt_state),
                                                           g_dev))
    return Carry(params, opt_state, state, gamma_t), out


def _reuse_step(loss_fn: PerExampleLoss, opt: O.InnerOpt, train: PyTree, dev: PyTree, test: PyTree,
                carry: Carry, eta_t: Array, t):
    """A step between two refreshes (``every > 1``): the last gamma again, no CT and no dev gradient,
    so it costs what a constant-policy step under the same optimiser costs."""
    params, opt_state, state, gamma_t = carry
    out = {"dev_loss": mean_loss(loss_fn, params, dev), "test_loss": mean_loss(loss_fn, params, test),
           "gamma": gamma_t}
    params, opt_state = O.step(loss_fn, opt, params, opt_state, train, gamma_t, eta_t, t)
    return Carry(params, opt_state, state, gamma_t), out


@partial(jax.jit, static_argnames=("loss_fn", "policy", "record_every", "opt"))
def run_online_chunk(loss_fn: PerExampleLoss, policy, carry: Carry, train: PyTree, dev: PyTree, test: PyTree,
                     etas: Array, t0, record_every: int, opt: O.InnerOpt = O.GD) -> tuple[Carry, dict]:
    """Run ``C = etas.shape[0]`` online steps (one ``lax.scan``) from ``carry``, the first being step t0.

    Returns (carry, records) with ``dev_loss, test_loss: [C]`` (before each step), ``gamma: [C, N]``
    (the rows used), ``train_loss, ct: [ceil(C/K), N]`` at the chunk's steps 0, K, 2K, ...
    (K = record_every; ``ct_precond`` too under Adam) and, with mini-batches, ``batch_idx: [C, B]``, as
    :func:`learning_law.inner.run_chunk` records them.
    """
    step = partial(_step, loss_fn, policy, opt, train, dev, test)
    every = int(getattr(policy, "every", 1))
    n = carry.gamma.shape[0]

    def light(c, xs):
        eta_j, j, t = xs
        if every == 1:
            return step(c, eta_j, t, record=False)
        # refresh gamma on steps j = 0, every, 2 every, ... of the block; reuse it in between
        return jax.lax.cond(j % every == 0, lambda cc: step(cc, eta_j, t, record=False),
                            lambda cc: _reuse_step(loss_fn, opt, train, dev, test, cc, eta_j, t), c)

    def block(c, xs):
        # The first step of a block is recorded (and refreshes gamma); the other K-1 run without the
        # per-example outputs.
        etas_k, ts_k = xs
        c, first = step(c, etas_k[0], ts_k[0], record=True)
        c, rest = jax.lax.scan(light, c, (etas_k[1:], jnp.arange(1, etas_k.shape[0]), ts_k[1:]))
        keep = {k: jnp.concatenate([first[k][None], rest[k]]) for k in ("dev_loss", "test_loss", "gamma")}
        return c, (keep, {k: v for k, v in first.items() if k not in keep})

    k = record_every
    steps = etas.shape[0]
    ts = t0 + jnp.arange(steps)
    full = steps // k
    outs = []
    if full:
        carry, (keep, rec) = jax.lax.scan(block, carry, (etas[: full * k].reshape(full, k),
                                                         ts[: full * k].reshape(full, k)))
        keep = {key: v.reshape((full * k,) + v.shape[2:]) for key, v in keep.items()}
        outs.append((keep, rec))
    if steps % k:
        carry, (keep, rec) = block(carry, (etas[full * k:], ts[full * k:]))
        outs.append((keep, jax.tree_util.tree_map(lambda a: a[None], rec)))
    records = {key: jnp.concatenate([o[0][key] for o in outs]) for key in ("dev_loss", "test_loss", "gamma")}
    for key in outs[0][1]:
        records[key] = jnp.concatenate([o[1][key] for o in outs])
    if opt.batch_size:
        records["batch_idx"] = jax.vmap(lambda t: O.batch_indices(opt, n, t))(ts)
    return carry, records


def _time_constant_steps(task: Task, inner: C.InnerConfig, steps: int, chunk: int) -> float:
    """Seconds per step of constant-policy training under the same inner optimiser (``run_chunk``),
    timed as :func:`train_online` times itself: chunks of ``chunk`` steps, each fetched to the host,
    compilation excluded; best of 3 (the machine may be shared)."""
    gamma = jnp.asarray(constant_policy(chunk, task.n_train))
    etas = jnp.asarray(lr_schedule(chunk, inner.lr, inner.warmup_steps))
    opt = O.from_config(inner)
    args = (task.per_example_loss, task.init_params, task.train, task.dev, task.test, gamma, etas,
            min(inner.record_every, chunk), opt, O.init_state(opt, task.init_params))
    jax.device_get(run_chunk(*args))  # compile
    n_chunks = max(1, steps // chunk)
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n_chunks):
            jax.device_get(run_chunk(*args))
        best = min(best, time.perf_counter() - t0)
    return best / (n_chunks * chunk)


def train_online(task: Task, name: str, inner: C.InnerConfig, *, out: str | Path | None = None,
                 progress: bool = True, extra_config: dict | None = None, time_constant: bool = True,
                 desc: str | None = None, **hparams) -> dict:
    """Train ``task`` for ``inner.steps`` steps under the online policy ``name``; write a run record.

    The record folder has the layout of :func:`learning_law.train.train` (config.json, dev_loss.npy,
    test_loss.npy, train_loss.npy, ct.npy, gamma_recorded.npy at record_steps.npy, params_final.npz,
    summary.json last) plus ``gamma.npy: [T, N]`` float32, the full policy used, so that
    ``train(task, gamma, inner)`` replays the run.

    The summary adds ``seconds_per_step`` (steady state, compilation excluded), ``compile_time_s`` and,
    with ``time_constant``, ``seconds_per_step_constant`` and ``time_ratio_vs_constant``: the cost of
    one online step over one constant-policy step, both measured here after compilation.

    Returns the arrays of :func:`learning_law.train.train` plus ``gamma: [T, N]``.
    """
    policy = make_policy(name, **hparams)
    key = name[len(PREFIX):] if name.startswith(PREFIX) else name
    steps, n = inner.steps, task.n_train
    etas = lr_schedule(steps, inner.lr, inner.warmup_steps)
    chunk = _chunk_size(steps, inner.record_every)
    label = PREFIX + key
    config = {
        "kind": "train",
        "task": task.name,
        "task_config": C.asdict(task.config),
        "inner": C.asdict(inner),
        "policy": label,
        "online": spec_record(name, hparams),
        "matmul_precision": PR.current(),
        "versions": R.versions(),
        **(extra_config or {}),
    }
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").unlink(missing_ok=True)
        R.write_json(out / "config.json", config)

    if inner.batch_size > n:
        raise UsageError(f"batch_size={inner.batch_size} is invalid: allowed [0, n_train={n}]")
    opt = O.from_config(inner)
    carry = Carry(task.init_params, O.init_state(opt, task.init_params), policy.init(n), _uniform(n))
    # Compile every chunk length first, so the loop below times execution only.
    t0 = time.perf_counter()
    lengths = {min(chunk, steps - d) for d in range(0, steps, chunk)}
    compiled = {}
    for c in lengths:
        compiled[c] = run_online_chunk.lower(task.per_example_loss, policy, carry, task.train, task.dev,
                                             task.test, jnp.asarray(etas[:c]), jnp.int32(0),
                                             inner.record_every, opt).compile()
    compile_time = time.perf_counter() - t0

    parts: list[dict] = []
    done, auc_sum, limit = 0, 0.0, None
    t0 = time.perf_counter()
    with bar(steps, desc or f"train {label}", progress) as pbar:
        while done < steps:
            c = min(chunk, steps - done)
            carry, rec = compiled[c](carry, task.train, task.dev, task.test, jnp.asarray(etas[done:done + c]),
                                     jnp.int32(done))
            rec = to_host(rec)
            parts.append(rec)
            limit = check_chunk(rec, done, limit, parts, out, f"{label}, lr={inner.lr}",
                                "try a smaller --lr or a smaller tau")
            auc_sum += float(rec["dev_loss"].sum())
            done += c
            pbar.update(c)
            pbar.set_postfix(dev_loss=f"{rec['dev_loss'][-1]:.4f}", auc=f"{auc_sum / done:.4f}")
        params = carry.params
        final_dev, final_test = (float(v) for v in eval_losses(task.per_example_loss, params, task.dev, task.test))
        pbar.set_postfix(dev_loss=f"{final_dev:.4f}", auc=f"{bar_auc(auc_sum, steps, final_dev):.4f}")
    run_time = time.perf_counter() - t0
    if not (math.isfinite(final_dev) and math.isfinite(final_test)):
        _save_partial(out, parts, steps)
        raise NumericalError(f"loss became NaN/inf at inner step {steps} under {label} (lr={inner.lr})")

    result = assemble_records(parts, final_dev, final_test, steps, inner.record_every)
    dev_loss, test_loss = result["dev_loss"], result["test_loss"]
    gamma = np.concatenate([p["gamma"] for p in parts]).astype(np.float32)
    result.update(gamma_recorded=gamma[result["record_steps"]], gamma=gamma, params_final=to_host(params))
    for key in ("ct_precond", "batch_idx"):  # Adam's preconditioned contribution; the mini-batch schedule
        if key in parts[0]:
            result[key] = np.concatenate([p[key] for p in parts])
    summary = summarize(dev_loss, test_loss, task.vocab_size, compile_time + run_time)
    summary.update(policy=label, hparams=dataclasses.asdict(policy), compile_time_s=round(compile_time, 3),
                   run_time_s=round(run_time, 4), seconds_per_step=run_time / steps,
                   zero_weight_share=float(np.mean(gamma == 0)), policy_sha256=fingerprint(gamma))
    if time_constant:
        per_const = _time_constant_steps(task, inner, min(4 * chunk, steps), min(chunk, steps))
        summary.update(seconds_per_step_constant=per_const,
                       time_ratio_vs_constant=(run_time / steps) / per_const)
    result["summary"] = summary
    if out is not None:
        save_record(out, result)
    return result


__all__ = ["Equalize", "LossProportional", "DropNegative", "Greedy", "POLICIES", "NAMES", "PREFIX",
           "make_policy", "spec_record", "parse_spec", "is_online", "run_online_chunk", "train_online"]
