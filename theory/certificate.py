r"""Exact optimality certificate of a policy for the discrete problem (paper Section 2, Eq. 6).

The problem: over policies whose rows lie on the probability simplex :math:`\Delta_N`, minimise

.. math:: \mathrm{AUC}(\gamma) = \frac{1}{T+1} \sum_{t=0}^{T} L(\theta_t), \qquad
          \theta_{t+1} = \theta_t - \eta_t \nabla_\theta \sum_n \gamma_{t,n}\, l_n(\theta_t)

(plain full-batch gradient descent; :mod:`theory.objective` fixes the AUC convention).

**Adjoint.** With :math:`\lambda_t = \partial \mathrm{AUC} / \partial \theta_t` (total derivative),

.. math:: \lambda_T = \frac{\nabla L(\theta_T)}{T+1}, \quad
          \lambda_t = \frac{\nabla L(\theta_t)}{T+1} + (I - \eta_t H_t)\, \lambda_{t+1}, \quad
          \frac{\partial \mathrm{AUC}}{\partial \gamma_{t,n}} = -\eta_t\, \lambda_{t+1} \cdot \nabla l_n(\theta_t),

:math:`H_t = \nabla^2 \sum_n \gamma_{t,n} l_n(\theta_t)`. :func:`adjoint_gradient` runs this recursion by
hand: a forward ``lax.scan`` stores every :math:`\theta_t`, a reverse scan gets :math:`H_t \lambda_{t+1}`
and all N products :math:`\lambda_{t+1} \cdot \nabla l_n` from one ``jax.jvp`` of the N losses and their
weighted gradient (no per-example gradients). It never differentiates the whole run; :mod:`learning_law.metagrad`
uses it for plain GD, and tests check it against ``jax.grad`` through the scanned run.

**KKT conditions** on the product of simplices. :math:`\gamma` is a first-order stationary point iff for
every row t there is :math:`\mu_t` with :math:`g_{t,n} = \mu_t` where :math:`\gamma_{t,n} > 0` and
:math:`g_{t,n} \ge \mu_t` where :math:`\gamma_{t,n} = 0` (:math:`g = \partial \mathrm{AUC}/\partial\gamma`):
equal gradient on the support, no smaller off it, i.e. all the weight sits on the minimisers of
:math:`g_t`. Because :math:`g_{t,n} = -\eta_t \lambda_{t+1} \cdot \nabla l_n(\theta_t)`, this is the
*discrete-time Learning Law*: the adjoint-weighted contribution :math:`\lambda_{t+1} \cdot \nabla l_n(\theta_t)`
(the effect of example n at step t on the whole remaining AUC) is equal on the support and no larger off
it. The paper's :math:`CT_{t,n} = \nabla L(\theta_t) \cdot \nabla l_n(\theta_t)` replaces
:math:`\lambda_{t+1}` by the current dev gradient; the two differ in discrete time.

:func:`kkt_residual` measures the violation by the Frank-Wolfe (duality) gap of each row, scaled by the
gap of the uniform row under the same gradient:

.. math:: r_t = \frac{\sum_n \gamma_{t,n} g_{t,n} - \min_n g_{t,n}}
                     {\frac1N \sum_n g_{t,n} - \min_n g_{t,n}} \;\ge 0 .

:math:`r_t = 0` iff row t satisfies the KKT conditions; :math:`r_t = 1` when, to first order, row t is no
better placed than uniform weighting; it is invariant to :math:`g \to a g + b` (a > 0), continuous in
:math:`\gamma` (a tiny weight on a bad example costs a tiny residual) and defined as 0 when all
:math:`g_{t,n}` are equal. The numerator is the largest first-order decrease of the AUC available by moving
row t's weight, so it is the natural stationarity measure on a simplex.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax import Array

PyTree = Any
PerExampleLoss = Callable[[PyTree, PyTree], Array]  # (params, batch with leading axis n) -> [n]


def _tree_axpy(a, x, y):
    """a * x + y on pytrees."""
    return jax.tree_util.tree_map(lambda u, v: a * u + v, x, y)


@partial(jax.jit, static_argnames=("loss_fn", "memory", "block_size", "with_act"))
def auc_and_adjoint(loss_fn: PerExampleLoss, params0: PyTree, train: PyTree, dev: PyTree, gamma: Array,
                    etas: Array, memory: str = "theta", block_size: int = 1,
                    with_act: bool = True) -> tuple[Array, Array, Array | None]:
    r"""(AUC, dAUC/dgamma ``[T, N]``, adjoint contributions ``[T, N]``) by the hand-written adjoint recursion.

    Plain full-batch gradient descent only (no momentum, Adam or mini-batches). Per step of the reverse
    scan, one ``jax.jvp`` of theta -> (l(theta) [N], grad sum_n gamma_{t,n} l_n(theta)) along
    lambda_{t+1} gives both the N products lambda_{t+1} . grad l_n (the tangent of the losses) and
    H_t lambda_{t+1} (the tangent of the gradient; forward-over-reverse), plus one gradient of L.

    Memory: ``theta`` stores all T parameter vectors (O(T |theta|)); ``block`` stores one every
    ``block_size`` steps and recomputes a block's when the reverse scan reaches it (O((T/k + k) |theta|),
    one more forward run).

    Args:
      loss_fn: per-example loss ``(params, batch) -> [n]``.
      params0: theta_0 (pytree).
      train: batch of the N training examples (leading axis N); dev: the desired examples.
      gamma: ``[T, N]`` policy; etas: ``[T]`` step sizes.
      memory: ``theta`` | ``block``; block_size: steps per stored theta (``block``, >= 1).
      with_act: False skips ``act`` (returned as None), which saves a [T, N] temporary.

    Returns:
      ``auc``: mean_{t=0..T} L(theta_t); ``grad``: dAUC/dgamma[t, n] = -eta_t lambda_{t+1} . grad l_n(theta_t);
      ``act``: the adjoint-weighted contributions :math:`(T+1)\, \lambda_{t+1} \cdot \nabla l_n(\theta_t)`
      (scaled so that at t = T-1 they equal :math:`\nabla L(\theta_T) \cdot \nabla l_n(\theta_{T-1})`).
    """
    auc, out, _, _ = _adjoint(loss_fn, params0, train, dev, gamma, etas, memory, block_size, with_act, (), None)
    if not with_act:  # the scan emitted the gradient's rows
        return auc, out, None
    scale = 1.0 / (gamma.shape[0] + 1)
    return auc, -etas[:, None] * out, out / scale


GRADIENT, GRADIENT_AND_CURVES, CURVES = 0, 1, 2  # the modes of auc_adjoint_and_curves


@partial(jax.jit, static_argnames=("loss_fn", "memory", "block_size"))
def auc_adjoint_and_curves(loss_fn: PerExampleLoss, params0: PyTree, train: PyTree, dev: PyTree,
                           held: tuple, gamma: Array, etas: Array, mode: Array, memory: str = "theta",
                           block_size: int = 1) -> tuple[Array, Array, Array]:
    r"""(AUC, dAUC/dgamma ``[T, N]``, loss curves ``[1 + len(held), T+1]``): :func:`auc_and_adjoint` that can
    also record the mean loss of other splits at every :math:`\theta_t` of the same run.

    Row 0 of the curves is the dev loss :math:`L(\theta_t)`, t = 0..T (the AUC's own terms); row i is the
    mean loss of ``held[i-1]``. ``mode`` (a traced int) chooses what runs: :data:`GRADIENT` (the held rows are
    zeros), :data:`GRADIENT_AND_CURVES` (the held splits' forward passes are added to the reverse scan) or
    :data:`CURVES` (one forward run with the losses, no reverse scan; the gradient is zeros). One compiled
    program serves all three, so the AUC and the gradient are the same bits in the first two: an evaluation
    of the policy costs the splits' forward passes, not another run.
    """
    held = tuple(held)

    def gradient(_):
        auc, grad, dev_curve, held_curves = _adjoint(loss_fn, params0, train, dev, gamma, etas, memory, block_size,
                                                      False, held, mode == GRADIENT_AND_CURVES)
        return auc, grad, jnp.concatenate([dev_curve[None], held_curves.T])

    def curves(_):
        def step(p, xs):
            return _gd_step(loss_fn, train, p, xs), losses(p)

        def losses(p):
            return jnp.stack([jnp.mean(loss_fn(p, split)) for split in (dev, *held)])

        theta_T, rows = jax.lax.scan(step, params0, (gamma, etas))
        rows = jnp.concatenate([rows, losses(theta_T)[None]]).T.astype(like[2].dtype)
        return jnp.mean(rows[0]).astype(like[0].dtype), jnp.zeros(like[1].shape, like[1].dtype), rows

    like = jax.eval_shape(gradient, None)
    return jax.lax.cond(mode == CURVES, curves, gradient, None)


def _gd_step(loss_fn, train, p, xs):
    """theta_{t+1} = theta_t - eta_t grad sum_n gamma_{t,n} l_n(theta_t), for ``xs = (gamma_t, eta_t)``."""
    g_t, eta_t = xs
    grad = jax.grad(lambda q: jnp.dot(g_t, loss_fn(q, train)))(p)
    return _tree_axpy(-eta_t, grad, p)


def _adjoint(loss_fn, params0, train, dev, gamma, etas, memory, block_size, with_act, held, record):
    """The two scans of :func:`auc_and_adjoint`: (AUC, per-step rows of the gradient (``with_act`` False) or of
    lambda_{t+1} . grad l_n, the dev curve ``[T+1]``, the held splits' curves ``[T+1, len(held)]``)."""
    steps, n = gamma.shape
    scale = 1.0 / (steps + 1)
    dev_vg = jax.value_and_grad(lambda p: jnp.mean(loss_fn(p, dev)))
    m = len(held)

    def held_losses(p):
        """The held splits' mean losses at p when ``record``, else zeros (a cond: only one branch runs)."""
        dtype = jax.eval_shape(lambda q: jnp.mean(loss_fn(q, dev)), p).dtype
        return jax.lax.cond(record, lambda q: jnp.stack([jnp.mean(loss_fn(q, h)) for h in held]).astype(dtype),
                            lambda q: jnp.zeros(m, dtype), p)

    def forward(p, xs):
        return _gd_step(loss_fn, train, p, xs), p

    def backward(lam_next, xs):
        p, g_t, eta_t = xs
        lam, dots, l_dev = adjoint_step(loss_fn, train, dev, p, lam_next, g_t, eta_t, scale)
        row = dots if with_act else -eta_t * dots
        # Without held splits the scan emits exactly what it always did (same program, same bits).
        return lam, ((row, l_dev, held_losses(p)) if m else (row, l_dev))

    def segment(lam, theta, g_seg, eta_seg):
        """Recompute a segment's thetas from its first, then run the recursion back through it."""
        _, thetas = jax.lax.scan(forward, theta, (g_seg, eta_seg))
        return jax.lax.scan(backward, lam, (thetas, g_seg, eta_seg), reverse=True)

    if memory == "theta":
        theta_T, thetas = jax.lax.scan(forward, params0, (gamma, etas))
        loss_T, g_T = dev_vg(theta_T)
        _, rows = jax.lax.scan(backward, jax.tree_util.tree_map(lambda x: scale * x, g_T),
                               (thetas, gamma, etas), reverse=True)
    elif memory == "block":
        if block_size < 1:
            raise ValueError(f"block_size={block_size!r} is invalid: allowed >= 1")
        k = block_size
        full = steps // k
        g_blocks, eta_blocks = gamma[: full * k].reshape(full, k, n), etas[: full * k].reshape(full, k)

        def run_block(theta, xs):
            return jax.lax.scan(forward, theta, xs)[0], theta

        theta_end, starts = jax.lax.scan(run_block, params0, (g_blocks, eta_blocks))
        rest_g, rest_eta = gamma[full * k:], etas[full * k:]
        theta_T = jax.lax.scan(forward, theta_end, (rest_g, rest_eta))[0] if steps % k else theta_end
        loss_T, g_T = dev_vg(theta_T)
        lam = jax.tree_util.tree_map(lambda x: scale * x, g_T)
        tail = None
        if steps % k:
            lam, tail = segment(lam, theta_end, rest_g, rest_eta)
        _, rows = jax.lax.scan(lambda c, xs: segment(c, *xs), lam, (starts, g_blocks, eta_blocks), reverse=True)
        rows = tuple(r.reshape(full * k, *r.shape[2:]) for r in rows)
        if tail is not None:
            rows = tuple(jnp.concatenate([r, t]) for r, t in zip(rows, tail))
    else:
        raise ValueError(f"memory={memory!r} is invalid: allowed 'theta', 'block'")
    dots, losses = rows[0], rows[1]
    auc = (jnp.sum(losses) + loss_T) * scale
    if not m:
        return auc, dots, None, None
    return (auc, dots, jnp.concatenate([losses, loss_T[None]]),
            jnp.concatenate([rows[2], held_losses(theta_T)[None]]))


def adjoint_step(loss_fn: PerExampleLoss, train: PyTree, dev: PyTree, params: PyTree, lam_next: PyTree,
                 g_t: Array, eta_t: Array, scale: float) -> tuple[PyTree, Array, Array]:
    r"""One step of the reverse recursion of :func:`auc_and_adjoint` at :math:`\theta_t` = ``params``:
    (:math:`\lambda_t`, the N products :math:`\lambda_{t+1} \cdot \nabla l_n(\theta_t)`, :math:`L(\theta_t)`).

    One ``jax.jvp`` along ``lam_next`` of theta -> (losses [N], their ``g_t``-weighted gradient) gives the
    products (the losses' tangent) and :math:`H_t \lambda_{t+1}` (the gradient's tangent; forward-over-reverse);
    one gradient of the dev loss completes :math:`\lambda_t = \text{scale}\, \nabla L + \lambda_{t+1} - \eta_t H_t
    \lambda_{t+1}`.
    """
    def losses_and_grad(q):
        losses, pullback = jax.vjp(lambda r: loss_fn(r, train), q)
        return losses, pullback(g_t)[0]

    _, (dots, hvp) = jax.jvp(losses_and_grad, (params,), (lam_next,))
    l_dev, g_dev = jax.value_and_grad(lambda q: jnp.mean(loss_fn(q, dev)))(params)
    lam = jax.tree_util.tree_map(lambda gd, ln, hv: scale * gd + ln - eta_t * hv, g_dev, lam_next, hvp)
    return lam, dots, l_dev


def adjoint_gradient(loss_fn: PerExampleLoss, params0: PyTree, train: PyTree, dev: PyTree, gamma: Array,
                     etas: Array) -> Array:
    """dAUC/dgamma: ``[T, N]`` for plain GD by the adjoint recursion (see :func:`auc_and_adjoint`)."""
    return auc_and_adjoint(loss_fn, params0, train, dev, gamma, etas)[1]


def kkt_residual(gamma: Array, grad: Array) -> tuple[Array, Array]:
    r"""Per-row KKT residual ``[T]`` and a run-level scalar for ``gamma, grad: [T, N]``.

    Row t: :math:`r_t = (\gamma_t \cdot g_t - \min_n g_{t,n}) / (\bar g_t - \min_n g_{t,n})` (module
    docstring); 0 when all entries of :math:`g_t` are equal. Run level:
    :math:`\sum_t (\gamma_t \cdot g_t - \min g_t) / \sum_t (\bar g_t - \min g_t)`, the total first-order
    gap relative to that of the uniform policy under the same gradients (1 for the constant policy).

    >>> import jax.numpy as jnp
    >>> r, total = kkt_residual(jnp.array([[0.5, 0.5, 0.0], [1/3, 1/3, 1/3]]),
    ...                         jnp.array([[1.0, 1.0, 2.0], [0.0, 1.0, 2.0]]))
    >>> [round(float(x), 6) for x in r], round(float(total), 6)
    ([0.0, 1.0], 0.75)
    """
    gamma = jnp.asarray(gamma)
    grad = jnp.asarray(grad)
    gmin = jnp.min(grad, axis=-1)
    gap = jnp.sum(gamma * grad, axis=-1) - gmin
    uniform = jnp.mean(grad, axis=-1) - gmin
    safe = jnp.where(uniform > 0, uniform, 1.0)
    rows = jnp.where(uniform > 0, jnp.maximum(gap, 0.0) / safe, 0.0)
    total_u = jnp.sum(uniform)
    total = jnp.where(total_u > 0, jnp.sum(jnp.maximum(gap, 0.0)) / jnp.where(total_u > 0, total_u, 1.0), 0.0)
    return rows, total
