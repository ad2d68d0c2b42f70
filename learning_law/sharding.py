"""The example axis across devices (DESIGN.md "Scale").

The per-step full-batch gradient is a sum over examples, so the train split and the policy's columns
can be split over devices and XLA's SPMD partitioner turns the weighted sum into a cross-device
reduction. Parameters, dev and test splits are replicated. The same code runs on one CPU, several
GPUs, or several processes (hosts): :mod:`learning_law.distributed` joins them first (see docs/scale.md), and
the mesh then spans every process's devices; each process places only its own shards.
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
    if jax.process_count() > 1 and n_devices != available:
        # A mesh over some devices only would leave processes out of the computation (process 0, which
        # writes the results, among them): every process's devices take part.
        raise UsageError(f"devices={n_devices!r} is invalid in a run of {jax.process_count()} processes: allowed "
                         f"{available} (all devices of all processes)")
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
    put = lambda tree, s: jax.tree_util.tree_map(lambda a: put_global(a, s), tree)  # noqa: E731
    return dataclasses.replace(task, train=put(task.train, rows), dev=put(task.dev, rep),
                               test=put(task.test, rep), init_params=put(task.init_params, rep), mesh=mesh,
                               val=None if task.val is None else put(task.val, rep))


def put_global(a, sharding: NamedSharding) -> jax.Array:
    """``a`` (the whole array, the same on every process) placed with ``sharding``.

    One process: ``jax.device_put``. Several: each process builds only the shards of its own devices
    from its copy (``jax.make_array_from_callback``), with no cross-process transfer and without the
    equality check (an all-gather of the whole array) that ``device_put`` of a host array makes there.
    Every process derives its task from the same seed and files, so the copies are equal.
    """
    if isinstance(a, jax.Array) and a.sharding == sharding:
        return a
    if jax.process_count() == 1:
        return jax.device_put(a, sharding)
    if isinstance(a, jax.Array) and not a.is_fully_addressable:  # already global: let XLA reshard it
        return jax.jit(lambda x: x, out_shardings=sharding)(a)
    host = np.asarray(a)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def place_policy(gamma, mesh: Mesh | None) -> jax.Array:
    """gamma: [T, N] (host or device) on device, its example axis sharded like the train split."""
    if mesh is None:
        return jax.numpy.asarray(gamma)
    return put_global(gamma, NamedSharding(mesh, Pspec(None, AXIS)))
