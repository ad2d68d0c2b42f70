"""The ``learning-law`` command line: a thin layer over the library (one option = one config field).

Each command is a module of :mod:`learning_law.commands` (``NAME``, ``HELP``, ``add_arguments``, ``run``);
the options they share are in :mod:`learning_law.commands.common`. Usage errors (bad option values, files,
folders) print one line and exit with code 2, before any long computation; a run that diverges exits with
code 3 naming the step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from learning_law import precision as PR
from learning_law import xla_flags as XF
from learning_law.commands import discover
from learning_law.commands.list_presets import reproduce_time  # noqa: F401  (re-exported)
from learning_law.errors import NumericalError, UsageError

# The run commands first in `learning-law --help`, then the others in alphabetical order.
FIRST = ("train", "optimize", "evaluate", "reproduce", "list-presets")
MODULES = discover()
COMMANDS = {name: mod.run for name, mod in MODULES.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="learning-law",
        description="Optimal learning policies: train under gamma[T, N], search gamma, evaluate the speed-up.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in [*FIRST, *sorted(set(MODULES) - set(FIRST))]:
        mod = MODULES[name]
        mod.add_arguments(sub.add_parser(name, help=mod.HELP, description=mod.__doc__,
                                         formatter_class=argparse.RawDescriptionHelpFormatter))
    for p in sub.choices.values():  # one option of every command, applied in main()
        p.add_argument("--matmul-precision", default=PR.DEFAULT, choices=PR.CHOICES, help=PR.HELP)
    return parser


def _join_processes() -> bool:
    """Join the multi-process run the environment describes (LEARNING_LAW_COORDINATOR, set by a cluster
    job or by ``learning-law launch``); jax is imported only then. Before any JAX computation."""
    import os

    from learning_law.distributed import ENV_COORDINATOR

    if not os.environ.get(ENV_COORDINATOR):
        return False
    from learning_law.distributed import initialize_from_env

    return initialize_from_env()


def _is_writer() -> bool:
    from learning_law.distributed import is_writer

    return is_writer()


def _runs_the_lm(args: argparse.Namespace) -> bool:
    """Whether the command runs the LM: ``--task lm``, ``reproduce lm``, or ``--policy`` an LM run's folder."""
    if getattr(args, "task", None) == "lm" or getattr(args, "experiment", None) == "lm":
        return True
    cfg = Path(str(getattr(args, "policy", None) or "")) / "config.json"
    try:
        return cfg.is_file() and json.loads(cfg.read_text()).get("task") == "lm"
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.perf_counter()
    try:
        if _runs_the_lm(args):  # before JAX's backend starts (it reads XLA_FLAGS once); see learning_law/xla_flags.py
            XF.apply()
        if args.command != "launch" and _join_processes() and hasattr(args, "quiet"):
            args.quiet = args.quiet or not _is_writer()  # one progress bar: process 0's
        with PR.matmul_precision(args.matmul_precision):
            code = COMMANDS[args.command](args)
    except UsageError as e:
        print(f"learning-law {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (NumericalError, FloatingPointError) as e:  # FloatingPointError: theory's non-finite curves
        print(f"learning-law {args.command}: numerical error: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"learning-law {args.command}: interrupted after {time.perf_counter() - t0:.0f} s; "
              "finished work is kept (optimize: continue with --resume)", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
