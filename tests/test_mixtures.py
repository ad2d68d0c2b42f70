"""experiments/mixtures.py and the CLI's mixture options: shares per source, the command on the tiny preset,
per-domain policies from the command line, replay with --stretch."""

import json
import re

import numpy as np
import pytest

from experiments import mixtures as MX
from tests.cli_runner import run


def test_source_shares_by_hand():
    gamma = np.array([[0.5, 0.25, 0.25, 0.0], [0.0, 0.0, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4]])
    groups = np.array([0, 1, 1, 0])
    s = MX.source_shares(gamma, groups, 2)
    np.testing.assert_allclose(s, [[0.5, 0.5], [0.0, 0.0], [0.5, 0.5]])


def test_ct_by_source_mean_and_policy_weighted_mean():
    run = {"ct": np.array([[1.0, 2.0, 3.0, 5.0], [1.0, 1.0, 1.0, 1.0]]),
           "gamma_recorded": np.array([[0.1, 0.6, 0.2, 0.1], [0.0, 0.5, 0.5, 0.0]])}
    out = MX.ct_by_source(run, np.array([0, 1, 1, 0]), 2)
    assert out.shape == (2, 2, 2)
    np.testing.assert_allclose(out[0, :, 0], [3.0, 2.5])
    np.testing.assert_allclose(out[0, :, 1], [(0.1 * 1 + 0.1 * 5) / 0.2, (0.6 * 2 + 0.2 * 3) / 0.8])
    assert np.isnan(out[1, 0, 1]) and out[1, 1, 1] == 1.0  # no weight on source 0: no weighted mean


def test_command_tiny_writes_report_figures_and_summary(tmp_path, capsys):
    out = tmp_path / "mx"
    assert MX.main(["--out", str(out), "--preset", "tiny", "--seeds", "0,1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for method in MX.METHODS:
        assert {"auc_test", "speedup", "desired_weight", "seconds"} <= set(summary[method])
        assert summary[method]["auc_test"]["n"] == 2
    assert summary["constant"]["speedup"]["mean"] == 1.0
    assert summary["desired-only"]["desired_weight"]["mean"] == pytest.approx(1.0)
    for s in (0, 1):
        rows = json.loads((out / f"seed-{s}" / "rows.json").read_text())
        assert rows["sources"] == ["default", "news"] and rows["desired"] == 0
        # the constant policy is the natural mixture: each source's share of the weight is its share of examples
        w = np.load(out / f"seed-{s}" / "weights.npz")
        sizes = np.array(rows["sizes"], float)
        np.testing.assert_allclose(w["constant"], np.broadcast_to(sizes / sizes.sum(), w["constant"].shape), atol=1e-6)
        assert w["doremi"].shape == w["constant"].shape and np.allclose(w["doge"].sum(1), 1.0, atol=1e-5)
        # the searches never end above the start (the constant policy's dev AUC)
        for search in rows["searches"].values():
            assert search["auc_final"] <= search["auc_constant"] + 1e-7
    text = (out / "report.md").read_text()
    assert "| `doremi` |" in text and "| `optimized-domain` |" in text and "Wall time:" in text
    # each optimised policy against every peer by the paired difference, and each seed's own time
    for label in ("optimized-domain", "optimized-example"):
        line = next(x for x in text.splitlines() if x.startswith(f"`{label}`, test AUC against each"))
        assert all(f"`{peer}` (" in line for peer in ("desired-only", "doremi", "doge")), line
    assert "each seed when it ran: seed 0 " in text and "seed 1 " in text
    # seconds: the mean and the seeds' range, never a t interval (which can fall below 0)
    row = next(x for x in text.splitlines() if x.startswith("| `constant` |"))
    assert re.search(r"\| [0-9.]+ \([0-9.]+-[0-9.]+\) \|$", row), row
    for stem in ("mixture_weights", "mixture_contributions"):
        assert (out / f"{stem}.png").stat().st_size > 0 and (out / f"{stem}.pdf").exists()
    assert MX.main(["--out", str(tmp_path / "bad"), "--preset", "tiny", "--train-corpus", "default=0.7,news=0.7"]) == 2
    assert "train-corpus" in capsys.readouterr().err


def test_cli_domain_search_then_replay_stretched(tmp_path, capsys):
    opt = tmp_path / "opt"
    mix = ["--task", "lm", "--preset", "tiny", "--train-corpus", "default,news", "--desired-corpus", "default"]
    code, text = run(["optimize", *mix, "--policy-granularity", "domain", "--outer-steps", "2", "--out", str(opt),
                      "--quiet"], capsys)
    assert code == 0, text
    w = np.load(opt / "gamma.npy")
    sources = json.loads((opt / "sources.json").read_text())
    assert w.shape == (12, 2) and sources["names"] == ["default", "news"] and sum(sources["sizes"]) == 16
    # the Law on the search's policies: a source is one "example" of the grouped task
    code, text = run(["law", str(opt), "--quiet"], capsys)
    assert code == 0, text
    traj = json.loads((opt / "trajectory.json").read_text())
    assert [c["outer_step"] for c in traj["checkpoints"]][0] == 0 and all(
        np.isfinite(c["auc"]) for c in traj["checkpoints"])
    # the same length: the per-domain policy is expanded over the sources' examples
    code, text = run(["train", *mix, "--policy", str(opt), "--out", str(tmp_path / "same"), "--quiet"], capsys)
    assert code == 0, text
    # another length: refused without --stretch, replayed with it
    code, text = run(["train", *mix, "--policy-from", str(opt), "--steps", "24", "--out", str(tmp_path / "x"),
                      "--quiet"], capsys)
    assert code == 2 and "--stretch" in text
    code, text = run(["train", *mix, "--policy-from", str(opt), "--steps", "24", "--stretch", "--out",
                      str(tmp_path / "long"), "--quiet"], capsys)
    assert code == 0, text
    cfg = json.loads((tmp_path / "long" / "config.json").read_text())
    assert cfg["inner"]["steps"] == 24


def _paragraphs(path, words, n, seed):
    rng = np.random.default_rng(seed)
    path.write_text("\n\n".join(" ".join(rng.choice(words, size=12)) + " ." for _ in range(n)), encoding="utf-8")
    return path


def test_cli_two_local_text_files_and_bad_specs(tmp_path, capsys):
    """Any two text files as a mixture from the command line; bad specs stop before any work, naming the option."""
    a = _paragraphs(tmp_path / "a.txt", ["the", "cat", "sat", "on", "mat", "and", "slept"], 40, 0)
    b = _paragraphs(tmp_path / "b.txt", ["stock", "prices", "rose", "in", "the", "market", "today"], 20, 1)
    mix = ["--task", "lm", "--preset", "tiny", "--train-corpus", f"text:{a}=0.75,text:{b}=0.25",
           "--desired-corpus", f"text:{a}"]
    code, text = run(["optimize", *mix, "--outer-steps", "1", "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 0, text
    sources = json.loads((tmp_path / "o" / "sources.json").read_text())
    assert sources["sizes"] == [12, 4] and sources["names"] == [f"text:{a}", f"text:{b}"]
    for spec, option in ((f"text:{a}=0.5,text:{b}=0.6", "--train-corpus"), (f"text:{a},csv:{b}", "--train-corpus"),
                         (f"text:{a},text:{b}", None)):
        argv = ["optimize", "--task", "lm", "--preset", "tiny", "--train-corpus", spec, "--out",
                str(tmp_path / "bad"), "--quiet"]
        if option is None:  # b.txt has 20 stories: too few for dev, val and test of 8 each plus its training share
            argv += ["--desired-corpus", f"text:{b}"]
            option = "--desired-corpus"
        code, text = run(argv, capsys)
        assert code == 2 and option in text, text
        assert not (tmp_path / "bad" / "config.json").exists()  # stopped before any work
