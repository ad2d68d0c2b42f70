"""Extra CLI subcommands, one module each, registered by :mod:`learning_law.cli`.

A module here defines ``NAME`` (the subcommand), ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Raise :class:`learning_law.errors.UsageError` for bad input (exit code 2).
"""

import importlib
import pkgutil


def discover() -> dict:
    """{subcommand name: module} for every module in this package."""
    out = {}
    for info in pkgutil.iter_modules(__path__):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            out[mod.NAME] = mod
    return out
