"""Online policies (learning_law/online.py): simplex rows, exact zeros where CT <= 0 (checked against an
independent float64 replay), replay of the recorded gamma, AUC gain of equalize, errors."""

import dataclasses

import numpy as np
import pytest

from learning_law import config as C
from learning_law import online as O
from learning_law import policy as P
from learning_law.errors import UsageError
from learning_law.tasks import build_task
from learning_law.train import train

INNER = C.InnerConfig(steps=40, lr=0.1, record_every=4)


@pytest.fixture(scope="module")
def runs(tiny_task, tmp_path_factory):
    """One recorded run per online policy on the tiny perceptron (d=8, N=32, T=40)."""
    root = tmp_path_factory.mktemp("online")
    return {name: (root / name, O.train_online(tiny_task, name, INNER, out=root / name, progress=False,
                                               time_constant=False))
            for name in O.POLICIES}


@pytest.mark.parametrize("name", list(O.POLICIES))
def test_rows_on_simplex_and_record_layout(runs, name):
    out, res = runs[name]
    g = np.load(out / "gamma.npy")
    assert g.shape == (INNER.steps, 32) and g.dtype == np.float32
    assert (g >= 0).all()
    np.testing.assert_allclose(g.sum(1, dtype=np.float64), 1.0, atol=1e-5)
    for f in ("config.json", "dev_loss.npy", "test_loss.npy", "train_loss.npy", "ct.npy", "record_steps.npy",
              "gamma_recorded.npy", "params_final.npz", "summary.json"):
        assert (out / f).exists(), f
    np.testing.assert_array_equal(np.load(out / "gamma_recorded.npy"), g[np.load(out / "record_steps.npy")])
    assert np.load(out / "dev_loss.npy").shape == (INNER.steps + 1,)


def _numpy_replay(task, gamma, lr):
    """Independent float64 GD on the perceptron with explicit per-example gradients.

    Returns theta_t for t = 0..T-1 and CT[t, n] = grad L_dev(theta_t) . grad l_n(theta_t)."""
    x, y = np.asarray(task.train["x"], np.float64), np.asarray(task.train["y"], np.float64)
    xd, yd = np.asarray(task.dev["x"], np.float64), np.asarray(task.dev["y"], np.float64)
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    w = np.asarray(task.init_params["w"], np.float64)
    cts = []
    for g in np.asarray(gamma, np.float64):
        per_ex = (sig(x @ w) - y)[:, None] * x  # [N, d]: grad of l_n = (s(a) - y) x
        g_dev = ((sig(xd @ w) - yd)[:, None] * xd).mean(0)
        cts.append(per_ex @ g_dev)
        w = w - lr * g @ per_ex
    return np.array(cts)


def test_dropneg_zero_exactly_where_ct_nonpositive(tiny_task, runs):
    out, res = runs["dropneg"]
    g = np.load(out / "gamma.npy")
    ct = _numpy_replay(tiny_task, g, INNER.lr)
    # Signs of CT within float32 noise of 0 cannot be compared between two implementations.
    clear = np.abs(ct) > 1e-5 * np.abs(ct).max(axis=1, keepdims=True)
    assert clear.mean() > 0.95
    assert ((g == 0) == (ct <= 0))[clear].all()
    # On the support the weights are equal (1 / |support|).
    for row in g:
        np.testing.assert_allclose(row[row > 0], 1.0 / (row > 0).sum(), rtol=1e-6)
    # Its own records of CT agree with the independent computation at the recorded steps.
    np.testing.assert_allclose(np.load(out / "ct.npy"), ct[np.load(out / "record_steps.npy")], rtol=1e-3,
                               atol=1e-5 * np.abs(ct).max())


def test_equalize_and_greedy_zero_where_ct_nonpositive(tiny_task, runs):
    for name in ("equalize", "greedy"):
        g = np.load(runs[name][0] / "gamma.npy")
        ct = _numpy_replay(tiny_task, g, INNER.lr)
        clear = np.abs(ct) > 1e-5 * np.abs(ct).max(axis=1, keepdims=True)
        assert (g[(ct < 0) & clear] == 0).all(), name


@pytest.mark.parametrize("name", ["equalize", "loss"])
def test_replay_of_recorded_gamma_gives_same_curves(tiny_task, runs, name):
    out, res = runs[name]
    gamma, _ = P.resolve(str(out), INNER.steps, tiny_task.n_train)  # the folder's gamma.npy, as the CLI does
    rep = train(tiny_task, gamma, INNER, progress=False)
    np.testing.assert_allclose(rep["dev_loss"], np.load(out / "dev_loss.npy"), atol=1e-5, rtol=0)
    np.testing.assert_allclose(rep["test_loss"], np.load(out / "test_loss.npy"), atol=1e-5, rtol=0)
    np.testing.assert_allclose(rep["ct"], np.load(out / "ct.npy"), atol=1e-5, rtol=1e-4)


def test_equalize_lowers_auc_vs_constant():
    """On a small perceptron (d=16, N=256, T=300) equalize lowers the AUC of the dev loss."""
    task = build_task("perceptron", C.PerceptronConfig(dim=16, n_train=256, n_dev=64, n_test=64, seed=1))
    inner = C.InnerConfig(steps=300, lr=0.1, record_every=50)
    const = train(task, P.constant(inner.steps, task.n_train), inner, progress=False)["summary"]["auc"]
    eq = O.train_online(task, "equalize", inner, progress=False, time_constant=False)["summary"]["auc"]
    print(f"AUC constant {const:.4f} -> equalize {eq:.4f} ({100 * (1 - eq / const):.1f}% lower)")
    assert eq < 0.9 * const


def test_equalize_step_matches_numpy_and_is_stationary_under_the_law():
    pol = O.Equalize(tau=0.3, mix=0.1, clip=1.5)
    w = np.array([0.1, 0.2, 0.3, 0.4])
    ct = np.array([2.0, -1.0, 0.5, 1.0])
    gamma, w_new = pol.step(np.float32(w), None, np.float32(ct))
    mean = (w * ct).sum()
    z = np.clip((ct - mean) / np.sqrt((w * (ct - mean) ** 2).sum()), -1.5, 1.5)
    v = w * np.exp(0.3 * z)
    v = 0.9 * v / v.sum() + 0.1 / 4
    g = v * np.maximum(ct, 0)
    np.testing.assert_allclose(w_new, v, rtol=1e-5)
    np.testing.assert_allclose(gamma, g / g.sum(), rtol=1e-5)
    # Learning Law: equal contributions on the support -> the weights do not move and gamma = w.
    w = np.float32([0.5, 0.25, 0.25])
    gamma, w_new = O.Equalize(tau=0.5, mix=0.0).step(w, None, np.float32([0.7, 0.7, 0.7]))
    np.testing.assert_allclose(w_new, w, rtol=1e-6)
    np.testing.assert_allclose(gamma, w, rtol=1e-6)
    # No positive contribution at all: the uniform fallback.
    gamma, _ = O.Greedy().step((), None, np.float32([-1.0, 0.0, -2.0]))
    np.testing.assert_allclose(gamma, 1 / 3, rtol=1e-6)


def test_bad_names_and_hparams_raise_usage_error(tiny_task):
    with pytest.raises(UsageError, match=r"online:equalize.*online:loss.*online:dropneg.*online:greedy"):
        O.train_online(tiny_task, "online:nope", INNER, progress=False)
    with pytest.raises(UsageError, match="unknown hyper-parameter"):
        O.make_policy("equalize", eta=1.0)
    with pytest.raises(UsageError, match=r"tau=-1\.0 is invalid"):
        O.make_policy("online:equalize", tau=-1)
    with pytest.raises(UsageError, match="KEY=NUMBER"):
        O.parse_spec("online:equalize:tau")
    assert O.parse_spec("online:equalize:tau=0.1,mix=0.02") == ("equalize", {"tau": 0.1, "mix": 0.02})
    assert dataclasses.asdict(O.make_policy("online:loss", power=2)) == {"power": 2.0, "every": 1.0}


def test_every_reuses_gamma_between_refreshes_and_replays(tiny_task):
    res = O.train_online(tiny_task, "equalize", INNER, progress=False, time_constant=False, every=3)
    gamma = res["gamma"]
    for t in range(INNER.steps):
        block_start = (t // INNER.record_every) * INNER.record_every
        if (t - block_start) % 3:  # not a refresh step: the previous row again
            np.testing.assert_array_equal(gamma[t], gamma[t - 1])
    assert not np.array_equal(gamma[0], gamma[INNER.record_every])  # refreshed rows do change
    replay = train(tiny_task, gamma, INNER, progress=False)
    np.testing.assert_allclose(replay["dev_loss"], res["dev_loss"], rtol=1e-5, atol=1e-6)
    with pytest.raises(UsageError, match="every"):
        O.make_policy("equalize", every=1.5)


ADAM = dataclasses.replace(INNER, optimizer="adam", lr=0.05)


def test_online_runs_under_the_inner_optimizer_and_mini_batches(tiny_task, tmp_path):
    """Adam and mini-batch SGD change the online run (they were ignored: full-batch GD every time), and
    the gamma it records replays exactly under the same settings with the scheduled-policy trainer."""
    gd = O.train_online(tiny_task, "equalize", dataclasses.replace(INNER, lr=0.05), progress=False,
                        time_constant=False)
    adam = O.train_online(tiny_task, "equalize", ADAM, out=tmp_path / "adam", progress=False,
                          time_constant=False)
    assert np.abs(adam["dev_loss"] - gd["dev_loss"]).max() > 1e-2
    assert json_load(tmp_path / "adam" / "config.json")["inner"]["optimizer"] == "adam"
    rep = train(tiny_task, adam["gamma"], ADAM, progress=False)
    np.testing.assert_allclose(rep["dev_loss"], adam["dev_loss"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(rep["ct_precond"], adam["ct_precond"], rtol=1e-4, atol=1e-6)
    sgd = dataclasses.replace(INNER, optimizer="sgd", batch_size=8, batch_seed=3)
    mb = O.train_online(tiny_task, "greedy", sgd, progress=False, time_constant=False)
    full = O.train_online(tiny_task, "greedy", INNER, progress=False, time_constant=False)
    assert np.abs(mb["dev_loss"] - full["dev_loss"]).max() > 1e-3
    assert mb["batch_idx"].shape == (INNER.steps, 8)
    rep = train(tiny_task, mb["gamma"], sgd, progress=False)
    np.testing.assert_allclose(rep["dev_loss"], mb["dev_loss"], atol=1e-5, rtol=0)
    np.testing.assert_array_equal(rep["batch_idx"], mb["batch_idx"])
    with pytest.raises(UsageError, match="batch_size=64"):
        O.train_online(tiny_task, "greedy", dataclasses.replace(sgd, batch_size=64), progress=False)


def json_load(path):
    import json

    return json.loads(path.read_text())


def test_greedy_under_adam_weights_the_preconditioned_contribution(tiny_task):
    """Independent float64 NumPy replay of Adam on the perceptron: at every step the greedy row is
    max(CT_P, 0) normalised, CT_P[n] = grad L_dev . P grad l_n with P from a provisional Adam step with
    the previous row (uniform before step 0)."""
    res = O.train_online(tiny_task, "greedy", ADAM, progress=False, time_constant=False)
    gamma = np.asarray(res["gamma"], np.float64)
    x, y = np.asarray(tiny_task.train["x"], np.float64), np.asarray(tiny_task.train["y"], np.float64)
    xd, yd = np.asarray(tiny_task.dev["x"], np.float64), np.asarray(tiny_task.dev["y"], np.float64)
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    b1, b2, eps, lr = ADAM.b1, ADAM.b2, ADAM.eps, ADAM.lr
    w = np.asarray(tiny_task.init_params["w"], np.float64)
    m, v = np.zeros_like(w), np.zeros_like(w)
    prev = np.full(32, 1 / 32)
    checked = 0
    for t, g_row in enumerate(gamma):
        per_ex = (sig(x @ w) - y)[:, None] * x  # [N, d]
        g_dev = ((sig(xd @ w) - yd)[:, None] * xd).mean(0)
        v_prov = b2 * v + (1 - b2) * (prev @ per_ex) ** 2
        p = 1.0 / (np.sqrt(v_prov / (1 - b2 ** (t + 1))) + eps)
        ct_p = per_ex @ (p * g_dev)
        want = np.maximum(ct_p, 0) / np.maximum(ct_p, 0).sum()
        clear = np.abs(ct_p) > 1e-3 * np.abs(ct_p).max()
        np.testing.assert_allclose(g_row[clear], want[clear], rtol=2e-3, atol=1e-6)
        checked += clear.sum()
        g = g_row @ per_ex
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g ** 2
        w = w - lr * (m / (1 - b1 ** (t + 1))) / (np.sqrt(v / (1 - b2 ** (t + 1))) + eps)
        prev = g_row
    assert checked > 0.9 * gamma.size
    # and it is not the plain contribution's greedy row (the two differ under Adam)
    plain = np.maximum(per_ex @ g_dev, 0)
    assert np.abs(plain / plain.sum() - want).max() > 1e-2
