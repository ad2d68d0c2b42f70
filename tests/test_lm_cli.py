"""The LM task through the command line: train/optimize/evaluate end to end, bad options exit with 2."""

import json

import numpy as np
import pytest

from cli_runner import run

pytestmark = pytest.mark.filterwarnings("ignore:the tokenizer")  # tiny vocabulary: no exact entropy

LM_TINY = ["--task", "lm", "--preset", "tiny", "--quiet"]




def test_train_writes_a_finished_lm_record(tmp_path, capsys):
    code, text = run(["train", *LM_TINY, "--out", str(tmp_path / "r")], capsys)
    assert code == 0, text
    s = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert s["finished"] and s["steps"] == 12 and s["final_dev_loss"] < np.load(tmp_path / "r" / "dev_loss.npy")[0]
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["task"] == "lm" and cfg["task_config"]["noise_fraction"] == 0.5
    assert cfg["task_config"]["noise_edits"] == 2 and cfg["task_config"]["corpus"] == "default"
    assert np.load(tmp_path / "r" / "ct.npy").shape == (4, 16)


def test_optimize_then_evaluate_lm(tmp_path, capsys):
    code, text = run(["optimize", *LM_TINY, "--out", str(tmp_path / "o")], capsys)
    assert code == 0, text
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["finished"] and s["outer_steps"] == 3
    gamma = np.load(tmp_path / "o" / "gamma.npy")
    assert gamma.shape == (12, 16) and np.allclose(gamma.sum(1), 1, atol=1e-5) and (gamma >= 0).all()
    code, text = run(["evaluate", "--quiet", "--policy", str(tmp_path / "o"), "--out", str(tmp_path / "e")], capsys)
    assert code == 0, text
    e = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert e["finished"] and {"speedup", "auc_constant", "auc_policy"} <= set(e)
    assert json.loads((tmp_path / "e" / "config.json").read_text())["task"] == "lm"
    # the search lowers the AUC: the found policy's mean dev loss, from its curve, is below the constant's
    auc = {run: float(np.load(tmp_path / "e" / run / "dev_loss.npy").astype(np.float64).mean())
           for run in ("constant", "policy")}
    assert auc["policy"] < auc["constant"]
    assert e["auc_policy"] == pytest.approx(auc["policy"], rel=1e-5)


def test_list_presets_names_the_lm_presets(capsys):
    code, text = run(["list-presets"], capsys)
    assert code == 0
    for name in ("paper", "paper-figures", "cpu", "tiny"):
        assert any(line.split()[:2] == ["lm", name] for line in text.splitlines()), name


@pytest.mark.parametrize("args, words", [
    (["--n-heads", "3"], "n_heads=3"),
    (["--seq-len", "0"], "seq_len=0"),
    (["--positions", "4"], "positions=4"),
    (["--vocab-size", "2"], "vocab_size=2"),
    (["--noise-fraction", "1.5"], "noise_fraction=1.5"),
    (["--noise-edits", "-1"], "noise_edits=-1"),
    (["--norm", "batch"], "norm='batch'"),
    (["--d-model", "0"], "d_model=0"),
    (["--dim", "4"], "--dim do not apply"),
])
def test_bad_lm_option_exits_with_2(tmp_path, capsys, args, words):
    code, text = run(["train", *LM_TINY, *args, "--out", str(tmp_path / "r")], capsys)
    assert code == 2, text
    assert words in text
    assert not (tmp_path / "r" / "summary.json").exists()


def _stories(n: int) -> list[str]:
    names, things = ["Tom", "Lily", "Sam", "Mia", "Ben"], ["ball", "cat", "tree", "cake", "boat", "kite"]
    return [f"Once upon a time {names[i % 5]} had a {things[i % 6]}. {names[(i + 2) % 5]} liked the "
            f"{things[(i + 3) % 6]} very much. They played all day. The end number {i}." for i in range(n)]


CORPUS_BAD = [
    # (what to write, words the message must contain)
    ("missing", "does not exist"),
    ("empty", "empty"),
    ("latin1", "UTF-8"),
    ("few", "stories"),
]


@pytest.mark.parametrize("kind,words", CORPUS_BAD, ids=[k for k, _ in CORPUS_BAD])
def test_bad_corpus_file_exits_with_2(tmp_path, capsys, kind, words):
    path = tmp_path / "corpus.txt"
    if kind == "empty":
        path.write_text("")
    elif kind == "latin1":
        path.write_bytes("Once upon a time there was a caf\xe9.\n\nThe end of a story here.".encode("latin-1"))
    elif kind == "few":
        path.write_text("\n\n".join(_stories(5)))
    code, text = run(["train", *LM_TINY, "--corpus", f"text:{path}", "--out", str(tmp_path / "r")], capsys)
    assert code == 2, text
    assert words in text and "Traceback" not in text
    assert not (tmp_path / "r" / "summary.json").exists()


def test_tinystories_format_file_runs_end_to_end(tmp_path, capsys, monkeypatch):
    """A local file in the official TinyStories format (<|endoftext|> separators) through tfds, no network."""
    monkeypatch.setenv("LEARNING_LAW_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "TinyStories-mini.txt"
    path.write_text("\n<|endoftext|>\n".join(_stories(40)))
    argv = [*LM_TINY, "--corpus", f"tinystories:{path}", "--n-train", "16", "--n-dev", "8", "--n-test", "8"]
    code, text = run(["optimize", *argv, "--out", str(tmp_path / "o")], capsys)
    assert code == 0, text
    code, text = run(["evaluate", "--quiet", "--policy", str(tmp_path / "o"), "--out", str(tmp_path / "e")], capsys)
    assert code == 0, text
    s = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert s["finished"] and np.isfinite(s["auc_policy"])
    cfg = json.loads((tmp_path / "o" / "config.json").read_text())
    assert cfg["task_config"]["corpus"] == f"tinystories:{path}"
