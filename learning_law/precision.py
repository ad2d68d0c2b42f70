"""Precision of float32 matrix multiplications (``jax_default_matmul_precision``).

On recent NVIDIA GPUs JAX computes float32 matmuls in TF32 by default (about 1e-3 relative error), and
on TPUs in bfloat16 passes: enough to move contributions, meta-gradients and the Learning-Law statistics.
This toolkit runs them at full float32 precision (``highest``) unless asked otherwise; every command
takes ``--matmul-precision`` and every run records the choice in its config.json (``matmul_precision``).
On CPU the three choices compute the same thing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax

from learning_law.errors import require

# highest: full float32; high: bf16_3x on TPU, TF32-like on GPU; default: the backend's fastest.
CHOICES = ("highest", "high", "default")
DEFAULT = "highest"
HELP = ("precision of float32 matmuls: highest (full float32) | high | default (the backend's fastest: "
        "TF32 on recent NVIDIA GPUs, bfloat16 passes on TPU); recorded in config.json")


def current() -> str:
    """The precision in force now (JAX's unset value is its 'default')."""
    value = jax.config.jax_default_matmul_precision
    return "default" if value is None else str(value)


@contextlib.contextmanager
def matmul_precision(name: str = DEFAULT) -> Iterator[str]:
    """Run the enclosed code (tracing included) with float32 matmuls at precision ``name``.

    JAX keys its compilation cache on this setting, so a function traced under one precision is
    recompiled under another. Yields ``name``.
    """
    require(name in CHOICES, "matmul_precision", name, f"one of {CHOICES}")
    with jax.default_matmul_precision(name):
        yield name


__all__ = ["CHOICES", "DEFAULT", "HELP", "current", "matmul_precision"]
