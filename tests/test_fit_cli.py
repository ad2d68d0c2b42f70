"""`learning-law fit`: CSVs and run folders with known curves, and every bad input stopped with exit code 2."""

import json

import numpy as np
import pytest

from learning_law import record as R
from theory.scaling import chinchilla_law, scaling_law
from cli_runner import run

TRUTH = (0.1, 300.0, 0.4)




def _csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in rows))
    return str(path)


@pytest.fixture
def curve_csv(tmp_path):
    t = np.arange(1, 301)
    L = scaling_law(t, *TRUTH)
    return _csv(tmp_path / "curve.csv", ["epoch", "step", "loss"], [(0, a, repr(float(b))) for a, b in zip(t, L)])


def test_fit_time_csv_writes_json(curve_csv, tmp_path, capsys):
    out = tmp_path / "fit.json"
    code, text = run(["fit", curve_csv, "--n-boot", "20", "--level", "0.9", "--out", str(out)], capsys)
    assert code == 0, text
    d = json.loads(out.read_text())
    for k, v in zip(("L0", "B", "beta"), TRUTH):
        assert abs(d[k] - v) / v < 0.02, (k, d[k], v)
        assert len(d[f"{k}_interval"]) == 2
    assert d["n"] == 300 and d["n_boot"] == 20 and d["level"] == 0.9 and d["form"] == "time"
    assert d["method"].startswith("robust") and d["r2"] > 0.999
    assert "beta" in text and "r2" in text


def test_fit_paper_method_with_t_min(curve_csv, tmp_path, capsys):
    out = tmp_path / "fit.json"
    code, text = run(["fit", curve_csv, "--method", "paper", "--t-min", "20", "--n-boot", "0", "--out", str(out)],
                     capsys)
    assert code == 0, text
    d = json.loads(out.read_text())
    assert d["t_min"] == 20 and d["n"] == 280 and d["method"].startswith("paper")
    assert abs(d["beta"] - 0.4) / 0.4 < 0.02 and d["beta_interval"] == [None, None]


def test_fit_run_folder(tmp_path, capsys):
    """A train run folder: dev_loss.npy over t = 0..T; t = 0 is left out, --curve picks the split."""
    folder = tmp_path / "run"
    t = np.arange(0, 201, dtype=np.float64)
    dev = scaling_law(np.maximum(t, 1), *TRUTH)
    test = scaling_law(np.maximum(t, 1), 0.2, 100.0, 0.6)
    R.write_json(folder / "config.json", {"kind": "train"})
    R.save_npy(folder / "dev_loss.npy", dev.astype(np.float32))
    R.save_npy(folder / "test_loss.npy", test.astype(np.float32))
    R.write_json(folder / "summary.json", {"finished": True})
    out = tmp_path / "f.json"
    code, text = run(["fit", str(folder), "--curve", "test", "--n-boot", "0", "--out", str(out)], capsys)
    assert code == 0, text
    d = json.loads(out.read_text())
    assert d["n"] == 200 and d["source"].endswith("test_loss.npy")
    assert abs(d["beta"] - 0.6) / 0.6 < 0.02 and abs(d["L0"] - 0.2) / 0.2 < 0.02  # float32 curve
    # An evaluate folder holds runs in subfolders: the message says so.
    code, text = run(["fit", str(tmp_path), "--n-boot", "0"], capsys)
    assert code == 2 and "run" in text and "subfolders" in text


def test_fit_chinchilla_csv(tmp_path, capsys):
    N, D = [a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e10, 5), np.geomspace(1e9, 1e12, 5))]
    L = chinchilla_law(N, D, 1.69, 406.4, 410.7, 0.34, 0.28)
    rows = [(a, b, repr(float(c)), "x") for a, b, c in zip(N, D, L)]
    src = _csv(tmp_path / "nd.csv", ["N", "D", "loss", "note"], rows)
    out = tmp_path / "c.json"
    code, text = run(["fit", src, "--form", "chinchilla", "--n-boot", "5", "--out", str(out)], capsys)
    assert code == 0, text
    d = json.loads(out.read_text())
    for k, v in zip(("E", "A", "B", "alpha", "beta"), (1.69, 406.4, 410.7, 0.34, 0.28)):
        assert abs(d[k] - v) / v < 0.02 and len(d[f"{k}_interval"]) == 2
    assert d["n"] == 25 and d["form"] == "chinchilla"


BAD = [
    # (CSV header, rows, extra options, words the message must contain)
    (["step", "value"], [(1, 2.0)] * 5, [], "no column(s) loss"),
    (["step", "loss"], [(1, 2.0), (2, "abc"), (3, 1.0), (4, 0.9)], [], "row 3, column 'loss': 'abc' is not a number"),
    (["step", "loss"], [(1, 2.0), (2, "nan"), (3, 1.0), (4, 0.9)], [], "not finite"),
    (["step", "loss"], [(1, 2.0), (2, 1.5), (3, 1.2)], [], "need at least 4"),
    (["step", "loss"], [(0, 2.0), (1, 1.5), (2, 1.2), (3, 1.1), (4, 1.0)], [], "step=0 (entry 1"),
    (["step", "loss"], [(1, 2.0), (2, -1.5), (3, 1.2), (4, 1.1)], [], "loss=-1.5"),
    (["step", "loss"], [(1, 2.0), (1, 1.5), (3, 1.2), (4, 1.1)], [], "not distinct"),
    (["step", "loss"], [(1, 2.0), (2, 1.5), (4, 1.2), (8, 1.1), (16, 1.0)], ["--sigma", "2"], "equally spaced"),
    (["step", "loss"], [(i, 1.0 / i) for i in range(1, 9)], ["--t-min", "6"], "need at least 4"),
    (["step", "loss"], [(i, 1.0 / i) for i in range(1, 9)], ["--level", "1.5"], "level=1.5"),
    (["step", "loss"], [(i, 1.0 / i) for i in range(1, 9)], ["--n-boot", "-1"], "n_boot=-1"),
    (["step", "loss"], [(i, 1.0 / i) for i in range(1, 9)], ["--sigma", "-1"], "sigma=-1"),
    (["step", "loss"], [(i, 1.0 / i) for i in range(1, 9)], ["--t-min", "-2"], "t_min=-2"),
    (["step", "loss"], [(i, 1.0 / i) for i in range(1, 9)], ["--form", "chinchilla"], "no column(s) N, D"),
    (["N", "D", "loss"], [(1e6, 1e9, 2.0)] * 8, ["--form", "chinchilla", "--method", "paper"], "method='paper'"),
    (["N", "D", "loss"], [(1e6, 1e9, 2.0)] * 3, ["--form", "chinchilla"], "need at least 6"),
    (["step", "loss"], [], [], "need at least 4"),
]


@pytest.mark.parametrize("header, rows, extra, words", BAD)
def test_bad_inputs_exit_2(tmp_path, capsys, header, rows, extra, words):
    src = _csv(tmp_path / "bad.csv", header, rows)
    code, text = run(["fit", src, "--n-boot", "0", *extra], capsys)
    assert code == 2, text
    assert words in text, text


def test_missing_file_empty_file_and_out_folder(tmp_path, capsys):
    code, text = run(["fit", str(tmp_path / "nope.csv")], capsys)
    assert code == 2 and "does not exist" in text
    (tmp_path / "empty.csv").write_text("")
    code, text = run(["fit", str(tmp_path / "empty.csv")], capsys)
    assert code == 2 and "is empty" in text
    src = _csv(tmp_path / "ok.csv", ["step", "loss"], [(i, 1.0 / i) for i in range(1, 9)])
    code, text = run(["fit", src, "--out", str(tmp_path)], capsys)
    assert code == 2 and "out=" in text
    code, text = run(["fit", src, "--form", "linear"], capsys)
    assert code == 2 and "invalid choice" in text
