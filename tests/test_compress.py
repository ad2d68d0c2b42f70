"""Prequential compression: the real code of the dev stream is its loss in bits, and it decodes back."""

import dataclasses
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learning_law import compress as CM
from learning_law import config as C
from learning_law import policy as P
from learning_law.errors import UsageError
from learning_law.tasks import build_task
from learning_law.tasks.perceptron import perceptron_loss, perceptron_symbol_probs
from theory import coding
from cli_runner import run as _cli

TINY = C.PRESETS["perceptron"]["tiny"]


def test_perceptron_symbol_probs_are_the_loss():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 4)).astype(np.float32)
    y = (rng.random(50) < 0.5).astype(np.float32)
    for scale in (0.1, 1.0, 10.0):  # up to confident predictions (|logit| ~ 50)
        w = (scale * rng.standard_normal(4)).astype(np.float32)
        probs, sym, mask = perceptron_symbol_probs({"w": jnp.asarray(w)}, {"x": jnp.asarray(x), "y": jnp.asarray(y)})
        assert probs.shape == (50, 1, 2) and sym.shape == (50, 1) and sym.dtype == jnp.int32 and bool(mask.all())
        a = x.astype(np.float64) @ w.astype(np.float64)
        ref = np.logaddexp(0.0, a) - y * a  # log-loss in float64
        got = -np.log(np.asarray(probs, np.float64)[np.arange(50), 0, np.asarray(sym[:, 0])])
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got, np.asarray(perceptron_loss({"w": w}, {"x": x, "y": y})), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(probs).sum(-1), 1.0, atol=1e-6)


def _numpy_code_length(task, inner, gamma):
    """Independent float64 re-run of full-batch GD; bits of dev label t mod K under theta_t, t < T."""
    x, y = (np.asarray(task.train[k], np.float64) for k in ("x", "y"))
    xd, yd = (np.asarray(task.dev[k], np.float64) for k in ("x", "y"))
    w = np.asarray(task.init_params["w"], np.float64)
    bits = 0.0
    for t in range(inner.steps):
        a = xd[t % len(yd)] @ w
        bits += (np.logaddexp(0.0, a) - yd[t % len(yd)] * a) / math.log(2)
        grad = x.T @ (gamma[t] * (1 / (1 + np.exp(-(x @ w))) - y))
        w = w - inner.lr * grad
    return bits


@pytest.mark.parametrize("policy", ["constant", "random"])
def test_compress_tiny_end_to_end(tmp_path, policy):
    task = build_task("perceptron", TINY.task)
    inner = TINY.inner
    rng = np.random.default_rng(1)
    gamma = (P.constant(inner.steps, task.n_train) if policy == "constant"
             else rng.dirichlet(np.ones(task.n_train), inner.steps).astype(np.float32))
    s = CM.compress(task, gamma, inner, tmp_path, progress=False)
    assert s["roundtrip_ok"] is True and s["symbols"] == inner.steps and s["raw_bits"] == inner.steps
    assert s["loss_bits"] <= s["coded_bits"] * 1.01 + 9 and s["coded_bits"] <= s["loss_bits"] * 1.01 + 9
    assert s["coded_bits"] <= s["loss_bits"] + s["overhead_bound_bits"]
    assert s["loss_bits"] == pytest.approx(_numpy_code_length(task, inner, gamma), rel=1e-4)
    assert s["loss_bits_from_losses"] == pytest.approx(s["loss_bits"], rel=1e-5)
    data = (tmp_path / "stream.bin").read_bytes()
    assert 8 * len(data) == s["coded_bits"]
    # Decoding the file with the models of the same run gives back the dev labels t mod K.
    probs = []
    with CM.bar(inner.steps, "", False) as pbar:
        for t0, rec in CM._stream(task, gamma, np.full(inner.steps, inner.lr, np.float32), CM.O.GD, 16, pbar):
            if t0 < inner.steps:
                probs.append(rec["probs"][:, 0, :])
    labels = np.asarray(task.dev["y"]).astype(int)[np.arange(inner.steps) % len(task.dev["y"])]
    np.testing.assert_array_equal(coding.decode(data, np.concatenate(probs)), labels)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["kind"] == "compress" and cfg["inner"]["steps"] == inner.steps


def test_chunking_does_not_change_the_code(tmp_path, monkeypatch):
    task = build_task("perceptron", TINY.task)
    a = CM.compress(task, "constant", TINY.inner, tmp_path / "a", progress=False, verify=False)
    monkeypatch.setattr(CM, "MAX_CHUNK", 7)
    b = CM.compress(task, "constant", TINY.inner, tmp_path / "b", progress=False)
    assert b["chunk_steps"] == 7 and a["chunk_steps"] == TINY.inner.steps
    assert (tmp_path / "a" / "stream.bin").read_bytes() == (tmp_path / "b" / "stream.bin").read_bytes()
    assert b["loss_bits"] == pytest.approx(a["loss_bits"], rel=1e-6) and b["roundtrip_ok"]
    assert a["roundtrip_ok"] is None


def test_adam_inner_run_also_round_trips(tmp_path):
    task = build_task("perceptron", TINY.task)
    inner = dataclasses.replace(TINY.inner, optimizer="adam", lr=0.05)
    s = CM.compress(task, "constant", inner, tmp_path, progress=False)
    assert s["roundtrip_ok"] and s["coded_bits"] <= s["loss_bits"] + s["overhead_bound_bits"]


def test_bad_input_is_refused_before_training(tmp_path):
    task = build_task("perceptron", TINY.task)
    with pytest.raises(UsageError, match="task='perceptron' has no symbol_probs"):
        CM.compress(dataclasses.replace(task, symbol_probs=None), "constant", TINY.inner, tmp_path)
    with pytest.raises(UsageError, match="total=2 is invalid"):
        CM.compress(task, "constant", TINY.inner, tmp_path, total=2)
    with pytest.raises(UsageError, match="shape"):
        CM.compress(task, np.full((3, task.n_train), 1 / task.n_train), TINY.inner, tmp_path)
    assert not (tmp_path / "summary.json").exists()




def test_cli(tmp_path, capsys):
    code, text = _cli(["compress", "--preset", "tiny", "--quiet", "--out", str(tmp_path / "c")], capsys)
    assert code == 0 and "round trip ok" in text, text
    s = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert s["roundtrip_ok"] and s["steps"] == 40
    code, text = _cli(["compress", "--preset", "tiny", "--quiet", "--total", "1", "--out", str(tmp_path / "d")], capsys)
    assert code == 2 and "total=1" in text
    code, text = _cli(["compress", "--preset", "tiny", "--quiet", "--policy", str(tmp_path / "none.npy"),
                       "--out", str(tmp_path / "e")], capsys)
    assert code == 2 and "no such file" in text
