"""The policy search's logged held-out numbers against an independent recomputation: the speed-ups of
the final policy on the test and on the dev loss, from curves retrained with learning_law.train."""

import json

import numpy as np
import pytest

import theory
from cli_runner import run
from learning_law import config as C
from learning_law import policy as P
from learning_law.tasks import build_task
from learning_law.train import train


def test_logged_speedups_are_those_of_the_saved_policy_on_each_split(tmp_path, capsys):
    out = tmp_path / "o"
    code, text = run(["optimize", "--preset", "tiny", "--quiet", "--outer-lr", "2", "--out", str(out)], capsys)
    assert code == 0, text
    preset = C.get_preset("perceptron", "tiny")
    task = build_task("perceptron", preset.task)
    const = train(task, P.constant(preset.inner.steps, task.n_train), preset.inner, progress=False)
    pol = train(task, np.load(out / "gamma.npy"), preset.inner, progress=False)
    test = theory.speedup_ratio(const["test_loss"], pol["test_loss"])["speedup"]
    dev = theory.speedup_ratio(const["dev_loss"], pol["dev_loss"])["speedup"]
    assert abs(test - dev) > 0.5  # the two splits tell different stories here (16 desired examples)
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["speedup_test"] == pytest.approx(test, rel=1e-6)
    assert last["speedup_dev"] == pytest.approx(dev, rel=1e-6)
    assert last["auc_test_after"] == pytest.approx(pol["summary"]["auc_test"], rel=1e-5)
    assert last["auc_after"] == pytest.approx(pol["summary"]["auc"], rel=1e-5)
    from learning_law.selection import EVAL_FIELDS

    evals = dict(zip(EVAL_FIELDS, np.load(out / "outer_evals.npy")[-1]))
    assert evals["speedup_test"] == pytest.approx(test, rel=1e-6)
    assert evals["speedup_dev"] == pytest.approx(dev, rel=1e-6)
