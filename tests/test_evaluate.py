"""evaluate: --resume re-uses a run only when its content matches (the policy's SHA-256, the full online
spec), and NaN/inf or an infinite speed-up stop it instead of being written beside `finished: true`."""

import json

import numpy as np
import pytest

from learning_law import config as C
from learning_law import record as R
from learning_law.errors import NumericalError
from learning_law.evaluate import compare, evaluate
from learning_law.online import train_online
from learning_law.train import summarize, train

INNER = C.InnerConfig(steps=20, lr=0.1, record_every=5)


def _policy(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(32), size=20).astype(np.float32)


def test_resume_retrains_a_policy_file_overwritten_at_the_same_path(tiny_task, tmp_path):
    path = tmp_path / "pol.npy"
    np.save(path, _policy(0))
    ev = tmp_path / "e"
    evaluate(tiny_task, INNER, np.load(path), ev, policy_name=str(path), progress=False)
    stamp = (ev / "constant" / "summary.json").stat().st_mtime_ns
    np.save(path, _policy(1))  # same name, other content
    s = evaluate(tiny_task, INNER, np.load(path), ev, policy_name=str(path), progress=False, resume=True)
    fresh = train(tiny_task, _policy(1), INNER, progress=False)
    np.testing.assert_array_equal(np.load(ev / "policy" / "dev_loss.npy"), fresh["dev_loss"])
    assert s["auc_policy"] == pytest.approx(fresh["summary"]["auc"], rel=1e-6)
    assert (ev / "constant" / "summary.json").stat().st_mtime_ns == stamp  # the constant run is re-used
    cfg = json.loads((ev / "policy" / "config.json").read_text())
    assert cfg["policy"] == str(path) and len(cfg["policy_sha256"]) == 64
    assert cfg["matmul_precision"] == "highest"


def test_resume_retrains_an_online_policy_with_other_hyper_parameters(tiny_task, tmp_path):
    ev = tmp_path / "e"
    evaluate(tiny_task, INNER, None, ev, policy_name="online:equalize", progress=False,
             online=("equalize", {"tau": 0.02}))
    stamp = (ev / "policy" / "summary.json").stat().st_mtime_ns
    # the same spec again: re-used
    evaluate(tiny_task, INNER, None, ev, policy_name="online:equalize", progress=False, resume=True,
             online=("equalize", {"tau": 0.02}))
    assert (ev / "policy" / "summary.json").stat().st_mtime_ns == stamp
    # another tau under the same name: retrained
    s = evaluate(tiny_task, INNER, None, ev, policy_name="online:equalize", progress=False, resume=True,
                 online=("equalize", {"tau": 2.0}))
    fresh = train_online(tiny_task, "equalize", INNER, progress=False, time_constant=False, tau=2.0)
    np.testing.assert_array_equal(np.load(ev / "policy" / "dev_loss.npy"), fresh["dev_loss"])
    assert s["auc_policy"] == pytest.approx(fresh["summary"]["auc"], rel=1e-6)
    spec = json.loads((ev / "policy" / "config.json").read_text())["online"]
    assert spec == {"name": "equalize", "hparams": {"tau": 2.0, "mix": 0.01, "clip": 3.0, "power": 1.0,
                                                    "every": 1.0}}


def test_a_nan_read_back_on_resume_stops_with_the_step(tiny_task, tmp_path):
    ev = tmp_path / "e"
    evaluate(tiny_task, INNER, _policy(0), ev, policy_name="p", progress=False)
    curve = np.load(ev / "policy" / "test_loss.npy")
    curve[7] = np.nan
    np.save(ev / "policy" / "test_loss.npy", curve)
    with pytest.raises(NumericalError, match="policy run's test_loss is nan at step 7"):
        evaluate(tiny_task, INNER, _policy(0), ev, policy_name="p", progress=False, resume=True)
    assert not (ev / "summary.json").exists()


def _run(dev, test):
    dev, test = np.asarray(dev, np.float64), np.asarray(test, np.float64)
    return {"dev_loss": dev, "test_loss": test, "summary": summarize(dev, test, 2, 0.0)}


def test_compare_by_hand_and_its_refusals():
    const = _run([1.0, 0.8, 0.6, 0.5, 0.4], [1.0, 0.9, 0.7, 0.6, 0.5])
    pol = _run([1.0, 0.5, 0.4, 0.3, 0.3], [1.0, 0.6, 0.5, 0.45, 0.4])
    s = compare(const, pol, smooth_sigma=0.0)
    assert s["finished"] and s["steps"] == 4
    assert (s["speedup"], s["t_star"], s["target_test_loss"]) == (2.0, 2, 0.5)
    assert (s["speedup_dev"], s["t_star_dev"]) == (2.0, 2)
    assert s["auc_constant"] == pytest.approx(3.3 / 5) and s["auc_policy"] == pytest.approx(2.5 / 5)
    assert s["cr_paper_policy"] == pytest.approx(4 / 1.5) and s["final_test_loss_policy"] == pytest.approx(0.4)
    assert "speedup_smoothed" not in s
    # the constant run never got below L(theta_0) on the test split: t* = 0, not a speed-up of T
    flat = _run([1.0, 0.8, 0.6, 0.5, 0.4], [1.0, 1.1, 1.2, 1.1, 1.0])
    with pytest.raises(NumericalError, match="t\\* = 0"):
        compare(flat, pol)
    # a NaN in a curve names the run, the curve and the step
    broken = dict(pol, dev_loss=np.array([1.0, 0.5, np.inf, 0.3, 0.3]))
    with pytest.raises(NumericalError, match="policy run's dev_loss is inf at step 2"):
        compare(const, broken)


def test_finished_is_never_written_beside_a_non_finite_number(tmp_path):
    with pytest.raises(NumericalError, match="auc_final is nan"):
        R.write_json(tmp_path / "s.json", {"finished": True, "auc_final": float("nan")})
    assert not (tmp_path / "s.json").exists()
    R.write_json(tmp_path / "f.json", {"finished": False, "auc": float("nan")})  # a failure may say so
    # a run whose dev loss is exactly 0 after t = 0 has an infinite compression ratio: refused
    with pytest.raises(NumericalError, match="cr_paper is inf"):
        summarize(np.array([1.0, 0.0, 0.0]), np.array([1.0, 0.5, 0.4]), 2, 0.0)
    with pytest.raises(NumericalError, match="test loss is nan at step 1"):
        summarize(np.array([1.0, 0.5, 0.4]), np.array([1.0, np.nan, 0.4]), 2, 0.0)
