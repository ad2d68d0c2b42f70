"""Train a task under a policy and write its run record (DESIGN.md "Inner run", "RunRecord").

The T steps run as a few jitted ``lax.scan`` chunks (no Python loop over steps); between chunks the
host shows progress and checks for NaN/inf, so a diverging run stops with the step at which it broke.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import theory
from learning_law import config as C
from learning_law import policy as P
from learning_law import record as R
from learning_law import optimizers as O
from learning_law import precision as PR
from learning_law.distributed import to_host
from learning_law.errors import NumericalError, UsageError
from learning_law.inner import eval_losses, lr_schedule, run_chunk
from learning_law.progress import bar
from learning_law.sharding import place_policy
from learning_law.tasks.base import Task


# A dev loss this many times max(L(theta_0), 1) means the run diverged, even while still finite (the
# logistic loss grows only linearly, so a huge lr never produces NaN on the perceptron).
DIVERGENCE_FACTOR = 1e3


def _chunk_size(steps: int, record_every: int, target: int = 250) -> int:
    """Steps per jitted chunk: a multiple of record_every near ``target`` (at most 2 compilations)."""
    per = max(1, round(target / record_every)) * record_every
    return min(per, math.ceil(steps / record_every) * record_every)


def train(
    task: Task,
    gamma,
    inner: C.InnerConfig,
    *,
    out: str | Path | None = None,
    policy_name: str = "constant",
    extra_config: dict | None = None,
    progress: bool = True,
    desc: str = "train",
) -> dict:
    """Train ``task`` for ``inner.steps`` steps under ``gamma: [T, N]``; write a record to ``out``.

    Returns a dict with numpy arrays ``dev_loss, test_loss: [T+1]``, ``train_loss, ct,
    gamma_recorded: [T', N]``, ``record_steps: [T']``, ``params_final`` and ``summary``.
    Raises :class:`NumericalError` (after saving the finite part) if a loss becomes NaN/inf.
    """
    steps, n = inner.steps, task.n_train
    gamma = P.validate(gamma, steps, n, name="policy")
    etas = lr_schedule(steps, inner.lr, inner.warmup_steps)
    chunk = _chunk_size(steps, inner.record_every)
    config = {
        "kind": "train",
        "task": task.name,
        "task_config": C.asdict(task.config),
        "inner": C.asdict(inner),
        "policy": policy_name,
        "policy_sha256": P.fingerprint(gamma),  # what --resume, law and analysis check, not the name
        "matmul_precision": PR.current(),
        "versions": R.versions(),
        **(extra_config or {}),
    }
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        R.write_json(out / "config.json", config)
        R.save_sources(out, task)

    if inner.batch_size > n:
        raise UsageError(f"batch_size={inner.batch_size} is invalid: allowed [0, n_train={n}]")
    opt = O.from_config(inner)
    t0 = time.perf_counter()
    params = task.init_params
    opt_state = O.init_state(opt, params)
    parts: list[dict] = []
    done = 0
    auc_sum = 0.0
    limit = None
    with bar(steps, desc, progress) as pbar:
        while done < steps:
            c = min(chunk, steps - done)
            params, opt_state, rec = run_chunk(
                task.per_example_loss, params, task.train, task.dev, task.test,
                place_policy(gamma[done:done + c], task.mesh), jnp.asarray(etas[done:done + c]),
                inner.record_every, opt, opt_state, done)
            rec = to_host(rec)
            parts.append(rec)
            limit = check_chunk(rec, done, limit, parts, out, f"lr={inner.lr}", "try a smaller --lr")
            auc_sum += float(rec["dev_loss"].sum())
            done += c
            pbar.update(c)
            pbar.set_postfix(dev_loss=f"{rec['dev_loss'][-1]:.4f}", auc=f"{auc_sum / done:.4f}")
        final_dev, final_test = (float(v) for v in eval_losses(task.per_example_loss, params, task.dev, task.test))
        pbar.set_postfix(dev_loss=f"{final_dev:.4f}", auc=f"{bar_auc(auc_sum, steps, final_dev):.4f}")
    if not (math.isfinite(final_dev) and math.isfinite(final_test)):
        _save_partial(out, parts, steps)
        raise NumericalError(f"loss became NaN/inf at inner step {steps} (lr={inner.lr}); try a smaller --lr")
    wall = time.perf_counter() - t0

    result = assemble_records(parts, final_dev, final_test, steps, inner.record_every)
    dev_loss, test_loss = result["dev_loss"], result["test_loss"]
    result.update(gamma_recorded=np.asarray(gamma[result["record_steps"]]), params_final=to_host(params))
    for key in ("ct_precond", "batch_idx"):  # Adam's preconditioned contribution; the mini-batch schedule
        if key in parts[0]:
            result[key] = np.concatenate([p[key] for p in parts])
    result["summary"] = summarize(dev_loss, test_loss, task.vocab_size, wall)
    if out is not None:
        save_record(out, result)
    return result


def bar_auc(dev_sum: float, steps: int, final_dev: float | None = None) -> float:
    """The AUC a progress bar shows: the mean of the dev losses seen so far.

    During the run ``dev_sum`` is L(theta_0) + ... + L(theta_{steps-1}) and the value is their mean; at the
    end, with ``final_dev`` = L(theta_T), it is the mean over t = 0..T, the summary's AUC
    (:func:`theory.objective.auc`), not the mean over t = 0..T-1.

    >>> bar_auc(3.0 + 2.0, 2), bar_auc(3.0 + 2.0, 2, final_dev=1.0)
    (2.5, 2.0)
    """
    if final_dev is None:
        return dev_sum / steps
    return (dev_sum + final_dev) / (steps + 1)


def assemble_records(parts: list[dict], final_dev: float, final_test: float, steps: int,
                     record_every: int) -> dict:
    """The chunks' records as one run: ``dev_loss, test_loss: [T+1]`` (the final losses appended),
    ``train_loss, ct: [T', N]`` and ``record_steps: [T']`` (0, K, 2K, ...)."""
    return {
        "dev_loss": np.concatenate([p["dev_loss"] for p in parts] + [[final_dev]]).astype(np.float32),
        "test_loss": np.concatenate([p["test_loss"] for p in parts] + [[final_test]]).astype(np.float32),
        "train_loss": np.concatenate([p["train_loss"] for p in parts]),
        "ct": np.concatenate([p["ct"] for p in parts]),
        "record_steps": np.arange(0, steps, record_every),
    }


RECORD_ARRAYS = ("dev_loss", "test_loss", "train_loss", "ct", "record_steps", "gamma_recorded", "ct_precond",
                 "batch_idx", "gamma")


def save_record(out: Path, result: dict) -> None:
    """Write a run's arrays, final parameters and, last, its summary.json (the 'finished' mark)."""
    for key in RECORD_ARRAYS:
        if key in result:
            R.save_npy(out / f"{key}.npy", result[key])
    leaves = jax.tree_util.tree_flatten_with_path(result["params_final"])[0]
    R.save_npz(out / "params_final.npz", **{jax.tree_util.keystr(k): v for k, v in leaves})
    R.write_json(out / "summary.json", result["summary"])


def check_chunk(rec: dict, done: int, limit: float | None, parts: list, out, setting: str, hint: str) -> float:
    """Stop the run at the first NaN/inf or diverged loss of a chunk (saving the finite part first).

    Returns the divergence limit, fixed from the first chunk's initial loss.
    """
    if limit is None:
        limit = DIVERGENCE_FACTOR * max(float(rec["dev_loss"][0]), 1.0)
    bad = ~np.isfinite(rec["dev_loss"]) | ~np.isfinite(rec["test_loss"]) | (rec["dev_loss"] > limit)
    if bad.any():
        step = done + int(np.argmax(bad))
        _save_partial(out, parts, step)
        value = rec["dev_loss"][step - done]
        what = ("became NaN/inf" if not np.isfinite(value) else
                f"diverged ({value:.3g} > {DIVERGENCE_FACTOR:g} x the initial loss)")
        where = f"; the finite part of the curves is in {out}/partial_*.npy" if out else ""
        raise NumericalError(f"dev loss {what} at inner step {step} ({setting}): {hint}{where}")
    return limit


def summarize(dev_loss: np.ndarray, test_loss: np.ndarray, vocab_size: int, wall: float) -> dict:
    """Headline numbers of a run (AUC = mean over t = 0..T, see :mod:`theory.objective`).

    Raises :class:`NumericalError` naming the step of a NaN/inf in a curve, or the number that is not
    finite (a summary is marked finished only when every number in it is finite).
    """
    for name, curve in (("dev loss", dev_loss), ("test loss", test_loss)):
        try:
            theory.speedup.check_finite(curve, name)
        except FloatingPointError as e:
            raise NumericalError(str(e)) from None
    summary = {
        "finished": True,
        "steps": int(dev_loss.shape[0] - 1),
        "auc": float(theory.auc(dev_loss)),
        "auc_test": float(theory.auc(test_loss)),
        "final_dev_loss": float(dev_loss[-1]),
        "final_test_loss": float(test_loss[-1]),
        "cr_paper": float(theory.compression_ratio_paper(dev_loss, vocab_size)),
        "cr_bits": float(theory.compression_ratio_bits(dev_loss, vocab_size)),
        "wall_time_s": round(wall, 3),
    }
    R.check_finished(summary, "run summary")
    return summary


def _save_partial(out, parts, step) -> None:
    if out is None:
        return
    dev = np.concatenate([p["dev_loss"] for p in parts])[:step]
    test = np.concatenate([p["test_loss"] for p in parts])[:step]
    R.save_npy(Path(out) / "partial_dev_loss.npy", dev)
    R.save_npy(Path(out) / "partial_test_loss.npy", test)
    R.write_json(Path(out) / "failed.json", {"finished": False, "error": "non-finite loss", "step": step})
