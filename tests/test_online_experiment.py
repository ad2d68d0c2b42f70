"""experiments.online_policies (issue 9): one row per policy, numbers from the run folders, law stats from theory.law."""

import json

import numpy as np

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
    text = (tmp_path / "opt_free" / "report.md").read_text()
    assert row["sim"] is not None and "| online:equalize |" in text
    # Every policy with a test speed-up below 1 is flagged by name, and only those.
    bad = [r["policy"] for r in data["rows"] if r["policy"] != "constant" and r["speedup_test"] < 1]
    flag = next((line for line in text.splitlines() if line.startswith("**Worse than the constant")), "")
    assert bool(flag) == bool(bad) and all(f"{n}: test" in flag for n in bad)
    assert [n for n in names[1:] if f"{n}: test" in flag] == bad


def test_worse_than_constant_names_each_policy_below_one_with_its_dev_speedup():
    lines = E.worse_than_constant([("constant", 1.0, 1.0), ("online:equalize", 2.5, 3.0),
                                   ("online:dropneg", 0.87, 1.4), ("online:loss", None, None)])
    assert lines[0].startswith("**Worse than the constant policy on held-out data:** online:dropneg: test 0.87x "
                               "(dev 1.4x).") and "equalize" not in lines[0]
    assert E.worse_than_constant([("constant", 1.0, 1.0), ("online:equalize", 2.5, 3.0)]) == []


def test_seeds_give_each_policy_its_seeds_numbers_with_t_intervals(tmp_path, capsys):
    """--seeds 0,1 (tiny): summary[policy][number] holds each seed's own number (read from its run folders)
    with the interval of theory.intervals; --resume reuses a finished seed; the error-bar figure is written."""
    import pytest

    from experiments import seed_tables
    from learning_law import record as R
    from theory.intervals import interval

    out, lines = tmp_path / "seeds", []
    report = E.run_seeds("tiny", out, (0, 1), progress=False, log=lines.append)
    summary = R.read_json(out / "summary.json")
    assert summary["seeds"] == [0, 1] and summary["entries"][0] == "constant"
    text = report.read_text()
    assert "Student t interval of the mean over n seeds" in text
    for s in (0, 1):
        assert R.read_json(out / f"seed-{s}" / "constant" / "config.json")["task_config"]["seed"] == s
    eq = [json.loads((out / f"seed-{s}" / "online_equalize" / "summary.json").read_text()) for s in (0, 1)]
    seed_rows = [json.loads((out / f"seed-{s}" / "online_policies.json").read_text())["rows"] for s in (0, 1)]
    by_name = [{r["policy"]: r for r in rows} for rows in seed_rows]
    checks = {"auc_dev": [e["auc"] for e in eq], "auc_test": [e["auc_test"] for e in eq],
              "cost_vs_constant": [e["time_ratio_vs_constant"] for e in eq], "wall_time_s": [e["wall_time_s"] for e in eq],
              "speedup_test": [b["online:equalize"]["speedup_test"] for b in by_name],
              "speedup_dev": [b["online:equalize"]["speedup_dev"] for b in by_name]}
    for key, values in checks.items():
        got = summary["online:equalize"][key]
        assert got["values"] == pytest.approx(values) and got["n"] == 2, key
        want = interval(values)
        assert [got[k] for k in ("mean", "sd", "ci_low", "ci_high")] == pytest.approx(
            [want.mean, want.sd, want.ci_low, want.ci_high]), key
    row = summary["online:equalize"]
    assert (f"| online:equalize | {seed_tables.cell(row['speedup_test'])} | {seed_tables.cell(row['speedup_dev'])} | "
            f"{seed_tables.cell(row['auc_dev'])} | {seed_tables.cell(row['auc_test'])} |") in text
    for ext in ("png", "pdf"):
        assert (out / "figures" / f"policies_seeds.{ext}").stat().st_size > 1000

    # Resume: seed 0 is reused untouched, seed 1 (its report removed: unfinished) runs again.
    kept = out / "seed-0" / "online_policies.json"
    before = kept.stat().st_mtime_ns
    (out / "seed-1" / "report.md").unlink()
    lines.clear()
    E.run_seeds("tiny", out, (0, 1), resume=True, progress=False, log=lines.append)
    assert kept.stat().st_mtime_ns == before and "reused" in lines[0] and "running" in lines[1]
    assert (out / "seed-1" / "report.md").exists()

    # With a policy per seed (here any fixed one, a .npy: what is checked is the pairing, not the search), each
    # policy's difference from it on the same seed is summarised: the values are the seeds' own differences.
    rng = np.random.default_rng(0)
    for s in (0, 1):
        gamma_TxN = rng.dirichlet(np.ones(32), size=40).astype(np.float32)
        np.save(tmp_path / f"gamma-{s}.npy", gamma_TxN)
    paired = E.run_seeds("tiny", tmp_path / "paired", (0, 1), str(tmp_path / "gamma-{seed}.npy"), progress=False,
                         log=lines.append)
    ps = R.read_json(tmp_path / "paired" / "summary.json")
    rows = [{r["policy"]: r for r in json.loads((tmp_path / "paired" / f"seed-{s}" / "online_policies.json")
                                                .read_text())["rows"]} for s in (0, 1)]
    diff = [r["online:equalize"]["auc_dev"] - r["optimized"]["auc_dev"] for r in rows]
    got = ps["vs_optimized"]["online:equalize"]["auc_dev"]
    assert got["values"] == pytest.approx(diff) and got["ci_low"] == pytest.approx(interval(diff).ci_low)
    assert "optimized" in ps["entries"] and "optimized" not in ps["vs_optimized"]["entries"]
    assert f"| online:equalize | {seed_tables.cell(ps['vs_optimized']['online:equalize']['speedup_test'])} |" in \
        paired.read_text()

    # One --optimized policy for several seeds, or one searched on another seed, is refused before any work.
    (tmp_path / "opt-0").mkdir()
    R.write_json(tmp_path / "opt-0" / "config.json", {"task_config": {"seed": 7}})
    for spec, msg in ((str(tmp_path / "opt-0"), "write {seed}"), (str(tmp_path / "opt-{seed}"), "task seed 7")):
        assert E.main(["--preset", "tiny", "--seeds", "0,1", "--optimized", spec, "--out", str(tmp_path / "x")]) == 2
        assert msg in capsys.readouterr().err and not (tmp_path / "x").exists()
