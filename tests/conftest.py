"""Strict JAX settings for every test: implicit rank promotion raises; float32 matmuls at full precision."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")

from learning_law import precision  # noqa: E402

# The CLI's default (full float32 matmuls on every backend), so float32 tests hold on GPUs/TPUs too.
jax.config.update("jax_default_matmul_precision", precision.DEFAULT)

from learning_law import config as C  # noqa: E402
from learning_law.tasks import build_task  # noqa: E402


@pytest.fixture(scope="session")
def tiny_task():
    """A perceptron small enough for any test (d=8, N=32)."""
    return build_task("perceptron", C.PerceptronConfig(dim=8, n_train=32, n_dev=16, n_test=16, seed=3))
