r"""The inner run: T steps of policy-weighted full-batch gradient descent, as ``lax.scan``.

.. math:: \theta_{t+1} = \theta_t - \eta_t \nabla_\theta \sum_n \gamma_{t,n}\, l_n(\theta_t)

Everything here is a pure function of explicit arrays; ``loss_fn`` (the task's per-example loss) is a
static argument. Contributions (paper Section 3) are computed without per-example gradients:

.. math:: CT_{t,n} = \nabla L_{dev}(\theta_t) \cdot \nabla l_n(\theta_t)
          = \frac{d}{d\epsilon} l_n(\theta_t + \epsilon \nabla L_{dev}(\theta_t)) \Big|_{\epsilon=0},

one ``jax.jvp`` of the vector of all N losses along the dev gradient, at the same theta_t to which
gamma[t] is applied (the reference computed them one step late).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from learning_law.tasks.base import PerExampleLoss, PyTree


def lr_schedule(steps: int, lr: float, warmup_steps: int = 0) -> np.ndarray:
    """eta_t for t = 0..T-1 (float32): linear warm-up over ``warmup_steps`` then constant ``lr``."""
    t = np.arange(steps, dtype=np.float64)
    if warmup_steps > 0:
        eta = lr * np.minimum(1.0, (t + 1) / warmup_steps)
    else:
        eta = np.full(steps, lr)
    return eta.astype(np.float32)


def mean_loss(loss_fn: PerExampleLoss, params: PyTree, batch: PyTree) -> Array:
    """Mean per-example loss over a batch (the desired loss L when ``batch`` is the dev split)."""
    return jnp.mean(loss_fn(params, batch))


def gd_step(loss_fn: PerExampleLoss, params: PyTree, train: PyTree, gamma_t: Array, eta_t: Array) -> PyTree:
    """One step theta - eta_t * grad(sum_n gamma_t[n] l_n(theta)); ``gamma_t: [N]``."""
    grads = jax.grad(lambda p: jnp.dot(gamma_t, loss_fn(p, train)))(params)
    return jax.tree_util.tree_map(lambda p, g: p - eta_t * g, params, grads)


def contributions(loss_fn: PerExampleLoss, params: PyTree, train: PyTree, dev: PyTree) -> tuple[Array, Array]:
    """Per-example train losses ``[N]`` and contributions ``CT: [N]`` at ``params`` (one JVP)."""
    g_dev = jax.grad(lambda p: mean_loss(loss_fn, p, dev))(params)
    losses, ct = jax.jvp(lambda p: loss_fn(p, train), (params,), (g_dev,))
    return losses, ct


@partial(jax.jit, static_argnames=("loss_fn", "record_every"))
def run_chunk(
    loss_fn: PerExampleLoss,
    params: PyTree,
    train: PyTree,
    dev: PyTree,
    test: PyTree,
    gamma: Array,
    etas: Array,
    record_every: int,
) -> tuple[PyTree, dict]:
    """Run ``C = gamma.shape[0]`` steps from ``params`` and record along the way.

    Args:
      gamma: ``[C, N]`` policy rows of this chunk; etas: ``[C]`` step sizes.
      record_every: K; per-example records are taken at the chunk's steps 0, K, 2K, ...

    Returns:
      (params after C steps, records) with records ``dev_loss: [C]`` and ``test_loss: [C]`` at the
      parameters *before* each step, and ``train_loss, ct: [ceil(C/K), N]`` at the recorded steps.
    """
    steps, n = gamma.shape

    def step(p, xs):
        g_t, eta_t = xs
        out = (mean_loss(loss_fn, p, dev), mean_loss(loss_fn, p, test))
        return gd_step(loss_fn, p, train, g_t, eta_t), out

    def block(p, xs):
        losses, ct = contributions(loss_fn, p, train, dev)
        p, (dl, tl) = jax.lax.scan(step, p, xs)
        return p, (dl, tl, losses, ct)

    k = record_every
    full = steps // k
    outs = []
    if full:
        xs = (gamma[: full * k].reshape(full, k, n), etas[: full * k].reshape(full, k))
        params, (dl, tl, losses, ct) = jax.lax.scan(block, params, xs)
        outs.append((dl.reshape(-1), tl.reshape(-1), losses, ct))
    if steps % k:
        params, (dl, tl, losses, ct) = block(params, (gamma[full * k:], etas[full * k:]))
        outs.append((dl, tl, losses[None], ct[None]))
    dl, tl, losses, ct = (jnp.concatenate(parts) for parts in zip(*outs))
    return params, {"dev_loss": dl, "test_loss": tl, "train_loss": losses, "ct": ct}


@partial(jax.jit, static_argnames=("loss_fn",))
def eval_losses(loss_fn: PerExampleLoss, params: PyTree, dev: PyTree, test: PyTree) -> tuple[Array, Array]:
    """(L_dev, L_test) at ``params``."""
    return mean_loss(loss_fn, params, dev), mean_loss(loss_fn, params, test)


@partial(jax.jit, static_argnames=("loss_fn",))
def loss_curves(loss_fn: PerExampleLoss, params0: PyTree, train: PyTree, dev: PyTree, test: PyTree,
                gamma: Array, etas: Array) -> tuple[Array, Array]:
    """(L_dev, L_test) at theta_t for t = 0..T: ``[T+1]`` each; forward only, no records."""

    def step(p, xs):
        g_t, eta_t = xs
        return gd_step(loss_fn, p, train, g_t, eta_t), eval_losses(loss_fn, p, dev, test)

    params, (dl, tl) = jax.lax.scan(step, params0, (gamma, etas))
    last_dev, last_test = eval_losses(loss_fn, params, dev, test)
    return jnp.concatenate([dl, last_dev[None]]), jnp.concatenate([tl, last_test[None]])
