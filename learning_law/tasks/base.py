"""The Task: everything one experiment is about, as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
from jax import Array

PyTree = Any
PerExampleLoss = Callable[[PyTree, PyTree], Array]  # (params, batch with leading axis n) -> [n]


@dataclass(frozen=True)
class Task:
    """Splits, initial parameters and the per-example loss of one experiment.

    Attributes:
      name: task name (``perceptron``, ``lm``).
      train: pytree of arrays with leading axis N (the examples the policy weights).
      dev: pytree, leading axis K: the desired data; L(theta) = mean per-example loss over it.
      test: pytree, a second draw of the desired distribution; metrics are reported on it.
      init_params: theta_0 (pytree of float32 arrays).
      per_example_loss: pure ``(params, batch) -> [n]`` in nats. A static argument of the jitted runs:
        it must be hashable, and equal only to a loss that computes the same (a function is hashed by
        identity; :func:`learning_law.api.make_task` wraps any callable, a closure or lambda too).
      vocab_size: |V| of the coded symbols (2 for binary labels), for compression ratios.
      config: the task's config dataclass.
      mesh: the device mesh the train split is sharded over (None: one device); see sharding.py.
      val: optional pytree, a third draw of the desired distribution (None: no validation split). The
        policy search selects among its policies by the AUC on it and never fits it; test stays for reporting.
      symbol_probs: optional pure ``(params, batch) -> (probs [n, S, V], symbols [n, S] int32,
        mask [n, S] bool)``: the model's predictive distribution over the |V| symbols of each of the S
        coded positions of every example, the symbols actually there and which positions are real
        (padding is not coded). ``-log probs[symbols]`` summed over the mask equals the per-example loss
        times the number of real positions (mean-token losses) or the loss itself (S = 1). Used by the
        arithmetic coder (``learning-law compress``). Module-level function, like ``per_example_loss``.
      correct: optional pure ``(params, batch) -> [n]`` float32, 1 where the model's prediction is the
        example's label (classification tasks): evaluate reports the test accuracy from it.
      groups: optional int32 ``[N]`` numpy array, the source (domain) id in ``[0, D)`` of every train
        example: per-domain policies (:mod:`learning_law.domains`) and per-source figures use it.
      group_names: the D sources' names, ``group_names[d]`` for id d (empty when ``groups`` is None).
      constant_row: optional float32 ``[N]`` on the simplex: the row of the task's conventional (constant)
        policy, where the searches start and what speed-ups are measured against; None: 1/N. A grouped task
        (:func:`learning_law.domains.grouped_task`, whose "examples" are sources) has the natural mixture.
    """

    name: str
    train: PyTree
    dev: PyTree
    test: PyTree
    init_params: PyTree
    per_example_loss: PerExampleLoss
    vocab_size: int
    config: Any
    mesh: Any = None
    symbol_probs: Callable | None = None
    val: PyTree | None = None
    correct: Callable | None = None
    groups: Any = None
    group_names: tuple = ()
    constant_row: Any = None

    @property
    def n_groups(self) -> int:
        """D, the number of sources (0 when the train examples carry no source ids)."""
        return len(self.group_names) if self.groups is not None else 0

    @property
    def n_train(self) -> int:
        return int(jax.tree_util.tree_leaves(self.train)[0].shape[0])

    @property
    def n_params(self) -> int:
        return int(sum(x.size for x in jax.tree_util.tree_leaves(self.init_params)))
