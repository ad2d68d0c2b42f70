"""A task from the user's own model and data (DESIGN.md "Task"): :func:`make_task`.

The jitted runs take the per-example loss as a *static* argument, i.e. they hash it and compile once per
distinct value. :class:`PerExampleLossFn` wraps whatever the user gives (a plain function, a closure, a
lambda, a callable object that is not hashable, an NNX module's loss, a Linen ``apply``) into one object
hashed and compared by the *identity* of the wrapped parts: the task holds it, so every run of the task
reuses the compiled code, and two tasks made from the same function share it too.

Every check here runs before any training: the splits' leading axes, empty splits, NaN/inf in the data,
parameters that are not floating point, and a loss that does not return one value per example (traced
with :func:`jax.eval_shape` on two examples, which costs no FLOPs).
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from learning_law.errors import UsageError
from learning_law.tasks.base import PyTree, Task

KINDS = ("pytree", "nnx", "linen")


class PerExampleLossFn:
    """``(params, batch) -> [n]`` over a pytree of arrays, built from the user's ``loss``.

    kind ``pytree``: ``loss(params, batch)``; ``nnx``: ``loss(nnx.merge(graphdef, params, rest), batch)``
    (``rest``: the module's non-parameter state, held fixed); ``linen``: ``loss(model, batch)`` with
    ``model(*a, **k) = apply(params, *a, **k)``. Hash and equality use the identity of ``loss`` and
    ``rest``, the (hashable) ``graphdef`` and ``apply``: never the arrays' values.
    """

    __slots__ = ("fn", "kind", "graphdef", "rest", "apply", "__weakref__")  # jax caches by weakref

    def __init__(self, fn: Callable, kind: str = "pytree", graphdef: Any = None, rest: Any = None,
                 apply: Callable | None = None):
        self.fn, self.kind, self.graphdef, self.rest, self.apply = fn, kind, graphdef, rest, apply

    def __call__(self, params: PyTree, batch: PyTree) -> jax.Array:
        if self.kind == "nnx":
            from flax import nnx

            return self.fn(nnx.merge(self.graphdef, params, self.rest), batch)
        if self.kind == "linen":
            return self.fn(partial(self.apply, params), batch)
        return self.fn(params, batch)

    def _key(self) -> tuple:
        return (id(self.fn), self.kind, self.graphdef, id(self.rest), self.apply)

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other) -> bool:
        return (isinstance(other, PerExampleLossFn) and self.fn is other.fn and self.rest is other.rest
                and (self.kind, self.graphdef, self.apply) == (other.kind, other.graphdef, other.apply))

    def __repr__(self) -> str:
        return f"PerExampleLossFn({describe(self.fn)}, kind={self.kind!r})"


def describe(fn: Callable) -> str:
    """A readable name of a function for config.json: ``module.qualname``."""
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"


def _nnx_module(params) -> bool:
    nnx = sys.modules.get("flax.nnx")  # a user with an NNX module has imported flax: no import here
    return nnx is not None and isinstance(params, nnx.Module)


def split_params(loss: Callable, params, apply: Callable | None) -> tuple[PerExampleLossFn, PyTree]:
    """The wrapped loss and theta_0 as a pytree of arrays (an NNX module's ``nnx.Param`` values as a
    plain nested dict; its other state, e.g. RNG counters, stays in the wrapper and is not trained)."""
    if _nnx_module(params):
        if apply is not None:
            raise UsageError("apply= is for a Flax Linen model.apply; with an NNX module as params, leave it out")
        from flax import nnx

        graphdef, state, rest = nnx.split(params, nnx.Param, ...)
        return PerExampleLossFn(loss, "nnx", graphdef, rest), nnx.to_pure_dict(state)
    if apply is not None:
        if not callable(apply):
            raise UsageError(f"apply={apply!r} is invalid: allowed a Flax Linen model.apply (callable) or None")
        return PerExampleLossFn(loss, "linen", apply=apply), params
    return PerExampleLossFn(loss), params


def _dtype(a) -> np.dtype:
    return np.dtype(a.dtype) if hasattr(a, "dtype") else np.asarray(a).dtype


def _rows(split: PyTree, name: str, optional: bool = False) -> int | None:
    """Examples in ``split``: the shared leading axis of its leaves, checked, or a UsageError naming it."""
    if split is None:
        if optional:
            return None
        raise UsageError(f"{name} is missing: give a pytree of arrays with the examples on the leading axis")
    leaves = jax.tree_util.tree_flatten_with_path(split)[0]
    if not leaves:
        raise UsageError(f"{name} holds no arrays: give a pytree of arrays with the examples on the leading axis")
    sizes = {}
    for path, leaf in leaves:
        shape = np.shape(leaf)
        if not shape:
            raise UsageError(f"{name}{jax.tree_util.keystr(path)} is a scalar: every leaf needs a leading "
                             "example axis")
        sizes[jax.tree_util.keystr(path)] = shape[0]
    if len(set(sizes.values())) > 1:
        rows = ", ".join(f"{name}{k}: {v}" for k, v in sizes.items())
        raise UsageError(f"{name}: the leaves disagree on the leading (example) axis ({rows}); every leaf "
                         "of a split needs the same number of rows")
    n = next(iter(sizes.values()))
    if n == 0:
        raise UsageError(f"{name} is empty (0 examples): every split needs at least one")
    for path, leaf in leaves:
        # checked where the array lives (a large split on an accelerator is not copied to the host)
        if np.issubdtype(_dtype(leaf), np.inexact) and not bool(jnp.all(jnp.isfinite(leaf))):
            ok = jnp.isfinite(jnp.asarray(leaf)).reshape(n, -1).all(axis=1)
            row = int(jnp.argmax(~ok))
            raise UsageError(f"{name}{jax.tree_util.keystr(path)} holds NaN/inf (first in example {row}): "
                             "clean or drop those examples")
    return n


def _check_params(params: PyTree) -> None:
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    if not leaves:
        raise UsageError("params holds no arrays: give the model's initial parameters (a pytree of float arrays)")
    for path, leaf in leaves:
        dtype = _dtype(leaf)
        if not np.issubdtype(dtype, np.floating):
            raise UsageError(f"params{jax.tree_util.keystr(path)} has dtype {dtype}: every parameter is "
                             "trained by gradients, so it must be a float array")
        if not np.all(np.isfinite(np.asarray(leaf))):
            raise UsageError(f"params{jax.tree_util.keystr(path)} holds NaN/inf")


def _check_loss(loss_fn: PerExampleLossFn, params: PyTree, split: PyTree, name: str, n: int,
                arg: str = "loss") -> None:
    """``arg`` (the loss, or ``correct``) on ``min(2, n)`` examples of ``split`` must give a vector of that
    length (shape only): float for the loss, float/int/bool for ``correct``."""
    k = min(2, n)
    head = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct((k,) + np.shape(a)[1:], _dtype(a)), split)
    spec = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), _dtype(a)), params)
    try:
        out = jax.eval_shape(loss_fn, spec, head)
    except Exception as e:  # noqa: BLE001 - any failure of the user's function is reported with its cause
        raise UsageError(f"{arg} failed on a batch of {k} {name} examples ({type(e).__name__}: {e})") from e
    shape, dtype = getattr(out, "shape", None), getattr(out, "dtype", None)
    kinds = (np.floating,) if arg == "loss" else (np.floating, np.integer, np.bool_)
    if shape != (k,) or dtype is None or not any(np.issubdtype(dtype, t) for t in kinds):
        what = "one float loss" if arg == "loss" else "one 0/1 value"
        raise UsageError(f"{arg} must return {what} per example: shape ({k},) for a batch of {k} "
                         f"{name} examples, got {shape if shape is not None else type(out).__name__} "
                         f"{dtype if dtype is not None else ''}".rstrip()
                         + " (do not average over the batch; the policy weighs each example)")


def _check_config(config) -> None:
    """config.json must hold it: a dict or a dataclass of JSON-able values."""
    import json

    from learning_law import record as R
    from learning_law.run_config import asdict

    try:
        json.dumps(R._jsonable(asdict(config)))
    except (TypeError, ValueError) as e:
        raise UsageError(f"config is invalid: allowed a dict or a dataclass of JSON-able values ({e})") from None


def parse_groups(groups, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """``(ids int32 [n], names)`` of a ``groups=`` argument (see :func:`make_task`).

    >>> parse_groups(["web", "books", "web"], 3)
    (array([0, 1, 0], dtype=int32), ('web', 'books'))
    """
    arr = np.asarray(groups)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise UsageError(f"groups has shape {arr.shape}: allowed one source per train example, shape [{n}]")
    if arr.dtype.kind in "US":
        names = tuple(dict.fromkeys(str(x) for x in arr))
        index = {name: i for i, name in enumerate(names)}
        return np.array([index[str(x)] for x in arr], np.int32), names
    if arr.dtype.kind not in "iu":
        raise UsageError(f"groups has dtype {arr.dtype}: allowed source names (strings) or integer ids in [0, D)")
    d = int(arr.max()) + 1 if n else 0
    if arr.min() < 0 or len(np.unique(arr)) != d:
        raise UsageError(f"groups={np.unique(arr).tolist()} is invalid: allowed integer ids 0..D-1, each used")
    return arr.astype(np.int32), tuple(str(i) for i in range(d))


def make_task(
    loss: Callable,
    params,
    train: PyTree,
    dev: PyTree,
    *,
    test: PyTree | None = None,
    val: PyTree | None = None,
    apply: Callable | None = None,
    vocab_size: int = 2,
    name: str = "custom",
    config: Any = None,
    devices: int = 1,
    correct: Callable | None = None,
    groups=None,
) -> Task:
    """A :class:`Task` from a per-example loss, initial parameters and data splits.

    Args:
      loss: the per-example loss in nats, one value per example (never the batch mean). Its first
        argument depends on ``params``: a pytree of arrays -> ``loss(params, batch)``; an ``nnx.Module``
        -> ``loss(module, batch)``; a Linen variables dict with ``apply=model.apply`` -> ``loss(model,
        batch)`` where ``model(x) = apply(variables, x)``. Any callable: a closure or lambda is fine.
      params: theta_0: a pytree of float arrays, an ``nnx.Module`` (its ``nnx.Param`` values are trained)
        or a Linen variables dict.
      train, dev: pytrees of arrays (dicts, tuples, one array), examples on the leading axis. The policy
        weighs the N train examples; the objective is the mean loss over dev.
      test: where metrics are reported (speed-up); default: ``dev``.
      val: optional third split from the desired distribution; the policy search selects on it.
      apply: a Flax Linen ``model.apply`` (see ``loss``).
      vocab_size: |V| of the coded symbols (2 for binary labels); only compression ratios use it.
      name: the task's name in config.json.
      config: a dict (or a dataclass) of JSON-able values describing the task, stored in config.json
        (default: the name, the loss's name and kind, the split sizes and the parameter count).
      devices: split the train examples over this many devices (:mod:`learning_law.sharding`).
      correct: optional ``(model, batch) -> [n]``, 1 where the prediction is the label (same first
        argument as ``loss``); with it, ``evaluate`` reports each run's final test accuracy.
      groups: optional source (domain) of every train example, ``[N]``: strings (the source names, ids
        given in order of first appearance) or integers in ``[0, D)`` (names ``"0"``, ``"1"``, ...).
        Per-domain policies (``--policy-granularity domain``, :mod:`learning_law.domains`) and the
        per-source figures use it.

    Raises:
      UsageError naming the argument, before any training: splits whose leaves disagree on the leading
      axis, an empty split, NaN/inf in the data or params, non-float params, a loss that fails or does
      not return shape ``[n]`` on a batch of ``n = 2``.
    """
    if not callable(loss):
        raise UsageError(f"loss={loss!r} is invalid: allowed a function (params, batch) -> [n]")
    if not (isinstance(vocab_size, int) and vocab_size >= 2):
        raise UsageError(f"vocab_size={vocab_size!r} is invalid: allowed an integer >= 2")
    if not (isinstance(name, str) and name):
        raise UsageError(f"name={name!r} is invalid: allowed a non-empty string")
    if config is not None:
        _check_config(config)
    if correct is not None and not callable(correct):
        raise UsageError(f"correct={correct!r} is invalid: allowed None or a function (params, batch) -> [n]")
    loss_fn, params = split_params(loss, params, apply)
    correct_fn = None if correct is None else PerExampleLossFn(correct, loss_fn.kind, loss_fn.graphdef,
                                                                 loss_fn.rest, loss_fn.apply)
    _check_params(params)
    params = jax.tree_util.tree_map(jnp.asarray, params)
    test_is_dev = test is None
    test = dev if test_is_dev else test
    sizes = {}
    for split_name, split in (("train", train), ("dev", dev), ("test", test), ("val", val)):
        sizes[split_name] = _rows(split, split_name, optional=split_name == "val")
        if split is not None:
            _check_loss(loss_fn, params, split, split_name, sizes[split_name])
            if correct_fn is not None:
                _check_loss(correct_fn, params, split, split_name, sizes[split_name], arg="correct")
    group_ids, group_names = (None, ()) if groups is None else parse_groups(groups, sizes["train"])
    to_device = partial(jax.tree_util.tree_map, jnp.asarray)
    desc = {"name": name, "loss": describe(loss), "kind": loss_fn.kind, "test_is_dev": test_is_dev,
            **{f"n_{k}": v for k, v in sizes.items()},
            "n_params": int(sum(np.size(x) for x in jax.tree_util.tree_leaves(params))),
            **({"sources": list(group_names)} if group_names else {})}
    task = Task(name=name, train=to_device(train), dev=to_device(dev), test=to_device(test), init_params=params,
                per_example_loss=loss_fn, vocab_size=vocab_size, config=desc if config is None else config,
                val=None if val is None else to_device(val), correct=correct_fn, groups=group_ids,
                group_names=group_names)
    if devices != 1:
        from learning_law.sharding import example_mesh, shard_task

        task = shard_task(task, example_mesh(devices))
    return task
