"""`learning-law reproduce`: optimise, evaluate, the Learning Law, the fits and every figure of an
experiment, and report.md with the paper's numbers beside ours (several --seeds: with intervals).

Example:
  learning-law reproduce perceptron --preset cpu --out runs/perc
"""

from __future__ import annotations

import sys

from learning_law import config as C
from learning_law.commands import common
from learning_law.errors import UsageError

NAME = "reproduce"
HELP = "optimise, evaluate, draw the figures and write report.md"


def add_arguments(p) -> None:
    p.add_argument("experiment", choices=[e for e in ("perceptron", "lm", "digits") if e in common.TASK_CLASSES],
                   help="which experiment (digits: noisy labels, no counterpart in the paper)")
    p.add_argument("--preset", default="cpu", help="cpu | paper | tiny (default: cpu)")
    p.add_argument("--seeds", default=None,
                   help="seeds of the task (data and theta_0), e.g. 0,1,2,3,4 or 0-4: one reproduction per seed "
                        "in OUT/seed-S, then mean, sd and a 95%% t interval of every number in OUT/report.md "
                        "(default: the preset's seed, one reproduction in OUT)")
    p.add_argument("--corpus", default=None,
                   help="lm only: the text source in place of the preset's (default | tinystories:PATH | text:PATH)")
    p.add_argument("--out", required=True, help="folder for everything")
    p.add_argument("--resume", action="store_true", help="reuse finished parts (and finished seeds) in --out")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    import importlib

    seeds_mod = importlib.import_module("experiments.seeds")  # experiments import learning_law: lazily
    seeds = seeds_mod.parse_seeds(args.seeds) if args.seeds is not None else None
    preset = C.get_preset(args.experiment, args.preset)
    print(f"reproduce {args.experiment} --preset {args.preset}: {preset.search_summary()}", file=sys.stderr)
    if args.corpus is not None and args.experiment != "lm":
        raise UsageError(f"--corpus is a setting of the lm task, not of {args.experiment!r}")
    experiment = importlib.import_module(f"experiments.{args.experiment}")
    changes = {"corpus": args.corpus} if args.corpus is not None else None
    report = seeds_mod.reproduce_seeds(experiment.EXPERIMENT, args.preset, seeds, args.out, resume=args.resume,
                                       overwrite=args.overwrite, progress=not args.quiet, task_changes=changes)
    print(f"report: {report}")
    return 0
