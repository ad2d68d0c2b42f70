"""Does the Learning Law hold? A verdict per claim and per task, read from reproductions over seeds.

    python -m experiments.law_verdicts R1 [R2 ...] [--out FILE.md]

Each R is a folder of ``learning-law reproduce TASK --preset P --seeds 0-4 --out R`` (its ``summary.json``:
:mod:`experiments.seeds_summary`). For every claim the cell gives the verdict, the definition it is measured
under, its control, and the mean with the 95% Student t interval over the seeds; the command beside it
re-makes the folder. The rules (a claim is judged on the interval, never on one seed):

- Theorem 3.1, equal contributions on the support: it constrains policies *near an optimum* only, so it is
  ``not testable yet`` while the KKT residual's interval lies above :data:`NEAR_OPTIMUM` (the exact
  certificate, :mod:`theory.certificate`); SIM_t at equal test loss (control b) says whether contributions
  are at least more equal than under the constant policy.
- Properties 4.1 (Fig. 8) and 4.2 (Fig. 9), under the ``paper`` definition: ``holds`` when the interval
  meets the paper's range, ``does not`` when it lies outside (``strict`` given beside, never judged: it
  measures another quantity); for 4.2, ``inside the range, not specific`` when the examples that are *not*
  well learned (control c) have a share within ``tol`` (10 points) of it: then nearly every weight of the
  window is low, and the share says nothing about well-learned examples in particular.
- Property 4.3 (redundant examples get gamma = 0): no experiment here measures it yet.
- SIM grows with CR (Fig. 3B / 7), under ``paper``: ``does not grow`` when the interval of the figure's
  growth (policy / constant, each over its own window) reaches down to 1 + tol; else ``policy effect`` when
  the interval of SIM over the constant's SIM in the *same window* (control a) lies above 1 + tol,
  ``artefact of the window`` when it lies at or below 1 + tol, and ``mostly the window, the rest
  unresolved`` when it straddles 1 + tol.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from experiments.reproduce import Experiment
from learning_law import record as R
from theory.law_measures import EFFECT_TOLERANCE

NEAR_OPTIMUM = 0.2  # a KKT residual below this: near enough a first-order optimum for Theorem 3.1 to bite


def _experiment(task: str) -> Experiment:
    import importlib

    return importlib.import_module(f"experiments.{task}").EXPERIMENT


def _ci(row: dict | None, pct: bool = False) -> str:
    if not row or row.get("mean") is None:
        return "n/a"
    f = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:.3g}")  # noqa: E731
    if row.get("ci_low") is None:
        return f"{f(row['mean'])} (n = {row.get('n', 0)})"
    return f"{f(row['mean'])} [{f(row['ci_low'])}, {f(row['ci_high'])}]"


def _meets(row: dict, band: tuple[float, float]) -> bool | None:
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if lo is None or hi is None:
        lo = hi = row.get("mean")
    if lo is None:
        return None
    return not (hi < band[0] or lo > band[1])


def _bounds(row: dict) -> tuple[float, float]:
    """(low, high) of a summary row's interval; the mean twice when it has none (one seed)."""
    if row.get("ci_low") is None or row.get("ci_high") is None:
        return row["mean"], row["mean"]
    return row["ci_low"], row["ci_high"]


def verdicts(folder: str | Path) -> dict[str, str]:
    """{claim: markdown cell} for one seeds reproduction folder."""
    folder = Path(folder)
    cfg, s = R.read_json(folder / "config.json"), R.read_json(folder / "summary.json")
    exp = _experiment(cfg["experiment"])
    law = exp.law or {}
    out = {}
    kkt, eq = s.get("kkt_residual_policy"), s.get("sim_equal_loss_paper")
    far = kkt and kkt.get("ci_low") is not None and kkt["ci_low"] > NEAR_OPTIMUM
    more = eq and eq.get("ci_low") is not None and eq["ci_low"] > 1 + EFFECT_TOLERANCE
    out["theorem"] = (f"**{'not testable yet' if far else 'testable'}**: KKT residual {_ci(kkt)} (0 at an optimum); "
                      f"SIM_t at equal test loss, policy / constant: {_ci(eq)} "
                      f"({'more equal' if more else 'not more equal'} than constant; `paper`)")
    for claim, name, strict, band in (("4.1", "zero_share_paper", "zero_share_negative_ct", law.get("zero_share")),
                                      ("4.2", "low_weight_share_paper", "low_weight_share_learned",
                                       law.get("low_weight_share"))):
        row = s.get(name) or {}
        if row.get("mean") is None:
            out[claim] = f"n/a: no example qualifies (`paper`); `strict` {_ci(s.get(strict), True)}"
            continue
        meets = None if band is None else _meets(row, band)
        word = {None: "no paper range", True: "**holds**", False: "**does not**"}[meets]
        control = (s.get("low_weight_share_not_learned_paper") or {}).get("mean")
        if claim == "4.2" and meets and control is not None and row["mean"] - control < EFFECT_TOLERANCE:
            word = "**inside the range, not specific**"  # the examples not well learned are nearly as low
        paper_range = "" if band is None else f" (the paper: {100 * band[0]:.0f}-{100 * band[1]:.0f}%)"
        ctl = (f"; among examples not well learned {_ci(s.get('low_weight_share_not_learned_paper'), True)}"
               if claim == "4.2" else "")
        out[claim] = (f"{word}: {_ci(row, True)}{paper_range}, `paper`{ctl}; `strict` {_ci(s.get(strict), True)}")
    out["4.3"] = "not measured: no experiment here varies the redundancy of the examples"
    growth, effect = s.get("sim_growth_paper") or {}, s.get("sim_effect_paper") or {}
    if effect.get("mean") is None or growth.get("mean") is None:
        out["sim"] = "n/a"
    else:
        lo, hi = _bounds(effect)
        g_lo, _ = _bounds(growth)
        above = sum(v is not None and v > 1 + EFFECT_TOLERANCE for v in effect.get("values", []))
        n = sum(v is not None for v in effect.get("values", []))
        word = ("**does not grow**" if g_lo <= 1 + EFFECT_TOLERANCE else
                "**policy effect**" if lo > 1 + EFFECT_TOLERANCE else
                "**artefact of the window**" if hi <= 1 + EFFECT_TOLERANCE else
                "**mostly the window**, the rest unresolved")
        out["sim"] = (f"{word}: SIM constant -> policy {_ci(s.get('sim_constant_paper'))} -> "
                      f"{_ci(s.get('sim_policy_paper'))} (x{_ci(growth)}); the constant policy over the same window "
                      f"{_ci(s.get('sim_constant_same_window_paper'))}, policy / it: x{_ci(effect)} (above "
                      f"{1 + EFFECT_TOLERANCE:g} on {above} of {n} seeds; `paper`)")
    return out


CLAIMS = (("theorem", "Theorem 3.1: equal contributions on the support"),
          ("4.1", "Property 4.1 (Fig. 8): CT < 0 gets gamma = 0"),
          ("4.2", "Property 4.2 (Fig. 9): well-learned examples get gamma -> 0"),
          ("4.3", "Property 4.3: redundant examples, some gamma = 0"),
          ("sim", "SIM grows with CR (Fig. 3B / 7)"))


def table(folders: list[str | Path]) -> str:
    """The markdown verdict table: one row per claim, one column per folder (task, preset, seeds)."""
    cols = []
    for f in folders:
        cfg = R.read_json(Path(f) / "config.json")
        seeds = cfg["seeds"]
        span = f"{min(seeds)}-{max(seeds)}" if seeds == list(range(min(seeds), max(seeds) + 1)) else ",".join(map(str, seeds))
        cols.append((f"{cfg['experiment']} `{cfg['preset']}`, seeds {span}",
                     f"learning-law reproduce {cfg['experiment']} --preset {cfg['preset']} --seeds {span} "
                     f"--out {shlex.quote(str(f))}", verdicts(f)))
    head = "| claim | " + " | ".join(c[0] for c in cols) + " |"
    lines = [head, "|" + " --- |" * (len(cols) + 1)]
    for key, label in CLAIMS:
        lines.append(f"| {label} | " + " | ".join(c[2][key] for c in cols) + " |")
    lines.append("| re-run | " + " | ".join(f"`{c[1]}`" for c in cols) + " |")
    cmd = "python -m experiments.law_verdicts " + " ".join(shlex.quote(str(f)) for f in folders)
    return "\n".join(lines) + f"\n\nMade by `{cmd}`; intervals: 95% Student t over the seeds.\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", help="folders of `learning-law reproduce TASK --preset P --seeds ...`")
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = ap.parse_args(argv)
    text = table(args.folders)
    print(text)
    if args.out:
        R.atomic_write(args.out, lambda f: f.write(text.encode()))


if __name__ == "__main__":
    main()
