"""Per-domain policies (learning_law/domains.py) against the per-example run, the chain rule and finite
differences on a tiny linear regression with three sources of unequal size."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learning_law import config as C
from learning_law import domains as DM
from learning_law import policy as P
from learning_law.api import make_task
from learning_law.errors import UsageError
from learning_law.inner import lr_schedule
from learning_law.metagrad import auc_and_grad, auc_of_policy
from learning_law.train import train

T, LR = 12, 0.2
GROUPS = np.array([2, 0, 1, 1, 2, 1, 1, 0, 1], np.int32)  # sizes 2, 5, 2; interleaved on purpose
D = 3


def _sq_loss(params, batch):
    return 0.5 * (batch["x"] @ params["w"] + params["b"] - batch["y"]) ** 2


def _task(groups=GROUPS):
    rng = np.random.default_rng(0)
    n = len(groups)
    # each source has its own input shift, so the sources pull theta in different directions
    x = rng.normal(size=(n, 3)).astype(np.float32) + np.asarray(groups)[:, None].astype(np.float32)
    y = (x @ np.array([1.0, -0.5, 0.3]) + rng.normal(size=n) * 0.3).astype(np.float32)
    xd = rng.normal(size=(6, 3)).astype(np.float32)
    yd = (xd @ np.array([1.0, -0.5, 0.3])).astype(np.float32)
    params = {"w": np.zeros(3, np.float32), "b": np.zeros((), np.float32)}
    return make_task(_sq_loss, params, {"x": x, "y": y}, {"x": xd, "y": yd},
                     test={"x": xd[::-1] * 1.1, "y": yd[::-1] * 1.1}, groups=groups)


def _weights(seed=1, steps=T, d=D):
    return np.random.default_rng(seed).dirichlet(np.ones(d), size=steps).astype(np.float32)


def test_sizes_and_natural_weights_give_the_constant_policy():
    np.testing.assert_array_equal(DM.group_sizes(GROUPS, D), [2, 5, 2])
    nat = DM.natural_weights(GROUPS, D)
    np.testing.assert_allclose(nat, [2 / 9, 5 / 9, 2 / 9], rtol=1e-7)
    gamma = DM.expand(np.tile(nat, (T, 1)), GROUPS)
    assert gamma.dtype == np.float32 and gamma.shape == (T, len(GROUPS))
    np.testing.assert_allclose(gamma, P.constant(T, len(GROUPS)), rtol=1e-7)
    # equal sizes: the uniform mixture is the constant policy
    equal = np.array([0, 1, 2, 0, 1, 2], np.int32)
    np.testing.assert_allclose(DM.expand(np.full((T, 3), 1 / 3), equal), P.constant(T, 6), rtol=1e-7)


def test_expand_spreads_each_weight_over_its_source():
    w = _weights()
    gamma = DM.expand(w, GROUPS)
    sizes = DM.group_sizes(GROUPS, D)
    for n, g in enumerate(GROUPS):
        np.testing.assert_allclose(gamma[:, n], w[:, g] / sizes[g], rtol=1e-6)
    np.testing.assert_allclose(gamma.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(DM.expand_rows(jnp.asarray(w), jnp.asarray(GROUPS), jnp.asarray(sizes, jnp.float32)),
                               gamma, rtol=1e-6)


def test_grouped_task_keeps_everything_but_the_train_split():
    task = _task()
    gt = DM.grouped_task(task)
    assert gt.n_train == D and gt.n_groups == D and gt.name == task.name and gt.config == task.config
    assert gt.dev is task.dev and gt.test is task.test and gt.init_params is task.init_params
    np.testing.assert_array_equal(gt.groups, np.arange(D))
    assert gt.group_names == task.group_names
    assert gt.train["rows"]["x"].shape == (D, 5, 3) and gt.train["mask"].shape == (D, 5)
    np.testing.assert_array_equal(gt.train["mask"].sum(1), [2, 5, 2])
    # hashed by content: a second grouping of the same task reuses the compiled runs
    gt2 = DM.grouped_task(task)
    assert gt2.per_example_loss == gt.per_example_loss and hash(gt2.per_example_loss) == hash(gt.per_example_loss)
    # on the train blocks: the source means; on any other split: the base loss
    losses = np.asarray(task.per_example_loss(task.init_params, task.train))
    np.testing.assert_allclose(gt.per_example_loss(gt.init_params, gt.train),
                               [losses[GROUPS == d].mean() for d in range(D)], rtol=1e-6)
    np.testing.assert_array_equal(gt.per_example_loss(gt.init_params, gt.dev),
                                  task.per_example_loss(task.init_params, task.dev))


def test_training_the_grouped_task_under_w_is_training_the_task_under_expand_w():
    task, w = _task(), _weights()
    inner = C.InnerConfig(steps=T, lr=LR, record_every=4)
    base = train(task, DM.expand(w, GROUPS), inner, progress=False)
    grouped = train(DM.grouped_task(task), w, inner, progress=False)
    for key in ("dev_loss", "test_loss"):
        np.testing.assert_allclose(grouped[key], base[key], rtol=1e-5)
    # the per-"example" records of the grouped run are the source means of the base run's
    for key in ("train_loss", "ct"):
        means = np.stack([base[key][:, GROUPS == d].mean(1) for d in range(D)], axis=1)
        np.testing.assert_allclose(grouped[key], means, rtol=1e-4, atol=1e-6 * np.abs(means).max())


def test_grouped_meta_gradient_is_the_chain_rule_of_the_per_example_one():
    task, w = _task(), _weights()
    gt = DM.grouped_task(task)
    etas = jnp.asarray(lr_schedule(T, LR))
    auc_w, g_w = auc_and_grad(gt.per_example_loss, gt.init_params, gt.train, gt.dev, jnp.asarray(w), etas)
    auc_g, g_g = auc_and_grad(task.per_example_loss, task.init_params, task.train, task.dev,
                              jnp.asarray(DM.expand(w, GROUPS)), etas)
    np.testing.assert_allclose(auc_w, auc_g, rtol=1e-6)
    chain = np.asarray(DM.domain_grad(g_g, GROUPS, D))
    assert chain.shape == (T, D) and np.abs(chain).max() > 0
    np.testing.assert_allclose(g_w, chain, rtol=1e-4, atol=1e-5 * np.abs(chain).max())


def test_grouped_meta_gradient_matches_central_finite_differences_float64():
    task, w = _task(), _weights()
    gt = DM.grouped_task(task)
    with jax.enable_x64(True):
        f64 = lambda t: jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), t)  # noqa: E731
        p0, tr, dev, w64 = f64(gt.init_params), f64(gt.train), f64(gt.dev), jnp.asarray(w, jnp.float64)
        etas = jnp.asarray(lr_schedule(T, LR), jnp.float64)
        _, g = auc_and_grad(gt.per_example_loss, p0, tr, dev, w64, etas)
        # the chain rule from the per-example gradient in float64 agrees to rounding
        sizes = jnp.asarray(DM.group_sizes(GROUPS, D), jnp.float64)
        gamma64 = DM.expand_rows(w64, jnp.asarray(GROUPS), sizes)
        _, g_ex = auc_and_grad(task.per_example_loss, f64(task.init_params), f64(task.train), dev, gamma64, etas)
        np.testing.assert_allclose(g, DM.domain_grad(g_ex, GROUPS, D), rtol=1e-10, atol=1e-14)
        f = jax.jit(lambda v: auc_of_policy(gt.per_example_loss, p0, tr, dev, v, etas))
        rng, h = np.random.default_rng(0), 1e-6
        for _ in range(5):
            t, d = rng.integers(T), rng.integers(D)
            e = jnp.zeros_like(w64).at[t, d].set(h)
            np.testing.assert_allclose(g[t, d], (f(w64 + e) - f(w64 - e)) / (2 * h), rtol=1e-6, atol=1e-12)
        v = jnp.asarray(rng.normal(size=w.shape))
        np.testing.assert_allclose(jnp.vdot(g, v), (f(w64 + h * v) - f(w64 - h * v)) / (2 * h), rtol=1e-6)


def test_stretch_rescales_time():
    w = _weights(steps=3)
    np.testing.assert_array_equal(DM.stretch(w, 3), w)
    np.testing.assert_array_equal(DM.stretch(w, 6), np.repeat(w, 2, axis=0))
    np.testing.assert_array_equal(DM.stretch(w, 5), w[[0, 0, 1, 2, 2]])  # floor((t' + .5) * 3 / 5)
    np.testing.assert_array_equal(DM.stretch(_weights(steps=4), 2), _weights(steps=4)[[1, 3]])
    for steps in (1, 7, 11, 100):  # the integer rule equals the float formula
        rows = np.floor((np.arange(steps) + 0.5) * 3 / steps).astype(int)
        np.testing.assert_array_equal(DM.stretch(w, steps), w[rows])
    gamma = DM.expand(w, GROUPS)  # a per-example policy stretches the same way
    out = DM.stretch(gamma, 9)
    assert out.dtype == np.float32 and out.shape == (9, len(GROUPS))
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(out, np.repeat(gamma, 3, axis=0))


def test_errors_name_the_argument():
    rng = np.random.default_rng(0)
    plain = make_task(_sq_loss, {"w": np.zeros(3, np.float32), "b": np.zeros((), np.float32)},
                      {"x": rng.normal(size=(4, 3)).astype(np.float32), "y": np.zeros(4, np.float32)},
                      {"x": rng.normal(size=(2, 3)).astype(np.float32), "y": np.zeros(2, np.float32)})
    with pytest.raises(UsageError, match="per-domain policies need the source of every train example"):
        DM.grouped_task(plain)
    with pytest.raises(UsageError, match=r"shape \(12, 2\).*\[T, 3\]"):
        DM.expand(_weights(d=2), GROUPS)
    with pytest.raises(UsageError, match=r"ids in \[0, D=3\)"):
        DM.domain_grad(np.zeros((T, 3)), np.array([0, 1, 3]), D)
    with pytest.raises(UsageError, match=r"ids in \[0, D=3\)"):
        DM.expand(_weights(), np.array([0, -1, 2]))
    with pytest.raises(UsageError, match="source 1 has no train example"):
        DM.expand(_weights(), np.array([0, 2, 2]))
    with pytest.raises(UsageError, match="row 0 sums to"):
        DM.expand(np.ones((2, D)), GROUPS)
    with pytest.raises(UsageError, match="< 0"):
        DM.expand(np.array([[1.5, -0.5, 0.0]]), GROUPS)
    with pytest.raises(UsageError, match="grad_gamma has shape"):
        DM.domain_grad(np.zeros((T, 4)), GROUPS, D)
    with pytest.raises(UsageError, match="steps=0 is invalid"):
        DM.stretch(_weights(), 0)
    with pytest.raises(UsageError, match="w has shape"):
        DM.stretch(np.ones(3) / 3, 4)
    with pytest.raises(UsageError, match="sums to"):
        DM.stretch(np.ones((2, 2)), 4)
    with pytest.raises(UsageError, match="groups has shape"):
        DM.natural_weights(np.array([[0, 1]]), 2)


def test_the_policy_search_runs_unchanged_on_the_grouped_task():
    """optimize(policy_granularity="domain") finds w: [T, D] on the grouped task, starting at the natural mixture
    (the base task's constant policy, not the uniform 1/D: the sources here are of unequal size); replayed on the
    base task through expand, it is as good."""
    import learning_law.api as ll

    task = _task()
    inner = C.InnerConfig(steps=T, lr=LR, record_every=4)
    res = ll.optimize(task, steps=T, lr=LR, outer_steps=2, policy_granularity="domain", progress=False)
    assert res.gamma.shape == (T, D)
    const = train(task, P.constant(T, len(GROUPS)), inner, progress=False)
    assert res.auc_constant == pytest.approx(const["summary"]["auc"], rel=1e-5)  # it started at 1/N
    base = train(task, DM.expand(res.gamma, GROUPS), inner, progress=False)
    assert base["summary"]["auc"] == pytest.approx(res.auc_final, rel=1e-5)
    assert res.auc_final < res.auc_constant
    assert DM.grouped_task(task).constant_row.tolist() == pytest.approx([2 / 9, 5 / 9, 2 / 9])
    ev = ll.evaluate(task, res, progress=False)  # the per-domain result is expanded over the sources
    assert ev.auc_policy == pytest.approx(res.auc_final, rel=1e-5)
