"""The progress bar's AUC at the end of a run is the summary's: the mean dev loss over t = 0..T
(theory.objective.auc), not over t = 0..T-1 (issue 32)."""

import contextlib

import numpy as np
import pytest

from learning_law import config as C
from learning_law import online as OL
from learning_law import policy as P
from learning_law import train as TR

INNER = C.InnerConfig(steps=6, lr=0.5, record_every=2)


class _Bar:
    """Records what a run shows in its progress bar."""

    def __init__(self):
        self.postfix: list[dict] = []

    def update(self, n):
        pass

    def set_postfix(self, **kw):
        self.postfix.append(kw)


def _recording(monkeypatch, module):
    rec = _Bar()
    monkeypatch.setattr(module, "bar", lambda *a, **k: contextlib.nullcontext(rec))
    return rec


def test_bar_auc_is_the_mean_over_t_0_to_T():
    curve = np.array([3.0, 2.0, 1.5], np.float32)  # T = 2
    assert TR.bar_auc(float(curve[:2].sum()), 2) == pytest.approx(2.5)  # during the run: what was seen
    assert TR.bar_auc(float(curve[:2].sum()), 2, final_dev=1.5) == pytest.approx(float(np.mean(curve)))


@pytest.mark.parametrize("run", ["train", "online"])
def test_last_bar_auc_is_the_summary_auc(tiny_task, monkeypatch, run):
    if run == "train":
        rec = _recording(monkeypatch, TR)
        res = TR.train(tiny_task, P.constant(INNER.steps, tiny_task.n_train), INNER)
    else:
        rec = _recording(monkeypatch, OL)
        res = OL.train_online(tiny_task, "equalize", INNER, time_constant=False)
    last = rec.postfix[-1]
    assert last["auc"] == f"{res['summary']['auc']:.4f}"
    assert last["dev_loss"] == f"{res['summary']['final_dev_loss']:.4f}"
    # the mean over t = 0..T-1 (the bar's old end value) is another number here
    assert f"{np.mean(res['dev_loss'][:-1]):.4f}" != last["auc"]
