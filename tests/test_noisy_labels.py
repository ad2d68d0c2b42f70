"""experiments/noisy_labels.py: where the weight goes, and the command on a tiny setting."""

import json

import numpy as np
import pytest

from experiments import noisy_labels as NL


def test_noise_shares_by_hand():
    gamma = np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    noisy = np.array([True, False, False, True])
    s = NL.noise_shares(gamma, noisy)
    assert s["noisy_weight"] == pytest.approx((0.5 + 0.5) / 2)  # the zero row is left out
    assert s["noisy_zero"] == pytest.approx(3 / 6)  # (0,3), (1,0), (1,3) of the 6 noisy cells


def test_command_tiny_writes_report_and_summary(tmp_path, capsys):
    out = tmp_path / "nl"
    assert NL.main(["--out", str(out), "--preset", "tiny", "--seeds", "0,1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for method in ("constant", "optimized", "l2rw", "rho-loss", "loss-topk", "online:equalize"):
        assert {"test_accuracy", "test_loss", "speedup", "seconds"} <= set(summary[method])
        acc = summary[method]["test_accuracy"]
        assert acc["n"] == 2 and 0 <= acc["mean"] <= 1
    assert summary["constant"]["speedup"]["mean"] == 1.0
    # the constant policy's weight on noisy examples is the measured noise rate, seed by seed
    for s in (0, 1):
        rows = json.loads((out / f"seed-{s}" / "rows.json").read_text())
        assert rows["rows"]["constant"]["noisy_weight"] == pytest.approx(rows["noise_rate"], abs=1e-6)
        assert rows["rows"]["optimized"]["test_accuracy"] == summary["optimized"]["test_accuracy"]["values"][s]
    text = (out / "report.md").read_text()
    assert "| `l2rw` |" in text and "Wall time:" in text and "vs_constant" in text
    assert NL.main(["--out", str(tmp_path / "bad"), "--preset", "tiny", "--label-noise", "0.95"]) == 2
    assert "label_noise" in capsys.readouterr().err
