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

from learning_law import optimizers as O
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


def contributions_along(loss_fn: PerExampleLoss, params: PyTree, train: PyTree, dev: PyTree,
                        precond: PyTree) -> Array:
    """CT_P[n] = grad L_dev . P grad l_n for a diagonal preconditioner P (one JVP along P grad L_dev)."""
    g_dev = jax.grad(lambda p: mean_loss(loss_fn, p, dev))(params)
    tangent = jax.tree_util.tree_map(lambda a, b: a * b, precond, g_dev)
    return jax.jvp(lambda p: loss_fn(p, train), (params,), (tangent,))[1]


@partial(jax.jit, static_argnames=("loss_fn", "record_every", "opt"))
def run_chunk(
    loss_fn: PerExampleLoss,
    params: PyTree,
    train: PyTree,
    dev: PyTree,
    test: PyTree,
    gamma: Array,
    etas: Array,
    record_every: int,
    opt: O.InnerOpt = O.GD,
    opt_state=None,
    t0=0,
) -> tuple[PyTree, dict] | tuple[PyTree, object, dict]:
    """Run ``C = gamma.shape[0]`` steps from ``params`` and record along the way.

    Args:
      gamma: ``[C, N]`` policy rows of this chunk; etas: ``[C]`` step sizes.
      record_every: K; per-example records are taken at the chunk's steps 0, K, 2K, ...
      opt, opt_state, t0: the inner optimiser, its state and the index of the chunk's first step
        (the default is the paper's full-batch GD, which has no state).

    Returns:
      (params after C steps, records), or (params, opt_state, records) when ``opt_state`` is given.
      Records: ``dev_loss: [C]`` and ``test_loss: [C]`` at the parameters *before* each step, and
      ``train_loss, ct: [ceil(C/K), N]`` at the recorded steps (``ct_precond`` too under Adam).
    """
    steps, n = gamma.shape
    stateful = opt_state is not None
    state0 = opt_state if stateful else O.init_state(opt, params)
    ts = t0 + jnp.arange(steps)

    def step(carry, xs):
        p, s = carry
        g_t, eta_t, t = xs
        out = (mean_loss(loss_fn, p, dev), mean_loss(loss_fn, p, test))
        if opt == O.GD:  # the paper's update, bit for bit
            return (gd_step(loss_fn, p, train, g_t, eta_t), s), out
        return O.step(loss_fn, opt, p, s, train, g_t, eta_t, t), out

    def block(carry, xs):
        p, s = carry
        losses, ct = contributions(loss_fn, p, train, dev)
        rec = {"train_loss": losses, "ct": ct}
        precond = O.preconditioner(opt, loss_fn, p, s, train, xs[0][0], xs[2][0])
        if precond is not None:
            rec["ct_precond"] = contributions_along(loss_fn, p, train, dev, precond)
        carry, (dl, tl) = jax.lax.scan(step, carry, xs)
        return carry, (dl, tl, rec)

    k = record_every
    full = steps // k
    outs = []
    carry = (params, state0)
    if full:
        xs = (gamma[: full * k].reshape(full, k, n), etas[: full * k].reshape(full, k), ts[: full * k].reshape(full, k))
        carry, (dl, tl, rec) = jax.lax.scan(block, carry, xs)
        outs.append((dl.reshape(-1), tl.reshape(-1), rec))
    if steps % k:
        carry, (dl, tl, rec) = block(carry, (gamma[full * k:], etas[full * k:], ts[full * k:]))
        outs.append((dl, tl, jax.tree_util.tree_map(lambda a: a[None], rec)))
    records = {"dev_loss": jnp.concatenate([o[0] for o in outs]),
               "test_loss": jnp.concatenate([o[1] for o in outs])}
    for key in outs[0][2]:
        records[key] = jnp.concatenate([o[2][key] for o in outs])
    if opt.batch_size:
        records["batch_idx"] = jax.vmap(lambda t: O.batch_indices(opt, n, t))(ts)
    params, state = carry
    return (params, state, records) if stateful else (params, records)


@partial(jax.jit, static_argnames=("loss_fn",))
def eval_losses(loss_fn: PerExampleLoss, params: PyTree, dev: PyTree, test: PyTree) -> tuple[Array, Array]:
    """(L_dev, L_test) at ``params``."""
    return mean_loss(loss_fn, params, dev), mean_loss(loss_fn, params, test)


@partial(jax.jit, static_argnames=("loss_fn", "opt"))
def split_curves(loss_fn: PerExampleLoss, params0: PyTree, train: PyTree, splits: tuple, gamma: Array, etas: Array,
                 opt: O.InnerOpt = O.GD) -> tuple[Array, ...]:
    """The mean loss of each split of ``splits`` at theta_t for t = 0..T (``[T+1]`` each), from one run:
    the training steps are shared, only the splits' forward passes are added."""

    def losses(p):
        return tuple(mean_loss(loss_fn, p, split) for split in splits)

    def step(carry, xs):
        p, s = carry
        g_t, eta_t, t = xs
        return O.step(loss_fn, opt, p, s, train, g_t, eta_t, t), losses(p)

    ts = jnp.arange(gamma.shape[0])
    (params, _), curves = jax.lax.scan(step, (params0, O.init_state(opt, params0)), (gamma, etas, ts))
    return tuple(jnp.concatenate([c, last[None]]) for c, last in zip(curves, losses(params)))


def loss_curves(loss_fn: PerExampleLoss, params0: PyTree, train: PyTree, dev: PyTree, test: PyTree,
                gamma: Array, etas: Array, opt: O.InnerOpt = O.GD) -> tuple[Array, Array]:
    """(L_dev, L_test) at theta_t for t = 0..T: ``[T+1]`` each; forward only, no records."""
    return split_curves(loss_fn, params0, train, (dev, test), gamma, etas, opt)
