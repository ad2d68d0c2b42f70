"""The prepared GPU check (benchmarks/gpu_check.py) runs end to end at tiny sizes on CPU, so it does not rot
before a GPU is lent, and its extrapolation is the arithmetic its docstring states."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def test_gpu_check_tiny_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "JAX_PLATFORMS": "cpu",  # cheap LLVM settings: compile time dominates at tiny sizes
           "XLA_FLAGS": "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--out", str(out)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    lm, ext = res["lm"], res["lm_extrapolated"]
    assert res["platform"] == "cpu" and lm["measured_peak"] == {"peak_bytes": None, "why": "not available on CPU"}
    assert len(lm["outer_step_s"]) == 2 and min(lm["outer_step_s"]) > 0 and lm["forward_s"] > 0
    assert lm["shared_evaluation"] and lm["record_extra_s"] == max(lm["record_s"] - lm["gradient_s"], 0.0)
    assert all(a < lm["auc"][0] * 1.5 for a in lm["auc"])  # finite AUCs of a search that did not blow up
    # Linear in T: 4x the steps of the measured run (the tiny stand-in for T = 4000).
    assert ext["steps"] == 4 * lm["steps"]
    assert ext["outer_step_s"] == pytest.approx(4 * lm["outer_step_s_steady"])
    # The tiny preset: 3 outer steps, evaluations after 2 and 3; the first recorded with outer step 2's
    # meta-gradient, the constant policy's with outer step 0's, the last one a forward run.
    assert (ext["evaluations"], ext["recordings"], ext["forward_runs"]) == (2, 2, 1)
    assert ext["total_s"] == pytest.approx(ext["outer_steps"] * ext["outer_step_s"] + 2 * 4 * lm["record_extra_s"]
                                           + ext["forward_s"] + lm["compile_s"])
    # XLA's estimate: positive, and larger at 4x the steps (the [T, N] policy and its gradient grow).
    assert 0 < lm["xla_estimate_bytes"] < ext["xla_estimate_bytes"]
    assert res["perceptron"]["outer_step_s_steady"] > 0 and res["perceptron"]["steps"] == 40
    assert "not available on CPU" in proc.stdout
