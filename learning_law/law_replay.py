"""Records for a Learning-Law definition that the run's own records cannot give (issue 27).

A train run records CT on the dev split at theta_t every ``record_every`` steps (what the ``strict``
definition reads). The authors' figures read CT on the *test* split *after* the step, at every one of
the first 10 or 50 steps, and SIM_t at every step. :func:`replay` re-runs the policy with exactly the
inner run's updates (``inner.gd_step`` / ``optimizers.step``), as jitted ``lax.scan`` chunks, and keeps

- ``dense``: ``gamma``, ``ct``, ``train_loss: [K, N]`` at every step t < K = ``definition.dense_steps``
  (the Fig. 8 and Fig. 9 windows), CT and train losses at the definition's split and timing;
- ``sim_t: [T]``: SIM_t of every step under the definition (:func:`theory.law_measures.sim_rows`), each
  chunk's [C, N] contributions reduced on the host and dropped, so memory is O(C N + K N), not O(T N);
- ``loss: [T+1]``: the mean loss of the definition's split at theta_0..theta_T.

:func:`replay_of_run` caches the result beside a run as ``law_records_<name>.npz`` with a
``law_records_<name>.json`` that holds what it was made from (the policy's SHA-256, the inner settings,
the definition, the matmul precision); a file that does not match is made again, never trusted.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from learning_law import config as C
from learning_law import optimizers as O
from learning_law import policy as P
from learning_law import precision as PR
from learning_law import record as R
from learning_law.distributed import to_host
from learning_law.inner import contributions, gd_step, lr_schedule, mean_loss
from learning_law.sharding import place_policy
from theory.law import LawDefinition
from theory.law_measures import sim_rows

CHUNK = 250  # steps per jitted chunk: [CHUNK, N] contributions on the host at a time


@partial(jax.jit, static_argnames=("loss_fn", "opt", "after"))
def _chunk(loss_fn, params, opt_state, train, ref, gamma, etas, ts, opt: O.InnerOpt, after: bool):
    """C steps from ``params``: per step the loss of ``ref`` at theta_t, and the train losses and
    CT = grad L_ref . grad l_n at theta_t (``after`` False) or theta_{t+1} (True)."""

    def step(carry, xs):
        p, s = carry
        g_t, eta_t, t = xs
        loss_t = mean_loss(loss_fn, p, ref)
        new = (gd_step(loss_fn, p, train, g_t, eta_t), s) if opt == O.GD else O.step(loss_fn, opt, p, s, train, g_t,
                                                                                      eta_t, t)
        losses, ct = contributions(loss_fn, new[0] if after else p, train, ref)
        return new, (loss_t, losses, ct)

    (params, opt_state), (loss, train_loss, ct) = jax.lax.scan(step, (params, opt_state), (gamma, etas, ts))
    return params, opt_state, loss, train_loss, ct


# The loss of theta_T after the last chunk, compiled once per loss (not once per replay).
_final_loss = jax.jit(mean_loss, static_argnums=0)


def replay(task, gamma: np.ndarray, inner: C.InnerConfig, d: LawDefinition, *, progress: bool = False) -> dict:
    """Re-run ``task`` under ``gamma: [T, N]`` and record what ``d`` reads (module docstring).

    Returns ``{"dense": {"steps": [K], "gamma", "ct", "train_loss": [K, N]}, "sim_t": [T], "sim_steps": [T],
    "loss": [T+1]}`` (numpy, float32 arrays, float64 SIM).
    """
    from learning_law.progress import bar

    steps, n = inner.steps, task.n_train
    gamma = P.validate(gamma, steps, n, name="policy")
    ref = task.test if d.ct_split == "test" else task.dev
    etas = lr_schedule(steps, inner.lr, inner.warmup_steps)
    opt = O.from_config(inner)
    params, state = task.init_params, O.init_state(opt, task.init_params)
    k = min(d.dense_steps, steps)
    dense = {"ct": [], "train_loss": []}
    sims, losses = [], []
    done = 0
    with bar(steps, f"law records ({d.name})", progress) as pbar:
        while done < steps:
            c = min(CHUNK, steps - done)
            g = np.asarray(gamma[done:done + c], np.float32)
            params, state, loss, tl, ct = _chunk(task.per_example_loss, params, state, task.train, ref,
                                                 place_policy(g, task.mesh), jnp.asarray(etas[done:done + c]),
                                                 jnp.arange(done, done + c), opt, d.ct_timing == "after")
            loss, tl, ct = to_host((loss, tl, ct))
            sims.append(sim_rows(g, ct, d))
            losses.append(loss)
            if done < k:
                dense["ct"].append(ct[: k - done])
                dense["train_loss"].append(tl[: k - done])
            done += c
            pbar.update(c)
    final = float(to_host(_final_loss(task.per_example_loss, params, ref)))
    return {"dense": {"steps": np.arange(k), "gamma": np.asarray(gamma[:k], np.float32),
                      "ct": np.concatenate(dense["ct"]) if k else np.zeros((0, n), np.float32),
                      "train_loss": np.concatenate(dense["train_loss"]) if k else np.zeros((0, n), np.float32)},
            "sim_t": np.concatenate(sims), "sim_steps": np.arange(steps),
            "loss": np.concatenate(losses + [[final]]).astype(np.float32)}


def _meta(gamma: np.ndarray, inner: C.InnerConfig, d: LawDefinition) -> dict:
    return R._jsonable({"policy_sha256": P.fingerprint(gamma), "inner": C.asdict(inner),
                        "definition": dataclasses.asdict(d), "matmul_precision": PR.current()})


def load_records(run_dir: str | Path, name: str) -> dict | None:
    """The cached replay ``law_records_<name>.npz`` of a run (as :func:`replay` returns it), or None."""
    path = Path(run_dir) / f"law_records_{name}.npz"
    if not path.exists():
        return None
    with np.load(path) as z:
        a = {k: z[k] for k in z.files}
    return {"dense": {k: a[f"dense_{k}"] for k in ("steps", "gamma", "ct", "train_loss")},
            "sim_t": a["sim_t"], "sim_steps": a["sim_steps"], "loss": a["loss"]}


def replay_of_run(run_dir: str | Path, task, gamma: np.ndarray, inner: C.InnerConfig, d: LawDefinition, *,
                  progress: bool = False, write: bool = True) -> dict:
    """:func:`replay` of a run folder's policy, reused from ``law_records_<name>.npz`` when that was made
    from the same policy (SHA-256), inner settings, definition and matmul precision."""
    run_dir = Path(run_dir)
    meta_path = run_dir / f"law_records_{d.name}.json"
    meta = _meta(gamma, inner, d)
    if meta_path.exists() and R.read_json(meta_path) == meta:
        cached = load_records(run_dir, d.name)
        if cached is not None:
            return cached
    rec = replay(task, gamma, inner, d, progress=progress)
    if write:
        meta_path.unlink(missing_ok=True)  # the pair is valid only once both are written
        R.save_npz(run_dir / f"law_records_{d.name}.npz", sim_t=rec["sim_t"], sim_steps=rec["sim_steps"],
                   loss=rec["loss"], **{f"dense_{k}": v for k, v in rec["dense"].items()})
        R.write_json(meta_path, meta)
    return rec
