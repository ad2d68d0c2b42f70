import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learning_law import config as C
from learning_law import policy as P
from learning_law.inner import lr_schedule
from learning_law.metagrad import auc_and_grad, auc_of_policy, dev_curve
from learning_law.tasks import build_task, perceptron_loss
from learning_law.train import train

T = 23  # not a multiple of the block size: exercises the remainder block


def _setup(dtype=jnp.float32):
    task = build_task("perceptron", C.PerceptronConfig(dim=6, n_train=12, n_dev=10, n_test=10, seed=2))
    cast = lambda t: jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), t)  # noqa: E731
    gamma = np.random.default_rng(1).dirichlet(np.ones(12), size=T)
    return task, cast(task.train), cast(task.dev), cast(task.init_params), jnp.asarray(gamma, dtype), \
        jnp.asarray(lr_schedule(T, 0.3, 4), dtype)


def test_dev_curve_matches_training_run():
    task, train_b, dev_b, p0, gamma, etas = _setup()
    res = train(task, np.asarray(gamma), C.InnerConfig(steps=T, lr=0.3, warmup_steps=4, record_every=5),
                progress=False)
    for memory in ("full", "theta", "block"):
        curve = dev_curve(perceptron_loss, p0, train_b, dev_b, gamma, etas, memory, 5)
        np.testing.assert_allclose(curve, res["dev_loss"], rtol=1e-6)


def test_three_memory_strategies_give_the_same_gradient():
    task, train_b, dev_b, p0, gamma, etas = _setup()
    grads = {}
    for memory, block in (("full", 0), ("theta", 0), ("block", 0), ("block", 4), ("block", T)):
        auc, g = auc_and_grad(perceptron_loss, p0, train_b, dev_b, gamma, etas, memory, block)
        grads[(memory, block)] = np.asarray(g)
    ref = grads[("full", 0)]
    assert np.abs(ref).max() > 0
    for key, g in grads.items():
        # float32: the adjoint (theta, block) sums in another order than jax.grad (full); they agree to
        # float64 rounding in the test below
        np.testing.assert_allclose(g, ref, rtol=1e-5, atol=2e-6 * np.abs(ref).max(), err_msg=str(key))


@pytest.mark.parametrize("memory", ["full", "theta", "block"])
def test_gradient_matches_central_finite_differences_float64(memory):
    with jax.enable_x64(True):
        task, train_b, dev_b, p0, gamma, etas = _setup(jnp.float64)
        _, g = auc_and_grad(perceptron_loss, p0, train_b, dev_b, gamma, etas, memory, 5)
        f = jax.jit(lambda gm: auc_of_policy(perceptron_loss, p0, train_b, dev_b, gm, etas, memory, 5))
        rng = np.random.default_rng(0)
        h = 1e-6
        for _ in range(6):  # random entries, then a random direction
            t, n = rng.integers(T), rng.integers(12)
            e = jnp.zeros_like(gamma).at[t, n].set(h)
            fd = (f(gamma + e) - f(gamma - e)) / (2 * h)
            np.testing.assert_allclose(g[t, n], fd, rtol=1e-6, atol=1e-12)
        d = jnp.asarray(rng.normal(size=gamma.shape))
        fd = (f(gamma + h * d) - f(gamma - h * d)) / (2 * h)
        np.testing.assert_allclose(jnp.vdot(g, d), fd, rtol=1e-6)


@pytest.mark.parametrize("memory,block", [("theta", 0), ("block", 4), ("block", 0)])
def test_adjoint_equals_reverse_mode_through_the_scan_float64(memory, block):
    """The adjoint recursion (forward-over-reverse per step) and jax.grad through the scanned run agree to
    float64 rounding."""
    with jax.enable_x64(True):
        task, train_b, dev_b, p0, gamma, etas = _setup(jnp.float64)
        a1, g1 = auc_and_grad(perceptron_loss, p0, train_b, dev_b, gamma, etas, memory, block, adjoint=True)
        a2, g2 = auc_and_grad(perceptron_loss, p0, train_b, dev_b, gamma, etas, memory, block, adjoint=False)
        np.testing.assert_allclose(a1, a2, rtol=1e-13)
        np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-15)


def test_adjoint_equals_reverse_mode_on_the_transformer_float64():
    """The same on the tiny Transformer (attention, norms), memory block with a remainder."""
    with jax.enable_x64(True):
        lm = build_task("lm", C.get_preset("lm", "tiny").task)
        cast = lambda t: jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64) if a.dtype == jnp.float32 else a, t)  # noqa: E731
        n = lm.train["tokens"].shape[0]
        gm = jnp.asarray(np.random.default_rng(3).dirichlet(np.ones(n), size=10))
        et = jnp.asarray(lr_schedule(10, 0.5, 2))
        args = (lm.per_example_loss, cast(lm.init_params), lm.train, lm.dev, gm, et, "block", 3)
        a1, g1 = auc_and_grad(*args, adjoint=True)
        a2, g2 = auc_and_grad(*args, adjoint=False)
        np.testing.assert_allclose(a1, a2, rtol=1e-12)
        assert np.abs(g2).max() > 0
        np.testing.assert_allclose(g1, g2, rtol=1e-8, atol=1e-12 * np.abs(g2).max())


def test_adjoint_is_refused_where_it_does_not_apply():
    task, train_b, dev_b, p0, gamma, etas = _setup()
    with pytest.raises(ValueError, match="adjoint"):
        auc_and_grad(perceptron_loss, p0, train_b, dev_b, gamma, etas, "full", 0, adjoint=True)
