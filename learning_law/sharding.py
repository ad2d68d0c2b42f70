"""The example axis across devices (DESIGN.md "Scale").

The per-step full-batch gradient is a sum over examples, so the train split and the policy's columns
can be split over devices and XLA's SPMD partitioner turns the weighted sum into a cross-device
reduction. Parameters, dev and test splits are replicated. The same code runs on one CPU, several
GPUs, or a multi-host slice: call ``jax.distributed.initialize()`` first on every host (see README).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as Pspec

from learning_law.errors import UsageError
from learning_law.tasks.base import Task

AXIS = "examples"


def example_mesh(n_devices: int) -> Mesh | None:
    """A 1-D mesh over the first ``n_devices`` devices (None for 1: no sharding)."""
    available = jax.device_count()
    if not (isinstance(n_devices, int) and 1 <= n_devices <= available):
        raise UsageError(f"devices={n_devices!r} is invalid: allowed 1..{available} (devices visible to jax; "
                         "on CPU set XLA_FLAGS=--xla_force_host_platform_device_count=N to simulate more)")
    if n_devices == 1:
        return None
    # Auto axis types: the weighted sum over a sharded example axis is then an implicit all-reduce.
    return jax.make_mesh((n_devices,), (AXIS,), axis_types=(jax.sharding.AxisType.Auto,),
                         devices=jax.devices()[:n_devices])


def shard_task(task: Task, mesh: Mesh | None) -> Task:
    """Place the train split sharded over the example axis, everything else replicated."""
    if mesh is None:
        return task
    n_dev = mesh.devices.size
    if task.n_train % n_dev:
        raise UsageError(f"n_train={task.n_train} is invalid with devices={n_dev}: allowed a multiple of "
                         f"{n_dev} (the example axis is split evenly)")
    rows = NamedSharding(mesh, Pspec(AXIS))
    rep = NamedSharding(mesh, Pspec())
    put = lambda tree, s: jax.tree_util.tree_map(lambda a: jax.device_put(a, s), tree)  # noqa: E731
    return dataclasses.replace(task, train=put(task.train, rows), dev=put(task.dev, rep),
                               test=put(task.test, rep), init_params=put(task.init_params, rep), mesh=mesh,
                               val=None if task.val is None else put(task.val, rep))


def place_policy(gamma: np.ndarray, mesh: Mesh | None) -> jax.Array:
    """gamma: [T, N] on device, its example axis sharded like the train split."""
    if mesh is None:
        return jax.numpy.asarray(gamma)
    return jax.device_put(np.asarray(gamma), NamedSharding(mesh, Pspec(None, AXIS)))
