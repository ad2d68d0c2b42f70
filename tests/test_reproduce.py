"""`learning-law reproduce` (tiny preset): the report's numbers come from the run folders, every figure
exists as PNG and PDF, `learning-law plot` draws each figure, and the Table 2 sweep."""

import re
from pathlib import Path

import numpy as np
import pytest

from experiments.report_text import fmt, verdict
from experiments.reproduce import FIGURE_LIST
from learning_law import config as C
from learning_law import record as R
from learning_law.cli import main
from plots import FIGURES


@pytest.fixture(scope="module")
def repro(tmp_path_factory):
    out = tmp_path_factory.mktemp("repro")
    assert main(["reproduce", "perceptron", "--preset", "tiny", "--out", str(out), "--quiet"]) == 0
    return out


def _table(report: str) -> dict[str, str]:
    """{quantity: 'this run' cell} of the headline table."""
    rows = {}
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("quantity", "---"):
            rows[cells[0]] = cells[2]
    return rows


def _check_png(path) -> None:
    """A readable PNG image of figure size with something drawn on it (not one flat colour)."""
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] >= 200 and img.shape[1] >= 200, (path, img.shape)
    assert float(img[..., :3].std()) > 0.01, f"{path} is blank"


def _check_pdf(path) -> None:
    """A complete PDF file with at least one page."""
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and b"/Type /Page" in data and data.rstrip().endswith(b"%%EOF"), path


def _first_reaching(curve, level):
    for t, v in enumerate(curve):
        if v <= level:
            return t
    return None


def test_report_numbers_are_the_run_folders_numbers(repro):
    rows = _table((repro / "report.md").read_text())
    ev = R.read_json(repro / "evaluate" / "summary.json")
    const = np.load(repro / "evaluate" / "constant" / "test_loss.npy").astype(np.float64)
    pol = np.load(repro / "evaluate" / "policy" / "test_loss.npy").astype(np.float64)
    # speed-up: from summary.json, and recomputed here by a plain first-crossing search on the curves
    T = const.size - 1
    t_star = _first_reaching(pol, const[-1])
    assert t_star != 0  # the constant run improves on L(theta_0): the speed-up is finite
    mine = T / t_star if t_star is not None else _first_reaching(const, pol[-1]) / T
    assert rows["speed-up on the test loss (T / t*)"] == fmt(ev["speedup"]) == fmt(mine)
    assert rows["speed-up on the dev loss (the split the policy was optimised on)"] == fmt(ev["speedup_dev"])
    for name, run in (("AUC (mean dev loss over t = 0..T, nats), constant", "constant"),
                      ("AUC, optimised policy", "policy")):
        dev = np.load(repro / "evaluate" / run / "dev_loss.npy").astype(np.float64)
        assert rows[name] == fmt(R.read_json(repro / "evaluate" / run / "summary.json")["auc"])
        assert float(rows[name]) == pytest.approx(dev.mean(), rel=1e-3)
    assert rows["CR, paper's convention, optimised"] == fmt(ev["cr_paper_policy"])
    fits = R.read_json(repro / "figures" / "scaling_fits.json")["fits"]["paper"]
    if "error" not in fits["constant"]:
        assert rows["Table 1: B, constant (paper's fit)"].split(" [")[0] == fmt(fits["constant"]["B"])
        assert rows["Table 1: beta, optimised (paper's fit)"].split(" [")[0] == fmt(fits["policy"]["beta"])
    law = R.read_json(repro / "evaluate" / "law.json")
    assert rows["SIM, optimised"] == fmt(law["policy"]["sim_mean"])
    opt = R.read_json(repro / "optimize" / "summary.json")
    assert rows["share of gamma = 0 in the final policy"] == fmt(opt["zero_weight_share"])


def test_every_figure_is_written_and_embedded(repro):
    report = (repro / "report.md").read_text()
    for name, _, _ in FIGURE_LIST:
        _check_png(repro / "figures" / f"{name}.png")
        _check_pdf(repro / "figures" / f"{name}.pdf")
        assert f"(figures/{name}.png)" in report
    for linked in re.findall(r"\]\(([^)]+\.png)\)", report):
        assert (repro / linked).exists()
    assert (repro / "figures" / "scaling_fits.md").read_text() in report  # Table 1, as written beside the figure
    traj = R.read_json(repro / "optimize" / "trajectory.json")
    saved = sorted(int(p.stem.split("_")[1]) for p in (repro / "optimize" / "policies").glob("gamma_*.npy"))
    assert [c["outer_step"] for c in traj["checkpoints"]] == [0, *saved]
    assert all(np.isfinite(c["auc"]) for c in traj["checkpoints"])
    assert "learning-law reproduce perceptron --preset tiny" in report and "jax " in report


def test_plot_command_draws_every_figure(repro, tmp_path):
    folders = {"evaluate": repro / "evaluate", "optimize": repro / "optimize", "trajectory": repro / "optimize",
               "run": repro / "evaluate", "evaluates": repro / "evaluate"}
    for name, (_, kind, _) in FIGURES.items():
        assert main(["plot", name, str(folders[kind]), "--out", str(tmp_path / name)]) == 0, name
        _check_png(tmp_path / f"{name}.png")
        _check_pdf(tmp_path / f"{name}.pdf")


def test_plot_command_refuses_bad_input(repro, tmp_path, capsys):
    assert main(["plot", "nope", str(repro / "evaluate")]) == 2
    assert main(["plot", "objective", str(repro / "optimize")]) == 2  # not an evaluate folder
    assert main(["plot", "objective", str(repro / "evaluate"), str(repro / "evaluate")]) == 2
    bare = tmp_path / "opt"
    bare.mkdir()
    for f in ("config.json", "outer_auc.npy"):
        (bare / f).write_bytes((repro / "optimize" / f).read_bytes())
    assert main(["plot", "sim_vs_cr", str(bare)]) == 2  # no trajectory.json yet
    assert "learning-law law" in capsys.readouterr().err


def test_verdict_marks_differences_either_way():
    assert verdict(5.5, 5.0).startswith("close")
    assert verdict(5.5, 3.5).startswith("**differs") and verdict(5.5, 9.0).startswith("**differs")
    assert verdict(None, 3.0) == "" and verdict(2.0, None) == ""


def test_sweep_table2_rows_come_from_the_evaluate_folders(tmp_path):
    from experiments.sweep import sweep

    paths = sweep("perceptron", "tiny", [0.5, 1.0], tmp_path / "sweep", progress=False, n_boot=20)
    for p in map(__import__("pathlib").Path, paths):
        if p.suffix == ".png":
            _check_png(p)
        elif p.suffix == ".pdf":
            _check_pdf(p)
    table = R.read_json(tmp_path / "sweep" / "table2.json")
    assert [(r["T"], r["N"]) for r in table["rows"]] == [(20, 16), (40, 32)]
    for r in table["rows"]:
        ev = R.read_json(tmp_path / "sweep" / f"T{r['T']}_N{r['N']}" / "evaluate" / "summary.json")
        assert r["measured_speedup"] == ev["speedup"]
    md = (tmp_path / "sweep" / "table2.md").read_text()
    assert "| 20 | 16 |" in md and "| 40 | 32 |" in md


def test_the_other_search_is_reported_beside_from_its_folders(repro):
    """The tiny preset runs a fixed step beside its default search; the report's comparison rows are the
    numbers of optimize-fixed/ and evaluate-fixed/ (and of optimize/, evaluate/)."""
    text = (repro / "report.md").read_text()
    assert "## The two searches" in text
    rows = [line for line in text.splitlines() if line.startswith("| search |") or line.startswith("| beside it |")]
    assert len(rows) == 2
    for row, opt, ev in ((rows[0], "optimize", "evaluate"), (rows[1], "optimize-fixed", "evaluate-fixed")):
        o, e = R.read_json(repro / opt / "summary.json"), R.read_json(repro / ev / "summary.json")
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert cells[3] == fmt(o["selected_outer_step"]) and cells[7] == fmt(e["speedup"])
        assert cells[6] == f"{fmt(o['auc_constant'])} -> {fmt(o['auc_final'])}"
    assert "fixed outer lr 0.5" in rows[1] and "default search" in rows[0]
    assert "--search fixed --outer-lr 0.5" in text  # its command is in the re-run block
    assert "Under the paper's own definition the policy is outside" in text  # the Law section's hint names the other policy
    assert "`learning-law law OUT/evaluate-fixed`" in text
    assert "Search: the default search (`auto`), as `learning-law optimize` runs it with this preset" in text


def test_a_reproduction_of_the_authors_setting_says_it_runs_their_fixed_step_and_the_default_beside():
    from experiments.report_text import which_search

    text = which_search(C.get_preset("perceptron", "paper"))
    assert "this is a reproduction" in text and "fixed outer lr 0.001 (linear)" in text
    assert "runs the default search (`auto`)" in text and "beside it here (auto)" in text
    lm = C.get_preset("lm", "cpu")
    assert lm.reproduce_outer.search == "auto" and which_search(lm).startswith("Search: the default search (`auto`)")


def test_sweep_over_seeds_gives_each_cell_the_seeds_numbers_with_t_intervals(tmp_path, capsys):
    """`python -m experiments.sweep --seeds 0,1` (tiny, 2 sizes): per (T, N) cell the measured speed-up is each
    seed's own evaluate/summary.json number and the Eq. 9 ratio its table2.json one, with the interval of
    theory.intervals (and of scipy's t quantile); --resume reuses a finished seed; the figure is written."""
    from scipy import stats

    from experiments import seed_tables
    from experiments.sweep import main as sweep_main, sweep_seeds
    from theory.intervals import interval

    out, lines = tmp_path / "sw", []
    paths = sweep_seeds("perceptron", "tiny", [0.5, 1.0], (0, 1), out, progress=False, n_boot=10, log=lines.append)
    summary = R.read_json(out / "summary.json")
    assert summary["seeds"] == [0, 1] and [c["key"] for c in summary["cells"]] == ["T20_N16", "T40_N32"]
    report = (out / "report.md").read_text()
    assert "Student t interval of the mean over n seeds" in report
    for c in summary["cells"]:
        evs = [out / f"seed-{s}" / c["key"] / "evaluate" for s in (0, 1)]
        assert [R.read_json(e / "config.json")["task_config"]["seed"] for e in evs] == [0, 1]
        measured = [R.read_json(e / "summary.json")["speedup"] for e in evs]
        rows = [next(r for r in R.read_json(out / f"seed-{s}" / "table2.json")["rows"] if r["T"] == c["T"])
                for s in (0, 1)]
        for key, values in (("measured_speedup", measured),
                            ("ar_eq9_paper", [r["changes"]["paper"]["ar_eq9"][0] for r in rows])):
            got = summary[c["key"]][key]
            assert got["values"] == pytest.approx(values) and got["n"] == 2
            want = interval(values)
            assert [got[k] for k in ("mean", "sd", "ci_low", "ci_high")] == pytest.approx(
                [want.mean, want.sd, want.ci_low, want.ci_high])
            half = stats.t.ppf(0.975, 1) * np.std(values, ddof=1) / np.sqrt(2)
            assert got["ci_high"] == pytest.approx(np.mean(values) + half)
        row = f"| {c['T']} | {c['N']} | {seed_tables.cell(summary[c['key']]['measured_speedup'])} |"
        assert row in report
    for p in map(Path, paths):
        if p.suffix == ".png":
            _check_png(p)
        elif p.suffix == ".pdf":
            _check_pdf(p)
    assert {Path(p).name for p in paths} >= {"table2_seeds.png", "table2_seeds.pdf", "report.md", "summary.json"}

    # Resume: seed 0 is finished and reused untouched; seed 1 lost its table and only that is drawn again.
    kept = [out / "seed-0" / "table2.md", out / "seed-0" / "T20_N16" / "evaluate" / "summary.json"]
    before = [p.stat().st_mtime_ns for p in kept]
    (out / "seed-1" / "table2.md").unlink()
    lines.clear()
    sweep_seeds("perceptron", "tiny", [0.5, 1.0], (0, 1), out, resume=True, progress=False, n_boot=10,
                log=lines.append)
    assert [p.stat().st_mtime_ns for p in kept] == before
    assert "reused" in lines[0] and "running" in lines[1] and (out / "seed-1" / "table2.md").exists()
    assert R.read_json(out / "summary.json")["T40_N32"]["measured_speedup"]["values"] == summary["T40_N32"][
        "measured_speedup"]["values"]
    # A bad --seeds stops before any work, naming the option.
    assert sweep_main(["--preset", "tiny", "--seeds", "1-0", "--out", str(tmp_path / "bad")]) == 2
    assert "--seeds '1-0' is invalid" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_the_figure_preset_evaluates_the_authors_epoch_and_a_bad_epoch_is_refused(tmp_path):
    import dataclasses as dc

    from experiments.reproduce import evaluated_policy
    from learning_law.errors import UsageError

    p = C.get_preset("perceptron", "paper-figures")
    ref = p.reproduce_outer
    assert (ref.outer_steps, ref.outer_lr, ref.schedule, p.evaluate_outer_step) == (1000, 1e-3, "linear", 490)
    assert evaluated_policy(p, tmp_path) == tmp_path / "policies" / "gamma_00490.npy"
    assert evaluated_policy(C.get_preset("perceptron", "paper"), tmp_path) == tmp_path / "gamma.npy"
    with pytest.raises(UsageError, match="evaluate_outer_step=500 is invalid"):
        dc.replace(p, evaluate_outer_step=500)  # not a saved outer step (save_every 70)
