r"""Per-domain policies: one weight per source (domain) per step, spread evenly over that source's examples.

A task whose N train examples come from D sources (``Task.groups``: the source id g(n) in [0, D) of every
example) can be weighted per source instead of per example. A per-domain policy ``w: [T, D]`` (rows on the
simplex over the D sources) is the per-example policy

.. math:: \gamma_{t,n} = \frac{w_{t, g(n)}}{|g(n)|}, \qquad |g| = \#\{m : g(m) = g\},

whose rows are on the simplex over the N examples too (:func:`expand`). Training under ``w`` is therefore

.. math:: \theta_{t+1} = \theta_t - \eta_t \nabla_\theta \sum_d w_{t,d}\, \bar l_d(\theta_t), \qquad
          \bar l_d = \frac{1}{|g_d|} \sum_{n \in g_d} l_n,

the data-mixture form of the paper's inner run (the mixture weights of DoReMi and DoGE,
:mod:`learning_law.mixture_peers`). The chain rule through the grouping gives the meta-gradient in w from the
per-example one (:func:`domain_grad`), and :func:`grouped_task` rewrites the task so that every per-example
tool (the searches, checkpoints, the KKT certificate) runs on w unchanged: its D "examples" are the sources.

The constant policy 1/N is the per-domain policy :func:`natural_weights` (w_d = |g_d| / N), not the uniform
mixture 1/D (the two agree only when every source has as many examples).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from learning_law import policy as P
from learning_law.errors import UsageError, require
from learning_law.tasks.base import PerExampleLoss, PyTree, Task

NO_GROUPS = ("per-domain policies need the source of every train example: make_task(..., groups=) "
             "or --train-corpus")


def _check_groups(groups, d: int | None = None) -> tuple[np.ndarray, int]:
    """``(groups as int32 [N], D)``: a 1-D integer array of ids in [0, D), every source used at least once."""
    if groups is None:
        raise UsageError(NO_GROUPS)
    g = np.asarray(groups)
    if g.ndim != 1 or g.shape[0] == 0 or g.dtype.kind not in "iu":
        raise UsageError(f"groups has shape {g.shape} and dtype {g.dtype}: allowed integer source ids [N], N >= 1")
    d = int(g.max()) + 1 if d is None else d
    require(isinstance(d, (int, np.integer)) and d >= 1, "d", d, "an integer >= 1 (the number of sources)")
    if g.min() < 0 or g.max() >= d:
        raise UsageError(f"groups holds ids in [{int(g.min())}, {int(g.max())}]: allowed ids in [0, D={d})")
    sizes = np.bincount(g, minlength=d)
    if (sizes == 0).any():
        raise UsageError(f"source {int(np.argmin(sizes))} has no train example: every one of the D={d} sources "
                         "needs at least one (drop it from group_names, or renumber the ids)")
    return g.astype(np.int32), int(d)


def group_sizes(groups, d: int) -> np.ndarray:
    """``[D]`` int64: |g_d|, the number of train examples of each source.

    >>> group_sizes(np.array([0, 1, 1, 2, 1]), 3)
    array([1, 3, 1])
    """
    g, d = _check_groups(groups, d)
    return np.bincount(g, minlength=d)


def natural_weights(groups, d: int) -> np.ndarray:
    """``[D]`` float32: w_d = |g_d| / N, the per-domain policy equal to the constant policy 1/N.

    >>> natural_weights(np.array([0, 1, 1, 1]), 2)
    array([0.25, 0.75], dtype=float32)
    """
    sizes = group_sizes(groups, d)
    return (sizes / sizes.sum()).astype(np.float32)


def _check_weights(w, d: int, name: str) -> np.ndarray:
    """``w: [T, D]`` float32, rows on the simplex (:func:`learning_law.policy.validate`'s checks)."""
    w = np.asarray(w)
    if w.ndim != 2 or w.shape[1] != d or w.shape[0] == 0:
        raise UsageError(f"{name} has shape {w.shape}: expected [steps, n_sources] = [T, {d}], T >= 1")
    return P.validate(w, w.shape[0], d, name=name)


def expand(w, groups) -> np.ndarray:
    r"""The per-example policy of a per-domain one: :math:`\gamma_{t,n} = w_{t,g(n)} / |g(n)|`.

    Args:
      w: ``[T, D]`` domain weights, every row on the simplex over the D sources.
      groups: ``[N]`` int source id of every train example, in [0, D), each source used.

    Returns:
      gamma: ``[T, N]`` float32, every row on the simplex (computed in float64, rounded once).

    Raises:
      UsageError: ``w`` not ``[T, D]``, negative, non-finite or a row not summing to 1; bad ``groups``.

    >>> expand(np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([0, 1, 1]))
    array([[0.5 , 0.25, 0.25],
           [1.  , 0.  , 0.  ]], dtype=float32)
    """
    g, d = _check_groups(groups)  # D = 1 + the largest id; w must have one column per source
    w = _check_weights(w, d, "domain weights w")
    sizes = np.bincount(g, minlength=d)
    return (w.astype(np.float64)[:, g] / sizes[g]).astype(np.float32)


def expand_rows(w: Array, groups: Array, sizes: Array) -> Array:
    """:func:`expand` as a traceable function, without checks (inside jitted scans): ``w: [..., D]``,
    ``groups: [N]`` int32, ``sizes: [D]`` float -> ``[..., N]``."""
    per = jnp.take(sizes, groups)
    return jnp.take(w, groups, axis=-1) / per.reshape((1,) * (w.ndim - 1) + per.shape)


def domain_means(values: Array, groups: Array, sizes: Array) -> Array:
    """``[D]``: the mean of ``values: [N]`` over each source's examples (one ``segment_sum``)."""
    return jax.ops.segment_sum(values, groups, num_segments=sizes.shape[0]) / sizes


def domain_grad(grad_gamma, groups, d: int) -> Array:
    r"""The meta-gradient in w from the one in gamma, by the chain rule through :func:`expand`:

    .. math:: \frac{\partial AUC}{\partial w_{t,d}} = \frac{1}{|g_d|} \sum_{n \in g_d}
              \frac{\partial AUC}{\partial \gamma_{t,n}}.

    Args:
      grad_gamma: ``[T, N]`` dAUC/dgamma (e.g. :func:`learning_law.metagrad.auc_and_grad` at ``expand(w)``).
      groups: ``[N]`` int source ids in [0, d); d: the number of sources D.

    Returns:
      ``[T, D]`` dAUC/dw, in the dtype of ``grad_gamma`` (a ``jax.ops.segment_sum`` over the examples).

    >>> np.asarray(domain_grad(np.array([[1.0, 2.0, 4.0]], np.float32), np.array([0, 1, 1]), 2))
    array([[1., 3.]], dtype=float32)
    """
    g, d = _check_groups(groups, d)
    grad_gamma = jnp.asarray(grad_gamma)
    if grad_gamma.ndim != 2 or grad_gamma.shape[1] != g.shape[0]:
        raise UsageError(f"grad_gamma has shape {grad_gamma.shape}: expected [T, N] with N = len(groups) = "
                         f"{g.shape[0]}")
    sizes = jnp.asarray(np.bincount(g, minlength=d), grad_gamma.dtype)
    return jax.ops.segment_sum(grad_gamma.T, jnp.asarray(g), num_segments=d).T / sizes[None, :]


class GroupMeanLoss:
    r"""The per-example loss of :func:`grouped_task`: on the block split ``{"rows": [D, G, ...], "mask": [D, G]}``
    it returns the masked mean of the base loss over each block, ``[D]``
    (:math:`\bar l_d = \sum_j m_{d,j} l(x_{d,j}) / \sum_j m_{d,j}`); on any other split (dev, test, val) it is
    the base loss itself. The two are told apart by the pytree structure of the batch (static under jit).

    Module-level and hashable by the base loss and the block structure, so the jitted runs compile once per
    grouped task (like :class:`learning_law.tasks.custom.PerExampleLossFn`).
    """

    __slots__ = ("base", "blocks_def", "__weakref__")  # jax caches static arguments by weakref

    def __init__(self, base: PerExampleLoss, blocks_def):
        self.base, self.blocks_def = base, blocks_def

    def __call__(self, params: PyTree, batch: PyTree) -> Array:
        if jax.tree_util.tree_structure(batch) != self.blocks_def:
            return self.base(params, batch)
        mask = batch["mask"]
        d, gmax = mask.shape
        # one call of the base loss on all D * G rows: the padded rows cost compute, never weight
        flat = jax.tree_util.tree_map(lambda a: a.reshape((d * gmax,) + a.shape[2:]), batch["rows"])
        losses = self.base(params, flat).reshape(d, gmax)
        return jnp.sum(mask * losses, axis=1) / jnp.sum(mask, axis=1)

    def __hash__(self) -> int:
        return hash((GroupMeanLoss, self.base, self.blocks_def))

    def __eq__(self, other) -> bool:
        return isinstance(other, GroupMeanLoss) and self.base == other.base and self.blocks_def == other.blocks_def

    def __repr__(self) -> str:
        return f"GroupMeanLoss({self.base!r})"


def block_indices(groups, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``(index int32 [D, Gmax], mask float32 [D, Gmax])``: row d lists source d's examples in order, padded
    to Gmax = max_d |g_d| by repeating its first example (mask 0 there).

    >>> idx, mask = block_indices(np.array([1, 0, 1, 1]), 2)
    >>> idx.tolist(), mask.tolist()
    ([[1, 1, 1], [0, 2, 3]], [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    """
    g, d = _check_groups(groups, d)
    sizes = np.bincount(g, minlength=d)
    gmax = int(sizes.max())
    idx = np.empty((d, gmax), np.int32)
    mask = np.zeros((d, gmax), np.float32)
    for k in range(d):  # over the D sources, once, on the host
        members = np.flatnonzero(g == k)
        idx[k] = np.concatenate([members, np.full(gmax - members.size, members[0])])
        mask[k, :members.size] = 1.0
    return idx, mask


def grouped_task(task: Task) -> Task:
    r"""The same training problem at domain granularity: a task whose D train "examples" are the sources.

    Its train split is ``{"rows": [D, Gmax, ...], "mask": [D, Gmax]}`` (each source's examples, padded by
    repeating its first one; :func:`block_indices`) and its per-example loss on it is the source mean
    :math:`\bar l_d` (:class:`GroupMeanLoss`), so for every ``w: [T, D]``

    .. math:: \sum_d w_{t,d}\, \bar l_d(\theta) = \sum_n \mathrm{expand}(w)_{t,n}\, l_n(\theta):

    training the grouped task under ``w`` is training ``task`` under :func:`expand` (w) (the same losses to
    float32 rounding), and its meta-gradient is :func:`domain_grad` of the per-example one. Every search of
    :mod:`learning_law.optimize` thus optimises ``w`` unchanged (checkpoints, resume, the KKT certificate on
    the D sources). Its constant policy (``constant_row``, where the searches start and what their speed-ups
    are measured against) is :func:`natural_weights`, the base task's constant policy 1/N, not the uniform
    mixture 1/D.

    Cost: each step evaluates the base loss on D * Gmax rows instead of N (D * Gmax = N when the sources
    are equally large; one large source among small ones makes it up to D times N), in memory and FLOPs.
    Mini-batches (``batch_size > 0``) draw sources, not examples.

    Args:
      task: a task with ``groups`` (:func:`learning_law.api.make_task` ``groups=``).

    Returns:
      A :class:`Task` with the same name, config, dev/test/val splits, initial parameters, vocab size,
      ``symbol_probs`` and ``correct`` (these act on the unchanged splits), ``groups = arange(D)`` and the
      same ``group_names``. The train split is not sharded (``mesh=None``): D is small.

    Raises:
      UsageError: ``task.groups`` is None, or a held-out split has the block split's structure.
    """
    if task.groups is None:
        raise UsageError(NO_GROUPS)
    d = task.n_groups
    idx, mask = block_indices(task.groups, d)
    flat = jnp.asarray(idx.reshape(-1))
    rows = jax.tree_util.tree_map(lambda a: jnp.take(jnp.asarray(a), flat, axis=0).reshape(idx.shape + a.shape[1:]),
                                  task.train)
    train = {"rows": rows, "mask": jnp.asarray(mask)}
    blocks_def = jax.tree_util.tree_structure(train)
    for name in ("dev", "test", "val"):
        split = getattr(task, name)
        if split is not None and jax.tree_util.tree_structure(split) == blocks_def:
            raise UsageError(f"task.{name} has the structure of the grouped train split ({{'rows', 'mask'}}): "
                             "rename its keys so that the grouped loss can tell the splits apart")
    return dataclasses.replace(task, train=train, per_example_loss=GroupMeanLoss(task.per_example_loss, blocks_def),
                               mesh=None, groups=np.arange(d, dtype=np.int32), group_names=tuple(task.group_names),
                               constant_row=natural_weights(task.groups, d))


def stretch(w, steps: int) -> np.ndarray:
    r"""Replay a schedule found at T steps at another length by rescaling time.

    Row t' of the result is row :math:`\lfloor (t' + 1/2)\, T / \mathrm{steps} \rfloor` of ``w`` (the row at
    the same relative time, nearest by the midpoint; computed in exact integer arithmetic), so
    ``stretch(w, T) == w`` and ``stretch(w, k * T)`` repeats each row k times. Rows are copied, so they stay
    on the simplex.

    Args:
      w: ``[T, K]`` rows on the simplex: per-domain weights (K = D) or a per-example policy (K = N).
      steps: the new length T' >= 1.

    Returns:
      ``[steps, K]`` float32.

    >>> stretch(np.array([[1.0, 0.0], [0.0, 1.0]]), 4)[:, 0]
    array([1., 1., 0., 0.], dtype=float32)
    """
    require(isinstance(steps, (int, np.integer)) and not isinstance(steps, bool) and steps >= 1, "steps", steps,
            "an integer >= 1")
    w = np.asarray(w)
    if w.ndim != 2 or 0 in w.shape:
        raise UsageError(f"w has shape {w.shape}: expected a schedule [T, K] (domain weights or a policy gamma)")
    w = P.validate(w, w.shape[0], w.shape[1], name="schedule w")
    t = w.shape[0]
    rows = (2 * np.arange(steps, dtype=np.int64) + 1) * t // (2 * steps)
    return np.ascontiguousarray(w[rows])


__all__ = ["group_sizes", "natural_weights", "expand", "expand_rows", "domain_means", "domain_grad",
           "GroupMeanLoss", "block_indices", "grouped_task", "stretch"]
