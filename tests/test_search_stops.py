"""How a search stops: --until-kkt at the first logged residual below R (and a resume keeps the stop), and
a loud stall on an inner run that oscillates, where the row-normalised default search still finds a policy
(issue: the default search stalled without a word)."""

import json
import shutil

import numpy as np
import pytest

from learning_law import config as C
from learning_law import search as S
from learning_law.optimize import optimize
from learning_law.tasks import build_task

TASK = C.PerceptronConfig(dim=8, n_train=32, n_dev=16, n_test=16, n_val=0, seed=4)
INNER = C.InnerConfig(steps=40, lr=0.1, record_every=5)


def _rows(folder):
    return [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]


def test_until_kkt_stops_at_the_first_logged_residual_below_it_and_resumes_bit_identically(tmp_path):
    task = build_task("perceptron", TASK)
    free = optimize(task, INNER, C.OuterConfig(outer_steps=12, eval_every=4), tmp_path / "free", progress=False)
    kkt = [r["kkt_residual"] for r in _rows(tmp_path / "free")]
    assert len(kkt) == free["outer_steps_run"] and abs(kkt[0] - 1.0) < 1e-5  # the constant policy: 1
    # A threshold between the smallest residual and the ones before it: the first row below it is where to stop.
    r = 0.5 * (min(kkt) + min(kkt[: kkt.index(min(kkt))] or [1.0]))
    first = next(k for k, v in enumerate(kkt) if v < r)
    outer = C.OuterConfig(outer_steps=12, eval_every=4, until_kkt=r, checkpoint_every=2)
    got = optimize(task, INNER, outer, tmp_path / "cut", progress=False)
    rows = _rows(tmp_path / "cut")
    assert got["stop_reason"] == "kkt" and got["outer_steps_run"] == first
    assert [x["kkt_residual"] for x in rows] == pytest.approx(kkt[: first + 1], rel=1e-6)
    assert rows[-1]["kkt_residual"] < r and all(x["kkt_residual"] >= r for x in rows[:-1])
    assert got["kkt_residual_last"] == pytest.approx(kkt[first], rel=1e-6)
    # resumed from the checkpoint before the stop: the same stop, the same policy, the same metrics
    shutil.copytree(tmp_path / "cut", tmp_path / "again")
    (tmp_path / "again" / "summary.json").unlink()
    last = max(int(p.name) for p in (tmp_path / "again" / "checkpoints").iterdir() if p.name.isdigit())
    shutil.rmtree(tmp_path / "again" / "checkpoints" / str(last))
    again = optimize(task, INNER, outer, tmp_path / "again", resume=True, progress=False)
    assert again["stop_reason"] == "kkt" and again["outer_steps_run"] == first
    np.testing.assert_array_equal(np.load(tmp_path / "again" / "gamma.npy"), np.load(tmp_path / "cut" / "gamma.npy"))
    assert _rows(tmp_path / "again") == rows


def test_until_kkt_is_refused_for_the_fixed_search():
    with pytest.raises(ValueError, match="until_kkt"):
        C.OuterConfig(outer_lr=0.1, until_kkt=0.2)
    with pytest.raises(ValueError, match="until_kkt"):
        C.OuterConfig(until_kkt=0.0)


def test_an_oscillating_inner_run_stalls_eg_loudly_and_not_the_default_search(tmp_path, capsys):
    # A tiny LM whose inner lr (1.0) makes the constant run's dev loss rise at a third of its steps: the
    # meta-gradient has a few entries ~50x the median. One step for the whole policy (eg) is set by them and
    # collapses; auto sees the constant run oscillate (search.oscillates), starts with each row's step
    # normalised, and lowers the dev AUC by far more than 5%.
    from learning_law.tasks.lm import LMConfig

    task = build_task("lm", LMConfig(n_train=64, n_dev=32, n_test=32, n_val=0, seq_len=8, vocab_size=300,
                                     d_model=16, n_heads=2, d_ff=32, seed=0))
    inner = C.InnerConfig(steps=50, lr=1.0, record_every=10)
    eg = optimize(task, inner, C.OuterConfig(outer_steps=14, search="eg", eval_every=7), tmp_path / "eg",
                  progress=False)
    assert eg["stop_reason"] == "stalled" and eg["outer_steps_run"] < 14
    assert eg["auc_final"] > 0.99 * eg["auc_constant"]  # it found almost nothing
    stall = eg["stall"]
    assert stall["dev_loss_rises_constant"] >= 10 and stall["kkt_residual"] > 0.5
    assert "oscillates" in stall["message"] and "--lr" in stall["message"]
    assert "STALLED" in capsys.readouterr().err  # said even with progress=False
    auto = optimize(task, inner, C.OuterConfig(outer_steps=14, eval_every=7), tmp_path / "auto", progress=False)
    assert auto["search"] == "auto" and auto["stop_reason"] != "stalled" and auto["switched_to_rows"] is True
    assert auto["auc_final"] < 0.95 * auto["auc_constant"], auto["auc_final"] / auto["auc_constant"]


def test_a_step_collapse_is_judged_against_the_first_step_of_the_same_part_of_auto():
    # auto's eg part measures its step on F's scale (hundreds on the perceptron), its qn part as a share of
    # the quasi-Newton step (<= 1): a qn step of 1/16 is no collapse, an eg step 1e-4 of eg's first is.
    from learning_law import search_record as SR
    eg, qn, rows = (S.AutoState(*([None] * 5), t_prev=m, alpha=None) for m in (1.0, S.QN_MODE, S.ROWS_MODE))
    first: dict = {}
    assert SR.collapsed(first, SR.step_mode("auto", eg, eg), 332.0) is None
    assert SR.collapsed(first, SR.step_mode("auto", eg, qn), 166.0) is None  # the switching step is eg's
    assert SR.collapsed(first, SR.step_mode("auto", qn, qn), 1.0) is None
    assert SR.collapsed(first, SR.step_mode("auto", qn, qn), 0.0625) is None
    assert SR.collapsed(first, SR.step_mode("auto", qn, rows), 1.0) is None  # a stall's rows step: rows' first
    assert SR.collapsed(first, SR.step_mode("auto", eg, eg), 0.01) == pytest.approx(0.01 / 332.0)
    assert SR.collapsed({}, SR.step_mode("apg", qn, eg), 5.0) is None  # other rules: one part, t_prev ignored
