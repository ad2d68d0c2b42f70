"""Sharded and unsharded runs agree (4 simulated CPU devices, in a fresh process)."""

import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, jax, jax.numpy as jnp, numpy as np
from learning_law import config as C, policy as P
from learning_law.tasks import build_task
from learning_law.sharding import example_mesh, shard_task, place_policy
from learning_law.train import train
from learning_law.inner import lr_schedule
from learning_law.metagrad import auc_and_grad
from learning_law.optimize import optimize
assert jax.device_count() == 4, jax.devices()
cfg = C.PerceptronConfig(dim=8, n_train=64, n_dev=16, n_test=16, seed=1)
inner = C.InnerConfig(steps=30, lr=0.2, record_every=3)
gamma = np.random.default_rng(0).dirichlet(np.ones(64), size=30).astype(np.float32)
task = build_task("perceptron", cfg)
sharded = shard_task(task, example_mesh(4))
a = train(task, gamma, inner, progress=False)
b = train(sharded, gamma, inner, progress=False)
etas = jnp.asarray(lr_schedule(30, 0.2))
out = {"n_shards": len(sharded.train["x"].sharding.device_set)}
for mem in ("full", "theta", "block"):
    _, ga = auc_and_grad(task.per_example_loss, task.init_params, task.train, task.dev, jnp.asarray(gamma), etas, mem)
    _, gb = auc_and_grad(sharded.per_example_loss, sharded.init_params, sharded.train, sharded.dev,
                         place_policy(gamma, sharded.mesh), etas, mem)
    out["grad_" + mem] = float(np.max(np.abs(np.asarray(ga) - np.asarray(gb))))
    out["grad_scale"] = float(np.max(np.abs(np.asarray(ga))))
for k in ("dev_loss", "test_loss", "ct", "train_loss"):
    out[k] = float(np.max(np.abs(a[k] - b[k])))
import tempfile
with tempfile.TemporaryDirectory() as d:
    outer = C.OuterConfig(outer_steps=3, outer_lr=1.0)
    g1 = optimize(task, inner, outer, d + "/a", progress=False)["gamma"]
    g2 = optimize(sharded, inner, outer, d + "/b", progress=False)["gamma"]
    out["policy"] = float(np.max(np.abs(g1 - g2)))
print("RESULT", json.dumps(out))
"""


def test_sharded_equals_unsharded_on_4_devices():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")][-1]
    res = json.loads(line[len("RESULT "):])
    assert res.pop("n_shards") == 4
    assert res.pop("grad_scale") > 1e-4
    for key, diff in res.items():
        assert diff <= 1e-5, (key, diff)
