"""End to end on the tiny preset with more desired data, where the optimised policy does reach the
constant run's final test loss: the speed-up T / t* of `learning-law evaluate` against t* found on test
curves recomputed by an independent float64 NumPy replay of both trainings."""

import json

import numpy as np

from cli_runner import run
from learning_law import config as C
from learning_law.tasks import build_task

ARGS = ["--preset", "tiny", "--n-dev", "512", "--n-test", "256", "--quiet"]


def _numpy_test_curve(task, gamma: np.ndarray, lr: float) -> np.ndarray:
    """L_test(theta_t), t = 0..T, of full-batch GD on the perceptron, in float64 from the raw arrays."""
    x, y = np.asarray(task.train["x"], np.float64), np.asarray(task.train["y"], np.float64)
    xt, yt = np.asarray(task.test["x"], np.float64), np.asarray(task.test["y"], np.float64)
    w = np.asarray(task.init_params["w"], np.float64)
    loss = lambda w: np.mean(np.logaddexp(0.0, xt @ w) - yt * (xt @ w))  # noqa: E731
    curve = [loss(w)]
    for g in np.asarray(gamma, np.float64):
        a = x @ w
        w = w - lr * (g * (1.0 / (1.0 + np.exp(-a)) - y)) @ x
        curve.append(loss(w))
    return np.array(curve)


def test_evaluate_speedup_is_t_over_t_star_of_independent_curves(tmp_path, capsys):
    opt, ev = str(tmp_path / "o"), str(tmp_path / "e")
    code, text = run(["optimize", *ARGS, "--outer-lr", "2", "--out", opt], capsys)
    assert code == 0, text
    code, text = run(["evaluate", "--quiet", "--policy", opt, "--out", ev], capsys)
    assert code == 0, text
    s = json.loads((tmp_path / "e" / "summary.json").read_text())
    preset = C.get_preset("perceptron", "tiny")
    task = build_task("perceptron", C.override(preset.task, n_dev=512, n_test=256))
    steps, n, lr = preset.inner.steps, task.n_train, preset.inner.lr
    const = _numpy_test_curve(task, np.full((steps, n), 1.0 / n), lr)
    pol = _numpy_test_curve(task, np.load(tmp_path / "o" / "gamma.npy"), lr)
    below = np.nonzero(pol <= const[-1])[0]
    assert below.size, "the policy must reach the constant run's final test loss in this setting"
    t_star = int(below[0])
    assert 0 < t_star < steps
    # the crossing is clear of float32 noise on both sides
    assert pol[t_star] < const[-1] - 1e-5 and pol[t_star - 1] > const[-1] + 1e-5
    assert s["t_star"] == t_star and s["speedup"] == steps / t_star
    np.testing.assert_allclose(np.load(tmp_path / "e" / "policy" / "test_loss.npy"), pol, rtol=1e-4)
