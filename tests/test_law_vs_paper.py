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


def _cp(k, zero, low, sim, cr, kkt):
    return {"outer_step": k, "zero_share_negative_ct": zero, "low_weight_share_learned": low, "sim_mean": sim,
            "cr_paper": cr, "kkt_residual": kkt}


def test_section_places_each_property_against_the_paper():
    traj = {"checkpoints": [_cp(0, 0.0, 0.0, 0.1, 4.0, 1.0), _cp(10, 0.5, 0.7, 0.2, 5.0, 0.6),
                            _cp(20, 0.85, 0.95, 0.3, 6.0, 0.2)]}
    law = {"policy": {"zero_share_negative_ct": 0.85, "low_weight_share_learned": 0.7, "n_learned": 1234,
                      "sim_mean": 0.3, "kkt_residual": 0.2}}
    text = section(traj, law, {"zero_share": (0.8, 1.0), "low_weight_share": (0.9, 1.0)}, " HINT")
    lines = {ln.split("|")[1].strip()[:6]: ln for ln in text.splitlines() if ln.startswith("| Fig.")}
    assert "inside the paper's range" in lines["Fig. 8"] and "85.0%" in lines["Fig. 8"]
    assert "**outside**: 20.0 percentage points below" in lines["Fig. 9"] and "1,234 example-steps" in lines["Fig. 9"]
    assert "Spearman(SIM, CR) = 1" in lines["Fig. 3"] and "does not grow" not in lines["Fig. 3"]
    assert "lowest 0.2" in text and "Property 4.2" in text and "HINT" in text
    # SIM falling with CR is called out; no paper ranges: no verdicts, no closing paragraph
    traj["checkpoints"][2]["sim_mean"] = 0.05
    text = section(traj, law, None)
    assert "does not grow" in text and "outside" not in text and "inside" not in text and "far from" not in text


def test_section_says_when_the_policy_has_no_exact_zero():
    # Exponentiated gradient (the default search) never reaches gamma = 0: property 4.1 is then 0 by
    # construction, and the section says so; a policy with zeros gets no such sentence.
    traj = {"checkpoints": [_cp(0, 0.0, 0.0, 0.1, 4.0, 1.0), _cp(10, 0.0, 0.1, 0.2, 5.0, 0.6)]}
    law = {"policy": {"zero_share_negative_ct": 0.0, "low_weight_share_learned": 0.1, "n_learned": 10,
                      "sim_mean": 0.2, "kkt_residual": 0.6, "support_fraction": 1.0}}
    assert "no weight exactly 0" in section(traj, law, None)
    law["policy"]["support_fraction"] = 0.97
    assert "no weight exactly 0" not in section(traj, law, None)
