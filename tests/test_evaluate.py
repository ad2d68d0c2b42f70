"""evaluate: --resume re-uses a run only when its content matches (the policy's SHA-256, the full online
spec), and NaN/inf or an infinite speed-up stop it instead of being written beside `finished: true`."""

import hashlib
import json
import math

import numpy as np
import pytest

from learning_law import config as C
from learning_law import record as R
from learning_law.errors import NumericalError, UsageError
from learning_law.evaluate import compare, evaluate
from learning_law.online import train_online
from learning_law.train import summarize, train
from test_speedup import _gaussian_nearest

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
    with pytest.raises(NumericalError, match=f"policy run's test_loss is nan at step 7: .*\\({ev / 'policy'}\\)$"):
        evaluate(tiny_task, INNER, _policy(0), ev, policy_name="p", progress=False, resume=True)
    assert not (ev / "summary.json").exists()


def _run(dev, test):
    dev, test = np.asarray(dev, np.float64), np.asarray(test, np.float64)
    return {"dev_loss": dev, "test_loss": test, "summary": summarize(dev, test, 2, 0.0)}


def test_compare_by_hand_and_its_refusals():
    const = _run([1.0, 0.8, 0.6, 0.5, 0.4], [1.0, 0.9, 0.7, 0.6, 0.5])
    pol = _run([1.0, 0.5, 0.4, 0.3, 0.3], [1.0, 0.6, 0.5, 0.45, 0.4])
    s = compare(const, pol)
    expected = {
        "finished": True, "steps": 4,
        "speedup": 2.0, "t_star": 2, "target_test_loss": 0.5, "speedup_dev": 2.0, "t_star_dev": 2,
        "auc_constant": 3.3 / 5, "auc_policy": 2.5 / 5, "auc_test_constant": 3.7 / 5, "auc_test_policy": 2.95 / 5,
        "final_test_loss_constant": 0.5, "final_test_loss_policy": 0.4,
        # |V| = 2: CR (paper) = T / sum_{t>=1} L_t, CR (bits) = that times ln 2
        "cr_bits_constant": 4 * math.log(2) / 2.3, "cr_bits_policy": 4 * math.log(2) / 1.5,
        "cr_paper_constant": 4 / 2.3, "cr_paper_policy": 4 / 1.5, "slower_than_constant": False,
    }
    assert s.keys() == expected.keys()
    assert compare(pol, const)["slower_than_constant"] is True  # the other way round: 0.5x
    for key, value in expected.items():
        assert s[key] == pytest.approx(value, rel=1e-6), key  # summaries are float32 means
    # smoothed (sigma = 1): against the independent Gaussian of test_speedup
    s = compare(const, pol, smooth_sigma=1.0)
    sc, sp = _gaussian_nearest(const["test_loss"], 1.0), _gaussian_nearest(pol["test_loss"], 1.0)
    t_sm = int(np.nonzero(sp <= sc[-1])[0][0])
    assert (s["t_star_smoothed"], s["smooth_sigma"]) == (t_sm, 1.0)
    assert s["speedup_smoothed"] == pytest.approx(4 / t_sm, rel=1e-12)


def test_compare_refuses_non_finite_numbers_naming_them():
    const = _run([1.0, 0.8, 0.6, 0.5, 0.4], [1.0, 0.9, 0.7, 0.6, 0.5])
    pol = _run([1.0, 0.5, 0.4, 0.3, 0.3], [1.0, 0.6, 0.5, 0.45, 0.4])
    # the constant run never got below L(theta_0) on the test split: t* = 0, not a speed-up of T
    flat = _run([1.0, 0.8, 0.6, 0.5, 0.4], [1.0, 1.1, 1.2, 1.1, 1.0])
    with pytest.raises(NumericalError, match=r"^speedup is inf: the policy run's test loss at t = 0 .* constant "
                                             r"run's final test loss \(t\* = 0\)"):
        compare(flat, pol)
    flat_dev = _run([1.0, 1.2, 1.1, 1.0, 1.0], [1.0, 0.9, 0.7, 0.6, 0.5])
    with pytest.raises(NumericalError, match=r"^speedup_dev is inf: the policy run's dev loss .* final dev loss"):
        compare(flat_dev, pol)
    # only the smoothed curves give t* = 0: the policy falls to 0 at once, the constant run stays near 0.75
    slow = _run([1.0, 0.8, 0.6, 0.5, 0.4], [1.0, 0.76, 0.75, 0.75, 0.75])
    fast = _run([1.0, 0.5, 0.4, 0.3, 0.3], [1.0, 1e-3, 1e-3, 1e-3, 1e-3])
    assert compare(slow, fast)["t_star"] == 1
    with pytest.raises(NumericalError, match=r"^speedup_smoothed is inf: the policy run's test loss"):
        compare(slow, fast, smooth_sigma=1.0)
    # a NaN in a curve names the run, the curve and the step (and where the run is)
    broken = dict(pol, dev_loss=np.array([1.0, 0.5, np.inf, 0.3, 0.3]))
    with pytest.raises(NumericalError, match=r"the policy run's dev_loss is inf at step 2: .* \(in memory\)$"):
        compare(const, broken)
    with pytest.raises(NumericalError, match="the constant run's test_loss is nan at step 1"):
        compare(dict(const, test_loss=np.array([1.0, np.nan, 0.7, 0.6, 0.5])), pol)


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


def test_evaluate_writes_its_records(tiny_task, tmp_path, capsys):
    """config.json (every key), summary.json = the returned summary, the defaults (name 'policy', no
    smoothing, progress shown, no resume), and extra_config in both sub-runs."""
    gamma = _policy(0)
    ev = tmp_path / "e"
    s = evaluate(tiny_task, INNER, gamma, ev, extra_config={"preset": "mine"})
    err = capsys.readouterr().err
    assert "evaluate constant" in err and "evaluate policy" in err  # progress bars by default
    assert json.loads((ev / "summary.json").read_text()) == json.loads(json.dumps(s))
    assert s["policy"] == "policy" and "speedup_smoothed" not in s
    cfg = json.loads((ev / "config.json").read_text())
    sha = hashlib.sha256(b"float32(20, 32)" + gamma.tobytes()).hexdigest()
    assert {k: v for k, v in cfg.items() if k != "versions"} == json.loads(json.dumps({
        "kind": "evaluate", "task": "perceptron", "task_config": C.asdict(tiny_task.config),
        "inner": C.asdict(INNER), "policy": "policy", "policy_sha256": sha, "smooth_sigma": 0.0,
        "matmul_precision": "highest", "preset": "mine"}))
    assert "jax" in cfg["versions"]
    for sub, name in (("constant", "constant"), ("policy", "policy")):
        sub_cfg = json.loads((ev / sub / "config.json").read_text())
        assert sub_cfg["policy"] == name and sub_cfg["preset"] == "mine"
    assert json.loads((ev / "policy" / "config.json").read_text())["policy_sha256"] == sha
    # without --resume both runs are trained again
    stamp = (ev / "constant" / "summary.json").stat().st_mtime_ns
    s2 = evaluate(tiny_task, INNER, gamma, ev, progress=False, smooth_sigma=2.0)
    err = capsys.readouterr().err
    assert "evaluate constant" not in err and "evaluate policy" not in err  # progress=False reaches both trainings
    assert (ev / "constant" / "summary.json").stat().st_mtime_ns != stamp
    assert s2["smooth_sigma"] == 2.0 and "speedup_smoothed" in s2
    # online: extra_config and the measured time ratio reach the records
    s3 = evaluate(tiny_task, INNER, None, tmp_path / "o", policy_name="online:greedy", progress=True,
                  online=("greedy", {}), extra_config={"preset": "mine"})
    assert "evaluate policy" in capsys.readouterr().err  # the online run's bar, named as the other
    evaluate(tiny_task, INNER, None, tmp_path / "o2", policy_name="online:greedy", progress=False,
             online=("greedy", {}))
    assert "evaluate" not in capsys.readouterr().err
    pol = json.loads((tmp_path / "o" / "policy" / "summary.json").read_text())
    assert s3["time_ratio_vs_constant"] == pol["time_ratio_vs_constant"] > 0
    assert json.loads((tmp_path / "o" / "policy" / "config.json").read_text())["preset"] == "mine"
    with pytest.raises(UsageError, match="policy 'bad' has shape"):
        evaluate(tiny_task, INNER, gamma[:3], tmp_path / "b", policy_name="bad", progress=False)


def test_a_failed_retraining_leaves_no_finished_run(tiny_task, tmp_path):
    ev = tmp_path / "e"
    evaluate(tiny_task, INNER, _policy(0), ev, progress=False)
    with pytest.raises(NumericalError, match="diverged"):
        evaluate(tiny_task, C.InnerConfig(steps=20, lr=1e6, record_every=5), _policy(0), ev, progress=False,
                 resume=True)
    assert not (ev / "constant" / "summary.json").exists() and not (ev / "summary.json").exists()
