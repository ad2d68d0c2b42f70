"""Several processes on localhost (`learning-law launch`, gloo collectives on CPU) compute what one
process computes: the search's policy and AUCs, and evaluate's curves; a killed process costs only the
outer steps since the last checkpoint.

Tolerance: 1e-5 (absolute on gamma, whose entries are ~1/N = 0.03; relative on losses and AUCs). The
example axis's sum is reduced in another order (a partial sum per device, then an all-reduce across
processes, against one sum over all N), so float32 results differ by rounding (~1e-7 measured), not
bit for bit.

Compile time dominates these runs on 2 busy cores, so every process here compiles with LLVM's cheap
settings (XLA_FLAGS below); the one-process references run in subprocesses with the same flags.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": FAST_COMPILE}
CLI = [sys.executable, "-m", "learning_law.cli"]
TOL = 1e-5


def launch(processes: int, args: list[str], local_devices: int = 0, **popen) -> subprocess.Popen:
    return subprocess.Popen(CLI + ["launch", "--processes", str(processes), "--local-devices", str(local_devices),
                                   "--", *args, "--quiet"], env=ENV, **popen)


def one_process(opt: list[str], out: Path) -> subprocess.Popen:
    """The reference: ``optimize OPT --out OUT`` then ``evaluate`` of its policy into OUT-eval, in one
    process with one device, started now and running beside the launches (their waits overlap)."""
    script = ("import sys; from learning_law.cli import main; a = sys.argv[1:]; "
              "sys.exit(main(a[:-1] + ['--quiet']) or main(['evaluate', '--policy', a[-2], '--out', a[-1], '--quiet']))")
    return subprocess.Popen([sys.executable, "-c", script, *opt, "--out", str(out), f"{out}-eval"], env=ENV,
                            stderr=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen, timeout: float = 300) -> None:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, (err or "")[-3000:] if isinstance(err, str) else proc.returncode


def same_search(a: Path, b: Path) -> None:
    for name in ("gamma.npy", "outer_auc.npy", "outer_evals.npy"):
        x, y = np.load(a / name), np.load(b / name)
        assert x.shape == y.shape and np.array_equal(np.isnan(x), np.isnan(y)), name
        assert np.nanmax(np.abs(x - y) / np.maximum(1.0, np.abs(y))) <= TOL, (name, np.nanmax(np.abs(x - y)))


def same_evaluation(a: Path, b: Path) -> None:
    sa, sb = (json.loads((p / "summary.json").read_text()) for p in (a, b))
    for key in ("auc_constant", "auc_policy", "auc_test_policy", "final_test_loss_policy"):
        assert abs(sa[key] - sb[key]) <= TOL * max(1.0, abs(sb[key])), (key, sa[key], sb[key])
    for run in ("constant", "policy"):  # per-example records too: gathered from every process's shard
        for name in ("test_loss.npy", "train_loss.npy", "ct.npy"):
            x, y = np.load(a / run / name), np.load(b / run / name)
            assert x.shape == y.shape
            assert np.max(np.abs(x - y) / np.maximum(1.0, np.abs(y))) <= 1e-4, (run, name, np.max(np.abs(x - y)))


def test_perceptron_2x2_devices_killed_and_resumed_then_evaluated_on_4_processes(tmp_path):
    opt = ["optimize", "--task", "perceptron", "--preset", "tiny", "--outer-lr", "0.5", "--outer-steps", "12",
           "--checkpoint-every", "1"]
    ref = one_process(opt, tmp_path / "ref")
    multi = tmp_path / "multi"
    log = tmp_path / "launch.log"
    with open(log, "w") as err:
        proc = launch(2, opt + ["--devices", "4", "--out", str(multi)], 2, stderr=err, stdout=subprocess.DEVNULL)
        pids, t0 = None, time.monotonic()
        while time.monotonic() - t0 < 240:  # kill process 1 once two outer steps are checkpointed
            if pids is None and "pids" in log.read_text():
                line = next(ln for ln in log.read_text().splitlines() if "pids" in ln)
                pids = [int(p) for p in line.split("pids")[1].split()]
            ckpts = multi / "checkpoints"
            if pids and ckpts.exists() and any(p.name.isdigit() and int(p.name) >= 2 for p in ckpts.iterdir()):
                os.kill(pids[1], signal.SIGKILL)
                break
            assert proc.poll() is None, f"the run ended before it could be killed: {log.read_text()[-2000:]}"
            time.sleep(0.02)
        code = proc.wait(timeout=120)
    assert code == 128 + signal.SIGKILL, log.read_text()[-2000:]
    assert "process 1 was killed" in log.read_text()
    assert not (multi / "summary.json").exists()

    finished(launch(2, opt + ["--devices", "4", "--out", str(multi), "--resume"], 2, stderr=subprocess.PIPE,
                    text=True))
    summary = json.loads((multi / "summary.json").read_text())
    assert 2 <= summary["resumed_from_outer_step"] < 12 and summary["outer_steps_run"] == 12

    finished(launch(4, ["evaluate", "--policy", str(multi), "--devices", "4", "--out", str(tmp_path / "eval")],
                    stderr=subprocess.PIPE, text=True))
    finished(ref)
    same_search(multi, tmp_path / "ref")
    same_evaluation(tmp_path / "eval", tmp_path / "ref-eval")


def test_lm_on_2_processes(tmp_path):
    opt = ["optimize", "--task", "lm", "--preset", "tiny", "--n-val", "0", "--outer-steps", "2", "--memory", "theta",
           "--eval-every", "2"]
    ref = one_process(opt, tmp_path / "ref")
    finished(launch(2, opt + ["--devices", "2", "--out", str(tmp_path / "multi")], stderr=subprocess.PIPE, text=True))
    finished(launch(2, ["evaluate", "--policy", str(tmp_path / "multi"), "--devices", "2", "--out",
                        str(tmp_path / "eval")], stderr=subprocess.PIPE, text=True))
    finished(ref)
    same_search(tmp_path / "multi", tmp_path / "ref")
    same_evaluation(tmp_path / "eval", tmp_path / "ref-eval")


@pytest.mark.parametrize("child", [[], ["law", "x"], ["optimize", "--out", "x"]])
def test_launch_refuses_bad_use_before_starting(child, tmp_path, capsys):
    from cli_runner import run

    code, text = run(["launch", "--processes", "0" if child[:1] == ["optimize"] else "2", "--", *child], capsys)
    assert code == 2
    assert ("processes=0 is invalid" in text) if child[:1] == ["optimize"] else ("command=" in text and "allowed" in text)
