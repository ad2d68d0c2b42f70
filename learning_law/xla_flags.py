"""XLA CPU settings measured faster for the language model, set by the CLI for LM runs before JAX starts.

On the LM ``cpu`` preset the meta-gradient takes 0.88-0.94 of its time under XLA's defaults with both
flags (``python benchmarks/lm_metagrad_variants.py``, item 5; benchmarks/README.md), with the same AUC and
gradient to float32 rounding. The perceptron's time is unchanged by them, and there they are not set: a
search of hundreds of backtracking outer steps amplifies the rounding differences of other dot kernels into
another final policy (the cpu preset's test speed-up 27.78x became 30.3x), so the README's perceptron
numbers keep XLA's defaults.

- ``--xla_cpu_experimental_ynn_fusion_type=individual_dot``: every dot goes to YNNPACK on its own instead of
  fused with its element-wise neighbours;
- ``--xla_cpu_multi_thread_eigen=false``: the dots left to Eigen (batched products whose contraction is the
  major axis of both operands, which YNNPACK does not take) run on one thread each. Alone they are slower;
  the whole program is faster.

The CLI calls :func:`apply` for ``--task lm``, ``reproduce lm`` and ``--policy`` an LM run's folder (as
do ``experiments/lm.py``, ``experiments/stories_file.py``, ``experiments/sweep.py --task lm`` and the LM benchmarks). XLA reads ``XLA_FLAGS``
once, when the backend starts, and aborts the process on a flag it does not know. So the flags are added only for the jaxlib versions they
were measured with (:data:`TESTED`), never over a value the user set for the same flag, and not at all with
``LEARNING_LAW_XLA_DEFAULTS=0``. They affect CPU compilations only (a GPU's programs are compiled by its own
backend).
"""

from __future__ import annotations

import os
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
