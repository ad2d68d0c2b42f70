"""Several processes, one computation (DESIGN.md "Scale"): start-up from the environment, and the few
places where a multi-process run differs from a one-process one.

Every process runs the same program on its own devices (JAX's multi-controller model); the example axis
is split over the devices of all of them (:mod:`learning_law.sharding`). What differs:

- **start-up**: :func:`initialize_from_env` reads ``LEARNING_LAW_COORDINATOR`` (``host:port`` of process
  0), ``LEARNING_LAW_NUM_PROCESSES`` and ``LEARNING_LAW_PROCESS_ID`` and calls
  ``jax.distributed.initialize`` before any other JAX call. On a cluster each host sets them (or
  ``LEARNING_LAW_COORDINATOR=auto`` lets JAX read SLURM/Open MPI/Kubernetes settings);
  ``learning-law launch`` sets them for P processes on this machine. CPU collectives go through gloo.
- **host values**: an array whose shards live on other processes' devices cannot be read directly;
  :func:`to_host` gathers it (a collective: every process calls it at the same point, which holds because
  every process runs the same code).
- **files**: only process 0 writes (:func:`is_writer`, used by :mod:`learning_law.record`); the others
  compute the same values and skip the write.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from learning_law.errors import UsageError

ENV_COORDINATOR = "LEARNING_LAW_COORDINATOR"
ENV_NUM_PROCESSES = "LEARNING_LAW_NUM_PROCESSES"
ENV_PROCESS_ID = "LEARNING_LAW_PROCESS_ID"


def _env_int(name: str, lo: int, hi: int | None) -> int:
    text = os.environ.get(name)
    try:
        value = int(text or "")
    except ValueError:
        value = None
    if value is None or value < lo or (hi is not None and value > hi):
        raise UsageError(f"{name}={text!r} is invalid: allowed an integer in [{lo}, {'inf' if hi is None else hi}] "
                         f"(set with {ENV_COORDINATOR})")
    return value


def initialize_from_env(timeout_s: int = 300) -> bool:
    """Join the multi-process run the environment describes; False (nothing done) when it describes none.

    Must run before any other JAX computation in the process.
    """
    address = os.environ.get(ENV_COORDINATOR)
    if not address:
        return False
    if jax.distributed.is_initialized():  # a caller (e.g. a cluster wrapper) did it already
        return True
    # gloo is the default CPU collective in jax >= 0.5; set it explicitly so that an older default
    # ("none": CPU collectives across processes unsupported) cannot silently apply.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if address == "auto":  # JAX's cluster detection (SLURM, Open MPI, Kubernetes, TPU/GCE)
        jax.distributed.initialize(initialization_timeout=timeout_s)
        return True
    if ":" not in address:
        raise UsageError(f"{ENV_COORDINATOR}={address!r} is invalid: allowed HOST:PORT of process 0, or 'auto'")
    n = _env_int(ENV_NUM_PROCESSES, 1, None)
    pid = _env_int(ENV_PROCESS_ID, 0, n - 1)
    jax.distributed.initialize(coordinator_address=address, num_processes=n, process_id=pid,
                               initialization_timeout=timeout_s)
    return True


def multi_process() -> bool:
    """Whether this run spans more than one process."""
    return jax.distributed.is_initialized() and jax.process_count() > 1


def is_writer() -> bool:
    """Whether this process writes result files (process 0; always True in a one-process run)."""
    return not jax.distributed.is_initialized() or jax.process_index() == 0


def to_host(x):
    """``x`` (an array, or a pytree of them) as numpy, gathering the shards other processes hold."""
    def one(a):
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            from jax.experimental import multihost_utils

            return np.asarray(multihost_utils.process_allgather(a, tiled=True))
        return np.asarray(a) if isinstance(a, jax.Array) else a

    return jax.tree_util.tree_map(one, x)


def agree(ok: bool, what: str) -> None:
    """Stop every process when process 0 found ``ok`` False (e.g. a refused --out folder), so that no
    process waits forever in a collective for one that has left. A no-op in a one-process run."""
    if not multi_process():
        return
    from jax.experimental import multihost_utils

    if not bool(multihost_utils.broadcast_one_to_all(np.int32(ok))):
        raise UsageError(f"process 0 refused {what} (its message says why)")
