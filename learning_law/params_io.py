"""A run's final parameters on disk: ``params_final.npz`` (keys: the pytree paths) read back into a pytree
or an NNX module. Re-exported by :mod:`learning_law.api`; :mod:`learning_law.evaluate` reads theta_T
through it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

from learning_law.errors import UsageError


def load_params(path: str | Path, like: Any) -> Any:
    """Read ``params_final.npz`` (or a run folder holding it) back into a pytree shaped like ``like``.

    ``like``: ``task.init_params``, any pytree with the same structure, or an ``nnx.Module`` (returned as
    a new module holding the loaded parameters). Keys are the pytree paths the run wrote
    (``jax.tree_util.keystr``, e.g. ``['w1']``). Raises UsageError naming a missing key or a wrong shape.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "params_final.npz"
    if not path.is_file():
        raise UsageError(f"path={str(path)!r} is not a file: give params_final.npz or the run folder holding it")
    module = None
    from learning_law.tasks.custom import _nnx_module

    if _nnx_module(like):
        from flax import nnx

        module = like
        graphdef, state, rest = nnx.split(like, nnx.Param, ...)
        like = nnx.to_pure_dict(state)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    with np.load(path, allow_pickle=False) as npz:
        stored = {k: npz[k] for k in npz.files}
    keys = [jax.tree_util.keystr(p) for p, _ in leaves]
    missing = [k for k in keys if k not in stored]
    if missing or len(stored) != len(keys):
        extra = sorted(set(stored) - set(keys))
        raise UsageError(f"like does not match {path}: the file lacks {', '.join(missing) or 'nothing'}; "
                         f"like lacks {', '.join(extra) or 'nothing'}")
    values = []
    for key, (_, ref) in zip(keys, leaves):
        if np.shape(ref) != stored[key].shape:
            raise UsageError(f"{path}: {key} has shape {stored[key].shape}, like has {np.shape(ref)}")
        values.append(jax.numpy.asarray(stored[key], dtype=ref.dtype if hasattr(ref, "dtype") else None))
    params = jax.tree_util.tree_unflatten(treedef, values)
    if module is not None:
        from flax import nnx

        return nnx.merge(graphdef, params, rest)
    return params
