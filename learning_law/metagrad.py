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
import theory.certificate
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
    r"""AUC and dAUC/dgamma of plain GD by the run's adjoint recursion (:func:`theory.certificate.auc_and_adjoint`).

    lambda_T = grad L_dev(theta_T) / (T + 1); lambda_t = lambda_{t+1} - eta_t H_t lambda_{t+1}
    + grad L_dev(theta_t) / (T + 1); dAUC/dgamma[t, n] = -eta_t grad l_n(theta_t) . lambda_{t+1}, each step's
    two products from one forward-over-reverse ``jax.jvp``. ``jax.grad`` through the scan computes the same
    numbers reverse-over-reverse: it re-runs each step's forward and backward pass and then reverses the
    backward pass, and keeps that pass's residuals (the time of both: benchmarks/README.md, "LM outer
    step"). ``memory``: ``theta`` keeps every theta_t, ``block``
    one every ``block_size`` steps (0: :func:`default_block_size`), recomputing a block's when needed.
    """
    k = (block_size or default_block_size(gamma.shape[0])) if memory == "block" else 1
    auc, grad, _ = theory.certificate.auc_and_adjoint(loss_fn, params0, train, dev, gamma, etas, memory, k,
                                                      with_act=False)
    return auc, grad


def records_curves(memory: str, opt: O.InnerOpt = O.GD) -> bool:
    """Whether the meta-gradient of this run can also record held-out loss curves (:func:`auc_grad_and_curves`):
    the adjoint path, i.e. plain GD with memory ``theta`` or ``block``."""
    return opt == O.GD and memory != "full"


@partial(jax.jit, static_argnames=("loss_fn", "memory", "block_size"))
def auc_grad_and_curves(loss_fn: PerExampleLoss, params0: PyTree, train: PyTree, dev: PyTree, held: tuple,
                        gamma: Array, etas: Array, mode: Array, memory: str = "theta",
                        block_size: int = 0) -> tuple[Array, Array, Array]:
    """(AUC, dAUC/dgamma ``[T, N]``, loss curves ``[1 + len(held), T+1]``) of plain GD by the run's adjoint.

    Row 0 of the curves is the dev curve, the next ones those of ``held`` (e.g. test and validation).
    ``mode`` (traced, :mod:`theory.certificate`'s constants): ``GRADIENT`` leaves the held rows at zero,
    ``GRADIENT_AND_CURVES`` records them in the same run, ``CURVES`` runs forward only (the gradient is
    zeros). One compiled program serves all three, so the AUC and the gradient are the same bits whether or
    not the curves were recorded: an evaluation of the policy comes with the meta-gradient the next outer step
    uses, for the splits' forward passes alone, and a last evaluation costs a forward run.
    """
    if memory not in ("theta", "block"):
        raise ValueError(f"memory={memory!r} is invalid here: allowed 'theta', 'block' (the adjoint's)")
    k = (block_size or default_block_size(gamma.shape[0])) if memory == "block" else 1
    return theory.certificate.auc_adjoint_and_curves(loss_fn, params0, train, dev, tuple(held), gamma, etas,
                                                      jnp.asarray(mode, jnp.int32), memory, k)
