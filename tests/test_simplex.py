import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from theory.simplex import project_rows_onto_simplex


def brute_force_projection(x: np.ndarray) -> np.ndarray:
    """Try every support S; keep the feasible candidate nearest to x (float64)."""
    best, best_d = None, np.inf
    n = x.shape[0]
    for k in range(1, n + 1):
        for s in itertools.combinations(range(n), k):
            s = list(s)
            tau = (x[s].sum() - 1.0) / k
            y = np.zeros(n)
            y[s] = x[s] - tau
            if (y >= 0).all():
                d = np.sum((y - x) ** 2)
                if d < best_d:
                    best, best_d = y, d
    return best


def test_matches_brute_force_on_small_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)) * rng.choice([0.01, 1.0, 10.0], size=(200, 1))
    with jax.enable_x64(True):
        got = np.asarray(project_rows_onto_simplex(jnp.asarray(x, jnp.float64)))
    want = np.stack([brute_force_projection(r) for r in x])
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_matches_optax_on_large_rows_and_is_on_simplex():
    x = jax.random.normal(jax.random.key(1), (64, 4096)) * 1e-3 + 1 / 4096
    got = project_rows_onto_simplex(x)
    want = jax.vmap(optax.projections.projection_simplex)(x)
    np.testing.assert_allclose(got, want, atol=1e-7)
    assert (got >= 0).all()
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)


def test_fixed_points_and_shape():
    g = jnp.full((3, 4, 5), 0.2)
    np.testing.assert_allclose(project_rows_onto_simplex(g), g, atol=1e-7)
    one_hot = jnp.eye(5)
    np.testing.assert_array_equal(project_rows_onto_simplex(one_hot), one_hot)
