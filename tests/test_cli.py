"""The command line: records written, and every bad input stopped early with exit code 2."""

import dataclasses
import json

import numpy as np
import pytest

from learning_law import config as C
from learning_law.cli import main
from learning_law.errors import UsageError
from cli_runner import run

TINY = ["--preset", "tiny"]




def test_train_writes_a_finished_record(tmp_path, capsys):
    code, text = run(["train", *TINY, "--quiet", "--out", str(tmp_path / "r")], capsys)
    assert code == 0, text
    s = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert s["finished"] and s["steps"] == 40 and s["auc"] > s["final_dev_loss"]
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["inner"]["steps"] == 40 and cfg["task_config"]["seed"] == 0 and "jax" in cfg["versions"]
    assert np.load(tmp_path / "r" / "dev_loss.npy").shape == (41,)
    assert np.load(tmp_path / "r" / "ct.npy").shape == (20, 32)


def test_optimize_then_evaluate_from_the_folder(tmp_path, capsys):
    code, text = run(["optimize", *TINY, "--quiet", "--outer-lr", "1", "--out", str(tmp_path / "o")], capsys)
    assert code == 0, text
    code, text = run(["evaluate", "--quiet", "--policy", str(tmp_path / "o"), "--out", str(tmp_path / "e")], capsys)
    assert code == 0, text
    s = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert {"speedup", "auc_constant", "auc_policy"} <= set(s)
    assert s["auc_policy"] < s["auc_constant"]
    # --resume reuses the finished runs and gives the same summary.
    code, _ = run(["evaluate", "--quiet", "--policy", str(tmp_path / "o"), "--out", str(tmp_path / "e"),
                   "--resume"], capsys)
    assert code == 0 and json.loads((tmp_path / "e" / "summary.json").read_text()) == s


def test_huge_lr_stops_with_the_step(tmp_path, capsys):
    code, text = run(["train", *TINY, "--quiet", "--lr", "1e6", "--out", str(tmp_path / "r")], capsys)
    assert code == 3
    assert "at inner step 1" in text and "diverged" in text
    assert not (tmp_path / "r" / "summary.json").exists()
    assert json.loads((tmp_path / "r" / "failed.json").read_text())["step"] == 1


def _policy_file(tmp_path, name, array):
    p = tmp_path / name
    np.save(p, array)
    return str(p)


BAD = [
    # (command line without --out, words the message must contain)
    (["train", "--steps", "0"], "steps=0"),
    (["train", "--steps", "-5"], "steps=-5"),
    (["train", "--steps", "abc"], "invalid int value"),
    (["train", "--lr", "0"], "lr=0.0"),
    (["train", "--lr", "-0.1"], "lr=-0.1"),
    (["train", "--lr", "nan"], "lr=nan"),
    (["train", "--record-every", "0"], "record_every=0"),
    (["train", "--record-every", "5000"], "record_every=5000"),
    (["train", "--warmup-steps", "3000"], "warmup_steps=3000"),
    (["train", "--dim", "0"], "dim=0"),
    (["train", "--n-train", "0"], "n_train=0"),
    (["train", "--n-dev", "0"], "n_dev=0"),
    (["train", "--n-test", "-1"], "n_test=-1"),
    (["train", "--label-noise", "0.9"], "label_noise=0.9"),
    (["train", "--train-std", "0"], "train_std=0.0"),
    (["train", "--eval-std", "-1"], "eval_std=-1.0"),
    (["train", "--init-std", "-1"], "init_std=-1.0"),
    (["train", "--seed", "-1"], "seed=-1"),
    (["train", "--teacher-scale", "0"], "teacher_scale=0.0"),
    (["train", "--preset", "nope"], "preset='nope'"),
    (["train", "--task", "nope"], "invalid choice"),
    (["train", "--policy", "MISSING"], "no such file"),
    (["train", "--policy", "SHAPE"], "shape"),
    (["train", "--policy", "NEGATIVE"], "< 0"),
    (["train", "--policy", "NAN"], "non-finite"),
    (["train", "--policy", "ROWSUM"], "sums to"),
    (["train", "--policy", "INT"], "dtype"),
    (["train", "--policy", "JUNK"], "not a readable"),
    (["optimize", "--outer-steps", "0"], "outer_steps=0"),
    (["optimize", "--outer-lr", "0"], "outer_lr=0.0"),
    (["optimize", "--memory", "bogus"], "invalid choice"),
    (["optimize", "--frozen-steps", "40"], "frozen_steps=40"),
    (["optimize", "--memory", "block", "--block-size", "41"], "block_size=41"),
    (["optimize", "--save-every", "0"], "save_every=0"),
    (["optimize", "--checkpoint-every", "0"], "checkpoint_every=0"),
    (["optimize", "--schedule", "cosine"], "invalid choice"),
    (["evaluate", "--policy", "GOOD", "--smooth-sigma", "-1"], "smooth_sigma=-1"),
    (["evaluate", "--policy", "SHAPE"], "shape"),
    (["reproduce", "perceptron", "--preset", "nope"], "preset='nope'"),
    (["reproduce", "perceptron", "--preset", "tiny", "--seeds", "4-0"], "--seeds '4-0' is invalid"),
]


@pytest.mark.parametrize("argv,words", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_exits_2_naming_the_problem(argv, words, tmp_path, capsys):
    files = {
        "MISSING": str(tmp_path / "missing.npy"),
        "SHAPE": _policy_file(tmp_path, "shape.npy", np.full((3, 32), 1 / 32, np.float32)),
        "NEGATIVE": _policy_file(tmp_path, "neg.npy", np.tile(np.r_[-0.1, np.full(31, 1.1 / 31)], (40, 1))),
        "NAN": _policy_file(tmp_path, "nan.npy", np.full((40, 32), np.nan, np.float32)),
        "ROWSUM": _policy_file(tmp_path, "rowsum.npy", np.full((40, 32), 0.5 / 32, np.float32)),
        "INT": _policy_file(tmp_path, "int.npy", np.ones((40, 32), np.int32)),
        "GOOD": _policy_file(tmp_path, "good.npy", np.full((40, 32), 1 / 32, np.float32)),
    }
    junk = tmp_path / "junk.npy"
    junk.write_text("not numpy")
    files["JUNK"] = str(junk)
    argv = [files.get(a, a) for a in argv]
    if argv[0] != "reproduce" and "--preset" not in argv:
        argv += TINY
    out = tmp_path / "out"
    code, text = run([*argv, "--quiet", "--out", str(out)], capsys)
    assert code == 2, text
    assert words in text, text
    assert "Traceback" not in text
    assert not (out / "summary.json").exists()


def test_out_folder_problems(tmp_path, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    code, text = run(["train", *TINY, "--quiet", "--out", str(busy)], capsys)
    assert code == 2 and "not empty" in text and "--overwrite" in text
    code, text = run(["train", *TINY, "--quiet", "--overwrite", "--out", str(busy)], capsys)
    assert code == 2 and "refusing to delete" in text and (busy / "notes.txt").exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, text = run(["train", *TINY, "--quiet", "--out", str(afile)], capsys)
    assert code == 2 and "not a folder" in text
    code, text = run(["train", *TINY, "--quiet", "--out", "/proc/learning-law-out"], capsys)
    assert code == 2 and "not writable" in text


def test_help_lists_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["optimize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for opt in ("--steps", "--lr", "--outer-lr", "--memory", "--frozen-steps", "--resume", "--n-train"):
        assert opt in text
    assert "inner steps (paper preset: 2000)" in text and "outer steps of the policy search (at most) (paper preset: 500)" in text
    assert main(["list-presets"]) == 0
    assert "paper" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["train", "optimize", "evaluate", "compress"])
def test_help_lists_the_split_sizes_under_a_heading_of_every_task(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    sections = {part.split(":\n", 1)[0]: part for part in capsys.readouterr().out.split("\n\n")}
    shared = next(v for k, v in sections.items() if k.startswith("split sizes and seed (every task"))
    for opt in ("--n-train", "--n-dev", "--n-test", "--n-val", "--seed"):
        assert opt in shared
        assert not any(opt + " " in v for k, v in sections.items() if k.startswith("task "))
    flat = " ".join(shared.split())
    assert "(perceptron paper: 4096, lm paper: 16384, digits cpu: 1000)" in flat


def test_devices_option_is_validated(tmp_path, capsys):
    code, text = run(["train", *TINY, "--quiet", "--devices", "64", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "devices=64" in text


def test_online_policy_through_train_and_evaluate(tmp_path, capsys):
    code, text = run(["train", *TINY, "--quiet", "--policy", "online:greedy", "--out", str(tmp_path / "t")], capsys)
    assert code == 0, text
    assert np.load(tmp_path / "t" / "gamma.npy").shape == (40, 32)
    code, text = run(["evaluate", *TINY, "--quiet", "--policy", "online:equalize:tau=0.02",
                      "--out", str(tmp_path / "e")], capsys)
    assert code == 0, text
    s = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert s["auc_policy"] < s["auc_constant"]
    # the ratio is the online run's measured seconds per step over the constant run's, both measured
    pol = json.loads((tmp_path / "e" / "policy" / "summary.json").read_text())
    assert 0 < pol["seconds_per_step"] and 0 < pol["seconds_per_step_constant"]
    assert s["time_ratio_vs_constant"] == pytest.approx(pol["seconds_per_step"] / pol["seconds_per_step_constant"],
                                                        rel=1e-12)
    assert pol["seconds_per_step"] * 40 == pytest.approx(pol["run_time_s"], abs=1e-4)
    code, text = run(["train", *TINY, "--quiet", "--policy", "online:bogus", "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "online:equalize" in text


def test_the_default_search_is_auto_on_every_preset_and_on_a_setting_no_preset_has(tmp_path, capsys):
    for task in C.task_config_classes():
        for name, p in C.PRESETS[task].items():
            assert p.outer.search == "auto" and p.outer.outer_lr is None, (task, name)
    with pytest.raises(UsageError, match="outer.search='fixed' is invalid"):
        dataclasses.replace(C.get_preset("perceptron", "tiny"), outer=C.OuterConfig(outer_lr=0.5))
    sizes = ["--task", "perceptron", "--dim", "5", "--n-train", "12", "--n-dev", "8", "--n-test", "8", "--n-val", "8",
             "--label-noise", "0.1", "--steps", "10", "--outer-steps", "2", "--quiet"]
    code, text = run(["optimize", *sizes, "--out", str(tmp_path / "a")], capsys)  # no preset, no search option
    assert code == 0, text
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    assert cfg["preset"] == "paper" and cfg["outer"]["search"] == "auto" and cfg["outer"]["outer_lr"] is None
    code, text = run(["optimize", *sizes, "--preset", "paper-dev4096", "--search", "fixed", "--out",
                      str(tmp_path / "b")], capsys)  # --search fixed alone: the preset's hand-set step
    assert code == 0, text
    outer = json.loads((tmp_path / "b" / "config.json").read_text())["outer"]
    assert (outer["search"], outer["outer_lr"], outer["schedule"]) == ("fixed", 0.5, "constant")


def test_outer_lr_implies_the_fixed_search_and_auto_refuses_it(tmp_path, capsys):
    code, text = run(["optimize", *TINY, "--quiet", "--outer-steps", "2", "--outer-lr", "0.5",
                      "--out", str(tmp_path / "f")], capsys)
    assert code == 0, text
    outer = json.loads((tmp_path / "f" / "config.json").read_text())["outer"]
    assert outer["search"] == "fixed" and outer["outer_lr"] == 0.5
    code, text = run(["optimize", *TINY, "--quiet", "--search", "auto", "--outer-lr", "0.5",
                      "--out", str(tmp_path / "a")], capsys)
    assert code == 2 and "--outer-lr" in text and "--search fixed" in text
    code, text = run(["optimize", *TINY, "--quiet", "--search", "fixed", "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "needs --outer-lr" in text
    code, text = run(["optimize", "--preset", "paper-init0", "--dim", "4", "--n-train", "8", "--n-dev", "8",
                      "--n-test", "8", "--n-val", "8", "--steps", "10", "--outer-steps", "2", "--search", "auto",
                      "--quiet", "--out", str(tmp_path / "c")], capsys)
    assert code == 0, text
    outer = json.loads((tmp_path / "c" / "config.json").read_text())["outer"]
    assert outer["search"] == "auto" and outer["outer_lr"] is None
    code, text = run(["optimize", *TINY, "--quiet", "--n-val", "-1", "--out", str(tmp_path / "d")], capsys)
    assert code == 2 and "n_val" in text
