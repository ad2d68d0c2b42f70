r"""Reweighting and selection methods of the noisy-label literature, as per-step rules in one scanned run.

Each method chooses the row :math:`\gamma_t` at step t from what it can see at :math:`\theta_t`, then the
inner optimiser takes its step with it (:func:`learning_law.optimizers.step`, as every policy is trained).
The whole run is one ``jax.lax.scan``; the rows used are returned as ``gamma: [T, N]``, and the curves go
through the same comparison as every policy (:func:`learning_law.evaluate.compare`).

``l2rw`` -- Learning to Reweight Examples (Ren et al., ICML 2018, Algorithm 1). With perturbations
  :math:`\epsilon \in \mathbb{R}^N` of the example weights, a virtual step
  :math:`\hat\theta(\epsilon) = \theta_t - \eta_t \nabla_\theta \sum_n \epsilon_n l_n(\theta_t)` and the
  clean (dev) loss after it, the weights are

  .. math:: \tilde w_n = \max\Big(-\frac{\partial}{\partial \epsilon_n} L_{dev}(\hat\theta(\epsilon))
            \Big|_{\epsilon = 0},\, 0\Big), \qquad w = \tilde w / \textstyle\sum_n \tilde w_n
            \quad (w = 0 \text{ when } \textstyle\sum_n \tilde w_n = 0),

  computed as written: ``jax.grad`` with respect to :math:`\epsilon` of the dev loss after the virtual
  step (a gradient through a gradient). At :math:`\epsilon = 0` it equals :math:`\eta_t \max(CT_n, 0)`,
  the one-step contribution, which is why :func:`lookahead_grad` is tested against finite differences and
  not against ``online:greedy``. A row of zeros (no example helps the clean loss) makes the step a no-op
  under GD, as in their code. Their hyper-parameters that transfer: none to tune (the method has none
  beyond the inner optimiser's); the clean batch is the whole dev split, since the inner run here is
  full-batch (they draw a clean mini-batch as large as the training one, 100 on CIFAR).

``loss`` -- loss-based selection (Loshchilov & Hutter 2015; the "Loss" baseline of Mindermann et al.
  2022): at every step, weight :math:`1/k` on the k examples of highest training loss
  :math:`l_n(\theta_t)`, zero elsewhere.

``rho`` -- RHO-LOSS (Mindermann et al., ICML 2022): the same top-k selection by the *reducible hold-out
  loss* :math:`l_n(\theta_t) - l_n(\theta_{IL})`, where :math:`\theta_{IL}` is an irreducible-loss model:
  the task's model trained once, on the hold-out (dev) split, before the run (:func:`irreducible_losses`).
  Their hyper-parameters that transfer: the selection ratio k / (candidates) = 10%, the IL model trained
  once on the hold-out data and never updated. Their candidates are a large batch of
  :math:`n_B` examples; here the candidates are the step's examples (all N under full-batch GD, or the
  step's mini-batch with ``--batch-size``), so k = ceil(10% x candidates).

With mini-batches (``batch_size > 0``) every rule only weighs the examples of the step's batch.
"""

from __future__ import annotations

import dataclasses
import math
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from learning_law import config as C
from learning_law import optimizers as O
from learning_law import precision as PR
from learning_law import record as R
from learning_law.errors import NumericalError, UsageError, require
from learning_law.inner import eval_losses, lr_schedule, mean_loss
from learning_law.policy import fingerprint
from learning_law.tasks.base import PerExampleLoss, PyTree, Task


def lookahead_grad(loss_fn: PerExampleLoss, params: PyTree, train: PyTree, dev: PyTree, eta) -> Array:
    r"""``[N]``: :math:`\partial L_{dev}(\theta - \eta \nabla_\theta \sum_n \epsilon_n l_n(\theta)) /
    \partial \epsilon` at :math:`\epsilon = 0` (Ren et al. 2018, Algorithm 1, lines 4-9)."""
    n = jax.tree_util.tree_leaves(train)[0].shape[0]

    def dev_after_virtual_step(eps: Array) -> Array:
        g = jax.grad(lambda p: jnp.dot(eps, loss_fn(p, train)))(params)
        virtual = jax.tree_util.tree_map(lambda p, gi: p - eta * gi, params, g)
        return mean_loss(loss_fn, virtual, dev)

    dtype = jax.tree_util.tree_leaves(params)[0].dtype  # float32; float64 in the gradient checks
    return jax.grad(dev_after_virtual_step)(jnp.zeros((n,), dtype))


def l2rw_weights(grad_eps: Array, candidates: Array) -> Array:
    """Ren et al.'s weights from the look-ahead gradient ``[N]``: ``max(-grad, 0)`` on the candidates,
    normalised to sum 1; all zero when nothing is positive."""
    w = jnp.where(candidates, jnp.maximum(-grad_eps, 0.0), 0.0)
    total = jnp.sum(w)
    return jnp.where(total > 0, w / jnp.where(total > 0, total, 1.0), 0.0)


def top_k_weights(scores: Array, candidates: Array, k: int) -> Array:
    """``[N]``: 1/k on the k candidates of highest score, 0 elsewhere (ties: the lower index first)."""
    _, idx = jax.lax.top_k(jnp.where(candidates, scores, -jnp.inf), k)
    return jnp.zeros(scores.shape, jnp.float32).at[idx].set(1.0 / k)


@dataclasses.dataclass(frozen=True)
class Peer:
    """A method of this module: ``name`` in :data:`PEERS` and its selection ratio (top-k rules only)."""

    name: str
    ratio: float = 0.1  # Mindermann et al.'s default: select 10% of the candidates

    def __post_init__(self):
        require(self.name in PEERS, "name", self.name, f"one of {PEERS}")
        require(isinstance(self.ratio, float) and 0 < self.ratio <= 1, "ratio", self.ratio, "(0, 1]")

    def k(self, candidates: int) -> int:
        return max(1, math.ceil(self.ratio * candidates))


PEERS = ("l2rw", "loss", "rho")


def _row(peer: Peer, loss_fn, params, train, dev, il, candidates, k: int, eta) -> Array:
    if peer.name == "l2rw":
        return l2rw_weights(lookahead_grad(loss_fn, params, train, dev, eta), candidates)
    losses = loss_fn(params, train)
    return top_k_weights(losses - il if peer.name == "rho" else losses, candidates, k)


@partial(jax.jit, static_argnames=("loss_fn", "peer", "opt"))
def run_peer(loss_fn: PerExampleLoss, peer: Peer, params0: PyTree, train: PyTree, dev: PyTree, test: PyTree,
             il: Array, etas: Array, opt: O.InnerOpt = O.GD) -> tuple[PyTree, dict]:
    """The T = ``etas.shape[0]`` steps under ``peer`` as one ``lax.scan``.

    Args:
      il: ``[N]`` the irreducible losses (``rho``; ignored by the others).
    Returns:
      (theta_T, {"dev_loss", "test_loss": [T] before each step, "gamma": [T, N] the rows used}).
    """
    n = il.shape[0]
    k = peer.k(opt.batch_size or n)

    def step(carry, xs):
        params, s = carry
        eta, t = xs
        cand = (jnp.zeros((n,), bool).at[O.batch_indices(opt, n, t)].set(True) if opt.batch_size
                else jnp.ones((n,), bool))
        gamma_t = _row(peer, loss_fn, params, train, dev, il, cand, k, eta)
        out = {"dev_loss": mean_loss(loss_fn, params, dev), "test_loss": mean_loss(loss_fn, params, test),
               "gamma": gamma_t}
        return O.step(loss_fn, opt, params, s, train, gamma_t, eta, t), out

    ts = jnp.arange(etas.shape[0])
    (params, _), rec = jax.lax.scan(step, (params0, O.init_state(opt, params0)), (etas, ts))
    return params, rec


@partial(jax.jit, static_argnames=("loss_fn", "opt"))
def _fit(loss_fn: PerExampleLoss, params0: PyTree, data: PyTree, etas: Array, opt: O.InnerOpt) -> PyTree:
    k = jax.tree_util.tree_leaves(data)[0].shape[0]
    uniform = jnp.full((k,), 1.0 / k, jnp.float32)
    full = opt._replace(batch_size=0)  # the hold-out split is small: full batch

    def step(carry, xs):
        params, s = carry
        eta, t = xs
        return O.step(loss_fn, full, params, s, data, uniform, eta, t), None

    (params, _), _ = jax.lax.scan(step, (params0, O.init_state(full, params0)), (etas, jnp.arange(etas.shape[0])))
    return params


def irreducible_losses(task: Task, inner: C.InnerConfig) -> np.ndarray:
    """``[N]``: the train losses under RHO-LOSS's irreducible-loss model: theta_0 trained once on the dev
    split (uniform weights, the inner run's optimiser, steps and learning rates, full batch)."""
    etas = jnp.asarray(lr_schedule(inner.steps, inner.lr, inner.warmup_steps))
    params = _fit(task.per_example_loss, task.init_params, task.dev, etas, O.from_config(inner))
    return np.asarray(task.per_example_loss(params, task.train))


def train_peer(task: Task, name: str, inner: C.InnerConfig, *, out: str | Path | None = None,
               extra_config: dict | None = None, **hparams) -> dict:
    """Train ``task`` under the method ``name`` (:data:`PEERS`); write a run record when ``out`` is given.

    Returns the dict of :func:`learning_law.train.train` (``dev_loss, test_loss: [T+1]``, ``params_final``,
    ``summary`` with ``wall_time_s`` including the IL model's training for ``rho``) plus ``gamma: [T, N]``.
    Raises :class:`NumericalError` for a NaN/inf loss, naming the step.
    """
    from learning_law.train import save_record, summarize

    peer = Peer(name, **{k: float(v) for k, v in hparams.items()})
    n = task.n_train
    if inner.batch_size > n:
        raise UsageError(f"batch_size={inner.batch_size} is invalid: allowed [0, n_train={n}]")
    t0 = time.perf_counter()
    il = irreducible_losses(task, inner) if name == "rho" else np.zeros((n,), np.float32)
    etas = jnp.asarray(lr_schedule(inner.steps, inner.lr, inner.warmup_steps))
    params, rec = run_peer(task.per_example_loss, peer, task.init_params, task.train, task.dev, task.test,
                           jnp.asarray(il), etas, O.from_config(inner))
    rec = jax.device_get(rec)
    final = [float(v) for v in eval_losses(task.per_example_loss, params, task.dev, task.test)]
    wall = time.perf_counter() - t0
    curves = {k: np.append(rec[k], v).astype(np.float32) for k, v in zip(("dev_loss", "test_loss"), final)}
    bad = ~(np.isfinite(curves["dev_loss"]) & np.isfinite(curves["test_loss"]))
    if bad.any():
        raise NumericalError(f"loss became NaN/inf at inner step {int(np.argmax(bad))} under {name} "
                             f"(lr={inner.lr}): try a smaller --lr")
    gamma = np.asarray(rec["gamma"], np.float32)
    summary = summarize(curves["dev_loss"], curves["test_loss"], task.vocab_size, wall)
    summary.update(policy=name, hparams=dataclasses.asdict(peer), zero_rows=int(np.sum(gamma.sum(1) == 0)),
                   zero_weight_share=float(np.mean(gamma == 0)), policy_sha256=fingerprint(gamma))
    result = {**curves, "gamma": gamma, "params_final": jax.device_get(params), "summary": summary}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").unlink(missing_ok=True)
        R.write_json(out / "config.json", {"kind": "train", "task": task.name, "task_config": C.asdict(task.config),
                                           "inner": C.asdict(inner), "policy": name, "peer": dataclasses.asdict(peer),
                                           "matmul_precision": PR.current(), "versions": R.versions(),
                                           **(extra_config or {})})
        save_record(out, result)
    return result


__all__ = ["PEERS", "Peer", "lookahead_grad", "l2rw_weights", "top_k_weights", "run_peer", "irreducible_losses",
           "train_peer"]
