r"""The AUC of a policy and its exact gradient through the unrolled run (paper Section 4.1, Fig. 12).

``auc_of_policy(gamma) = mean_t L_dev(theta_t)`` over t = 0..T (:mod:`theory.objective`), computed
by a scan that keeps only what the objective needs (no test loss, no records). ``jax.grad`` of it
back-propagates through all T steps. What the backward pass keeps in memory is a choice:

- ``full``:  every step's residuals (activations of the forward pass): fastest, O(T * N) memory.
- ``theta``: ``jax.checkpoint`` on each step, so only theta_t is stored and the step is recomputed
  in the backward pass: O(T * |theta|).
- ``block``: theta is stored only every k steps (k = block_size, default round(sqrt(T))); a block's
  steps are recomputed (each checkpointed) when the backward pass reaches it: O((T/k + k) |theta|),
  i.e. O(sqrt(T)) memory for about one extra forward pass.

All three compute the same gradient (tests check it, and against finite differences in float64).
Under plain GD, ``theta`` and ``block`` run the adjoint recursion of the run (:func:`adjoint_auc_and_grad`)
with the same memory, rather than ``jax.grad`` through the checkpointed scan: the same numbers, cheaper.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
from jax import Array

import theory
from learning_law import optimizers as O
from learning_law.inner import gd_step, mean_loss
from learning_law.tasks.base import PerExampleLoss, PyTree


def default_block_size(steps: int) -> int:
    """About sqrt(T); a divisor of T when one lies within a factor 2 of sqrt(T) (a remainder block makes
    XLA copy the whole [T, N] gradient once more)."""
    root = math.sqrt(steps)
    divisors = [k for k in range(max(1, int(root / 2)), int(2 * root) + 1) if steps % k == 0]
    return min(divisors, key=lambda k: abs(k - root)) if divisors else max(1, round(root))


def dev_curve(
    loss_fn: PerExampleLoss,
    params0: PyTree,
    train: PyTree,
    dev: PyTree,
    gamma: Array,
    etas: Array,
    memory: str = "theta",
    block_size: int = 0,
    opt: O.InnerOpt = O.GD,
) -> Array:
    """L_dev(theta_t) for t = 0..T: ``[T+1]``, differentiable in ``gamma: [T, N]``.

    The carry of the scan is (theta_t, optimiser state), so checkpointing stores both (Adam: 3x theta).
    """

    def step(carry, xs):
        p, s = carry
        g_t, eta_t, t = xs
        if opt == O.GD:
            nxt = (gd_step(loss_fn, p, train, g_t, eta_t), s)
        else:
            nxt = O.step(loss_fn, opt, p, s, train, g_t, eta_t, t)
        return nxt, mean_loss(loss_fn, p, dev)

    steps, n = gamma.shape
    ts = jnp.arange(steps)
    carry = (params0, O.init_state(opt, params0))
    if memory == "full":
        carry, losses = jax.lax.scan(step, carry, (gamma, etas, ts))
    elif memory == "theta":
        carry, losses = jax.lax.scan(jax.checkpoint(step), carry, (gamma, etas, ts))
    elif memory == "block":
        k = block_size or default_block_size(steps)
        ck_step = jax.checkpoint(step)

        @jax.checkpoint
        def block(c, xs):
            return jax.lax.scan(ck_step, c, xs)

        full = steps // k
        parts = []
        if full:
            xs = (gamma[: full * k].reshape(full, k, n), etas[: full * k].reshape(full, k),
                  ts[: full * k].reshape(full, k))
            carry, losses = jax.lax.scan(block, carry, xs)
            parts.append(losses.reshape(-1))
        if steps % k:
            carry, losses = block(carry, (gamma[full * k:], etas[full * k:], ts[full * k:]))
            parts.append(losses)
        losses = jnp.concatenate(parts)
    else:
        raise ValueError(f"memory={memory!r} is invalid: allowed 'full', 'theta', 'block'")
    return jnp.concatenate([losses, mean_loss(loss_fn, carry[0], dev)[None]])


def auc_of_policy(loss_fn, params0, train, dev, gamma, etas, memory="theta", block_size=0, opt=O.GD) -> Array:
    """AUC(gamma) = mean of :func:`dev_curve` (the one objective used in optimisation and evaluation)."""
    return theory.auc(dev_curve(loss_fn, params0, train, dev, gamma, etas, memory, block_size, opt))


@partial(jax.jit, static_argnames=("loss_fn", "memory", "block_size", "opt", "adjoint"))
def auc_and_grad(loss_fn, params0, train, dev, gamma, etas, memory="theta", block_size=0, opt=O.GD,
                 adjoint: bool | None = None):
    """(AUC(gamma), dAUC/dgamma: [T, N]) through the whole run.

    Plain GD with memory ``theta`` or ``block`` runs the run's adjoint equations (:func:`adjoint_auc_and_grad`,
    ``adjoint`` None or True); otherwise (``full``, Adam, mini-batch SGD, or ``adjoint=False``) it is
    ``jax.value_and_grad`` through the scanned run. Both give the same gradient (tests check it).
    """
    if adjoint is None:
        adjoint = opt == O.GD and memory != "full"
    if adjoint:
        if opt != O.GD or memory == "full":
            raise ValueError(f"adjoint=True needs plain GD and memory 'theta' or 'block' (opt={opt}, memory={memory!r})")
        return adjoint_auc_and_grad(loss_fn, params0, train, dev, gamma, etas, memory, block_size)
    return jax.value_and_grad(auc_of_policy, argnums=4)(loss_fn, params0, train, dev, gamma, etas,
                                                        memory, block_size, opt)


def adjoint_auc_and_grad(loss_fn: PerExampleLoss, params0: PyTree, train: PyTree, dev: PyTree, gamma: Array,
                         etas: Array, memory: str = "theta", block_size: int = 0) -> tuple[Array, Array]:
    r"""AUC and dAUC/dgamma of plain GD by the adjoint (costate) recursion, each step's linearisation
    taken forward-over-reverse.

    With theta_{t+1} = theta_t - eta_t g_t(theta_t), g_t = grad sum_n gamma[t, n] l_n, and
    AUC = sum_{t=0..T} L_dev(theta_t) / (T + 1), the adjoint lambda_t = dAUC/dtheta_t runs backwards from
    lambda_T = grad L_dev(theta_T) / (T + 1):

        dAUC/dgamma[t, n] = -eta_t  grad l_n(theta_t) . lambda_{t+1}
        lambda_t          = lambda_{t+1} - eta_t H_t lambda_{t+1} + grad L_dev(theta_t) / (T + 1)

    Both products come from one ``jax.jvp`` of theta -> (l(theta) [N], g_t(theta)) along lambda_{t+1}.
    ``jax.grad`` through the scan computes the same numbers reverse-over-reverse: it re-runs each step's
    forward and backward pass and then reverses the backward pass, about 4 gradient costs per step
    against 3 here (a gradient forward, its JVP backward), and it keeps the backward pass's residuals.
    Measured at the LM cpu preset's sizes: 1.3-1.4x faster per meta-gradient (benchmarks/README.md).

    ``memory``: ``theta`` keeps theta_t of every step (O(T |theta|), as the checkpointed scan);
    ``block`` keeps it every ``block_size`` steps and recomputes a block's thetas when the backward
    recursion reaches it (O((T/k + k) |theta|), one extra forward run).
    """
    steps = gamma.shape[0]
    w = 1.0 / (steps + 1)
    dev_vg = jax.value_and_grad(lambda p: mean_loss(loss_fn, p, dev))

    def forward(theta, xs):
        g_t, eta_t = xs
        return gd_step(loss_fn, theta, train, g_t, eta_t), theta

    def backward(lam, xs):
        theta, g_t, eta_t = xs

        def losses_and_grad(p):
            losses, pullback = jax.vjp(lambda q: loss_fn(q, train), p)
            return losses, pullback(g_t)[0]

        _, (l_dot, h_lam) = jax.jvp(losses_and_grad, (theta,), (lam,))
        l_dev, g_dev = dev_vg(theta)
        lam = jax.tree_util.tree_map(lambda a, h, d: a - eta_t * h + w * d, lam, h_lam, g_dev)
        return lam, (-eta_t * l_dot, l_dev)

    def segment(lam, theta, g_seg, eta_seg):
        """Recompute the thetas of a segment from its first, then run the adjoint back through it."""
        _, thetas = jax.lax.scan(forward, theta, (g_seg, eta_seg))
        return jax.lax.scan(backward, lam, (thetas, g_seg, eta_seg), reverse=True)

    if memory == "theta":
        theta_T, thetas = jax.lax.scan(forward, params0, (gamma, etas))
        l_T, g_T = dev_vg(theta_T)
        _, (grad, l_dev) = jax.lax.scan(backward, jax.tree_util.tree_map(lambda g: w * g, g_T),
                                        (thetas, gamma, etas), reverse=True)
    elif memory == "block":
        k = block_size or default_block_size(steps)
        full, n = steps // k, gamma.shape[1]
        g_blocks, eta_blocks = gamma[: full * k].reshape(full, k, n), etas[: full * k].reshape(full, k)

        def run_block(theta, xs):
            return jax.lax.scan(forward, theta, xs)[0], theta

        theta_end, starts = jax.lax.scan(run_block, params0, (g_blocks, eta_blocks))
        rest_g, rest_eta = gamma[full * k:], etas[full * k:]
        theta_T = jax.lax.scan(forward, theta_end, (rest_g, rest_eta))[0] if steps % k else theta_end
        l_T, g_T = dev_vg(theta_T)
        lam = jax.tree_util.tree_map(lambda g: w * g, g_T)
        tail = None
        if steps % k:
            lam, tail = segment(lam, theta_end, rest_g, rest_eta)

        def back_block(lam, xs):
            theta, g_seg, eta_seg = xs
            return segment(lam, theta, g_seg, eta_seg)

        _, (grad, l_dev) = jax.lax.scan(back_block, lam, (starts, g_blocks, eta_blocks), reverse=True)
        grad, l_dev = grad.reshape(full * k, n), l_dev.reshape(full * k)
        if tail is not None:
            grad, l_dev = jnp.concatenate([grad, tail[0]]), jnp.concatenate([l_dev, tail[1]])
    else:
        raise ValueError(f"memory={memory!r} is invalid for the adjoint: allowed 'theta', 'block'")
    return (jnp.sum(l_dev) + l_T) * w, grad
