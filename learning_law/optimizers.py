r"""Inner optimisers beyond full-batch GD: mini-batch SGD, momentum and Adam (optax), differentiable.

Every inner step is

.. math:: g_t = \nabla_\theta \sum_{n \in B_t} w_{t,n}\, l_n(\theta_t), \quad
          (u_t, s_{t+1}) = \mathrm{direction}(g_t, s_t), \quad \theta_{t+1} = \theta_t - \eta_t u_t,

with the optimiser state s carried through the ``lax.scan`` (so ``jax.grad`` of the AUC flows through
Adam's moments too) and ``direction`` an optax transformation without its learning rate:
identity (``gd``, ``sgd``), ``optax.trace`` (``momentum``), ``optax.scale_by_adam`` (``adam``).
Separating eta_t keeps the paper's warm-up schedule and equals ``optax.sgd/adam(schedule)``.

Mini-batches (``batch_size > 0``): step t sees the examples ``B_t`` drawn without replacement by
``jax.random.fold_in(key(batch_seed), t)`` (reproducible from the seed, never stored in the scan), and
the policy weights only them, renormalised: ``w_{t,n} = gamma[t, n] / sum_{m in B_t} gamma[t, m]``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import Array

from learning_law.tasks.base import PerExampleLoss, PyTree

OPTIMIZERS = ("gd", "sgd", "momentum", "adam")


class InnerOpt(NamedTuple):
    """The inner optimiser, hashable (a static argument of the jitted runs)."""

    name: str = "gd"  # gd | sgd | momentum | adam
    momentum: float = 0.9  # for "momentum": u = g + momentum * u_prev
    b1: float = 0.9  # Adam's moment decays and epsilon
    b2: float = 0.999
    eps: float = 1e-8
    batch_size: int = 0  # 0: full batch
    batch_seed: int = 0


GD = InnerOpt()


def from_config(inner) -> InnerOpt:
    """The InnerOpt of an :class:`~learning_law.config.InnerConfig`."""
    return InnerOpt(inner.optimizer, inner.momentum, inner.b1, inner.b2, inner.eps, inner.batch_size,
                    inner.batch_seed)


def direction(opt: InnerOpt) -> optax.GradientTransformation:
    """The optax transformation that turns g_t into the update direction u_t (before -eta_t)."""
    if opt.name in ("gd", "sgd"):
        return optax.identity()
    if opt.name == "momentum":
        return optax.trace(decay=opt.momentum)
    if opt.name == "adam":
        return optax.scale_by_adam(b1=opt.b1, b2=opt.b2, eps=opt.eps)
    raise ValueError(f"optimizer={opt.name!r} is invalid: allowed {OPTIMIZERS}")


def init_state(opt: InnerOpt, params: PyTree):
    return direction(opt).init(params)


def batch_indices(opt: InnerOpt, n: int, t) -> Array:
    """Indices ``[B]`` of the examples step t sees (without replacement), from the seed and t only."""
    key = jax.random.fold_in(jax.random.key(opt.batch_seed), t)
    return jax.random.choice(key, n, (opt.batch_size,), replace=False)


def _n(train: PyTree) -> int:
    return jax.tree_util.tree_leaves(train)[0].shape[0]


def weighted_grad(loss_fn: PerExampleLoss, opt: InnerOpt, params: PyTree, train: PyTree, gamma_t: Array, t) -> PyTree:
    """grad of the policy-weighted train loss at step t (full batch, or the step's renormalised batch)."""
    if opt.batch_size == 0:
        return jax.grad(lambda p: jnp.dot(gamma_t, loss_fn(p, train)))(params)
    idx = batch_indices(opt, _n(train), t)
    w = gamma_t[idx]
    total = jnp.sum(w)
    w = jnp.where(total > 0, w / jnp.where(total > 0, total, 1.0), 0.0)
    batch = jax.tree_util.tree_map(lambda a: a[idx], train)
    return jax.grad(lambda p: jnp.dot(w, loss_fn(p, batch)))(params)


def step(loss_fn: PerExampleLoss, opt: InnerOpt, params: PyTree, state, train: PyTree, gamma_t: Array,
         eta_t: Array, t) -> tuple[PyTree, object]:
    """One inner step: (theta_{t+1}, s_{t+1})."""
    grads = weighted_grad(loss_fn, opt, params, train, gamma_t, t)
    updates, state = direction(opt).update(grads, state, params)
    return jax.tree_util.tree_map(lambda p, u: p - eta_t * u, params, updates), state


def precond_of_state(opt: InnerOpt, state) -> PyTree:
    """Adam's diagonal preconditioner P = 1 / (sqrt(v_hat) + eps) of a ``scale_by_adam`` state (its
    second moment nu and step count, bias-corrected as Adam's update does)."""
    correction = 1.0 - opt.b2 ** state.count.astype(jnp.float32)
    return jax.tree_util.tree_map(lambda v: 1.0 / (jnp.sqrt(v / correction) + opt.eps), state.nu)


def preconditioner_from_grad(opt: InnerOpt, grads: PyTree, state, params: PyTree) -> PyTree:
    """Adam's P_t after a step with gradient ``grads`` from ``state`` (v_hat_t includes grads)."""
    _, after = direction(opt).update(grads, state, params)
    return precond_of_state(opt, after)


def preconditioner(opt: InnerOpt, loss_fn: PerExampleLoss, params: PyTree, state, train: PyTree, gamma_t: Array,
                   t) -> PyTree | None:
    """Adam's diagonal preconditioner P_t = 1 / (sqrt(v_hat_t) + eps) at step t (None for the others).

    v_hat_t includes step t's own gradient, as in the update Adam applies at that step.
    """
    if opt.name != "adam":
        return None
    return preconditioner_from_grad(opt, weighted_grad(loss_fn, opt, params, train, gamma_t, t), state, params)
