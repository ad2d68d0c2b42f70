"""experiments.online_policies (issue 9): one row per policy, numbers from the run folders, law stats from theory.law."""

import json

from experiments import online_policies as E


def test_tiny_table_rows_come_from_the_runs(tmp_path):
    E.main(["--preset", "tiny", "--out", str(tmp_path / "opt_free"), "--quiet"])
    data = json.loads((tmp_path / "opt_free" / "online_policies.json").read_text())
    names = [r["policy"] for r in data["rows"]]
    assert names[0] == "constant" and {"online:equalize", "online:greedy", "online:loss", "online:dropneg"} <= set(names)
    const = json.loads((tmp_path / "opt_free" / "constant" / "summary.json").read_text())
    row = data["rows"][0]
    assert row["speedup_test"] == 1.0 and row["auc_dev"] == const["auc"]
    eq = next(r for r in data["rows"] if r["policy"] == "online:equalize")
    s = json.loads((tmp_path / "opt_free" / "online_equalize" / "summary.json").read_text())
    assert eq["auc_dev"] == s["auc"] and eq["cost_vs_constant"] == s["time_ratio_vs_constant"]
    # dropneg puts weight 0 on every example with CT < 0 (Property 4.1), constant on none.
    drop = next(r for r in data["rows"] if r["policy"] == "online:dropneg")
    assert drop["zero_share_neg"] == 1.0 and row["zero_share_neg"] == 0.0
    assert row["sim"] is not None and "| online:equalize |" in (tmp_path / "opt_free" / "report.md").read_text()
