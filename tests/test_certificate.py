"""The exact optimality certificate: hand-written adjoint, KKT residual, discrete Learning Law."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize as so

from learning_law import config as C
from learning_law.inner import lr_schedule
from learning_law.metagrad import auc_of_policy
from learning_law.optimize import outer_step
from learning_law.tasks import build_task, perceptron_loss
from theory.certificate import adjoint_gradient, auc_and_adjoint, kkt_residual
from theory.simplex import project_rows_onto_simplex

T = 17


def _cast(tree, dtype):
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), tree)


def test_adjoint_equals_reverse_mode_through_the_run_float64():
    with jax.enable_x64(True):
        task = build_task("perceptron", C.PerceptronConfig(dim=6, n_train=12, n_dev=10, n_test=10, seed=2))
        p0, tr, dv = (_cast(x, jnp.float64) for x in (task.init_params, task.train, task.dev))
        gamma = jnp.asarray(np.random.default_rng(1).dirichlet(np.ones(12), size=T))
        etas = jnp.asarray(lr_schedule(T, 0.3, 4), jnp.float64)
        auc, g, _ = auc_and_adjoint(perceptron_loss, p0, tr, dv, gamma, etas)
        ref_auc, ref = jax.value_and_grad(auc_of_policy, argnums=4)(perceptron_loss, p0, tr, dv, gamma, etas, "full")
        assert np.abs(ref).max() > 1e-3
        np.testing.assert_allclose(auc, ref_auc, rtol=1e-13)
        np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-15)


def test_adjoint_float32_close_to_reverse_mode(tiny_task):
    gamma = jnp.asarray(np.random.default_rng(2).dirichlet(np.ones(tiny_task.n_train), size=T), jnp.float32)
    etas = jnp.asarray(lr_schedule(T, 0.1))
    args = (perceptron_loss, tiny_task.init_params, tiny_task.train, tiny_task.dev, gamma, etas)
    g = adjoint_gradient(*args)
    ref = jax.grad(auc_of_policy, argnums=4)(*args)
    assert g.shape == gamma.shape and g.dtype == jnp.float32
    np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-5 * float(np.abs(ref).max()))


def test_kkt_residual_closed_forms():
    g = jnp.array([[1.0, 1.0, 3.0, 2.0], [0.0, 1.0, 2.0, 3.0], [5.0, 5.0, 5.0, 5.0]])
    gamma = jnp.array([[0.3, 0.7, 0.0, 0.0],  # all weight on the minimisers: KKT holds
                       [0.0, 0.0, 0.0, 1.0],  # all weight on the worst example
                       [0.1, 0.2, 0.3, 0.4]])  # flat gradient: any row is stationary
    rows, total = kkt_residual(gamma, g)
    # row 1: gap = 3 - 0, uniform gap = 1.5 - 0
    np.testing.assert_allclose(rows, [0.0, 2.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(total, 3.0 / (0.75 + 1.5), rtol=1e-6)
    # scale- and shift-free
    rows2, total2 = kkt_residual(gamma, 7.0 * g - 3.0)
    np.testing.assert_allclose(rows2, rows, atol=1e-6)
    np.testing.assert_allclose(total2, total, rtol=1e-6)
    # the constant policy scores exactly 1 whatever the gradient
    u = jnp.full((3, 4), 0.25)
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(kkt_residual(u, jnp.asarray(rng.normal(size=(3, 4))))[0], 1.0, rtol=1e-6)
    # off-support smaller gradient violates KKT even with an equal gradient on the support
    assert float(kkt_residual(jnp.array([[0.5, 0.5, 0.0]]), jnp.array([[1.0, 1.0, 0.5]]))[0][0]) > 0.5


# A problem small enough to solve by brute force: 2 GD steps, 3 examples, d = 2, squared loss.
X_TRAIN = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
Y_TRAIN = np.array([2.0, 1.0, -1.0])
X_DEV = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.5]])
Y_DEV = np.array([1.0, 1.0, 1.5])
ETA = 0.3


def sq_loss(params, batch):
    return 0.5 * (batch["x"] @ params["w"] - batch["y"]) ** 2


def _numpy_run(gamma):
    """Independent float64 forward pass: (AUC, CT[t, n]) of the 2-step GD run."""
    w = np.zeros(2)
    losses, cts = [], []
    for t in range(gamma.shape[0]):
        r_dev = X_DEV @ w - Y_DEV
        losses.append(0.5 * np.mean(r_dev ** 2))
        g_dev = X_DEV.T @ r_dev / len(Y_DEV)
        g_n = X_TRAIN * (X_TRAIN @ w - Y_TRAIN)[:, None]  # [N, d] per-example gradients
        cts.append(g_n @ g_dev)
        w = w - ETA * gamma[t] @ g_n
    losses.append(0.5 * np.mean((X_DEV @ w - Y_DEV) ** 2))
    return float(np.mean(losses)), np.array(cts)


def _brute_force_optimum(steps=2, n=3):
    grid = [np.array(v) / 10 for v in itertools.product(range(11), repeat=n) if sum(v) == 10]
    start = min((np.stack(rows) for rows in itertools.product(grid, repeat=steps)), key=lambda g: _numpy_run(g)[0])
    cons = [{"type": "eq", "fun": (lambda z, t=t: z[t * n:(t + 1) * n].sum() - 1.0)} for t in range(steps)]
    res = so.minimize(lambda z: _numpy_run(z.reshape(steps, n))[0], start.ravel(), method="SLSQP",
                      bounds=[(0.0, 1.0)] * (steps * n), constraints=cons, options={"ftol": 1e-15, "maxiter": 500})
    gamma = np.clip(res.x.reshape(steps, n), 0.0, None)
    gamma[gamma < 1e-9] = 0.0
    return gamma / gamma.sum(axis=1, keepdims=True)


def test_certificate_and_discrete_learning_law_at_brute_force_optimum():
    gamma = _brute_force_optimum()
    with jax.enable_x64(True):
        train = {"x": jnp.asarray(X_TRAIN), "y": jnp.asarray(Y_TRAIN)}
        dev = {"x": jnp.asarray(X_DEV), "y": jnp.asarray(Y_DEV)}
        p0 = {"w": jnp.zeros(2)}
        etas = jnp.full(2, ETA)
        auc, grad, act = auc_and_adjoint(sq_loss, p0, train, dev, jnp.asarray(gamma), etas)
        np.testing.assert_allclose(auc, _numpy_run(gamma)[0], rtol=1e-12)
        rows, total = kkt_residual(jnp.asarray(gamma), grad)
        const = np.full_like(gamma, 1.0 / 3)
        _, grad_c, _ = auc_and_adjoint(sq_loss, p0, train, dev, jnp.asarray(const), etas)
        np.testing.assert_allclose(kkt_residual(jnp.asarray(const), grad_c)[1], 1.0, rtol=1e-12)
        assert float(total) < 1e-5, (gamma, np.asarray(grad))
        assert np.all(np.asarray(rows) < 1e-5)
    # The optimum mixes two examples at step 0 (a non-trivial instance of the law) ...
    support = gamma[0] > 0
    assert support.sum() == 2
    # ... where the adjoint-weighted contributions lambda_1 . grad l_n(theta_0) are equal (discrete law),
    a = np.asarray(act)[0, support]
    np.testing.assert_allclose(a[0], a[1], rtol=1e-4)
    assert np.all(np.asarray(act)[0, ~support] < a.min())
    # ... but the paper's CT = grad L(theta_0) . grad l_n(theta_0) are not: Theorem 3.1 is a
    # continuous-time statement and does not hold exactly for finite steps.
    _, ct = _numpy_run(gamma)
    c = ct[0, support]
    assert abs(c[0] - c[1]) / np.mean(np.abs(c)) > 0.5


def test_kkt_residual_drops_along_projected_gradient_descent(tiny_task):
    steps = 30
    etas = jnp.asarray(lr_schedule(steps, 0.1))
    gamma = jnp.full((steps, tiny_task.n_train), 1.0 / tiny_task.n_train, jnp.float32)
    args = (tiny_task.init_params, tiny_task.train, tiny_task.dev)
    residuals = []
    for k in range(8):
        grad = adjoint_gradient(perceptron_loss, *args, gamma, etas)
        residuals.append(float(kkt_residual(gamma, grad)[1]))
        gamma, _ = outer_step(perceptron_loss, gamma, np.float32(2.0), 0, *args, etas)
    np.testing.assert_allclose(residuals[0], 1.0, rtol=1e-5)
    assert all(b < a for a, b in zip(residuals, residuals[1:])), residuals
    assert residuals[-1] < 0.6 * residuals[0], residuals
    # projecting a row with its own gradient step changes nothing at a KKT point
    kkt_point, its_grad = jnp.array([[0.3, 0.7, 0.0]]), jnp.array([[1.0, 1.0, 3.0]])
    np.testing.assert_allclose(project_rows_onto_simplex(kkt_point - 0.1 * its_grad), kkt_point, atol=1e-6)
