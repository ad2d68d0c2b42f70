"""XLA CPU settings measured faster for the language model, set by the CLI for LM runs before JAX starts.

With both flags the LM's meta-gradient is faster, with the same AUC and gradient to float32 rounding. The
perceptron's time is unchanged by them, and there they are not set: a search of hundreds of backtracking
outer steps amplifies the rounding differences of other dot kernels into another final policy. The
measurements, with their commands (``python benchmarks/lm_metagrad_variants.py``): benchmarks/README.md and
docs/scale.md ("XLA CPU flags for the LM").

- ``--xla_cpu_experimental_ynn_fusion_type=individual_dot``: every dot goes to YNNPACK on its own instead of
  fused with its element-wise neighbours;
- ``--xla_cpu_multi_thread_eigen=false``: the dots left to Eigen (batched products whose contraction is the
  major axis of both operands, which YNNPACK does not take) run on one thread each. Alone they are slower;
  the whole program is faster.

From Python, :func:`learning_law.api.lm_task` calls :func:`apply_for_lm`: :func:`apply` while JAX's backend
has not started yet (importing jax, flax or learning_law does not start it; the first computation or device
query does), else a warning saying what to do.

The CLI calls :func:`apply` for ``--task lm``, ``reproduce lm`` and ``--policy`` an LM run's folder (as
do ``experiments/lm.py``, ``experiments/stories_file.py``, ``experiments/sweep.py --task lm`` and the LM benchmarks). XLA reads ``XLA_FLAGS``
once, when the backend starts, and aborts the process on a flag it does not know. So the flags are added only for the jaxlib versions they
were measured with (:data:`TESTED`), never over a value the user set for the same flag, and not at all with
``LEARNING_LAW_XLA_DEFAULTS=0``. They affect CPU compilations only (a GPU's programs are compiled by its own
backend).
"""

from __future__ import annotations

import os
import sys
import warnings
from importlib import metadata
from typing import MutableMapping

from learning_law.errors import require

CPU_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=individual_dot", "--xla_cpu_multi_thread_eigen=false")
TESTED = ((0, 10), (0, 11))  # jaxlib [0.10, 0.11): the versions these flags exist in and were measured with
OPT_OUT = "LEARNING_LAW_XLA_DEFAULTS"


def _jaxlib_version() -> tuple[int, int] | None:
    try:
        major, minor = metadata.version("jaxlib").split(".")[:2]
        return int(major), int(minor)
    except (metadata.PackageNotFoundError, ValueError):
        return None


def apply(environ: MutableMapping[str, str] | None = None, version: tuple[int, int] | None = None) -> list[str]:
    """Add :data:`CPU_FLAGS` to ``XLA_FLAGS`` in ``environ`` (default ``os.environ``); returns those added.

    Call it before the first JAX computation (the backend reads the variable when it starts).
    """
    env = os.environ if environ is None else environ
    require(env.get(OPT_OUT, "1") in ("0", "1"), OPT_OUT, env.get(OPT_OUT), "0 (XLA's defaults) or 1 (the default)")
    version = _jaxlib_version() if version is None else version
    if env.get(OPT_OUT, "1") == "0" or version is None or not TESTED[0] <= version < TESTED[1]:
        return []
    current = env.get("XLA_FLAGS", "").split()
    names = {f.split("=")[0] for f in current}
    added = [f for f in CPU_FLAGS if f.split("=")[0] not in names]
    if added:
        env["XLA_FLAGS"] = " ".join(current + added)
    return added


def backend_started() -> bool:
    """Whether JAX's backend has started (it read ``XLA_FLAGS`` then; a change now has no effect).
    False while jax is not even imported; nothing is imported or started here."""
    xb = sys.modules.get("jax._src.xla_bridge")
    if xb is None:
        return False
    started = getattr(xb, "backends_are_initialized", None)
    return bool(started()) if callable(started) else bool(getattr(xb, "_backends", None))


def apply_for_lm(what: str = "lm_task") -> list[str]:
    """:func:`apply` if it can still take effect; returns the flags added.

    Once JAX's backend has started, ``XLA_FLAGS`` is left as it is (a change would not take effect, only
    mislead) and, when the flags are missing and the backend is the CPU, a ``UserWarning`` names ``what``
    and says what to do: call :func:`apply` (or ``what``) before the first JAX computation, or start
    Python with the flags in ``XLA_FLAGS``. Nothing is said on a GPU/TPU backend (the flags are for CPU
    compilations) or with ``LEARNING_LAW_XLA_DEFAULTS=0``.
    """
    if not backend_started():
        return apply()
    missing = apply(dict(os.environ))  # a dry run on a copy: what apply() would add
    if missing:
        import jax

        if jax.default_backend() == "cpu":
            warnings.warn(
                f"{what}: JAX's backend has already started, so the LM's XLA CPU flags ({' '.join(missing)}; "
                "the LM's meta-gradient in 0.88-0.94 of the time, learning_law/xla_flags.py) cannot take effect "
                f"in this process: call learning_law.xla_flags.apply() or {what} before the first JAX "
                f"computation, or start Python with XLA_FLAGS=\"{' '.join(missing)}\"; "
                f"{OPT_OUT}=0 keeps XLA's defaults and silences this", UserWarning, stacklevel=3)
    return []
