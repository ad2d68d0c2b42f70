"""Property 4.2's share (theory.law) and the report section that sets the Learning Law against the paper."""

import math

import numpy as np

from experiments.law_vs_paper import section
from theory.law import law_table, low_weight_share_learned


def test_low_weight_share_counts_well_learned_pairs_below_a_fifth_of_the_row_max():
    gamma = np.array([[0.5, 0.05, 0.45, 0.0], [0.1, 0.6, 0.2, 0.1]])
    loss = np.array([[1e-7, 1e-8, 1e-9, 0.3], [1e-7, 0.5, 2e-6, 1e-8]])
    # learned: (0,0) 0.5 -> not low, (0,1) 0.05 < 0.1 -> low, (0,2) 0.45 -> not; (1,0) 0.1 < 0.12 -> low,
    # (1,3) 0.1 < 0.12 -> low. 3 of 5.
    share, n = low_weight_share_learned(gamma, loss)
    assert n == 5 and math.isclose(share, 3 / 5)
    share, n = low_weight_share_learned(gamma, np.ones_like(loss))
    assert n == 0 and math.isnan(share)


def test_law_table_reports_it_when_given_the_train_losses():
    rng = np.random.default_rng(0)
    gamma = rng.dirichlet(np.ones(6), size=4)
    ct = rng.normal(size=(4, 6))
    loss = np.where(rng.random((4, 6)) < 0.5, 1e-8, 0.2)
    _, run = law_table(gamma, ct, np.arange(4), np.linspace(1, 0.5, 5), np.full(4, 0.1), train_loss=loss)
    assert (run["low_weight_share_learned"], run["n_learned"]) == low_weight_share_learned(gamma, loss)
    _, run = law_table(gamma, ct, np.arange(4), np.linspace(1, 0.5, 5), np.full(4, 0.1))
    assert "low_weight_share_learned" not in run


def _cp(k, zero, low, sim, cr, kkt, verdict="policy effect"):
    paper = {"zero_share": zero, "low_weight_share": low, "sim": sim, "cr": cr, "n_learned": 1234,
             "low_weight_share_not_learned": 0.05, "i_star": 40, "description": "PAPER-DEF"}
    return {"outer_step": k, "zero_share_negative_ct": zero / 10, "low_weight_share_learned": low / 10,
            "sim_mean": sim, "cr_paper": cr, "kkt_residual": kkt,
            "definitions": {"strict": {"description": "STRICT-DEF"}, "paper": paper},
            "controls": {"paper": {"verdict": verdict}}}


def _law(cp, controls):
    pol = {"zero_share_negative_ct": cp["zero_share_negative_ct"], "low_weight_share_learned": 0.07,
           "n_learned": 99, "sim_mean": cp["sim_mean"], "kkt_residual": cp["kkt_residual"],
           "definitions": cp["definitions"]}
    const = {"definitions": {"strict": {}, "paper": {"zero_share": 0.0, "low_weight_share": 0.0, "sim": 0.1}}}
    return {"policy": pol, "constant": const, "controls": controls}


def test_section_sets_only_the_paper_definition_against_the_paper():
    cps = [_cp(0, 0.0, 0.0, 0.1, 4.0, 1.0, "no effect"), _cp(10, 0.5, 0.7, 0.2, 5.0, 0.6),
           _cp(20, 0.85, 0.7, 0.3, 6.0, 0.2, "artefact of the window")]
    ctl = {"paper": {"sim_constant": 0.1, "sim_policy": 0.3, "growth": 3.0, "sim_constant_same_window": 0.29,
                     "effect": 1.03, "equal_loss_ratio": 1.5, "equal_loss_verdict": "more equal",
                     "verdict": "artefact of the window"}, "strict": {"reason": "RSN"}}
    text = section({"checkpoints": cps}, _law(cps[-1], ctl), {"zero_share": (0.8, 1.0), "low_weight_share": (0.9, 1.0)},
                   " HINT")
    lines = {ln.split("|")[1].strip()[:6]: ln for ln in text.splitlines() if ln.startswith("| Fig.")}
    # Fig. 8: the paper definition's 85% is inside; the strict 8.5% beside it is not called outside
    assert "85.0% (0.0%)" in lines["Fig. 8"] and "inside the paper's range" in lines["Fig. 8"]
    assert "8.5% (outside the range, but not the quantity the figure measures)" in lines["Fig. 8"]
    assert lines["Fig. 8"].count("**outside**") == 0  # only the paper definition is called a miss
    assert "**outside**: 20.0 percentage points below" in lines["Fig. 9"] and "1,234 example-steps" in lines["Fig. 9"]
    assert "not well learned: 5.0%" in lines["Fig. 9"] and "not specific" not in lines["Fig. 9"]
    assert "x3" in lines["Fig. 3"] and "same window: 0.29" in lines["Fig. 3"] and "**artefact of the window**" in lines["Fig. 3"]
    assert "RSN" in lines["Fig. 3"] and "Spearman(SIM, CR) over the saved policies = 1" in lines["Fig. 3"]
    assert "PAPER-DEF" in text and "STRICT-DEF" in text and "20: artefact of the window" in text
    assert "Property 4.2" in text and "HINT" in text and "lowest 0.2" in text
    law = _law(cps[-1], ctl)
    law["policy"]["definitions"]["paper"] = {**cps[-1]["definitions"]["paper"], "low_weight_share": 0.95,
                                             "low_weight_share_not_learned": 0.9}
    fig9 = [ln for ln in section({"checkpoints": cps}, law, {"low_weight_share": (0.9, 1.0)}).splitlines()
            if ln.startswith("| Fig. 9")][0]
    assert "inside the paper's range; **not specific**" in fig9 and "(90.0%)" in fig9
    # no paper ranges: no inside/outside at all, and no closing paragraph
    text = section({"checkpoints": cps}, _law(cps[-1], ctl), None)
    assert "outside" not in text and "inside" not in text and "HINT" not in text


def test_section_says_when_the_paper_definition_could_not_be_measured():
    cps = [_cp(0, 0.0, 0.0, 0.1, 4.0, 1.0), _cp(10, 0.0, 0.1, 0.2, 5.0, 0.6)]
    law = _law(cps[-1], {})
    law["policy"]["definitions"] = {"strict": {}, "paper": {"reason": "cannot rebuild the task: X"}}
    text = section({"checkpoints": cps}, law, {"zero_share": (0.8, 1.0)})
    assert "could not be measured (cannot rebuild the task: X)" in text and "inside" not in text


def test_the_headline_sim_trend_is_measured_as_the_paper_did_and_checked_against_its_control():
    from experiments.report_text import _sim_trend

    def traj(sims, verdict):
        cps = [_cp(k, 0.0, 0.0, s, 4.0 + k, 1.0, verdict) for k, s in enumerate(sims)]
        cps[-1]["controls"]["paper"].update(sim_constant_same_window=0.29, equal_loss_ratio=1.5)
        return {"checkpoints": cps}

    ours, word = _sim_trend(traj([0.1, 0.2, 0.3], "policy effect"), {})
    assert word.startswith("same direction, a policy effect") and "`paper` definition" in ours and "0.29" in ours
    assert _sim_trend(traj([0.1, 0.2, 0.3], "artefact of the window"), {})[1].startswith("same direction, but artefact")
    assert _sim_trend(traj([0.1, 0.4, 0.3, 0.2, 0.15], "no effect"), {})[1].startswith("**partly**")
    assert _sim_trend(traj([0.3, 0.2, 0.1], "lower"), {})[1].startswith("**misses**")
