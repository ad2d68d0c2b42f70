"""Error bars over seeds for the tables of :mod:`experiments.sweep` and :mod:`experiments.online_policies`.

Both experiments run their one-seed version into ``DIR/seed-S`` for every seed S (the task config's
``seed`` replaced by S), read each seed's numbers back from its own output and hand them to
:func:`summarize`: for every entry of the table (a (T, N) cell, a policy) and every number of it,
``{"mean", "sd", "ci_low", "ci_high", "n", "values"}`` (:func:`theory.intervals.interval`, the Student t
interval of the mean over the seeds). This module holds what the two share: the seed loop with resume,
the folder checks, the statistics and the markdown cells.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

from experiments.seeds_summary import seed_dir
from learning_law import record as R
from learning_law.errors import UsageError
from theory import intervals as I

LEVEL = 0.95
INTERVAL = ("Student t interval of the mean over n seeds: mean +- t_{(1+level)/2, n-1} sd / sqrt(n), "
            "sd the sample standard deviation (n - 1 in the denominator)")

Value = float | None
PerSeed = Mapping[int, Mapping[str, Mapping[str, Value]]]  # seed -> entry -> number name -> value


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _number(x) -> Value:
    """A finite-or-not float, or None for anything that is not a number (a missing value, a bool)."""
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def stats(values: Sequence[Value], level: float = LEVEL) -> dict:
    """``{"mean", "sd", "ci_low", "ci_high", "n", "values"}`` of ``values: [S]`` (one per seed, None where a
    seed has no value; the statistics over the finite ones, :func:`theory.intervals.interval`)."""
    vals = [_number(v) for v in values]
    return {**I.interval(vals, level)._asdict(), "values": vals}


def summarize(per_seed: PerSeed, level: float = LEVEL) -> dict:
    """summary.json of several seeds: ``summary[entry][name]`` = :func:`stats` over the seeds.

    Args:
      per_seed: ``{seed: {entry: {name: value}}}``, the numbers each seed's own output holds.
      level: coverage of the interval.

    Returns:
      ``{"seeds": [...], "level", "interval", "entries": [entry, ...]}`` plus one dict per entry; an entry
      or a number missing in a seed counts as None there (left out of its statistics, ``n`` says so).
    """
    seeds = list(per_seed)
    entries: list[str] = []
    names: dict[str, list[str]] = {}
    for rows in per_seed.values():  # order of first appearance: the table's order
        for entry, numbers in rows.items():
            if entry not in names:
                entries.append(entry)
                names[entry] = []
            names[entry] += [k for k in numbers if k not in names[entry]]
    out: dict = {"seeds": seeds, "level": level, "interval": INTERVAL, "entries": entries}
    for entry in entries:
        out[entry] = {k: stats([per_seed[s].get(entry, {}).get(k) for s in seeds], level) for k in names[entry]}
    return out


def differences(per_seed: PerSeed, reference: str, names: Sequence[str]) -> dict:
    """Paired differences seed by seed: ``{seed: {entry: {name: value - reference's value}}}`` for every entry
    but ``reference`` (None where either is missing). Their interval is the paired comparison: the seeds'
    shared data cancel, so it is narrower than comparing two intervals."""
    out: dict = {}
    for s, rows in per_seed.items():
        ref = rows.get(reference, {})
        out[s] = {e: {k: (None if _number(v.get(k)) is None or _number(ref.get(k)) is None
                          else _number(v[k]) - _number(ref[k])) for k in names}
                  for e, v in rows.items() if e != reference}
    return out


def cell(row: Mapping, digits: int = 3) -> str:
    """One markdown cell: ``mean ± sd [ci_low, ci_high]`` (``n/a`` where a seed had no value: n < 2 leaves
    sd and the interval undefined, never zero; fewer finite seeds than seeds is said with ``n = k``)."""
    from plots.common import fmt

    if row["n"] == 0:
        return "n/a"
    text = f"{fmt(row['mean'], digits)} ± {fmt(row['sd'], 2)} [{fmt(row['ci_low'], digits)}, {fmt(row['ci_high'], digits)}]"
    return text if row["n"] == len(row["values"]) else f"{text} (n = {row['n']})"


def table(summary: Mapping, first: Sequence[tuple[str, Callable[[str], str]]],
          columns: Sequence[tuple[str, str]]) -> list[str]:
    """Markdown lines of a table with one row per entry of ``summary``: the ``first`` columns (header, a
    function of the entry) then one :func:`cell` per (header, number name) of ``columns``."""
    head = [h for h, _ in first] + [h for h, _ in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in summary["entries"]:
        cells = [f(e) for _, f in first] + [cell(summary[e][k]) if k in summary[e] else "n/a" for _, k in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def interval_note(summary: Mapping) -> str:
    """The sentence every seeds report carries under its tables."""
    return (f"Each cell: mean ± sd over the seeds, then the {summary['level']:.0%} Student t interval of the mean "
            f"over n seeds (n = {len(summary['seeds'])} unless the cell says fewer: a seed without the number is "
            "left out), mean +- t_(n-1) sd / sqrt(n) (`theory.intervals.interval`). It bounds the mean over seeds, "
            "not one run, and is wide for few seeds.")


def start(out: str | Path, asked: dict, *, resume: bool, overwrite: bool) -> Path:
    """Prepare the folder of several seeds and write its config.json (``asked``, with a ``kind``).

    With ``resume`` the folder must hold seeds of the same ``asked`` settings, else a UsageError says what
    is there; the aggregated summary.json and report.md are removed (they are written again from every seed).
    """
    out = R.prepare_out_dir(out, overwrite=overwrite, resume=resume)
    if resume and any(out.iterdir()):
        old = R.read_json(out / "config.json") if (out / "config.json").exists() else {}
        old = {k: old.get(k) for k in asked if k != "seeds"}
        if old != {k: v for k, v in asked.items() if k != "seeds"}:
            raise UsageError(f"out={str(out)!r} holds another run ({old}), not seeds of {asked}: resume with "
                             "its settings, or choose another --out")
    for stale in ("report.md", "summary.json"):
        (out / stale).unlink(missing_ok=True)
    R.write_json(out / "config.json", {**asked, "versions": R.versions()})
    return out


def run_seeds(out: Path, seeds: Sequence[int], one_seed: Callable[[int, Path], object],
              finished: Callable[[Path], bool], *, resume: bool,
              log: Callable[[str], None] = _log) -> tuple[dict[int, Path], dict[int, float]]:
    """``one_seed(seed, out/seed-S)`` for every seed, skipping (with ``resume``) those ``finished`` says are.

    Returns ``({seed: folder}, {seed: seconds})``, seconds only for the seeds run now. ``log`` gets one line
    per seed: which of how many, and whether it was reused.
    """
    dirs = {s: seed_dir(out, s) for s in seeds}
    seconds: dict[int, float] = {}
    for i, s in enumerate(seeds, 1):
        head = f"seed {i} of {len(seeds)} (seed={s}, {dirs[s]})"
        if resume and finished(dirs[s]):
            log(f"{head}: finished earlier, reused")
            continue
        log(f"{head}: running")
        t = time.perf_counter()
        one_seed(s, dirs[s])
        seconds[s] = time.perf_counter() - t
        log(f"seed {i} of {len(seeds)} (seed={s}) done in {seconds[s]:.1f} s")
    return dirs, seconds


def write_summary(out: Path, per_seed: PerSeed, extra: Mapping | None = None, level: float = LEVEL) -> dict:
    """Write ``out/summary.json`` (:func:`summarize`, plus the keys of ``extra``) and return what the file
    holds (the report prints it)."""
    R.write_json(out / "summary.json", {**summarize(per_seed, level), **(extra or {})})
    return R.read_json(out / "summary.json")


def write_report(out: Path, text: str) -> Path:
    """``out/report.md``, written atomically; returns its path."""
    path = out / "report.md"
    R.atomic_write(path, lambda f: f.write(text.encode()))
    return path
