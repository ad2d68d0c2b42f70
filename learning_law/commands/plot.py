"""Draw one figure of the paper from run folders (PNG + PDF; tables also as .md/.json).

    learning-law plot NAME DIR [DIR ...] [--out STEM]

NAME and what DIR must be:
  objective, loss_curves, scaling_fits ....... an evaluate folder
  outer_progress, speedup_progress ........... an optimize folder
  sim_progress, sim_vs_cr, sim_t_vs_loss,
  zero_share_vs_cr ........................... an optimize folder after `learning-law law OPT_DIR`
  gamma_cdf, gamma_heatmap ................... a train run with records, or an evaluate folder (its policy/)
  table2 ..................................... several evaluate folders (sizes of a sweep)
Default STEM: DIR/NAME. Each figure module has more options: python -m plots.NAME --help.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from learning_law.errors import UsageError

NAME = "plot"
HELP = "draw a figure of the paper from run folders (PNG + PDF)"


def _figures() -> dict:
    from plots import FIGURES  # plots imports learning_law, never the reverse: imported here, lazily

    return FIGURES


def add_arguments(p) -> None:
    p.add_argument("name", metavar="NAME", help="figure: " + ", ".join(_figures()))
    p.add_argument("dirs", nargs="+", metavar="DIR", help="the run folder(s) the figure reads")
    p.add_argument("--out", default=None, help="output path without extension (default: DIR/NAME)")


def run(args) -> int:
    figures = _figures()
    if args.name not in figures:
        raise UsageError(f"name={args.name!r} is invalid: allowed {', '.join(figures)}")
    module, kind, _ = figures[args.name]
    dirs = [Path(d) for d in args.dirs]
    for d in dirs:
        if not d.is_dir():
            raise UsageError(f"dir={str(d)!r} is not a folder")
    if kind != "evaluates" and len(dirs) != 1:
        raise UsageError(f"figure {args.name!r} reads one folder, got {len(dirs)}")
    if kind in ("evaluate", "evaluates"):
        for d in dirs:
            if not ((d / "constant" / "summary.json").exists() and (d / "policy" / "summary.json").exists()):
                raise UsageError(f"dir={str(d)!r} is not a finished evaluate folder (constant/ and policy/)")
    if kind in ("optimize", "trajectory") and not (dirs[0] / "outer_auc.npy").exists():
        raise UsageError(f"dir={str(dirs[0])!r} is not a finished optimize folder (no outer_auc.npy)")
    if kind == "run" and not (dirs[0] / "gamma_recorded.npy").exists() and (dirs[0] / "policy").is_dir():
        dirs = [dirs[0] / "policy"]
    if kind == "run" and not (dirs[0] / "gamma_recorded.npy").exists():
        raise UsageError(f"dir={str(dirs[0])!r} is not a train run with records (no gamma_recorded.npy)")
    mod = importlib.import_module(f"plots.{module}")
    paths = mod.draw(dirs if kind == "evaluates" else dirs[0], args.out)
    print("\n".join(paths))
    return 0
