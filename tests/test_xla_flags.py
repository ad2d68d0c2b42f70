"""learning_law.xla_flags: the CLI's XLA CPU settings are added only where they are known and not set by the user."""

import json
import os
import subprocess
import sys

import pytest

from learning_law import cli
from learning_law import xla_flags as XF

BOTH = list(XF.CPU_FLAGS)


def test_adds_both_flags_to_an_empty_or_unrelated_setting():
    env = {}
    assert XF.apply(env, version=(0, 10)) == BOTH and env["XLA_FLAGS"].split() == BOTH
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    XF.apply(env, version=(0, 10))
    assert env["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=2", *BOTH]
    assert XF.apply(env, version=(0, 10)) == [] and env["XLA_FLAGS"].split().count(BOTH[0]) == 1  # idempotent


def test_the_users_own_value_of_a_flag_wins():
    env = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true"}
    assert XF.apply(env, version=(0, 10)) == [BOTH[0]]
    assert env["XLA_FLAGS"].split() == ["--xla_cpu_multi_thread_eigen=true", BOTH[0]]


@pytest.mark.parametrize("version", [(0, 9), (0, 11), (1, 0)])
def test_nothing_outside_the_tested_jaxlib_versions(version):
    env = {"XLA_FLAGS": "--x=1"}
    assert XF.apply(env, version=version) == [] and env == {"XLA_FLAGS": "--x=1"}


def test_opt_out():
    env = {XF.OPT_OUT: "0"}
    assert XF.apply(env, version=(0, 10)) == [] and "XLA_FLAGS" not in env


@pytest.mark.parametrize("argv, lm", [(["optimize", "--task", "lm", "--out", "o"], True),
                                      (["reproduce", "lm", "--out", "o"], True),
                                      (["optimize", "--out", "o"], False),
                                      (["reproduce", "perceptron", "--out", "o"], False)])
def test_the_cli_applies_them_to_lm_runs_only(monkeypatch, argv, lm):
    """Only LM runs get them (the perceptron's time is unchanged by them, and its long searches would end at
    a policy that differs by float rounding from the README's)."""
    calls = []
    monkeypatch.setattr(XF, "apply", lambda *a, **k: calls.append(1) or [])
    monkeypatch.setitem(cli.COMMANDS, argv[0], lambda args: 0)
    assert cli.main(argv) == 0
    assert calls == ([1] if lm else [])


def test_evaluating_an_lm_runs_folder_applies_them(monkeypatch, tmp_path):
    """``evaluate --policy DIR`` takes the task from DIR's config.json, so the flags follow it."""
    calls = []
    monkeypatch.setattr(XF, "apply", lambda *a, **k: calls.append(1) or [])
    monkeypatch.setitem(cli.COMMANDS, "evaluate", lambda args: 0)
    for task, want in (("lm", [1]), ("perceptron", [])):
        run = tmp_path / task
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"kind": "optimize", "task": task}))
        calls.clear()
        assert cli.main(["evaluate", "--policy", str(run), "--out", str(tmp_path / "e")]) == 0
        assert calls == want


@pytest.mark.parametrize("task, want", [("lm", [1]), ("perceptron", [])])
def test_the_sweep_script_applies_them_to_lm_sweeps(monkeypatch, task, want):
    """``python -m experiments.sweep --task lm`` runs the CLI's settings too (before any work: a bad factor
    stops it right after)."""
    from experiments import sweep

    calls = []
    monkeypatch.setattr(XF, "apply", lambda *a, **k: calls.append(1) or [])
    assert sweep.main(["--task", task, "--factors", "x", "--out", "o"]) == 2
    assert calls == want


def test_the_installed_jaxlib_knows_the_flags_it_is_given():
    """XLA aborts on an unknown flag: wherever apply() adds them, a computation must still run."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", XF.OPT_OUT)}
    added = XF.apply(env)
    proc = subprocess.run([sys.executable, "-c", "import jax.numpy as jnp; print(float((jnp.ones((4, 4)) @ "
                                                 "jnp.ones((4, 4))).sum()))"],
                          env={**env, "JAX_PLATFORMS": "cpu"}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "64.0"
    if XF._jaxlib_version() and XF.TESTED[0] <= XF._jaxlib_version() < XF.TESTED[1]:
        assert added == BOTH


def test_a_bad_opt_out_value_is_a_usage_error():
    with pytest.raises(ValueError, match="LEARNING_LAW_XLA_DEFAULTS.*allowed 0"):
        XF.apply({XF.OPT_OUT: "false"}, version=(0, 10))
    env = {**os.environ, XF.OPT_OUT: "no"}
    proc = subprocess.run([sys.executable, "-m", "learning_law.cli", "optimize", "--task", "lm", "--out", "x"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "LEARNING_LAW_XLA_DEFAULTS" in proc.stderr and "Traceback" not in proc.stderr
