"""Reproduction with error bars: the one-seed reproduction of :mod:`experiments.reproduce` for several seeds
of the task, then the mean, standard deviation and a 95% Student t interval of every headline number.

    learning-law reproduce perceptron --preset cpu --seeds 0-4 --out DIR
    python -m experiments.perceptron --preset cpu --seeds 0,1,2,3,4 --out DIR

Layout of ``DIR`` (several seeds; with one seed it is exactly the one-seed layout, no ``seed-S/``):

- ``config.json``  what was asked (experiment, preset, seeds);
- ``seed-S/``      a whole one-seed reproduction with the task config's ``seed`` replaced by S (its own
  ``report.md``);
- ``summary.json`` for every headline number ``{"mean", "sd", "ci_low", "ci_high", "n", "values"}`` under
  its name (:data:`experiments.seeds_summary.HEADLINE`), plus ``seeds``, ``level``, ``interval`` and, where the
  preset runs another search beside its own, ``other`` (the two compared seed by seed);
- ``figures/``     the test-loss curves as the seeds' mean with a band, and the speed-up per seed;
- ``report.md``    every headline number with its interval beside the paper's value.

Every number is read back from the seeds' files (as :func:`experiments.reproduce.report` reads them);
the statistics are :mod:`theory.intervals`. With ``resume`` a finished seed (its ``report.md`` exists) is
reused and a half-finished one continues.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Callable

from experiments.reproduce import Experiment, preset_with, reproduce
from experiments.seeds_report import report
from experiments.seeds_summary import aggregate, seed_dir
from learning_law import config as C
from learning_law import record as R
from learning_law.errors import UsageError

SEEDS_FORM = "a comma-separated list of integers >= 0 and ranges A-B, e.g. 0,1,2,3,4 or 0-4"


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` or ``"0-4"`` (or both mixed: ``"0-2,7"``) -> the seeds in the order given.

    Raises a :class:`UsageError` naming ``--seeds`` and the allowed form for anything else (a negative
    seed, a range A-B with A > B, a repeated seed, an empty item).
    """
    seeds: list[int] = []
    for item in str(text).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", item)
        if m is None or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise UsageError(f"--seeds {text!r} is invalid ({item.strip()!r}): allowed {SEEDS_FORM}")
        lo = int(m.group(1))
        seeds.extend(range(lo, int(m.group(2) if m.group(2) is not None else lo) + 1))
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise UsageError(f"--seeds {text!r} names seed(s) {', '.join(map(str, repeated))} twice: allowed "
                         f"{SEEDS_FORM}, each seed once")
    return tuple(seeds)


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def reproduce_seeds(exp: Experiment, preset: str, seeds: tuple[int, ...] | None, out: str | Path, *,
                    resume: bool = False, overwrite: bool = False, progress: bool = True, n_boot: int = 100,
                    log: Callable[[str], None] = _log, task_changes: dict | None = None) -> Path:
    """The one-seed reproduction for every seed of ``seeds`` under ``out/seed-S``, then the aggregated
    summary.json, figures and report.md; returns the path of report.md.

    ``seeds`` None or one seed: exactly :func:`experiments.reproduce.reproduce` into ``out`` (with that
    seed). ``log`` gets one line per seed: which seed of how many, and the ETA from the finished ones.
    ``task_changes`` replaces fields of the preset's task config in every seed (e.g. the corpus).
    """
    preset_with(exp, preset, task_changes)  # a bad preset or setting fails before any folder is touched
    task_changes = dict(task_changes or {})
    if not seeds or len(seeds) == 1:
        return reproduce(exp, preset, out, resume=resume, overwrite=overwrite, progress=progress, n_boot=n_boot,
                         seed=seeds[0] if seeds else None, task_changes=task_changes)
    t0 = time.perf_counter()
    out = R.prepare_out_dir(out, overwrite=overwrite, resume=resume)
    asked = {"kind": "reproduce-seeds", "experiment": exp.task, "preset": preset, "seeds": list(seeds),
             "task_changes": task_changes}
    if resume and any(out.iterdir()):  # what is there must be seeds of the same experiment and preset
        old = R.read_json(out / "config.json") if (out / "config.json").exists() else {}
        if old.get("kind") != "reproduce-seeds":
            raise UsageError(f"out={str(out)!r} is not a folder of several seeds (a one-seed reproduction?): "
                             "choose another --out")
        if (old.get("experiment"), old.get("preset")) != (exp.task, preset):
            raise UsageError(f"out={str(out)!r} holds seeds of {old.get('experiment')} --preset "
                             f"{old.get('preset')}: resume with those, or choose another --out")
        if old.get("task_changes", {}) != task_changes:
            raise UsageError(f"out={str(out)!r} holds seeds run with task settings {old.get('task_changes', {})}, "
                             f"not {task_changes}: resume with those, or choose another --out")
    for stale in ("report.md", "summary.json"):  # written again below from every seed
        (out / stale).unlink(missing_ok=True)
    R.write_json(out / "config.json", {**asked, "versions": R.versions()})

    dirs = {s: seed_dir(out, s) for s in seeds}
    todo = [s for s in seeds if not (resume and (dirs[s] / "report.md").exists())]
    seconds: dict[int, float] = {}
    for i, s in enumerate(seeds, 1):
        head = f"seed {i} of {len(seeds)} (seed={s}, {dirs[s]})"
        if s not in todo:
            log(f"{head}: finished earlier, reused")
            continue
        left = len(todo) - len(seconds)  # this seed and the ones after it still to run
        eta = (f"ETA {_duration(left * sum(seconds.values()) / len(seconds))} for {left} seed(s)" if seconds
               else "ETA after the first seed")
        log(f"{head}: running; {eta}")
        t = time.perf_counter()
        reproduce(exp, preset, dirs[s], resume=resume, progress=progress, n_boot=n_boot, seed=s,
                  task_changes=task_changes)
        seconds[s] = time.perf_counter() - t
        log(f"seed {i} of {len(seeds)} (seed={s}) done in {_duration(seconds[s])}")

    other = C.get_preset(exp.task, preset).other_outer
    R.write_json(out / "summary.json", aggregate(dirs, other_search=other.search if other is not None else None))
    summary = R.read_json(out / "summary.json")  # the report prints what the file holds
    from plots import seed_bands  # plots read run folders; imported here, as reproduce draws its figures

    figs = seed_bands.draw(out, out / "figures", paper_speedup=exp.paper.get("speedup"))
    text = report(exp, preset, summary, figs, out, seconds, time.perf_counter() - t0, task_changes)
    path = out / "report.md"
    R.atomic_write(path, lambda f: f.write(text.encode()))
    return path


def main(exp: Experiment, argv: list[str] | None = None, doc: str | None = None) -> int:
    """``python -m experiments.<name> --preset P [--seeds 0-4] --out DIR``: the command line of an experiment
    module."""
    import argparse

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="cpu", help=f"a preset of task {exp.task!r} (learning-law list-presets)")
    ap.add_argument("--seeds", default=None, help=f"seeds of the task: {SEEDS_FORM} (default: the preset's one)")
    if exp.task == "lm":
        ap.add_argument("--corpus", default=None, help="the text source in place of the preset's "
                                                       "(default | tinystories:PATH | text:PATH)")
    ap.add_argument("--out", required=True, help="folder for everything")
    ap.add_argument("--resume", action="store_true", help="reuse finished parts (and seeds) in --out")
    ap.add_argument("--overwrite", action="store_true", help="write into a non-empty --out folder")
    args = ap.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds) if args.seeds is not None else None
    except UsageError as e:
        ap.error(str(e))
    corpus = getattr(args, "corpus", None)
    print(reproduce_seeds(exp, args.preset, seeds, args.out, resume=args.resume, overwrite=args.overwrite,
                          task_changes={"corpus": corpus} if corpus is not None else None))
    return 0
