"""DoReMi, DoGE and the fixed mixtures (learning_law/mixture_peers.py) against updates computed by hand in
numpy (float64) on a tiny linear regression with two sources."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learning_law import config as C
from learning_law import mixture_peers as MP
from learning_law import policy as P
from learning_law.api import make_task
from learning_law.errors import NumericalError, UsageError
from learning_law.train import train

GROUPS = np.array([0, 1, 0, 0, 1], np.int32)  # sizes 3, 2
T, LR = 4, 0.1
INNER = C.InnerConfig(steps=T, lr=LR, record_every=2)

rng = np.random.default_rng(0)
SHIFT = np.array([[2.0, 0.0], [0.0, 2.0]])[GROUPS]  # each source along its own axis
X = (rng.normal(size=(5, 2)) + SHIFT).astype(np.float32)
Y = np.array([1.0, -2.0, 1.5, 0.5, -1.0], np.float32)
XD = rng.normal(size=(3, 2)).astype(np.float32) + np.float32(1.0)
YD = np.array([1.0, 0.0, 2.0], np.float32)


def _sq_loss(params, batch):
    return 0.5 * (batch["x"] @ params["w"] - batch["y"]) ** 2


def _task(groups=GROUPS):
    return make_task(_sq_loss, {"w": np.zeros(2, np.float32)}, {"x": X, "y": Y}, {"x": XD, "y": YD},
                     groups=groups)


# numpy float64, by hand ---------------------------------------------------------------------------------------

def _losses(w, x, y):
    return 0.5 * (x @ w - y) ** 2


def _grads(w, x, y):  # per-example gradients [n, 2]
    return (x @ w - y)[:, None] * x


def _gd(gammas):
    """theta_0 = 0 trained under the rows ``gammas`` [T, 5]: the parameters at every step [T+1, 2]."""
    ws = [np.zeros(2)]
    for g in gammas:
        ws.append(ws[-1] - LR * g @ _grads(ws[-1], X.astype(np.float64), Y.astype(np.float64)))
    return ws


def _expand(w):
    sizes = np.bincount(GROUPS)
    return w[GROUPS] / sizes[GROUPS]


def _dev(w):
    return _losses(w, XD.astype(np.float64), YD.astype(np.float64)).mean()


def _domain_means(v):
    return np.array([v[GROUPS == d].mean() for d in range(2)])


# ----------------------------------------------------------------------------------------------------------------

def test_doremi_against_the_hand_computed_algorithm():
    task = _task()
    res = MP.run_mixture_method(task, "doremi", INNER)
    x, y = X.astype(np.float64), Y.astype(np.float64)
    theta_ref = _gd([_expand(np.array([0.5, 0.5]))] * T)[-1]  # reference: uniform domain weights, T steps
    l_ref = _losses(theta_ref, x, y)
    alpha, theta, ws, lams, devs = np.array([0.5, 0.5]), np.zeros(2), [], [], []
    for _ in range(T):
        lam = _domain_means(np.maximum(_losses(theta, x, y) - l_ref, 0.0))
        a = alpha * np.exp(1.0 * lam)
        alpha = (1 - 1e-3) * a / a.sum() + 1e-3 / 2  # smoothed, and carried
        devs.append(_dev(theta))
        theta = theta - LR * _expand(alpha) @ _grads(theta, x, y)
        ws.append(alpha)
        lams.append(lam)
    devs.append(_dev(theta))
    assert np.ptp(np.array(ws)[:, 0]) > 1e-2  # the weights do move on this case
    np.testing.assert_allclose(res["signal"], lams, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(res["w"], ws, rtol=1e-5)
    np.testing.assert_allclose(res["proxy_dev_loss"], devs, rtol=1e-5)
    w_final = np.mean(ws, axis=0)
    np.testing.assert_allclose(res["w_final"], w_final, rtol=1e-5)
    final = _gd([_expand(w_final)] * T)
    np.testing.assert_allclose(res["dev_loss"], [_dev(th) for th in final], rtol=1e-5)
    assert res["summary"]["method"] == "doremi" and res["summary"]["hparams"]["smoothing"] == 1e-3
    assert res["dev_loss"].shape == res["test_loss"].shape == res["proxy_test_loss"].shape == (T + 1,)

    # the natural reference and their other knobs reach the rule
    nat = MP.run_mixture_method(task, "doremi", INNER, reference="natural", eta_w=2.0, smoothing=0.0)
    theta_ref = _gd([np.full(5, 0.2)] * T)[-1]
    lam0 = _domain_means(np.maximum(_losses(np.zeros(2), x, y) - _losses(theta_ref, x, y), 0.0))
    a = np.exp(2.0 * lam0)
    np.testing.assert_allclose(nat["w"][0], a / a.sum(), rtol=1e-5)


def _doge_by_hand(step_of):
    """DoGE's proxy run in numpy; W from explicit per-domain gradients taken with jax.grad (float64)."""
    x, y = X.astype(np.float64), Y.astype(np.float64)
    with jax.enable_x64(True):
        xj, yj, xd, yd = (jnp.asarray(a, jnp.float64) for a in (X, Y, XD, YD))
        dom = [jax.grad(lambda w, m=GROUPS == d: jnp.mean(_sq_loss({"w": w}, {"x": xj[m], "y": yj[m]})))
               for d in range(2)]
        dev = jax.grad(lambda w: jnp.mean(_sq_loss({"w": w}, {"x": xd, "y": yd})))
        alpha, theta, ws, Ws = np.array([0.5, 0.5]), np.zeros(2), [], []
        for _ in range(T):
            g_dev = np.asarray(dev(jnp.asarray(theta)))
            W = np.array([np.asarray(g(jnp.asarray(theta))) @ g_dev for g in dom])
            a = alpha * np.exp(step_of(W) * W)
            alpha = a / a.sum()
            theta = theta - LR * _expand(alpha) @ _grads(theta, x, y)
            ws.append(alpha)
            Ws.append(W)
    return np.array(ws), np.array(Ws)


def test_doge_scale_free_default_against_the_hand_computed_algorithm():
    res = MP.run_mixture_method(_task(), "doge", INNER)
    beta = math.sqrt(2 * math.log(2) / T)
    ws, Ws = _doge_by_hand(lambda W: beta / np.abs(W).max())
    np.testing.assert_allclose(res["signal"], Ws, rtol=1e-4, atol=1e-6 * np.abs(Ws).max())
    np.testing.assert_allclose(res["w"], ws, rtol=1e-5)
    assert np.ptp(ws[:, 0]) > 1e-2
    np.testing.assert_allclose(res["w_final"], ws.mean(0), rtol=1e-5)
    final = _gd([_expand(ws.mean(0))] * T)
    np.testing.assert_allclose(res["dev_loss"], [_dev(th) for th in final], rtol=1e-5)
    assert res["summary"]["hparams"] == {"base_lr": pytest.approx(beta), "normalised": True}


def test_doge_with_their_raw_step():
    res = MP.run_mixture_method(_task(), "doge", INNER, eta_w=0.05)
    ws, _ = _doge_by_hand(lambda W: 0.05)
    np.testing.assert_allclose(res["w"], ws, rtol=1e-5)


def test_natural_and_desired_mixtures():
    task = _task()
    nat = MP.run_mixture_method(task, "natural", INNER)
    np.testing.assert_allclose(nat["w_final"], [3 / 5, 2 / 5], rtol=1e-7)
    assert nat["w"].shape == (T, 2) and "proxy_dev_loss" not in nat
    const = train(task, P.constant(T, 5), INNER, progress=False)  # natural = the constant policy 1/N
    np.testing.assert_allclose(nat["dev_loss"], const["dev_loss"], rtol=1e-6)
    des = MP.run_mixture_method(task, "desired", INNER, desired=1)
    np.testing.assert_array_equal(des["w_final"], [0.0, 1.0])
    np.testing.assert_array_equal(des["w"], np.tile([0.0, 1.0], (T, 1)))
    only = _gd([np.array([0, 0.5, 0, 0, 0.5])] * T)
    np.testing.assert_allclose(des["dev_loss"], [_dev(th) for th in only], rtol=1e-5)
    assert des["summary"]["hparams"] == {"desired": 1}


def test_static_mixture_run_takes_a_mixture_or_a_schedule():
    task = _task()
    sched = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8]])
    res = MP.static_mixture_run(task, sched, INNER)
    np.testing.assert_allclose(res["dev_loss"], [_dev(th) for th in _gd([_expand(r) for r in sched])], rtol=1e-5)
    with pytest.raises(UsageError, match=r"w has shape \(3,\)"):
        MP.static_mixture_run(task, np.ones(3) / 3, INNER)


def test_errors():
    task = _task()
    with pytest.raises(UsageError, match="desired=None is invalid"):
        MP.run_mixture_method(task, "desired", INNER)
    with pytest.raises(UsageError, match=r"desired=2 is invalid: allowed .*\[0, D=2\)"):
        MP.run_mixture_method(task, "desired", INNER, desired=2)
    with pytest.raises(UsageError, match="name='doreme' is invalid"):
        MP.run_mixture_method(task, "doreme", INNER)
    with pytest.raises(UsageError, match="hyper-parameter='smoothing' is invalid"):
        MP.run_mixture_method(task, "doge", INNER, smoothing=0.1)
    with pytest.raises(UsageError, match="reference='dev' is invalid"):
        MP.run_mixture_method(task, "doremi", INNER, reference="dev")
    with pytest.raises(UsageError, match="eta_w=-1.0 is invalid"):
        MP.run_mixture_method(task, "doremi", INNER, eta_w=-1.0)
    plain = make_task(_sq_loss, {"w": np.zeros(2, np.float32)}, {"x": X, "y": Y}, {"x": XD, "y": YD})
    with pytest.raises(UsageError, match="per-domain policies need the source"):
        MP.run_mixture_method(plain, "natural", INNER)
    with pytest.raises(NumericalError, match=r"inner step \d+ of the doge proxy run"):
        MP.run_mixture_method(task, "doge", C.InnerConfig(steps=40, lr=1e3, record_every=2))
