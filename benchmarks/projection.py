"""Row-wise simplex projection: ours (Michelot, no sort) vs ``vmap(optax.projections.projection_simplex)``.

Both are jitted, float32, warmed up once, then timed (median of ``--repeats`` runs) on the policy
shapes of the issue: 2000 x 4096 (the perceptron: T x N) and 4000 x 16384 (the paper's Transformer).
The input is what the outer step projects: the constant policy 1/N minus a gradient step, so part
of every row is clipped to zero. Reports the time ratio and the max abs difference of the results.

    python benchmarks/projection.py [--quick] [--repeats R] [--out FILE]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import _common
from theory.simplex import project_rows_onto_simplex

ours = jax.jit(project_rows_onto_simplex)
theirs = jax.jit(jax.vmap(optax.projections.projection_simplex))


def policy_step_input(key, rows: int, n: int) -> jax.Array:
    """``1/N - eps * g`` with g ~ N(0, 1) and eps = 1/N: about a fifth of each row projects to zero."""
    g = jax.random.normal(key, (rows, n), jnp.float32)
    return (1.0 - g) / n


def main() -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=0,
                   help="timed runs per implementation (0: 5, and 3 at 4000 x 16384 and in --quick)")
    args = p.parse_args()
    sizes = [(200, 1024), (500, 4096)] if args.quick else [(2000, 4096), (4000, 16384)]
    rows = []
    for i, (m, n) in enumerate(sizes):
        repeats = args.repeats or (3 if args.quick or m * n > 10**7 else 5)
        x = policy_step_input(jax.random.key(i), m, n)
        _common.block(x)
        t_ours = _common.time_call(lambda: ours(x), repeats=repeats)
        t_optax = _common.time_call(lambda: theirs(x), repeats=repeats)
        a, b = np.asarray(ours(x)), np.asarray(theirs(x))
        rows.append({"shape": f"{m} x {n}", "ours_s": t_ours["median_s"], "optax_s": t_optax["median_s"],
                     "optax_over_ours": t_optax["median_s"] / t_ours["median_s"],
                     "max_abs_diff": float(np.max(np.abs(a - b))),
                     "max_row_sum_err_ours": float(np.max(np.abs(a.astype(np.float64).sum(1) - 1))),
                     "zero_fraction": float(np.mean(a == 0)), "repeats": repeats})
        del x, a, b
    _common.print_table(rows, title="simplex projection of every row, float32, jitted, median of `repeats` runs "
                                    "(2-core shared CPU)")
    _common.write_result("projection", args, {"rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
