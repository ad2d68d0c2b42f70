"""experiments.inner_optimizers (issue 10): the table comes from the run folders, both CT definitions under Adam."""

import json

from experiments import inner_optimizers as E


def test_tiny_gd_and_adam_table_matches_the_runs(tmp_path):
    report = E.run("tiny", tmp_path, ["gd", "adam"], adam_lr=0.01, outer_steps=3, outer_lr=None, progress=False)
    data = json.loads((tmp_path / "inner_optimizers.json").read_text())
    rows = {r["optimizer"]: r for r in data["rows"]}
    assert set(rows) == {"gd", "adam"}
    for name, row in rows.items():
        ev = json.loads((tmp_path / name / "evaluate" / "summary.json").read_text())
        assert row["speedup_test"] == ev["speedup"] and row["auc_policy"] == ev["auc_policy"]
        cfg = json.loads((tmp_path / name / "optimize" / "config.json").read_text())
        assert cfg["inner"]["optimizer"] == name and cfg["outer"]["outer_steps"] == 3
    # Adam records the preconditioned contribution; GD has only the paper's.
    assert rows["adam"]["law"]["policy_ct_precond"] is not None
    assert rows["gd"]["law"]["policy_ct_precond"] is None
    text = report.read_text()
    assert "| adam | policy | CT_P |" in text and f"{rows['gd']['speedup_test']:.3g}" in text


def test_unknown_optimizer_is_refused(tmp_path):
    assert E.main(["--preset", "tiny", "--optimizers", "gd,lbfgs", "--out", str(tmp_path), "--quiet"]) == 2
