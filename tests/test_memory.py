import numpy as np
import pytest

from learning_law import config as C
from learning_law import memory as M
from learning_law.errors import UsageError
from learning_law.optimize import optimize
from learning_law.tasks import build_task


def test_estimates_order_the_strategies_and_block_is_sublinear():
    import jax.numpy as jnp

    from learning_law.inner import lr_schedule
    from learning_law.metagrad import auc_and_grad

    task = build_task("perceptron", C.PerceptronConfig(dim=512, n_train=64, n_dev=8, n_test=8))
    temps = {}
    for steps in (100, 400):
        gamma, etas = jnp.full((steps, 64), 1 / 64), jnp.asarray(lr_schedule(steps, 0.1))
        for memory in ("full", "theta", "block"):
            c = auc_and_grad.lower(task.per_example_loss, task.init_params, task.train, task.dev, gamma, etas,
                                   memory, 0).compile()
            temps[memory, steps] = M.analysis_bytes(c)["temporaries"]
    # full and theta grow ~4x with T (residuals / theta_t of 512 floats per step), block ~2x (sqrt(T)).
    assert temps["theta", 400] > 3 * temps["block", 400]
    assert temps["theta", 400] / temps["theta", 100] > 3.0 and temps["full", 400] / temps["full", 100] > 3.0
    assert temps["block", 400] / temps["block", 100] < 2.6


def test_check_fits_refuses_with_a_suggestion():
    est = {"total": 10 * M.GiB}
    with pytest.raises(UsageError, match=r"memory='full' needs about 10.00 GiB.*--memory block"):
        M.check_fits(est, "full", {"block": {"total": M.GiB}, "theta": {"total": 20 * M.GiB}},
                     available=4 * M.GiB)
    M.check_fits({"total": M.GiB}, "full", available=4 * M.GiB)  # fits: no error


def test_optimize_refuses_before_running(tmp_path, monkeypatch):
    monkeypatch.setattr(M, "available_bytes", lambda device=None: 1000)
    task = build_task("perceptron", C.PerceptronConfig(dim=8, n_train=32, n_dev=8, n_test=8))
    with pytest.raises(UsageError, match="GiB are available"):
        optimize(task, C.InnerConfig(steps=20), C.OuterConfig(outer_steps=2), tmp_path, progress=False)
    assert not (tmp_path / "summary.json").exists() and not (tmp_path / "gamma.npy").exists()
