"""learning_law.api: a user's own model and data (README "Python API", docs/api.md).

The README's example is run exactly as written; the three loss kinds (plain pytree, NNX module, Linen
apply) agree on one function; a local loss compiles once; params round-trip; bad input names its argument.
"""

import dataclasses
import json
import re
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import learning_law
import learning_law.api as ll
from learning_law.errors import UsageError

README = Path(__file__).resolve().parents[1] / "README.md"
FAST = dict(steps=6, lr=0.5, record_every=2, progress=False)


def _data(key, n):  # a learnable rule, so a few steps lower the dev loss
    x = jax.random.normal(key, (n, 3))
    return {"x": x, "y": (x @ jnp.array([1.0, -1.0, 0.5]) > 0).astype(jnp.float32)}


def _logloss(z, y):
    return jax.nn.softplus(z) - y * z


def _pytree_loss(p, b):
    h = jnp.tanh(b["x"] @ p["w1"] + p["b1"][None])
    return _logloss((h @ p["w2"])[:, 0] + p["b2"][0], b["y"])


def _model_loss(model, b):  # the same loss for an NNX module and a Linen model: call it on the inputs
    return _logloss(model(b["x"]), b["y"])


SPLITS = dict(train=_data(jax.random.key(1), 8), dev=_data(jax.random.key(2), 6), test=_data(jax.random.key(3), 5))


def test_readme_example_runs_as_written(capsys):
    text = README.read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    res, ev = scope["res"], scope["ev"]
    assert res.auc_final < res.auc_constant and np.isfinite(ev.speedup) and ev.speedup > 1
    assert ev.curves["policy"]["test_loss"].shape == (res.inner.steps + 1,)
    assert "speed-up" in capsys.readouterr().out


def test_pytree_nnx_and_linen_losses_give_the_same_auc():
    from flax import linen, nnx

    class NnxMLP(nnx.Module):
        def __init__(self, rngs):
            self.l1, self.l2 = nnx.Linear(3, 4, rngs=rngs), nnx.Linear(4, 1, rngs=rngs)
            self.drop = nnx.Dropout(0.0, rngs=rngs)  # state that is not a parameter (an RNG): held fixed

        def __call__(self, x):
            return self.l2(self.drop(jnp.tanh(self.l1(x))))[:, 0]

    class LinenMLP(linen.Module):
        @linen.compact
        def __call__(self, x):
            return linen.Dense(1, name="out")(jnp.tanh(linen.Dense(4, name="hidden")(x)))[:, 0]

    model = NnxMLP(nnx.Rngs(0))
    w = {"w1": model.l1.kernel[...], "b1": model.l1.bias[...], "w2": model.l2.kernel[...], "b2": model.l2.bias[...]}
    variables = {"params": {"hidden": {"kernel": w["w1"], "bias": w["b1"]},
                            "out": {"kernel": w["w2"], "bias": w["b2"]}}}
    tasks = {"pytree": ll.make_task(_pytree_loss, w, **SPLITS),
             "nnx": ll.make_task(_model_loss, model, **SPLITS),
             "linen": ll.make_task(_model_loss, variables, apply=LinenMLP().apply, **SPLITS)}
    runs = {kind: ll.train(task, **FAST) for kind, task in tasks.items()}
    assert {k: t.config["kind"] for k, t in tasks.items()} == {k: k for k in tasks}
    base = runs["pytree"]
    for kind in ("nnx", "linen"):
        assert runs[kind]["summary"]["auc"] == pytest.approx(base["summary"]["auc"], rel=1e-5)
        np.testing.assert_allclose(runs[kind]["ct"], base["ct"], rtol=1e-4, atol=1e-7)
    assert base["dev_loss"][-1] < base["dev_loss"][0]  # it trained


def test_a_local_loss_compiles_once_and_an_unhashable_callable_works():
    traces = []

    def loss(p, b):  # a closure: the Python side effect runs only when JAX traces it
        traces.append(1)
        return _logloss(b["x"] @ p["w"], b["y"])

    params = {"w": jnp.zeros(3)}
    task = ll.make_task(loss, params, **SPLITS)
    ll.train(task, **FAST)
    ll.contributions(task)
    first = len(traces)
    ll.train(task, **FAST)
    ll.contributions(task)
    ll.train(ll.make_task(loss, params, **SPLITS), **FAST)  # a second task from the same function shares it
    assert first > 0 and len(traces) == first  # not even make_task's shape checks: the wrappers compare equal

    @dataclasses.dataclass  # eq=True makes it unhashable: as a bare static argument jax.jit would refuse it
    class Loss:
        scale: float

        def __call__(self, p, b):
            return self.scale * _logloss(b["x"] @ p["w"], b["y"])

    lam = ll.train(ll.make_task(lambda p, b: _logloss(b["x"] @ p["w"], b["y"]), params, **SPLITS), **FAST)
    obj = ll.train(ll.make_task(Loss(1.0), params, **SPLITS), **FAST)
    assert obj["summary"]["auc"] == pytest.approx(lam["summary"]["auc"], rel=1e-6)


def test_contributions_match_per_example_gradients():
    task = ll.make_task(_pytree_loss, {"w1": jnp.ones((3, 4)) / 3, "b1": jnp.zeros(4), "w2": jnp.ones((4, 1)),
                                       "b2": jnp.zeros(1)}, **SPLITS)
    losses, ct = ll.contributions(task)
    flat = lambda g: jnp.concatenate([v.reshape(v.shape[0], -1) for v in jax.tree_util.tree_leaves(g)], 1)  # noqa: E731
    per_example = flat(jax.jacrev(_pytree_loss)(task.init_params, task.train))  # [N, P], brute force
    g_dev = flat(jax.tree_util.tree_map(lambda v: v[None], jax.grad(
        lambda p: jnp.mean(_pytree_loss(p, task.dev)))(task.init_params)))[0]
    np.testing.assert_allclose(ct, per_example @ g_dev, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(losses, _pytree_loss(task.init_params, task.train), rtol=1e-6)


def test_files_only_with_out_and_params_round_trip(tmp_path, monkeypatch):
    from flax import nnx

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    model = nnx.Linear(3, 1, rngs=nnx.Rngs(0))
    task = ll.make_task(lambda m, b: _logloss(m(b["x"])[:, 0], b["y"]), model, **SPLITS)
    law = ll.law(task, **FAST)
    # the certificate needs the task, which config.json cannot rebuild: it comes from memory (1 = uniform weights)
    assert law["run"] is None and law["kkt_reason"] is None and law["kkt_residual"] == pytest.approx(1.0)
    assert list(scratch.iterdir()) == []  # the temporary run folder is gone
    run = ll.train(task, out=tmp_path / "run", **FAST)
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())["task_config"]
    assert cfg["kind"] == "nnx" and cfg["n_train"] == 8 and "<lambda>" in cfg["loss"]
    back = learning_law.load_params(tmp_path / "run", task.init_params)
    jax.tree_util.tree_map(np.testing.assert_array_equal, back, run["params_final"])
    trained = ll.load_params(tmp_path / "run" / "params_final.npz", model)
    np.testing.assert_array_equal(trained.kernel[...], run["params_final"]["kernel"])
    assert not np.array_equal(trained.kernel[...], model.kernel[...])
    with pytest.raises(UsageError, match=r"the file lacks \['w'\]; like lacks \['bias'\], \['kernel'\]"):
        ll.load_params(tmp_path / "run", {"w": jnp.zeros(3)})


def _bad(**change):
    args = dict(loss=lambda p, b: _logloss(b["x"] @ p["w"], b["y"]), params={"w": jnp.zeros(3)}, **SPLITS)
    args.update(change)
    return args


@pytest.mark.parametrize("change, match", [
    (dict(train={"x": jnp.zeros((8, 3)), "y": jnp.zeros(7)}), r"^train: the leaves disagree .*\(train\['x'\]: 8, train\['y'\]: 7\)"),
    (dict(dev={"x": jnp.zeros((0, 3)), "y": jnp.zeros(0)}), r"^dev is empty"),
    (dict(test={"x": jnp.zeros((4, 3)).at[2, 1].set(jnp.nan), "y": jnp.zeros(4)}),
     r"^test\['x'\] holds NaN/inf \(first in example 2\)"),
    (dict(val={"x": jnp.full((4, 3), jnp.inf), "y": jnp.zeros(4)}), r"^val\['x'\] holds NaN/inf"),
    (dict(loss=lambda p, b: jnp.mean(_logloss(b["x"] @ p["w"], b["y"]))), r"^loss must return .*got \(\)"),
    (dict(loss=lambda p, b: b["nope"]), r"^loss failed on a batch of 2 train examples \(KeyError"),
    (dict(params={"w": jnp.zeros(3, jnp.int32)}), r"^params\['w'\] has dtype int32"),
    (dict(vocab_size=1), r"^vocab_size=1 is invalid"),
    (dict(config={"data": object()}), r"^config is invalid"),
    (dict(correct=3), r"^correct=3 is invalid"),
    (dict(correct=lambda p, b: jnp.mean(b["x"] @ p["w"] > 0)), r"^correct must return one 0/1 value .*got \(\)"),
])
def test_bad_input_names_the_argument(change, match):
    with pytest.raises(UsageError, match=match):
        ll.make_task(**_bad(**change))


def test_bad_options_and_policies_fail_before_training():
    task = ll.make_task(**_bad())
    with pytest.raises(UsageError, match=r"unknown option\(s\) \['stpes'\]"):
        ll.optimize(task, stpes=3)
    with pytest.raises(UsageError, match=r"^lr=-1"):
        ll.train(task, steps=3, lr=-1.0)
    with pytest.raises(UsageError, match=r"policy has shape \(3, 7\)"):
        ll.evaluate(task, np.full((3, 7), 1 / 7, np.float32), steps=3, record_every=1)
    inner, outer = ll.configs(outer_lr=0.5)  # as the CLI: a fixed step implies the fixed search
    assert outer.search == "fixed" and inner == learning_law.config.InnerConfig()


def test_correct_gives_the_test_accuracy_of_both_runs():
    def correct(p, b):  # bool per example: the prediction's sign agrees with the label
        return (b["x"] @ p["w"] > 0) == (b["y"] > 0.5)

    task = ll.make_task(**_bad(correct=correct))
    res = ll.evaluate(task, np.full((6, 8), 1 / 8, np.float32), **FAST)
    acc = res.summary["test_accuracy_constant"]
    # by hand: train the constant run's final params again and count
    w = np.asarray(ll.train(task, **FAST)["params_final"]["w"])
    t = SPLITS["test"]
    assert acc == pytest.approx(float(np.mean((np.asarray(t["x"]) @ w > 0) == (np.asarray(t["y"]) > 0.5))))
    assert res.summary["test_accuracy_policy"] == pytest.approx(acc)  # the policy is the constant one here
    # the test AUCs are fields, the summary's numbers, and the mean of the test curve over t = 0..T
    assert (res.auc_test_constant, res.auc_test_policy) == (res.summary["auc_test_constant"],
                                                            res.summary["auc_test_policy"])
    assert res.auc_test_constant == pytest.approx(float(np.mean(res.curves["constant"]["test_loss"])), rel=1e-6)
