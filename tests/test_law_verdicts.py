"""The README's verdict table (experiments.law_verdicts) on hand-made seed summaries with known answers."""

import json

from experiments.law_verdicts import table, verdicts


def _row(mean, lo, hi):
    return {"mean": mean, "ci_low": lo, "ci_high": hi, "n": 5}


def _folder(tmp_path, **rows):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps({"experiment": "perceptron", "preset": "paper",
                                                      "seeds": [0, 1, 2, 3, 4]}))
    base = {"kkt_residual_policy": _row(0.96, 0.95, 0.97), "sim_equal_loss_paper": _row(1.5, 1.3, 1.7),
            "zero_share_paper": _row(0.76, 0.7, 0.82), "low_weight_share_paper": _row(0.98, 0.97, 0.99),
            "zero_share_negative_ct": _row(0.005, 0.003, 0.01), "low_weight_share_learned": _row(0.02, 0.01, 0.03),
            "low_weight_share_not_learned_paper": _row(0.1, 0.05, 0.15),
            "sim_growth_paper": _row(5.0, 4.0, 6.0), "sim_effect_paper": _row(1.0, 0.95, 1.05),
            "sim_constant_paper": _row(0.04, 0.03, 0.05), "sim_policy_paper": _row(0.2, 0.15, 0.25),
            "sim_constant_same_window_paper": _row(0.2, 0.15, 0.25)}
    base.update(rows)
    (tmp_path / "summary.json").write_text(json.dumps(base))
    return tmp_path


def test_verdicts_follow_the_intervals(tmp_path):
    v = verdicts(_folder(tmp_path / "a"))
    assert v["theorem"].startswith("**not testable yet**") and "more equal than constant" in v["theorem"]
    assert v["4.1"].startswith("**holds**")  # [70%, 82%] meets the paper's 80-100%
    assert v["4.2"].startswith("**holds**") and "`strict` 2.0%" in v["4.2"]  # strict shown, not judged
    assert v["sim"].startswith("**artefact of the window**")  # [0.95, 1.05]
    v = verdicts(_folder(tmp_path / "b", zero_share_paper=_row(0.5, 0.4, 0.6), sim_effect_paper=_row(1.5, 1.3, 1.7),
                         kkt_residual_policy=_row(0.1, 0.05, 0.15), sim_equal_loss_paper=_row(1.0, 0.9, 1.1)))
    assert v["4.1"].startswith("**does not**") and v["sim"].startswith("**policy effect**")
    assert v["theorem"].startswith("**testable**") and "not more equal" in v["theorem"]
    v = verdicts(_folder(tmp_path / "c", sim_growth_paper=_row(1.0, 0.9, 1.1),
                         low_weight_share_paper={"mean": None, "ci_low": None, "ci_high": None, "n": 0}))
    assert v["sim"].startswith("**does not grow**") and v["4.2"].startswith("n/a: no example qualifies")
    effect = {**_row(1.5, 1.0, 2.0), "values": [0.99, 1.6, 2.1, 1.5, 1.3]}
    v = verdicts(_folder(tmp_path / "d", sim_effect_paper=effect))
    assert v["sim"].startswith("**mostly the window**") and "above 1.1 on 4 of 5 seeds" in v["sim"]
    v = verdicts(_folder(tmp_path / "e", low_weight_share_not_learned_paper=_row(0.92, 0.9, 0.94)))
    assert v["4.2"].startswith("**inside the range, not specific**")  # 98% vs 92% among the others


def test_table_has_a_column_per_folder_and_the_command_to_remake_each(tmp_path):
    text = table([_folder(tmp_path / "a"), _folder(tmp_path / "b")])
    assert text.count("perceptron `paper`, seeds 0-4") == 2
    assert f"learning-law reproduce perceptron --preset paper --seeds 0-4 --out {tmp_path / 'a'}" in text
    assert "python -m experiments.law_verdicts" in text and text.count("\n| ") >= 6
