import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from learning_law import config as C
from learning_law import policy as P
from learning_law.inner import contributions, lr_schedule
from learning_law.tasks import build_task, perceptron_loss
from learning_law.train import train

INNER = C.InnerConfig(steps=30, lr=0.1, record_every=4)


def optax_gd_curve(task, loss_of_params, steps, lr):
    """Independent reference: plain full-batch GD with optax.sgd, a Python loop over steps."""
    opt = optax.sgd(lr)
    params = task.init_params
    state = opt.init(params)
    dev = []
    for _ in range(steps):
        dev.append(float(jnp.mean(perceptron_loss(params, task.dev))))
        grads = jax.grad(loss_of_params)(params)
        updates, state = opt.update(grads, state)
        params = optax.apply_updates(params, updates)
    dev.append(float(jnp.mean(perceptron_loss(params, task.dev))))
    return np.array(dev), params


def test_constant_policy_equals_full_batch_gd(tiny_task):
    res = train(tiny_task, P.constant(INNER.steps, tiny_task.n_train), INNER, progress=False)
    want, params = optax_gd_curve(tiny_task, lambda p: jnp.mean(perceptron_loss(p, tiny_task.train)),
                                  INNER.steps, INNER.lr)
    assert res["dev_loss"].shape == (INNER.steps + 1,)
    np.testing.assert_allclose(res["dev_loss"], want, atol=1e-6)
    np.testing.assert_allclose(res["params_final"]["w"], params["w"], atol=1e-6)


def test_one_hot_policy_trains_only_on_that_example(tiny_task):
    i = 5
    res = train(tiny_task, P.one_hot(INNER.steps, tiny_task.n_train, i), INNER, progress=False)
    single = jax.tree_util.tree_map(lambda a: a[i:i + 1], tiny_task.train)
    want, _ = optax_gd_curve(tiny_task, lambda p: jnp.mean(perceptron_loss(p, single)), INNER.steps, INNER.lr)
    np.testing.assert_allclose(res["dev_loss"], want, atol=1e-6)
    # Changing every other training example changes nothing.
    x = np.asarray(tiny_task.train["x"]).copy()
    x[np.arange(len(x)) != i] *= -7.0
    other = type(tiny_task)(**{**tiny_task.__dict__, "train": {"x": jnp.asarray(x), "y": tiny_task.train["y"]}})
    res2 = train(other, P.one_hot(INNER.steps, tiny_task.n_train, i), INNER, progress=False)
    np.testing.assert_array_equal(res["dev_loss"], res2["dev_loss"])


def test_jvp_contributions_equal_per_example_gradient_dots(tiny_task):
    params = {"w": jax.random.normal(jax.random.key(0), (8,))}
    losses, ct = contributions(perceptron_loss, params, tiny_task.train, tiny_task.dev)
    g_dev = jax.grad(lambda p: jnp.mean(perceptron_loss(p, tiny_task.dev)))(params)["w"]
    per_ex = jax.vmap(lambda x, y: jax.grad(lambda p: perceptron_loss(p, {"x": x[None], "y": y[None]})[0])(params))(
        tiny_task.train["x"], tiny_task.train["y"])["w"]
    np.testing.assert_allclose(ct, per_ex @ g_dev, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses, perceptron_loss(params, tiny_task.train), rtol=1e-6)


def test_records_are_taken_at_the_step_gamma_is_applied(tiny_task):
    inner = C.InnerConfig(steps=10, lr=0.5, record_every=3)  # 10 % 3 != 0: a remainder block
    gamma = np.random.default_rng(0).dirichlet(np.ones(tiny_task.n_train), size=10).astype(np.float32)
    res = train(tiny_task, gamma, inner, progress=False)
    np.testing.assert_array_equal(res["record_steps"], [0, 3, 6, 9])
    assert res["ct"].shape == (4, tiny_task.n_train)
    np.testing.assert_array_equal(res["gamma_recorded"], gamma[[0, 3, 6, 9]])
    # Re-run the first 6 steps by hand and compare the records at t = 6 (computed before step 6).
    params = tiny_task.init_params
    for t in range(6):
        g = jax.grad(lambda p: jnp.dot(gamma[t], perceptron_loss(p, tiny_task.train)))(params)
        params = {"w": params["w"] - 0.5 * g["w"]}
    losses, ct = contributions(perceptron_loss, params, tiny_task.train, tiny_task.dev)
    np.testing.assert_allclose(res["ct"][2], ct, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(res["train_loss"][2], losses, rtol=1e-5)


def test_same_seed_identical_arrays(tmp_path):
    cfg = C.PerceptronConfig(dim=8, n_train=32, n_dev=16, n_test=16, seed=11)
    a = train(build_task("perceptron", cfg), P.constant(20, 32), C.InnerConfig(steps=20, record_every=5),
              out=tmp_path / "a", progress=False)
    b = train(build_task("perceptron", cfg), P.constant(20, 32), C.InnerConfig(steps=20, record_every=5),
              out=tmp_path / "b", progress=False)
    for key in ("dev_loss", "test_loss", "train_loss", "ct"):
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(np.load(tmp_path / "a" / f"{key}.npy"), np.load(tmp_path / "b" / f"{key}.npy"))


def test_warmup_schedule():
    eta = lr_schedule(6, 0.3, warmup_steps=3)
    np.testing.assert_allclose(eta, [0.1, 0.2, 0.3, 0.3, 0.3, 0.3], rtol=1e-6)
    np.testing.assert_allclose(lr_schedule(4, 0.1), [0.1] * 4)


@pytest.mark.parametrize("kw,field", [({"steps": 0}, "steps"), ({"lr": -1.0}, "lr"),
                                      ({"record_every": 0}, "record_every"),
                                      ({"steps": 5, "record_every": 6}, "record_every"),
                                      ({"steps": 5, "warmup_steps": 9}, "warmup_steps")])
def test_bad_inner_settings(kw, field):
    from learning_law.errors import UsageError

    with pytest.raises(UsageError, match=field):
        C.InnerConfig(**kw)


def test_split_curves_is_each_splits_own_run():
    """One run with three held-out splits gives each split's curve of the training run (the evaluation
    of the policy search reads dev, test and validation from it)."""
    from learning_law.inner import split_curves

    task = build_task("perceptron", C.PerceptronConfig(dim=5, n_train=16, n_dev=9, n_test=7, n_val=6, seed=4))
    gamma = jnp.asarray(np.random.default_rng(0).dirichlet(np.ones(16), size=12), jnp.float32)
    res = train(task, np.asarray(gamma), C.InnerConfig(steps=12, lr=0.3, record_every=1), progress=False)
    etas = jnp.asarray(lr_schedule(12, 0.3, 0), jnp.float32)
    dev, test, val = split_curves(perceptron_loss, task.init_params, task.train, (task.dev, task.test, task.val),
                                  gamma, etas)
    np.testing.assert_allclose(dev, res["dev_loss"], rtol=1e-6)
    np.testing.assert_allclose(test, res["test_loss"], rtol=1e-6)
    params = task.init_params
    for t in range(12):  # the validation curve, by hand
        np.testing.assert_allclose(val[t], jnp.mean(perceptron_loss(params, task.val)), rtol=1e-6)
        grads = jax.grad(lambda p: jnp.dot(gamma[t], perceptron_loss(p, task.train)))(params)
        params = jax.tree_util.tree_map(lambda p, g: p - etas[t] * g, params, grads)
    np.testing.assert_allclose(val[12], jnp.mean(perceptron_loss(params, task.val)), rtol=1e-6)
    assert val.shape == (13,) and not np.allclose(val, dev)
