r"""Exact Euclidean projection of each row of a matrix onto the probability simplex.

.. math:: \Pi(x) = \arg\min_{y \ge 0,\ \sum_i y_i = 1} \|y - x\|_2^2 = \max(x - \tau, 0),

with :math:`\tau` the unique threshold for which the result sums to one. We find :math:`\tau` with
Michelot's algorithm (Michelot, 1986; Condat, 2016, "Fast projection onto the simplex and the l1 ball",
Alg. 2): start from the whole row as the support, set :math:`\tau = (\sum_{S} x - 1)/|S|`, drop the
entries not above :math:`\tau`, repeat. The support shrinks monotonically and the loop stops exactly
when it is the true support, so the result is exact (no tolerance), and each pass is O(N) with no
sort. ``optax.projections.projection_simplex`` sorts every row (O(N log N)); the two side by side:
``python benchmarks/projection.py`` (benchmarks/README.md, "Simplex projection").
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array


def project_rows_onto_simplex(x: Array, max_iter: int = 100) -> Array:
    """Project every row of ``x: [..., N]`` onto the probability simplex (exact).

    Args:
      x: array whose last axis is projected.
      max_iter: safety cap on Michelot passes; the support settles in far fewer (typically < 15).

    Returns:
      Array of the shape and dtype of ``x``; each row is >= 0 and sums to 1.

    >>> import jax.numpy as jnp
    >>> project_rows_onto_simplex(jnp.array([[0.5, 0.5, 2.0]])).tolist()
    [[0.0, 0.0, 1.0]]
    """
    x = jnp.asarray(x)
    shape = x.shape
    rows = x.reshape(-1, shape[-1])

    def tau_of(support: Array) -> Array:
        count = jnp.sum(support, axis=-1, keepdims=True)
        total = jnp.sum(jnp.where(support, rows, 0.0), axis=-1, keepdims=True)
        return (total - 1.0) / jnp.maximum(count, 1)

    def cond(state):
        i, _, changed = state
        return jnp.logical_and(i < max_iter, changed)

    def body(state):
        i, support, _ = state
        new = jnp.logical_and(support, rows > tau_of(support))
        return i + 1, new, jnp.any(new != support)

    support0 = jnp.ones(rows.shape, dtype=bool)
    _, support, _ = jax.lax.while_loop(cond, body, (0, support0, jnp.array(True)))
    out = jnp.maximum(rows - tau_of(support), 0.0)
    return out.reshape(shape).astype(x.dtype)
