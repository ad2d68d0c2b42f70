import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from learning_law import config as C
from learning_law import optimizers as O
from learning_law import policy as P
from learning_law.inner import lr_schedule
from learning_law.metagrad import auc_and_grad, auc_of_policy
from learning_law.tasks import build_task, perceptron_loss
from learning_law.train import train

TASK = C.PerceptronConfig(dim=6, n_train=16, n_dev=8, n_test=8, seed=7)


def test_gd_through_the_optax_path_equals_builtin_gd_exactly():
    task = build_task("perceptron", TASK)
    gamma = np.random.default_rng(0).dirichlet(np.ones(16), size=25).astype(np.float32)
    a = train(task, gamma, C.InnerConfig(steps=25, lr=0.3, record_every=5), progress=False)
    b = train(task, gamma, C.InnerConfig(steps=25, lr=0.3, record_every=5, optimizer="sgd"), progress=False)
    np.testing.assert_array_equal(a["dev_loss"], b["dev_loss"])
    np.testing.assert_array_equal(a["params_final"]["w"], b["params_final"]["w"])


def test_adam_and_momentum_runs_equal_optax_reference():
    task = build_task("perceptron", TASK)
    for name, tx in (("adam", optax.adam(0.05, b1=0.8, b2=0.99, eps=1e-6)), ("momentum", optax.sgd(0.05, 0.7))):
        inner = C.InnerConfig(steps=15, lr=0.05, record_every=5, optimizer=name, b1=0.8, b2=0.99, eps=1e-6,
                              momentum=0.7)
        res = train(task, P.constant(15, 16), inner, progress=False)
        params, state = task.init_params, tx.init(task.init_params)
        for _ in range(15):
            g = jax.grad(lambda p: jnp.mean(perceptron_loss(p, task.train)))(params)
            upd, state = tx.update(g, state, params)
            params = optax.apply_updates(params, upd)
        np.testing.assert_allclose(res["params_final"]["w"], params["w"], rtol=2e-5, atol=1e-6, err_msg=name)


def test_minibatch_schedule_is_reproducible_and_weights_only_the_batch():
    task = build_task("perceptron", TASK)
    inner = C.InnerConfig(steps=12, lr=0.3, record_every=4, batch_size=4, batch_seed=3)
    a = train(task, P.constant(12, 16), inner, progress=False)
    b = train(task, P.constant(12, 16), inner, progress=False)
    c = train(task, P.constant(12, 16), C.override(inner, batch_seed=4), progress=False)
    assert a["batch_idx"].shape == (12, 4)
    np.testing.assert_array_equal(a["batch_idx"], b["batch_idx"])
    assert not np.array_equal(a["batch_idx"], c["batch_idx"])
    assert all(len(set(row)) == 4 for row in a["batch_idx"])  # without replacement
    # All weight on an example outside every batch: gamma renormalised over the batch is 0, nothing moves.
    never = sorted(set(range(16)) - set(a["batch_idx"].ravel()))
    if never:
        res = train(task, P.one_hot(12, 16, never[0]), inner, progress=False)
        np.testing.assert_array_equal(res["params_final"]["w"], task.init_params["w"])
    # By hand: step 0 uses the renormalised weights of its batch.
    gamma = np.random.default_rng(1).dirichlet(np.ones(16), size=12).astype(np.float32)
    res = train(task, gamma[:1], C.override(inner, steps=1, record_every=1), progress=False)
    idx = res["batch_idx"][0]
    w = gamma[0, idx] / gamma[0, idx].sum()
    sub = {k: v[idx] for k, v in task.train.items()}
    g = jax.grad(lambda p: jnp.dot(w, perceptron_loss(p, sub)))(task.init_params)["w"]
    np.testing.assert_allclose(res["params_final"]["w"], task.init_params["w"] - 0.3 * g, rtol=1e-6, atol=1e-7)


def test_metagradient_through_adam_matches_finite_differences_float64():
    with jax.enable_x64(True):
        task = build_task("perceptron", TASK)
        cast = lambda t: jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), t)  # noqa: E731
        train_b, dev_b, p0 = cast(task.train), cast(task.dev), cast(task.init_params)
        T = 12
        gamma = jnp.asarray(np.random.default_rng(2).dirichlet(np.ones(16), size=T))
        etas = jnp.asarray(lr_schedule(T, 0.05), jnp.float64)
        opt = O.InnerOpt("adam", b1=0.9, b2=0.99, eps=1e-8, batch_size=8, batch_seed=1)
        f = jax.jit(lambda g: auc_of_policy(perceptron_loss, p0, train_b, dev_b, g, etas, "theta", 0, opt))
        grads = {m: np.asarray(auc_and_grad(perceptron_loss, p0, train_b, dev_b, gamma, etas, m, 4, opt)[1])
                 for m in ("full", "theta", "block")}
        np.testing.assert_allclose(grads["theta"], grads["full"], rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(grads["block"], grads["full"], rtol=1e-9, atol=1e-14)
        d = jnp.asarray(np.random.default_rng(3).normal(size=gamma.shape))
        h = 1e-6
        fd = (f(gamma + h * d) - f(gamma - h * d)) / (2 * h)
        np.testing.assert_allclose(jnp.vdot(grads["full"], d), fd, rtol=1e-6)


def test_preconditioned_contribution_equals_explicit_dot_products():
    task = build_task("perceptron", TASK)
    inner = C.InnerConfig(steps=6, lr=0.05, record_every=3, optimizer="adam")
    res = train(task, P.constant(6, 16), inner, progress=False)
    assert res["ct_precond"].shape == res["ct"].shape == (2, 16)
    # Recompute at t = 3 by hand with optax.adam and per-example gradients.
    tx = optax.scale_by_adam()
    params, state = task.init_params, tx.init(task.init_params)
    mean_grad = lambda p: jax.grad(lambda q: jnp.mean(perceptron_loss(q, task.train)))(p)  # noqa: E731
    for _ in range(3):
        upd, state = tx.update(mean_grad(params), state, params)
        params = {"w": params["w"] - 0.05 * upd["w"]}
    _, state_t = tx.update(mean_grad(params), state, params)
    v_hat = state_t.nu["w"] / (1 - 0.999 ** 4)
    precond = 1 / (np.sqrt(v_hat) + 1e-8)
    g_dev = jax.grad(lambda p: jnp.mean(perceptron_loss(p, task.dev)))(params)["w"]
    per_ex = jax.vmap(lambda x, y: jax.grad(lambda p: perceptron_loss(p, {"x": x[None], "y": y[None]})[0])(params))(
        task.train["x"], task.train["y"])["w"]
    np.testing.assert_allclose(res["ct_precond"][1], per_ex @ (precond * g_dev), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(res["ct"][1], per_ex @ g_dev, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("kw,field", [({"optimizer": "rmsprop"}, "optimizer"), ({"batch_size": -1}, "batch_size"),
                                      ({"b2": 1.0}, "b2"), ({"eps": 0.0}, "eps"), ({"momentum": 1.5}, "momentum")])
def test_bad_optimizer_settings(kw, field):
    from learning_law.errors import UsageError

    with pytest.raises(UsageError, match=field):
        C.InnerConfig(**kw)
