import json

import numpy as np

from experiments import deep_law as DL
from learning_law import config as C
from learning_law.optimize import optimize
from learning_law.tasks import build_task


def test_deep_law_measures_each_saved_policy_and_the_adjoint_equality_at_a_kkt_point(tmp_path):
    task = build_task("perceptron", C.PerceptronConfig(dim=8, n_train=32, n_dev=16, n_test=16, n_val=0, seed=4))
    inner = C.InnerConfig(steps=40, lr=0.1, record_every=5)
    optimize(task, inner, C.OuterConfig(outer_steps=6, save_every=3), tmp_path / "opt", progress=False)
    assert DL.main([str(tmp_path / "opt"), "--quiet"]) == 0
    rows = json.loads((tmp_path / "opt" / "deep_law" / "deep_law.json").read_text())["policies"]
    assert [r["outer_step"] for r in rows] == [0, 3, 6]
    assert abs(rows[0]["kkt"] - 1.0) < 1e-5  # the constant policy
    assert rows[-1]["auc"] < rows[0]["auc"]
    assert (tmp_path / "opt" / "deep_law" / "deep_law.png").exists()
    # The spread is weighted by the policy: the constant policy's is positive, a one-hot policy's (one
    # example on the support) exactly 0, whatever the other examples' contributions.
    import jax.numpy as jnp
    from learning_law.inner import lr_schedule
    etas = jnp.asarray(lr_schedule(inner.steps, inner.lr))
    m = DL.measure(task, etas, np.full((40, 32), 1 / 32, np.float32))
    assert np.all(np.isfinite(m["cv_t"]["adjoint"])) and np.all(m["cv_t"]["adjoint"] > 0)
    one_hot = np.zeros((40, 32), np.float32)
    one_hot[:, 0] = 1.0
    m = DL.measure(task, etas, one_hot)
    np.testing.assert_allclose(m["cv_t"]["adjoint"], 0.0, atol=1e-6)
