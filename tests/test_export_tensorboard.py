"""export-policy (learning_law/policy_table.py) and --tensorboard (learning_law/tensorboard.py) from the CLI."""

import json

import numpy as np
import pytest

from learning_law import policy_table as PT
from learning_law import tensorboard as TB
from tests.cli_runner import run


@pytest.fixture
def sparse_policy(tmp_path):
    rng = np.random.default_rng(0)
    g = rng.random((7, 5)).astype(np.float32) * (rng.random((7, 5)) > 0.5)
    g[:, 0] += 1e-3  # no empty row
    g /= g.sum(1, keepdims=True)
    path = tmp_path / "gamma.npy"
    np.save(path, g)
    return g, path


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_export_round_trip(sparse_policy, tmp_path, capsys, suffix):
    g, path = sparse_policy
    out = tmp_path / f"table{suffix}"
    code, text = run(["export-policy", str(path), "--out", str(out)], capsys)
    assert code == 0, text
    np.testing.assert_array_equal(PT.read_table(out), g)  # float32 exactly
    assert f"{int((g > 0).sum())} rows" in text


def test_export_threshold_and_rows(sparse_policy, tmp_path, capsys):
    g, path = sparse_policy
    out = tmp_path / "t.csv"
    assert run(["export-policy", str(path), "--out", str(out), "--threshold", "0.2"], capsys)[0] == 0
    lines = out.read_text().splitlines()
    assert lines[:2] == ["example,step,weight", "# shape,7,5"]
    rows = np.array([[float(v) for v in line.split(",")] for line in lines[2:]])
    t, n = np.nonzero(g > 0.2)  # by step, then example
    np.testing.assert_array_equal(rows[:, 1], t)
    np.testing.assert_array_equal(rows[:, 0], n)
    np.testing.assert_allclose(rows[:, 2], g[t, n], rtol=1e-8)
    code, text = run(["export-policy", str(path), "--out", str(tmp_path / "t.parquet")], capsys)
    assert code == 2 and ".csv or .npz" in text


def test_tensorboard_train_optimize_evaluate(tmp_path, capsys):
    tb = tmp_path / "tb"
    base = ["--task", "perceptron", "--preset", "tiny", "--quiet"]
    assert run(["train", *base, "--out", str(tmp_path / "tr"), "--tensorboard", str(tb / "train")], capsys)[0] == 0
    s = json.loads((tmp_path / "tr" / "summary.json").read_text())
    sc = TB.read_scalars(tb / "train")
    assert sc["summary/auc"] == [(40, pytest.approx(s["auc"]))]
    dev = np.load(tmp_path / "tr" / "dev_loss.npy")
    assert [v for _, v in sc["loss/dev"]] == pytest.approx(dev.tolist())

    opt = tmp_path / "opt"
    assert run(["optimize", *base, "--out", str(opt), "--tensorboard", str(tb / "opt")], capsys)[0] == 0
    sc = TB.read_scalars(tb / "opt")
    lines = [json.loads(x) for x in (opt / "metrics.jsonl").read_text().splitlines()]
    assert [v for _, v in sc["outer/auc"]] == pytest.approx([r["auc"] for r in lines])
    assert "summary/auc_final" in sc

    ev = tmp_path / "ev"
    assert run(["evaluate", "--policy", str(opt), "--quiet", "--out", str(ev), "--tensorboard", str(tb / "ev")],
               capsys)[0] == 0
    s = json.loads((ev / "summary.json").read_text())
    sc = TB.read_scalars(tb / "ev")
    assert sc["summary/auc_policy"][0][1] == pytest.approx(s["auc_policy"])
    assert sc["summary/test_accuracy_policy"][0][1] == pytest.approx(s["test_accuracy_policy"])
    pol = TB.read_scalars(tb / "ev" / "policy")
    assert [v for _, v in pol["loss/test"]] == pytest.approx(np.load(ev / "policy" / "test_loss.npy").tolist())
