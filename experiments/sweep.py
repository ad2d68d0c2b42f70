"""Table 2 of the paper: grow T and N together, optimise and evaluate each size, then fit and tabulate.

    python -m experiments.sweep --task perceptron --preset cpu --factors 0.5,1,2 --out DIR [--resume]
    python -m experiments.sweep --task perceptron --preset cpu --seeds 0-4 --out DIR [--resume]

For each factor f the preset's T (inner steps) and N (n_train) are multiplied by f (record_every and
the outer settings unchanged; ``save_every`` set so no intermediate policies are saved); each size is
written to DIR/T{T}_N{N}/optimize and .../evaluate, then :mod:`plots.table2` writes DIR/table2.md,
.json, .png and .pdf. An experiment module may define ``scale_task_config(cfg, factor)`` to grow
more than N with the size (e.g. the LM's vocabulary, as the paper's Table 2 did).

With ``--seeds`` (several), the whole sweep runs once per seed S into DIR/seed-S (the task config's
``seed`` replaced by S), then DIR/summary.json holds per (T, N) cell, under ``summary["T{T}_N{N}"]``,
the measured speed-up and the Eq. 9 acceleration ratios (and the coefficient changes) of every seed with
their mean, sd and Student t interval (:mod:`experiments.seed_tables`); DIR/report.md tabulates them and
DIR/figures/table2_seeds.png/.pdf draws the means with their intervals as error bars.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from experiments import seed_tables as S
from experiments.seeds import SEEDS_FORM, parse_seeds
from learning_law import config as C
from learning_law import record as R
from learning_law import xla_flags
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
          overwrite: bool = False, progress: bool = True, n_boot: int = 100, seed: int | None = None) -> list[str]:
    """Optimise + evaluate every size, then Table 2; returns the written table/figure paths.

    ``seed`` replaces the task config's seed (its data and theta_0); None keeps the preset's.
    """
    from plots import table2

    base = C.get_preset(task, preset)
    if seed is not None:
        base = dataclasses.replace(base, task=dataclasses.replace(base.task, seed=seed))
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


def cell_key(T: int, N: int) -> str:
    """The key of a (T, N) cell in summary.json, as its folder is named."""
    return f"T{T}_N{N}"


def read_cells(seed_folder: str | Path) -> dict[str, dict[str, float | None]]:
    """{cell key: {number: value}} of one seed's finished sweep, read from its table2.json: the measured
    speed-up and, per fit method m, ``ar_eq9_m`` (Eq. 9 at T), ``dB_over_B_m`` and ``dbeta_over_beta_m``
    (None where that fit failed)."""
    from plots.table2 import METHODS

    out = {}
    for r in R.read_json(Path(seed_folder) / "table2.json")["rows"]:
        nums: dict[str, float | None] = {"measured_speedup": r["measured_speedup"]}
        for m in METHODS:
            c = r["changes"][m]
            ok = "error" not in c
            nums[f"ar_eq9_{m}"] = c["ar_eq9"][0] if ok else None
            nums[f"dB_over_B_{m}"] = c["dB_over_B"] if ok else None
            nums[f"dbeta_over_beta_{m}"] = c["dbeta_over_beta"] if ok else None
        out[cell_key(r["T"], r["N"])] = nums
    return out


def sweep_seeds(task: str, preset: str, factors: list[float], seeds: tuple[int, ...], out: str | Path, *,
                resume: bool = False, overwrite: bool = False, progress: bool = True, n_boot: int = 100,
                log=None) -> list[str]:
    """:func:`sweep` once per seed into ``out/seed-S``, then summary.json, report.md and the figure with
    error bars; returns the written paths. One seed (or none) is :func:`sweep` itself into ``out``.

    With ``resume`` a seed whose table2.md exists is reused as it is; a half-finished one continues.
    """
    from plots import seed_errorbars

    base = C.get_preset(task, preset)
    if len(seeds) <= 1:
        return sweep(task, preset, factors, out, resume=resume, overwrite=overwrite, progress=progress,
                     n_boot=n_boot, seed=seeds[0] if seeds else None)
    sizes = [scaled_preset(base, f, task) for f in factors]  # a bad factor fails before any folder is made
    asked = {"kind": "sweep-seeds", "task": task, "preset": preset, "factors": factors, "n_boot": n_boot,
             "seeds": list(seeds)}
    out = S.start(out, asked, resume=resume, overwrite=overwrite)
    t0 = time.perf_counter()
    dirs, seconds = S.run_seeds(
        out, seeds, lambda s, d: sweep(task, preset, factors, d, resume=resume, progress=progress, n_boot=n_boot,
                                       seed=s),
        lambda d: (d / "table2.md").exists(), resume=resume, **({"log": log} if log else {}))
    cells = [{"key": cell_key(p.inner.steps, p.task.n_train), "T": p.inner.steps, "N": p.task.n_train}
             for p in sizes]
    summary = S.write_summary(out, {s: read_cells(d) for s, d in dirs.items()}, extra={"cells": cells})
    figs = seed_errorbars.draw_table2(summary, out / "figures" / "table2_seeds")
    text = report(task, preset, summary, out, figs, seconds, time.perf_counter() - t0)
    return [str(S.write_report(out, text)), str(out / "summary.json"), *figs]


def report(task: str, preset: str, summary: dict, out: Path, figs: list[str], seconds: dict[int, float],
           wall: float) -> str:
    """report.md of a sweep over several seeds, from its summary.json (``summary``)."""
    from plots.table2 import METHODS

    seeds = ",".join(map(str, summary["seeds"]))
    by_key = {c["key"]: c for c in summary["cells"]}
    first = (("T", lambda k: str(by_key[k]["T"])), ("N", lambda k: str(by_key[k]["N"])))
    ratios = S.table(summary, first, [("speed-up measured at T", "measured_speedup")]
                     + [(f"AR (Eq. 9 at T), {m} fits", f"ar_eq9_{m}") for m in METHODS])
    changes = S.table(summary, first, [(f"{c}, {m} fits", f"{k}_{m}") for m in METHODS
                                       for c, k in (("dB/B", "dB_over_B"), ("dbeta/beta", "dbeta_over_beta"))])
    timing = ", ".join(f"seed {s} {v:.1f} s" for s, v in seconds.items()) or "every seed reused"
    fig = Path(figs[0]).relative_to(out)
    return "\n".join([
        f"# Table 2 over seeds ({task}, preset `{preset}`, seeds {seeds})", "",
        "Each seed S is the whole sweep (`seed-S/table2.md`) with the task config's `seed` (the data and theta_0) "
        "replaced by S; T and N grow together by the factors. Numbers per (T, N) cell, keyed "
        '`summary["T{T}_N{N}"]` in summary.json.', "",
        "## Acceleration ratios", "", *ratios, "", S.interval_note(summary), "",
        "## Changes of the scaling-law coefficients (optimised against constant, as in table2.json)", "",
        *changes, "", f"![acceleration ratio over seeds]({fig})", "",
        f"*Measured speed-up and Eq. 9 acceleration ratios: the seeds' mean, error bars the {summary['level']:.0%} "
        "Student t interval of the mean over n seeds (PDF beside the PNG).*", "",
        "## Re-run", "", "```",
        f"python -m experiments.sweep --task {task} --preset {preset} --factors "
        f"{','.join(f'{f:g}' for f in R.read_json(out / 'config.json')['factors'])} --seeds {seeds} "
        f"--out {shlex.quote(str(out))} --resume", "```", "",
        f"Wall time: {wall:.1f} s ({timing}; seeds reused with --resume are not re-run).", ""])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="perceptron")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--factors", default="0.5,1,2", help="comma-separated multiples of T and N (default 0.5,1,2)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-boot", type=int, default=100)
    ap.add_argument("--seeds", default=None, help=f"task seeds: {SEEDS_FORM}; one sweep per seed in "
                    "OUT/seed-S, then the means with t intervals (default: the preset's seed)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.task == "lm":  # the CLI's XLA settings for LM runs, before JAX's backend starts
        xla_flags.apply()
    try:
        factors = [float(f) for f in args.factors.split(",") if f.strip()]
    except ValueError:
        print(f"sweep: error: factors={args.factors!r} is invalid: allowed comma-separated numbers > 0",
              file=sys.stderr)
        return 2
    try:
        seeds = parse_seeds(args.seeds) if args.seeds is not None else ()
        paths = sweep_seeds(args.task, args.preset, factors, seeds, args.out, resume=args.resume,
                            overwrite=args.overwrite, progress=not args.quiet, n_boot=args.n_boot)
    except UsageError as e:
        print(f"sweep: error: {e}", file=sys.stderr)
        return 2
    print("\n".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
