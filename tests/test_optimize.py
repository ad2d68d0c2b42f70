import json
import shutil
import os
import signal
import subprocess
import sys
import time

import jax.numpy as jnp
import numpy as np
import pytest

from learning_law import config as C
from learning_law.errors import UsageError
from learning_law.optimize import optimize, outer_lr
from learning_law.tasks import build_task

TASK = C.PerceptronConfig(dim=8, n_train=32, n_dev=16, n_test=16, seed=4)
INNER = C.InnerConfig(steps=40, lr=0.1, record_every=5)


def test_outer_loop_lowers_auc_and_keeps_rows_on_simplex(tmp_path):
    task = build_task("perceptron", TASK)
    outer = C.OuterConfig(outer_steps=12, outer_lr=1.0, save_every=5, checkpoint_every=4, frozen_steps=3)
    s = optimize(task, INNER, outer, tmp_path, progress=False)
    g = np.load(tmp_path / "policies" / "gamma_00012.npy")  # the last policy (gamma.npy is the selected one)
    assert s["auc_last"] < s["auc_constant"] and s["search"] == "fixed"
    assert (g >= 0).all()
    np.testing.assert_allclose(g.sum(1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(g[:3], 1.0 / 32)  # frozen rows untouched
    assert not np.allclose(g[3:], 1.0 / 32)
    auc = np.load(tmp_path / "outer_auc.npy")
    assert auc.shape == (12,) and np.all(np.isfinite(auc)) and auc[-1] < auc[0]
    assert sorted(p.name for p in (tmp_path / "policies").iterdir()) == [
        "gamma_00005.npy", "gamma_00010.npy", "gamma_00012.npy"]
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 12
    evals = np.load(tmp_path / "outer_evals.npy")  # eval_every=10: after 10 and after 12 updates
    assert [k for k in range(12) if not np.isnan(evals[k, 0])] == [9, 11]
    assert "speedup_test" in lines[9] and "speedup_test" not in lines[8]
    assert abs(lines[11]["auc_after"] - s["auc_last"]) < 1e-6


def test_linear_schedule_decays_to_zero():
    outer = C.OuterConfig(outer_steps=4, outer_lr=2.0)
    assert [float(outer_lr(outer, k)) for k in range(4)] == [2.0, 1.5, 1.0, 0.5]


def test_resume_refuses_other_settings(tmp_path):
    task = build_task("perceptron", TASK)
    optimize(task, INNER, C.OuterConfig(outer_steps=6, outer_lr=1.0, checkpoint_every=3), tmp_path,
             progress=False)
    # The lr schedule depends on the number of outer steps: resuming with another one would silently differ.
    with pytest.raises(UsageError, match="settings differ"):
        optimize(task, INNER, C.OuterConfig(outer_steps=10, outer_lr=1.0, checkpoint_every=3), tmp_path,
                 resume=True, progress=False)


def test_sigkill_then_resume_gives_the_uninterrupted_policy(tmp_path):
    """Kill the CLI mid-run with SIGKILL, resume it, compare with an uninterrupted run (bit for bit).

    The default search: its state (trial step, best policy so far, histories) must come back exactly. 30 outer
    steps: killed at 10 or 15 (in eg's phase), the resumed run backtracks, switches to qn at 20 (``EG_STEPS``)
    and selects the policy after 13 as the best by validation (not the last), as the uninterrupted one does.
    The reference runs beside the killed run (a separate process: their compile waits overlap).
    """
    args = ["--preset", "tiny", "--dim", "16", "--n-train", "256", "--steps", "300", "--outer-steps", "30",
            "--eval-every", "7", "--checkpoint-every", "5", "--quiet"]
    cmd = [sys.executable, "-m", "learning_law.cli", "optimize", *args]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    ref_proc = subprocess.Popen(cmd + ["--out", str(tmp_path / "ref")], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)

    proc = subprocess.Popen(cmd + ["--out", str(tmp_path / "killed")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline:
        steps = [int(p.name) for p in ckpt.glob("*") if p.name.isdigit()] if ckpt.exists() else []
        if steps and max(steps) >= 10:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / "summary.json").exists(), "the run finished before it was killed"
    subprocess.run(cmd + ["--out", str(tmp_path / "killed"), "--resume"], check=True, env=env,
                   capture_output=True)
    assert ref_proc.wait(timeout=300) == 0, ref_proc.stderr.read()[-3000:]
    ref = np.load(tmp_path / "ref" / "gamma.npy")
    got = np.load(tmp_path / "killed" / "gamma.npy")
    np.testing.assert_array_equal(got, ref)
    auc_ref = np.load(tmp_path / "ref" / "outer_auc.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "killed" / "outer_auc.npy"), auc_ref)
    ref_lines = (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()
    assert (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines() == ref_lines
    assert json.loads(ref_lines[-1])["outer_step"] >= 10, "the reference stopped before the kill point"
    for name in ("outer_evals.npy", "gamma_last.npy"):
        if (tmp_path / "ref" / name).exists():
            np.testing.assert_array_equal(np.load(tmp_path / "killed" / name), np.load(tmp_path / "ref" / name))


def test_truncated_latest_checkpoint_falls_back_to_the_previous(tmp_path, capsys):
    task = build_task("perceptron", TASK)
    outer = C.OuterConfig(outer_steps=9, outer_lr=1.0, checkpoint_every=3)
    ref = optimize(task, INNER, outer, tmp_path, progress=False)["gamma"]
    latest = tmp_path / "checkpoints" / "9"
    files = [p for p in latest.rglob("*") if p.is_file() and p.stat().st_size > 0]
    assert files
    for p in files:  # cut every file of the newest checkpoint in half
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    s = optimize(task, INNER, outer, tmp_path, resume=True, progress=False)
    err = capsys.readouterr().err
    assert "checkpoint at outer step 9 is unreadable" in err
    assert s["resumed_from_outer_step"] == 6
    np.testing.assert_array_equal(s["gamma"], ref)


# ---- selection, guards and the default search (learning_law.search)

OVERFIT = C.PerceptronConfig(dim=8, n_train=32, n_dev=8, n_test=16, n_val=64, init_std=1.0, seed=5)


def test_gamma_is_the_policy_with_the_best_validation_auc(tmp_path):
    """Recompute every saved policy's validation AUC through an independent path (a recorded training run
    whose 'dev' split is the validation split) and check gamma.npy is the arg-min (constant included)."""
    import dataclasses

    from learning_law import policy as P
    from learning_law.train import train

    task = build_task("perceptron", OVERFIT)  # 8 dev examples: the search over-fits them
    outer = C.OuterConfig(outer_steps=12, save_every=1, eval_every=1, patience=0)  # the default search
    s = optimize(task, INNER, outer, tmp_path / "o", progress=False)
    on_val = dataclasses.replace(task, dev=task.val)
    cands = {0: P.constant(INNER.steps, task.n_train)}
    cands.update({k: np.load(tmp_path / "o" / "policies" / f"gamma_{k:05d}.npy") for k in range(1, 13)})
    val = {k: train(on_val, g, INNER, progress=False)["summary"]["auc"] for k, g in cands.items()}
    dev = {k: train(task, g, INNER, progress=False)["summary"]["auc"] for k, g in cands.items()}
    allowed = [k for k in cands if dev[k] <= dev[0] + 1e-6]
    best = min(allowed, key=lambda k: val[k])
    assert s["selected_outer_step"] == best and s["selected_by"] == "validation AUC"
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "gamma.npy"), cands[best])
    assert best not in (0, 12), "the case should select an interior policy (adjust the setting)"
    assert (tmp_path / "o" / "gamma_last.npy").exists() and not s["last_is_selected"]
    assert abs(s["auc_val_selected"] - val[best]) < 1e-5


def test_patience_stops_when_validation_stops_improving(tmp_path):
    task = build_task("perceptron", OVERFIT)
    outer = C.OuterConfig(outer_steps=40, eval_every=1, patience=3)
    s = optimize(task, INNER, outer, tmp_path, progress=False)
    assert s["stop_reason"] == "patience" and s["outer_steps_run"] < 40
    assert s["outer_steps_run"] - s["selected_outer_step"] == 3
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == s["outer_steps_run"]
    # a finished early stop is not resumed into more steps
    again = optimize(task, INNER, outer, tmp_path, resume=True, progress=False)
    assert again["outer_steps_run"] == s["outer_steps_run"]
    np.testing.assert_array_equal(again["gamma"], s["gamma"])


def test_divergence_guard_fires_below_auc_one(tmp_path):
    from learning_law.errors import NumericalError

    task = build_task("perceptron", TASK)
    hot = C.InnerConfig(steps=30, lr=1.0)  # concentrated weights make this inner run blow up
    with pytest.raises(NumericalError, match=r"outer step 1, \d.*x the constant policy's 0\.\d"):
        optimize(task, hot, C.OuterConfig(outer_steps=5, outer_lr=1e4), tmp_path, progress=False)
    assert not (tmp_path / "summary.json").exists()


@pytest.mark.parametrize("inner", [C.InnerConfig(steps=40, lr=0.1, optimizer="adam"),
                                   C.InnerConfig(steps=40, lr=0.5, optimizer="sgd", batch_size=8)],
                         ids=["adam", "sgd"])
def test_default_search_never_ends_above_the_constant_policy(tmp_path, inner):
    task = build_task("perceptron", TASK)
    s = optimize(task, inner, C.OuterConfig(outer_steps=8, eval_every=4), tmp_path, progress=False)
    assert s["search"] == "auto"
    auc = np.load(tmp_path / "outer_auc.npy")
    ran = auc[: s["outer_steps_run"]]
    assert np.all(np.diff(ran) <= 0), ran  # monotone: every accepted step lowered the search objective
    assert s["auc_last"] <= s["auc_constant"] and s["auc_final"] <= s["auc_constant"]
    assert s["auc_last"] < s["auc_constant"]  # and it did something
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(x["step_size"] > 0 and x["trials"] >= 1 for x in lines)


@pytest.mark.parametrize("search", ["apg", "qn"])
def test_a_search_with_state_resumes_bit_identically_from_an_earlier_checkpoint(tmp_path, search):
    # apg carries momentum (z, x_prev, t, t_prev) between outer steps, qn its L-BFGS memory (pairs and the
    # last point's logits and gradient): dropping the last checkpoint and resuming from the one before
    # (outer step 6; two are kept) must give the uninterrupted run's policy bit for bit.
    task = build_task("perceptron", TASK)
    outer = C.OuterConfig(outer_steps=9, search=search, checkpoint_every=3, eval_every=2, qn_memory=3)
    ref = optimize(task, INNER, outer, tmp_path / "ref", progress=False)
    assert ref["search"] == search and ref["auc_last"] < ref["auc_constant"]
    shutil.copytree(tmp_path / "ref", tmp_path / "cut")
    shutil.rmtree(tmp_path / "cut" / "checkpoints" / "9")
    (tmp_path / "cut" / "summary.json").unlink()
    got = optimize(task, INNER, outer, tmp_path / "cut", resume=True, progress=False)
    assert got["resumed_from_outer_step"] == 6
    for name in ("gamma.npy", "outer_auc.npy", "outer_evals.npy"):
        np.testing.assert_array_equal(np.load(tmp_path / "cut" / name), np.load(tmp_path / "ref" / name))
