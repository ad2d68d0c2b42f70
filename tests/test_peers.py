"""The noisy-label methods (learning_law/peers.py) against independent computations on tiny problems."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learning_law import config as C
from learning_law import peers as PE
from learning_law.errors import UsageError
from learning_law.tasks import build_task
from learning_law.train import train


def _logistic(params, batch):
    a = batch["x"] @ params["w"]
    return jax.nn.softplus(a) - batch["y"] * a


def _np_loss(w, x, y):
    a = x @ w
    return np.logaddexp(0.0, a) - y * a


def test_lookahead_grad_matches_finite_differences():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), (rng.random(5) > 0.5).astype(float)
    xd, yd = rng.normal(size=(4, 3)), (rng.random(4) > 0.5).astype(float)
    w, eta, h = rng.normal(size=3), 0.7, 1e-6
    grads = (1 / (1 + np.exp(-(x @ w))) - y)[:, None] * x  # grad of l_n, by hand: [5, 3]
    dev = lambda v: _np_loss(v, xd, yd).mean()  # noqa: E731
    fd = np.array([(dev(w - eta * h * grads[n]) - dev(w + eta * h * grads[n])) / (2 * h) for n in range(5)])
    with jax.enable_x64(True):
        got = PE.lookahead_grad(_logistic, {"w": jnp.asarray(w)}, {"x": jnp.asarray(x), "y": jnp.asarray(y)},
                                {"x": jnp.asarray(xd), "y": jnp.asarray(yd)}, eta)
    np.testing.assert_allclose(np.asarray(got), fd, rtol=1e-6, atol=1e-9)
    # at eps = 0 it is -eta times the contribution grad L_dev . grad l_n
    g_dev = ((1 / (1 + np.exp(-(xd @ w))) - yd)[:, None] * xd).mean(0)
    np.testing.assert_allclose(np.asarray(got), -eta * grads @ g_dev, rtol=1e-6, atol=1e-9)


def test_l2rw_weights_clip_normalise_and_zero_sum():
    grad = jnp.array([-2.0, 1.0, -1.0, -1.0])
    np.testing.assert_allclose(PE.l2rw_weights(grad, jnp.ones(4, bool)), [0.5, 0, 0.25, 0.25])
    np.testing.assert_allclose(PE.l2rw_weights(grad, jnp.array([False, True, True, True])), [0, 0, 0.5, 0.5])
    np.testing.assert_array_equal(PE.l2rw_weights(jnp.array([1.0, 0.0, 3.0]), jnp.ones(3, bool)), [0, 0, 0])


def test_top_k_loss_and_rho_pick_by_hand():
    losses = jnp.array([2.0, 1.0, 3.0, 0.5, 0.2])
    il = jnp.array([1.9, 0.1, 0.5, 0.4, 0.0])  # reducible: 0.1, 0.9, 2.5, 0.1, 0.2
    every = jnp.ones(5, bool)
    np.testing.assert_allclose(PE.top_k_weights(losses, every, 2), [0.5, 0, 0.5, 0, 0])  # loss: 2, 0
    np.testing.assert_allclose(PE.top_k_weights(losses - il, every, 2), [0, 0.5, 0.5, 0, 0])  # rho: 2, 1
    cand = jnp.array([True, True, False, True, True])
    np.testing.assert_allclose(PE.top_k_weights(losses - il, cand, 2), [0, 0.5, 0, 0, 0.5])  # 2 not a candidate
    assert PE.Peer("rho").k(1000) == 100 and PE.Peer("loss", ratio=0.05).k(30) == 2


def test_bad_peer_names_field():
    with pytest.raises(UsageError, match="name"):
        PE.Peer("meta-weight-net")
    with pytest.raises(UsageError, match="ratio"):
        PE.Peer("rho", ratio=0.0)


@pytest.fixture(scope="module")
def noisy_task():
    return build_task("perceptron", C.PerceptronConfig(dim=6, n_train=40, n_dev=24, n_test=24, n_val=0,
                                                       label_noise=0.3, init_std=1.0, seed=2))


@pytest.mark.parametrize("name", ["loss", "rho", "l2rw"])
def test_run_replays_as_a_policy(noisy_task, name):
    """The rows a method records are the ones it trained with: replaying them gives the same curves."""
    inner = C.InnerConfig(steps=12, lr=0.5, record_every=3)
    res = PE.train_peer(noisy_task, name, inner)
    gamma = res["gamma"]
    sums = gamma.sum(1)
    assert np.all((np.abs(sums - 1) < 1e-5) | (sums == 0))
    if name != "l2rw":
        assert np.all((gamma == 0) | np.isclose(gamma, 1 / 4))  # 10% of 40: 4 examples per step
    if np.all(sums > 0):
        rep = train(noisy_task, gamma, inner, progress=False)
        np.testing.assert_allclose(rep["test_loss"], res["test_loss"], rtol=1e-5, atol=1e-6)


def test_irreducible_model_fits_dev(noisy_task):
    inner = C.InnerConfig(steps=30, lr=0.5, record_every=3)
    il = PE.irreducible_losses(noisy_task, inner)
    assert il.shape == (40,)
    init = np.asarray(noisy_task.per_example_loss(noisy_task.init_params, noisy_task.train))
    assert np.mean(il) < np.mean(init)
