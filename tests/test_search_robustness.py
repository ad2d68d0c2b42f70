"""experiments.search_robustness on a tiny setting: every run's numbers in results.json are the run folders',
a diverging fixed step is a row (not a crash), and the report says how the default search compares."""

import json

import experiments.search_robustness as SR
from learning_law import record as R


def test_tiny_table_matches_the_run_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(SR, "SETTINGS", (SR.Setting("p-tiny", "perceptron", "tiny", (0.5, 1e4),
                                                    inner_changes={"lr": 1.0}),))
    assert SR.main(["--out", str(tmp_path), "--quiet"]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    runs = {(r["search"], r["outer_lr"]): r for r in res[0]["runs"]}
    assert "diverged" in runs[("fixed", 1e4)] and "outer step" in runs[("fixed", 1e4)]["diverged"]
    for key, folder in ((("fixed", 0.5), "fixed-0.5"), (("auto", None), "auto"), (("apg", None), "apg")):
        ev = R.read_json(tmp_path / "p-tiny" / folder / "evaluate" / "summary.json")
        opt = R.read_json(tmp_path / "p-tiny" / folder / "optimize" / "summary.json")
        assert runs[key]["speedup_test"] == ev["speedup"] and runs[key]["auc_selected"] == opt["auc_final"]
        assert runs[key]["ended_above_start"] is (opt["auc_final"] > opt["auc_constant"])
    assert runs[("auto", None)]["ended_above_start"] is False
    text = (tmp_path / "report.md").read_text()
    ratio = runs[("auto", None)]["speedup_test"] / runs[("fixed", 0.5)]["speedup_test"]
    assert f"p-tiny {ratio:.3f}" in text and "10000: diverged" in text
    assert runs[("apg", None)]["ended_above_start"] is False and "The `apg` search beside it:" in text
    # a second invocation with --resume re-uses every run (no new folders, same numbers)
    assert SR.main(["--out", str(tmp_path), "--quiet", "--resume"]) == 0
    assert json.loads((tmp_path / "results.json").read_text())[0]["runs"] == res[0]["runs"]
