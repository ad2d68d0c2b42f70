"""Table 2 of the paper: grow T and N together, optimise and evaluate each size, then fit and tabulate.

    python -m experiments.sweep --task perceptron --preset cpu --factors 0.5,1,2 --out DIR [--resume]

For each factor f the preset's T (inner steps) and N (n_train) are multiplied by f (record_every and
the outer settings unchanged; ``save_every`` set so no intermediate policies are saved); each size is
written to DIR/T{T}_N{N}/optimize and .../evaluate, then :mod:`plots.table2` writes DIR/table2.md,
.json, .png and .pdf. An experiment module may define ``scale_task_config(cfg, factor)`` to grow
more than N with the size (e.g. the LM's vocabulary, as the paper's Table 2 did).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from pathlib import Path

import numpy as np

from learning_law import config as C
from learning_law import record as R
from learning_law.errors import UsageError
from learning_law.evaluate import evaluate
from learning_law.optimize import optimize
from learning_law.tasks import build_task


def scaled_preset(preset: C.Preset, factor: float, task: str) -> C.Preset:
    """The preset with T and N multiplied by ``factor`` (rounded; record_every kept below T)."""
    if not factor > 0:
        raise UsageError(f"factor={factor} is invalid: allowed > 0")
    steps = max(2, int(round(preset.inner.steps * factor)))
    n = max(2, int(round(preset.task.n_train * factor)))
    try:
        scale = importlib.import_module(f"experiments.{task}").__dict__.get("scale_task_config")
    except ImportError:
        scale = None
    tcfg = scale(preset.task, factor) if scale else dataclasses.replace(preset.task, n_train=n)
    inner = dataclasses.replace(preset.inner, steps=steps, record_every=min(preset.inner.record_every, steps))
    outer = dataclasses.replace(preset.outer, save_every=preset.outer.outer_steps)
    return dataclasses.replace(preset, name=f"{preset.name}x{factor:g}", task=tcfg, inner=inner, outer=outer)


def sweep(task: str, preset: str, factors: list[float], out: str | Path, *, resume: bool = False,
          overwrite: bool = False, progress: bool = True, n_boot: int = 100) -> list[str]:
    """Optimise + evaluate every size, then Table 2; returns the written table/figure paths."""
    from plots import table2

    base = C.get_preset(task, preset)
    sizes = [scaled_preset(base, f, task) for f in factors]  # all validated before any training
    out = R.prepare_out_dir(out, overwrite=overwrite, resume=resume)
    ev_dirs = []
    for p in sizes:
        folder = out / f"T{p.inner.steps}_N{p.task.n_train}"
        extra = {"preset": preset, "sweep_size": p.name}
        t = build_task(task, p.task)
        opt_dir, ev_dir = folder / "optimize", folder / "evaluate"
        if not (resume and R.is_finished(opt_dir)):
            optimize(t, p.inner, p.outer, opt_dir, resume=resume, progress=progress, extra_config=extra)
        if not (resume and R.is_finished(ev_dir)):
            gamma = np.load(opt_dir / "gamma.npy", mmap_mode="r")
            evaluate(t, p.inner, gamma, ev_dir, policy_name=str(opt_dir / "gamma.npy"),
                     smooth_sigma=p.smooth_sigma, progress=progress, extra_config=extra, resume=resume)
        ev_dirs.append(ev_dir)
    return table2.draw(ev_dirs, out / "table2", n_boot=n_boot)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="perceptron")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--factors", default="0.5,1,2", help="comma-separated multiples of T and N (default 0.5,1,2)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-boot", type=int, default=100)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:
        factors = [float(f) for f in args.factors.split(",") if f.strip()]
    except ValueError:
        print(f"sweep: error: factors={args.factors!r} is invalid: allowed comma-separated numbers > 0",
              file=sys.stderr)
        return 2
    try:
        paths = sweep(args.task, args.preset, factors, args.out, resume=args.resume, overwrite=args.overwrite,
                      progress=not args.quiet, n_boot=args.n_boot)
    except UsageError as e:
        print(f"sweep: error: {e}", file=sys.stderr)
        return 2
    print("\n".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
