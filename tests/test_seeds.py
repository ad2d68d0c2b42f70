"""`learning-law reproduce --seeds` (tiny preset, 2 seeds): summary.json holds the seeds' own numbers with
mean, sd and the Student t interval (checked with scipy), the report prints them, the band figures are
written, --resume runs only what is missing, one seed is today's reproduction, bad --seeds exits 2."""

import dataclasses
import re
import shutil

import numpy as np
import pytest
from scipy import stats

from cli_runner import run
from experiments.perceptron import EXPERIMENT
from experiments.report_text import fmt
from experiments.seeds import parse_seeds, reproduce_seeds
from experiments.seeds_report import LAW_RANGES
from experiments.seeds_summary import HEADLINE
from learning_law import record as R

N_BOOT = 10  # bootstrap resamples of each seed's Table 1 intervals: few, the test reads the fits, not them


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds") / "R"
    lines: list[str] = []
    report = reproduce_seeds(EXPERIMENT, "tiny", (0, 1), out, progress=False, n_boot=N_BOOT, log=lines.append)
    assert report == out / "report.md"
    return out, lines


def _rows(report: str) -> dict[str, list[str]]:
    """{quantity: the other cells} of the headline table (7 columns)."""
    rows = {}
    for line in report.splitlines():
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) == 7 and cells[0] not in ("quantity", "---"):
            rows[cells[0]] = cells[1:]
    return rows


def _speedup_from_curves(folder) -> float:
    """T / t* by a plain first-crossing search on the two test-loss curves (the policy reaches the
    constant run's final loss on the tiny preset; otherwise the ratio below one)."""
    const = np.load(folder / "evaluate" / "constant" / "test_loss.npy").astype(np.float64)
    pol = np.load(folder / "evaluate" / "policy" / "test_loss.npy").astype(np.float64)
    T = const.size - 1
    hits = np.nonzero(pol <= const[-1])[0]
    return T / hits[0] if hits.size else np.nonzero(const <= pol[-1])[0][0] / T


def test_summary_holds_each_seeds_numbers_with_t_intervals(seeds_run):
    out, _ = seeds_run
    summary = R.read_json(out / "summary.json")
    assert summary["seeds"] == [0, 1]
    for name in ("speedup", "speedup_dev", "auc_constant", "auc_policy"):
        assert set(summary[name]) == {"mean", "sd", "ci_low", "ci_high", "n", "values"}
    evs = [R.read_json(out / f"seed-{s}" / "evaluate" / "summary.json") for s in (0, 1)]
    laws = [R.read_json(out / f"seed-{s}" / "evaluate" / "law.json") for s in (0, 1)]
    fits = [R.read_json(out / f"seed-{s}" / "figures" / "scaling_fits.json")["fits"]["paper"] for s in (0, 1)]
    assert summary["speedup"]["values"] == pytest.approx([_speedup_from_curves(out / f"seed-{s}") for s in (0, 1)])
    for name in ("speedup", "speedup_dev", "auc_constant", "auc_policy", "cr_paper_policy"):
        assert summary[name]["values"] == [ev[name] for ev in evs]
    assert summary["sim_policy"]["values"] == [law["policy"]["sim_mean"] for law in laws]
    assert summary["kkt_residual_policy"]["values"] == [law["policy"]["kkt_residual"] for law in laws]
    # Table 1: a fit with L0 on a bound of its range is left out (None), and its seed is named.
    for run in ("constant", "policy"):
        want = [None if f[run].get("at_bound") else f[run].get("beta") for f in fits]
        assert summary[f"beta_{run}"]["values"] == want
        assert summary[f"beta_{run}"]["at_bound"] == [s for s, f in zip((0, 1), fits) if f[run].get("at_bound")]
    assert evs[0]["auc_constant"] != evs[1]["auc_constant"]  # the seed reached the task: other data, other run
    for name, *_ in HEADLINE:
        x = np.array([v for v in summary[name]["values"] if v is not None], dtype=np.float64)
        r = summary[name]
        assert r["n"] == x.size
        if x.size < 2:
            continue
        assert r["mean"] == pytest.approx(x.mean(), rel=1e-12)
        assert r["sd"] == pytest.approx(np.std(x, ddof=1), rel=1e-12, abs=1e-15)
        if r["sd"] > 0:
            lo, hi = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x))
            assert (r["ci_low"], r["ci_high"]) == pytest.approx((lo, hi), rel=1e-9)


def test_report_prints_the_summary_and_the_paper_beside_it(seeds_run):
    out, _ = seeds_run
    summary = R.read_json(out / "summary.json")
    rows = _rows((out / "report.md").read_text())
    for name, label, *_ in HEADLINE:
        r = summary[name]
        paper, mean, sd, ci, n, where = rows[label]
        assert (mean, n, ci) == (fmt(r["mean"]), str(r["n"]), f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]")
        value = EXPERIMENT.paper.get(name, EXPERIMENT.law.get(LAW_RANGES.get(name, "")))
        if value is None:
            assert paper == "n/a" and where == ""
        elif isinstance(value, tuple):  # a Learning-Law range of the paper's figures: inside when they overlap
            assert paper == f"{value[0]:g}-{value[1]:g}"
            overlap = r["ci_low"] <= value[1] and r["ci_high"] >= value[0]
            assert where == "inside" if overlap else where.startswith("**outside** (")
        else:
            assert where == ("inside" if r["ci_low"] <= value <= r["ci_high"] else "**outside**")
    assert {label for name, label, *_ in HEADLINE if name in LAW_RANGES} <= set(rows)
    text = (out / "report.md").read_text()
    assert "Student t" in text and "--seeds 0,1" in text
    assert "(seed-0/report.md)" in text and (out / "seed-1" / "report.md").exists()


def test_progress_names_each_seed_with_an_eta(seeds_run):
    _, lines = seeds_run
    running = [line for line in lines if "running" in line]
    assert len(running) == 2
    assert running[0].startswith("seed 1 of 2 (seed=0") and running[1].startswith("seed 2 of 2 (seed=1")
    assert "ETA after the first seed" in running[0] and "ETA " in running[1] and "for 1 seed(s)" in running[1]


def test_band_figures_are_png_and_pdf(seeds_run):
    import matplotlib.image as mpimg

    out, _ = seeds_run
    text = (out / "report.md").read_text()
    for name in ("loss_band", "speedup_seeds"):
        img = mpimg.imread(out / "figures" / f"{name}.png")
        assert img.ndim == 3 and min(img.shape[:2]) >= 200 and float(img[..., :3].std()) > 0.01, name
        pdf = (out / "figures" / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and b"/Type /Page" in pdf, name
        assert f"(figures/{name}.png)" in text


def test_resume_reuses_finished_seeds_and_continues_a_half_finished_one(seeds_run, tmp_path, capsys):
    out, _ = seeds_run
    half = tmp_path / "R"
    half.mkdir()
    shutil.copy2(out / "config.json", half / "config.json")
    shutil.copytree(out / "seed-0", half / "seed-0")  # seed 0 finished
    shutil.copytree(out / "seed-1" / "optimize", half / "seed-1" / "optimize")  # seed 1: only its search
    # a resume with another preset would mix runs: refused before any computation
    code, text = run(["reproduce", "perceptron", "--preset", "cpu", "--seeds", "0,1", "--resume", "--quiet",
                      "--out", str(half)], capsys)
    assert code == 2 and "--preset tiny" in text
    code, text = run(["reproduce", "perceptron", "--preset", "tiny", "--seeds", "0,1", "--resume", "--quiet",
                      "--out", str(half / "seed-0")], capsys)  # a one-seed folder: not mixed with seed-S/
    assert code == 2 and "not a folder of several seeds" in text
    seed0 = {p: p.stat().st_mtime_ns for p in (half / "seed-0").rglob("*") if p.is_file()}
    # the search's own outputs (trajectory.json beside them is rewritten by every Learning Law step)
    search1 = {p: p.stat().st_mtime_ns for p in (half / "seed-1" / "optimize").glob("*") if p.name in
               ("summary.json", "gamma.npy", "outer_auc.npy", "config.json")}
    assert len(search1) == 4
    lines: list[str] = []
    reproduce_seeds(EXPERIMENT, "tiny", (0, 1), half, resume=True, progress=False, n_boot=N_BOOT,
                    log=lines.append)
    assert {p: p.stat().st_mtime_ns for p in (half / "seed-0").rglob("*") if p.is_file()} == seed0
    assert all(p.stat().st_mtime_ns == t for p, t in search1.items())  # the finished search was not re-run
    assert (half / "seed-1" / "report.md").exists()
    assert [line for line in lines if "running" in line] == [
        next(line for line in lines if line.startswith("seed 2 of 2") and "running" in line)]
    assert any(line.startswith("seed 1 of 2") and "reused" in line for line in lines)
    summary = R.read_json(half / "summary.json")
    assert summary["auc_policy"]["values"][0] == R.read_json(out / "seed-0" / "evaluate" / "summary.json")["auc_policy"]


def test_one_seed_is_todays_reproduction_with_that_seed(tmp_path):
    out = tmp_path / "one"
    report = reproduce_seeds(EXPERIMENT, "tiny", (3,), out, progress=False, n_boot=N_BOOT)
    assert report == out / "report.md"
    assert not list(out.glob("seed-*")) and not (out / "summary.json").exists()
    assert R.read_json(out / "optimize" / "config.json")["task_config"]["seed"] == 3
    text = report.read_text()
    assert "--preset tiny --seeds 3 --out" in text and "--preset tiny --seed 3 --out" in text
    assert "| speed-up on the test loss (T / t*) |" in text  # the one-seed table, as without --seeds


def test_parse_seeds_forms():
    assert parse_seeds("0,1,2,3,4") == parse_seeds("0-4") == (0, 1, 2, 3, 4)
    assert parse_seeds("0-2,7") == (0, 1, 2, 7) and parse_seeds(" 3 ") == (3,) and parse_seeds("5-5") == (5,)


@pytest.mark.parametrize("bad", ["", "a", "0-", "-1", "3-1", "0,0", "1,,2", "0-2,1", "1.5"])
def test_bad_seeds_exit_2_naming_the_option_and_the_form(bad, tmp_path, capsys):
    out = tmp_path / "out"
    code, text = run(["reproduce", "perceptron", "--preset", "tiny", "--seeds", bad, "--quiet", "--out", str(out)],
                     capsys)
    assert code == 2, text
    assert "--seeds" in text and "0,1,2,3,4 or 0-4" in text and "Traceback" not in text
    assert not out.exists()  # refused before anything was written


def test_cli_hands_the_seeds_to_the_seeded_reproduction(monkeypatch, tmp_path, capsys):
    import experiments.seeds

    calls = []
    monkeypatch.setattr(experiments.seeds, "reproduce_seeds",
                        lambda exp, preset, seeds, out, **kw: calls.append((exp, preset, seeds, kw)) or out)
    code, _ = run(["reproduce", "perceptron", "--preset", "tiny", "--seeds", "2-4", "--resume", "--out",
                   str(tmp_path)], capsys)
    assert code == 0
    assert calls == [(EXPERIMENT, "tiny", (2, 3, 4), {"resume": True, "overwrite": False, "progress": True,
                                                      "task_changes": None})]
    code, _ = run(["reproduce", "lm", "--preset", "tiny", "--seeds", "0-1", "--corpus", "tinystories:F.txt",
                   "--out", str(tmp_path)], capsys)
    assert code == 0 and calls[-1][2:] == ((0, 1), {"resume": False, "overwrite": False, "progress": True,
                                                    "task_changes": {"corpus": "tinystories:F.txt"}})
    code, text = run(["list-presets"], capsys)
    assert code == 0 and "--seeds 0-4" in text


def test_corpus_is_refused_for_a_task_without_one(tmp_path, capsys):
    out = tmp_path / "out"
    code, text = run(["reproduce", "perceptron", "--preset", "tiny", "--corpus", "text:x.txt", "--out", str(out)],
                     capsys)
    assert code == 2 and "--corpus" in text and "Traceback" not in text
    assert not out.exists()


def test_task_changes_reach_the_preset_and_the_commands_and_guard_resume(tmp_path):
    from experiments.lm import EXPERIMENT as LM
    from experiments.reproduce import preset_with, task_flags
    from learning_law.errors import UsageError

    p = preset_with(LM, "tiny", {"corpus": "tinystories:/data/my stories.txt"})
    assert p.task.corpus == "tinystories:/data/my stories.txt" and p.task.n_train == preset_with(LM, "tiny", None).task.n_train
    assert task_flags({"corpus": "tinystories:/data/my stories.txt"}) == " --corpus 'tinystories:/data/my stories.txt'"
    with pytest.raises(UsageError, match="corpus"):
        preset_with(EXPERIMENT, "tiny", {"corpus": "text:x"})  # the perceptron has no corpus
    # a resumed seed folder run with another corpus is refused before any computation
    out = tmp_path / "R"
    out.mkdir()
    R.write_json(out / "config.json", {"kind": "reproduce-seeds", "experiment": "lm", "preset": "tiny",
                                       "seeds": [0, 1], "task_changes": {"corpus": "text:a.txt"}})
    with pytest.raises(UsageError, match="text:a.txt"):
        reproduce_seeds(LM, "tiny", (0, 1), out, resume=True, progress=False,
                        task_changes={"corpus": "text:b.txt"})
    assert sorted(q.name for q in out.iterdir()) == ["config.json"]


def test_list_presets_gives_each_measured_reproduce_time_per_seed_and_for_five():
    from learning_law import config as C
    from learning_law.cli import reproduce_time

    p = C.get_preset("perceptron", "tiny")
    assert reproduce_time(dataclasses.replace(p, reproduce_minutes=None)) == "reproduce: time not measured"
    assert reproduce_time(dataclasses.replace(p, reproduce_minutes=6.0)) == \
        "reproduce: 6 min per seed on 2 idle cores; --seeds 0-4: about 30 min"
    assert "per seed" in reproduce_time(dataclasses.replace(p, reproduce_minutes=0.5)) and \
        reproduce_time(dataclasses.replace(p, reproduce_minutes=0.5)).startswith("reproduce: 30 s")
    assert reproduce_time(dataclasses.replace(p, reproduce_minutes=30.0)).endswith("about 2.5 h")


def test_a_law_range_outside_the_interval_names_the_gap_in_points():
    from experiments.seeds_report import _in_out

    row = {"ci_low": 0.003, "ci_high": 0.010}
    assert _in_out((0.8, 1.0), row) == "**outside** (79.0 points below)"
    assert _in_out((0.8, 1.0), {"ci_low": 0.75, "ci_high": 0.85}) == "inside"
    assert _in_out((0.0, 0.1), {"ci_low": 0.15, "ci_high": 0.2}) == "**outside** (5.0 points above)"
    assert _in_out((0.8, 1.0), {"ci_low": None, "ci_high": None}) == ""
    assert _in_out(5.5, {"ci_low": 4.9, "ci_high": 11.0}) == "inside"


def test_the_other_search_is_compared_seed_by_seed(seeds_run):
    """The tiny preset runs the fixed step beside the default search: summary.json's "other" holds both
    searches' test speed-ups and AUCs from each seed's folders, their ratio per seed, and the count of seeds
    where the other search has the lower test AUC; the report prints them."""
    out, _ = seeds_run
    other = R.read_json(out / "summary.json")["other"]
    assert other["search"] == "fixed"
    own = [R.read_json(out / f"seed-{s}" / "evaluate" / "summary.json") for s in (0, 1)]
    fix = [R.read_json(out / f"seed-{s}" / "evaluate-fixed" / "summary.json") for s in (0, 1)]
    assert other["speedup_own"]["values"] == [e["speedup"] for e in own]
    assert other["speedup_other"]["values"] == [e["speedup"] for e in fix]
    assert other["speedup_ratio"]["values"] == pytest.approx([f["speedup"] / e["speedup"] for f, e in zip(fix, own)])
    assert other["auc_test_other"]["values"] == [e["auc_test_policy"] for e in fix]
    assert other["lower_test_auc_seeds"] == sum(f["auc_test_policy"] < e["auc_test_policy"] for f, e in zip(fix, own))
    assert other["compared_seeds"] == 2
    text = (out / "report.md").read_text()
    assert "## The two searches over the seeds" in text
    assert f"lower test AUC on {other['lower_test_auc_seeds']} of 2 seeds" in " ".join(text.split())
    assert f"| 0 | {fmt(own[0]['speedup'])} | {fmt(fix[0]['speedup'])} |" in text


def test_a_table1_fit_with_l0_on_a_bound_is_left_out_and_named(tmp_path):
    """A seed whose paper-method fit put L0 on a bound contributes no B or beta to the mean; the report names it."""
    from experiments.seeds_report import _at_bound_text
    from experiments.seeds_summary import aggregate

    def seed(s: int, bound: dict) -> None:
        folder = tmp_path / f"seed-{s}"
        fit = {"L0": 0.0 if bound else 0.08, "B": 1.0 + s, "beta": 0.5 + 0.1 * s, "at_bound": bound}
        R.write_json(folder / "figures" / "scaling_fits.json", {"fits": {"paper": {"constant": fit, "policy": fit}}})
        R.write_json(folder / "evaluate" / "summary.json", {"speedup": 2.0 + s})
        R.write_json(folder / "evaluate" / "law.json", {})

    seed(0, {}), seed(1, {"L0": "lower"}), seed(2, {})
    summary = aggregate({s: tmp_path / f"seed-{s}" for s in (0, 1, 2)})
    assert summary["B_constant"]["values"] == [1.0, None, 3.0] and summary["B_constant"]["n"] == 2
    assert summary["B_constant"]["mean"] == pytest.approx(2.0) and summary["B_constant"]["at_bound"] == [1]
    assert summary["speedup"]["values"] == [2.0, 3.0, 4.0] and "at_bound" not in summary["speedup"]
    text = _at_bound_text(summary)
    assert "B, constant (paper's fit): seed 1" in text and "beta, optimised (paper's fit): seed 1" in text


def test_a_search_slower_than_constant_on_test_is_flagged():
    """Both the one-seed comparison and the seeds section say loudly when a search's test speed-up is below 1."""
    from experiments.report_text import slower_than_constant
    from experiments.seeds_report import _below_one

    text = slower_than_constant("the default search", {"speedup": 0.9395, "auc_test_constant": 0.1789,
                                                         "auc_test_policy": 0.1677})
    assert "**Slower than constant training on held-out data:** the default search" in text
    assert "test speed-up 0.9395 < 1" in text and "learns faster early and ends worse" in text
    assert slower_than_constant("x", {"speedup": 1.9}) == "" and slower_than_constant("x", {"speedup": None}) == ""
    o = {"speedup_own": {"values": [1.9, 3.1]}, "speedup_other": {"values": [0.94, 1.1]}}
    assert _below_one(o, [0, 1], "the fixed step", "the default search").endswith("the default search on seed 0.")
    assert _below_one({"speedup_own": {"values": [2.0]}, "speedup_other": {"values": [None]}}, [0], "a", "b") == ""
