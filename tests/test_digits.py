"""The digits task: splits, label noise, the MLP's loss and accuracy, and the commands on it."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from learning_law import config as C
from learning_law.errors import UsageError
from learning_law.tasks import build_task, noisy_mask
from learning_law.tasks.digits import DigitsConfig, digits_splits
from tests.cli_runner import run

TINY = C.get_preset("digits", "tiny")


def test_splits_disjoint_clean_and_sized():
    cfg = DigitsConfig(seed=3)
    s = digits_splits(cfg)
    ref = load_digits()
    idx = s["index"]
    assert {k: len(v) for k, v in idx.items()} == {"train": 1000, "dev": 200, "val": 200, "test": 397}
    allidx = np.concatenate(list(idx.values()))
    assert len(np.unique(allidx)) == len(allidx)  # no image in two splits
    for name in ("dev", "val", "test"):  # the desired splits are clean: the dataset's own labels
        np.testing.assert_array_equal(s[name]["y"], ref.target[idx[name]])
        np.testing.assert_allclose(s[name]["x"], ref.data[idx[name]] / 16.0, rtol=1e-6)
    np.testing.assert_array_equal(s["clean_y"], ref.target[idx["train"]])
    changed = s["train"]["y"] != ref.target[idx["train"]]
    np.testing.assert_array_equal(changed, s["noisy"])  # a noisy label is never the clean one
    assert abs(s["noisy"].mean() - 0.4) < 0.05  # binomial sd at N = 1000: 0.015
    assert s["train"]["y"].min() >= 0 and s["train"]["y"].max() <= 9


def test_noise_seeded_and_rate():
    a, b, c = (digits_splits(DigitsConfig(seed=s, label_noise=0.2)) for s in (1, 1, 2))
    np.testing.assert_array_equal(a["noisy"], b["noisy"])
    np.testing.assert_array_equal(a["index"]["train"], b["index"]["train"])
    assert not np.array_equal(a["index"]["train"], c["index"]["train"])
    assert abs(a["noisy"].mean() - 0.2) < 0.05
    assert not digits_splits(DigitsConfig(label_noise=0.0))["noisy"].any()
    # the noisy labels are spread over the other 9 classes, not one
    wrong = a["train"]["y"][a["noisy"]]
    assert len(np.unique(wrong)) == 10


@pytest.mark.parametrize("changes, field", [({"label_noise": 0.95}, "label_noise"), ({"n_train": 1500}, "n_train"),
                                            ({"hidden": 0}, "hidden"), ({"n_val": -1}, "n_val")])
def test_bad_config_names_field(changes, field):
    with pytest.raises(UsageError, match=field):
        DigitsConfig(**changes)


def test_loss_and_accuracy_match_numpy():
    task = build_task("digits", TINY.task)
    p = {k: {kk: np.asarray(vv) for kk, vv in v.items()} for k, v in task.init_params.items()}
    x, y = np.asarray(task.test["x"], np.float64), np.asarray(task.test["y"])
    logits = np.tanh(x @ p["l1"]["kernel"] + p["l1"]["bias"]) @ p["l2"]["kernel"] + p["l2"]["bias"]
    m = logits.max(1, keepdims=True)
    nll = (m[:, 0] + np.log(np.exp(logits - m).sum(1))) - logits[np.arange(len(y)), y]
    np.testing.assert_allclose(task.per_example_loss(task.init_params, task.test), nll, rtol=1e-5, atol=1e-6)
    from learning_law.evaluate import accuracy

    assert accuracy(task, task.init_params) == pytest.approx(np.mean(logits.argmax(1) == y))
    np.testing.assert_array_equal(noisy_mask(task), digits_splits(TINY.task)["noisy"])


def test_perceptron_noise_mask_is_the_flips():
    cfg = C.PerceptronConfig(dim=4, n_train=400, n_dev=8, n_test=8, n_val=0, label_noise=0.3, seed=5)
    noisy, clean = build_task("perceptron", cfg), build_task("perceptron", C.override(cfg, label_noise=0.0))
    mask = noisy_mask(noisy)
    np.testing.assert_array_equal(np.asarray(noisy.train["y"]) != np.asarray(clean.train["y"]), mask)
    assert abs(mask.mean() - 0.3) < 0.08


def test_cli_optimize_evaluate_digits(tmp_path, capsys):
    opt, ev = tmp_path / "opt", tmp_path / "ev"
    code, text = run(["optimize", "--task", "digits", "--preset", "tiny", "--quiet", "--out", str(opt)], capsys)
    assert code == 0, text
    code, text = run(["evaluate", "--policy", str(opt), "--quiet", "--out", str(ev)], capsys)
    assert code == 0, text
    import json

    s = json.loads((ev / "summary.json").read_text())
    assert "test accuracy" in text
    # the accuracy of the policy run's theta_T, recomputed from the file with numpy
    task = build_task("digits", TINY.task)
    with np.load(ev / "policy" / "params_final.npz") as f:
        p = {k: f[k] for k in f.files}
    x, y = np.asarray(task.test["x"]), np.asarray(task.test["y"])
    logits = np.tanh(x @ p["['l1']['kernel']"] + p["['l1']['bias']"]) @ p["['l2']['kernel']"] + p["['l2']['bias']"]
    assert s["test_accuracy_policy"] == pytest.approx(np.mean(logits.argmax(1) == y))
    code, text = run(["train", "--task", "digits", "--preset", "tiny", "--label-noise", "0.95", "--out",
                      str(tmp_path / "bad")], capsys)
    assert code == 2 and "label_noise" in text
