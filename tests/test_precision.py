"""Float32 matmuls at full precision by default (the CLI and this test suite), an option to choose a
faster one, and the choice recorded in every config.json a run writes."""

import json

import jax
import jax.numpy as jnp
import pytest

from cli_runner import run
from learning_law import precision as PR
from learning_law.errors import UsageError

TINY = ["--preset", "tiny", "--quiet"]


def _dot_precision() -> str:
    """The operand precision XLA is asked for when a float32 matmul is traced now."""
    x = jnp.ones((2, 2), jnp.float32)
    text = jax.jit(lambda a, b: a @ b).lower(x, x).as_text()
    return text.split("precision = [")[1].split(",")[0]


def test_suite_default_and_the_context_manager():
    assert PR.current() == PR.DEFAULT == "highest" and _dot_precision() == "HIGHEST"
    with PR.matmul_precision("default") as name:
        assert name == "default" and PR.current() == "default" and _dot_precision() == "DEFAULT"
    assert PR.current() == "highest" and _dot_precision() == "HIGHEST"  # restored
    with pytest.raises(UsageError, match="matmul_precision='tf32' is invalid"):
        with PR.matmul_precision("tf32"):
            pass


def test_cli_records_the_precision_in_every_config(tmp_path, capsys):
    code, text = run(["train", *TINY, "--out", str(tmp_path / "t")], capsys)
    assert code == 0, text
    assert json.loads((tmp_path / "t" / "config.json").read_text())["matmul_precision"] == "highest"
    code, text = run(["evaluate", *TINY, "--matmul-precision", "high", "--policy", "online:greedy",
                      "--out", str(tmp_path / "e")], capsys)
    assert code == 0, text
    for cfg in ("config.json", "constant/config.json", "policy/config.json"):
        assert json.loads((tmp_path / "e" / cfg).read_text())["matmul_precision"] == "high", cfg
    code, text = run(["optimize", *TINY, "--outer-steps", "1", "--matmul-precision", "default",
                      "--out", str(tmp_path / "o")], capsys)
    assert code == 0, text
    assert json.loads((tmp_path / "o" / "config.json").read_text())["matmul_precision"] == "default"
    assert PR.current() == "highest"  # the command's choice does not leak out of it
    code, text = run(["train", *TINY, "--matmul-precision", "fast", "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "--matmul-precision" in text and "highest" in text
