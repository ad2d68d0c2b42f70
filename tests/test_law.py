"""Learning Law statistics (theory.law), their file-level glue (analysis) and `learning-law law`."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learning_law import analysis as A
from learning_law import config as C
from learning_law import record as R
from learning_law.inner import lr_schedule
from learning_law.metagrad import auc_of_policy
from learning_law.tasks import build_task
from learning_law.train import train
from theory import law as LAW
from theory.certificate import kkt_residual
from cli_runner import run as run_cli


def _sparse_policy(rng, rows, n):
    gamma = rng.dirichlet(np.ones(n), size=rows) * (rng.random((rows, n)) < 0.6)
    gamma[:, 0] += 1e-3  # no empty row
    return gamma / gamma.sum(axis=1, keepdims=True)


def test_support_stats_match_a_loop_over_rows():
    rng = np.random.default_rng(0)
    gamma, ct = _sparse_policy(rng, 7, 9), rng.normal(size=(7, 9))
    out = LAW.support_stats(gamma, ct)
    for t in range(7):
        s = gamma[t] > 0
        m = sum(gamma[t, n] * ct[t, n] for n in range(9))
        sd = np.sqrt(sum((ct[t, n] - m) ** 2 for n in range(9) if s[n]) / (s.sum() - 1))
        np.testing.assert_allclose(out["ct_mean_support"][t], m, rtol=1e-12)
        np.testing.assert_allclose(out["sim_t"][t], m / sd, rtol=1e-12)
        np.testing.assert_allclose(out["ct_cv_support_t"][t], sd / abs(m), rtol=1e-12)
        assert out["support_size"][t] == s.sum()
    # constant policy: mean / std (ddof 1) over all examples
    u = LAW.support_stats(np.full((7, 9), 1 / 9), ct)
    np.testing.assert_allclose(u["sim_t"], ct.mean(1) / ct.std(1, ddof=1), rtol=1e-12)
    # a single example in use: SIM undefined
    one = np.zeros((1, 9))
    one[0, 3] = 1.0
    assert np.isnan(LAW.support_stats(one, ct[:1])["sim_t"][0])


def test_zero_share_and_run_level_pooling():
    gamma = np.array([[0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0.0, 1.0, 0.0, 0.0]])
    ct = np.array([[1.0, -1.0, -2.0, -3.0], [1.0, 2.0, 3.0, 4.0], [-1.0, 2.0, 3.0, -4.0]])
    z = LAW.zero_share_negative_ct(gamma, ct)
    np.testing.assert_array_equal(z["n_negative_ct"], [3, 0, 2])
    np.testing.assert_allclose(z["zero_share_negative_ct_t"][[0, 2]], [2 / 3, 1.0])
    assert np.isnan(z["zero_share_negative_ct_t"][1])
    dev = np.array([3.0, 2.0, 1.5, 1.2])
    per, run = LAW.law_table(gamma, ct, np.arange(3), dev, np.ones(3), until_loss=1.8)
    assert run["zero_share_negative_ct"] == pytest.approx(4 / 5)  # pooled: (2 + 2) / (3 + 2)
    np.testing.assert_allclose(per["neg_dldt_t"], [1.0, 0.5, 0.3])
    # until 1.8: steps 0 and 1 (dev 3, 2) only
    assert run["n_steps_until"] == 2
    assert run["zero_share_negative_ct_until"] == pytest.approx(2 / 3)
    assert run["sim_mean_until"] == pytest.approx(np.nanmean(per["sim_t"][:2]))
    with pytest.raises(ValueError):
        LAW.law_table(gamma, ct, np.arange(3), dev[:3], np.ones(3))


def test_weighted_contribution_is_the_loss_rate_to_first_order(tmp_path):
    # For GD, L_{t+1} - L_t = -eta sum_n gamma CT + O(eta^2): with a small eta the recorded contributions
    # must match the recorded dev-loss decrease step by step (this also catches CT recorded one step late).
    task = build_task("perceptron", C.PerceptronConfig(dim=8, n_train=32, n_dev=16, n_test=16, seed=3))
    gamma = np.random.default_rng(4).dirichlet(np.ones(32), size=30).astype(np.float32)
    inner = C.InnerConfig(steps=30, lr=1e-3, record_every=1)
    res = train(task, gamma, inner, out=tmp_path / "r", policy_name="x", progress=False)
    per, run = LAW.law_table(res["gamma_recorded"], res["ct"], res["record_steps"], res["dev_loss"],
                             lr_schedule(30, 1e-3))
    # Measured here: on time, |ratio - 1| <= 1.4e-3 at every step (the O(eta) term and float32 noise of
    # the loss differences); CT taken one step late (at theta_{t+1}) or early (theta_{t-1}) gives a
    # median of 4.3e-3 and 5.2e-3 and a maximum above 6e-3, which these bounds refuse.
    np.testing.assert_allclose(per["ct_to_neg_dldt_ratio_t"], 1.0, atol=3e-3)
    assert run["ct_to_neg_dldt_ratio"] == pytest.approx(1.0, abs=1.5e-3)


def test_law_of_run_certificate_from_an_independent_gradient(tmp_path):
    task = build_task("perceptron", C.PerceptronConfig(dim=8, n_train=32, n_dev=16, n_test=16, seed=3))
    inner = C.InnerConfig(steps=20, lr=0.1, record_every=4)
    gamma = _sparse_policy(np.random.default_rng(1), 20, 32).astype(np.float32)
    np.save(tmp_path / "pol.npy", gamma)
    train(task, gamma, inner, out=tmp_path / "r", policy_name=str(tmp_path / "pol.npy"), progress=False)
    out = A.law_of_run(tmp_path / "r")
    saved = R.read_json(tmp_path / "r" / "law.json")
    assert {"sim_mean", "ct_cv_support", "zero_share_negative_ct", "kkt_residual"} <= set(saved)
    grad = jax.grad(auc_of_policy, argnums=4)(task.per_example_loss, task.init_params, task.train, task.dev,
                                              jnp.asarray(gamma), jnp.asarray(lr_schedule(20, 0.1)))
    ref = float(kkt_residual(gamma, grad)[1])
    assert 0 < ref < 10
    assert out["kkt_residual"] == pytest.approx(ref, rel=1e-4)
    assert saved["kkt_residual"] == pytest.approx(ref, rel=1e-4)
    assert out["auc_adjoint"] == pytest.approx(out["auc"], rel=1e-5)
    assert len(saved["per_step"]["sim_t"]) == 5
    # the constant policy scores exactly 1; a policy file that is gone gives null and a reason
    train(task, np.full((20, 32), 1 / 32, np.float32), inner, out=tmp_path / "c", policy_name="constant",
          progress=False)
    assert A.law_of_run(tmp_path / "c")["kkt_residual"] == pytest.approx(1.0, rel=1e-5)
    # a policy file overwritten at the same path is not taken for the run's policy
    np.save(tmp_path / "pol.npy", _sparse_policy(np.random.default_rng(2), 20, 32).astype(np.float32))
    changed = A.law_of_run(tmp_path / "r")
    assert changed["kkt_residual"] is None and "changed since the run" in changed["kkt_reason"]
    (tmp_path / "pol.npy").unlink()
    gone = A.law_of_run(tmp_path / "r")
    assert gone["kkt_residual"] is None and "not there" in gone["kkt_reason"]
    assert gone["sim_mean"] == pytest.approx(out["sim_mean"])




def test_cli_law_on_optimize_and_evaluate_folders(tmp_path, capsys):
    opt, ev = str(tmp_path / "o"), str(tmp_path / "e")
    code, text = run_cli(["optimize", "--preset", "tiny", "--quiet", "--outer-lr", "2", "--out", opt], capsys)
    assert code == 0, text
    code, text = run_cli(["law", opt, "--quiet"], capsys)
    assert code == 0, text
    traj = json.loads((tmp_path / "o" / "trajectory.json").read_text())
    assert [c["outer_step"] for c in traj["checkpoints"]] == [0, 2, 4, 5]
    first, last = traj["checkpoints"][0], traj["checkpoints"][-1]
    assert first["kkt_residual"] == pytest.approx(1.0, rel=1e-5)
    assert last["kkt_residual"] < first["kkt_residual"]
    assert last["auc"] < first["auc"]
    assert len(last["sim_t"]) == len(last["dev_loss_t"]) == len(traj["record_steps"]) == 20
    assert traj["until_loss"] == pytest.approx(first["final_dev_loss"])
    stamp = (tmp_path / "o" / "trajectory" / "step_00004" / "summary.json").stat().st_mtime_ns
    code, text = run_cli(["law", opt, "--quiet"], capsys)  # resumes: nothing retrained
    assert code == 0, text
    assert (tmp_path / "o" / "trajectory" / "step_00004" / "summary.json").stat().st_mtime_ns == stamp

    code, text = run_cli(["evaluate", "--quiet", "--policy", opt, "--out", ev], capsys)
    assert code == 0, text
    code, text = run_cli(["law", ev], capsys)
    assert code == 0, text
    res = json.loads((tmp_path / "e" / "law.json").read_text())
    assert res["constant"]["kkt_residual"] == pytest.approx(1.0, rel=1e-5)
    assert res["policy"]["kkt_residual"] == pytest.approx(last["kkt_residual"], rel=1e-4)
    assert res["until_loss"] == pytest.approx(res["constant"]["final_dev_loss"])
    assert (tmp_path / "e" / "policy" / "law.json").exists()
    assert "SIM" in text and "KKT residual" in text


def test_cli_law_rejects_bad_folders(tmp_path, capsys):
    code, text = run_cli(["law", str(tmp_path / "missing")], capsys)
    assert code == 2 and "run_dir" in text
    (tmp_path / "empty").mkdir()
    code, text = run_cli(["law", str(tmp_path / "empty")], capsys)
    assert code == 2 and "not a finished train run" in text
    code, text = run_cli(["law", str(tmp_path / "empty"), "--until-loss", "nan"], capsys)
    assert code == 2 and "until_loss" in text
