"""Reproduction with error bars: the one-seed reproduction of :mod:`experiments.reproduce` for several seeds
of the task, then the mean, standard deviation and a 95% Student t interval of every headline number.

    learning-law reproduce perceptron --preset cpu --seeds 0-4 --out DIR
    python -m experiments.perceptron --preset cpu --seeds 0,1,2,3,4 --out DIR

Layout of ``DIR`` (several seeds; with one seed it is exactly the one-seed layout, no ``seed-S/``):

- ``config.json``  what was asked (experiment, preset, seeds);
- ``seed-S/``      a whole one-seed reproduction with the task config's ``seed`` replaced by S (its own
  ``report.md``);
- ``summary.json`` for every headline number ``{"mean", "sd", "ci_low", "ci_high", "n", "values"}`` under
  its name (:data:`HEADLINE`), plus ``seeds``, ``level`` and ``interval``;
- ``figures/``     the test-loss curves as the seeds' mean with a band, and the speed-up per seed;
- ``report.md``    every headline number with its interval beside the paper's value.

Every number is read back from the seeds' files (as :func:`experiments.reproduce.report` reads them);
the statistics are :mod:`theory.intervals`. With ``resume`` a finished seed (its ``report.md`` exists) is
reused and a half-finished one continues.
"""

from __future__ import annotations

import math
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Callable

from experiments.report_text import fmt
from experiments.reproduce import Experiment, preset_with, reproduce, task_flags
from learning_law import config as C
from learning_law import record as R
from learning_law.errors import UsageError
from theory import intervals as I

LEVEL = 0.95
SEEDS_FORM = "a comma-separated list of integers >= 0 and ranges A-B, e.g. 0,1,2,3,4 or 0-4"

# (name in summary.json, label in the report, file of a seed folder, keys inside that file). The names
# that are keys of an Experiment's `paper` dict get the paper's value beside them.
HEADLINE = (
    ("speedup", "speed-up on the test loss (T / t*)", "evaluate/summary.json", ("speedup",)),
    ("speedup_dev", "speed-up on the dev loss (the split the policy was optimised on)", "evaluate/summary.json",
     ("speedup_dev",)),
    ("auc_constant", "AUC (mean dev loss over t = 0..T, nats), constant", "evaluate/summary.json",
     ("auc_constant",)),
    ("auc_policy", "AUC, optimised policy", "evaluate/summary.json", ("auc_policy",)),
    ("cr_paper_constant", "CR, paper's convention (log2|V| / mean loss), constant", "evaluate/summary.json",
     ("cr_paper_constant",)),
    ("cr_paper_policy", "CR, paper's convention, optimised", "evaluate/summary.json", ("cr_paper_policy",)),
    ("cr_bits_constant", "CR in bits (raw bits / code bits), constant", "evaluate/summary.json",
     ("cr_bits_constant",)),
    ("cr_bits_policy", "CR in bits, optimised", "evaluate/summary.json", ("cr_bits_policy",)),
    ("B_constant", "Table 1: B, constant (paper's fit)", "figures/scaling_fits.json",
     ("fits", "paper", "constant", "B")),
    ("beta_constant", "Table 1: beta, constant (paper's fit)", "figures/scaling_fits.json",
     ("fits", "paper", "constant", "beta")),
    ("B_policy", "Table 1: B, optimised (paper's fit)", "figures/scaling_fits.json",
     ("fits", "paper", "policy", "B")),
    ("beta_policy", "Table 1: beta, optimised (paper's fit)", "figures/scaling_fits.json",
     ("fits", "paper", "policy", "beta")),
    ("sim_constant", "SIM (mean_t SIM_t), constant", "evaluate/law.json", ("constant", "sim_mean")),
    ("sim_policy", "SIM, optimised", "evaluate/law.json", ("policy", "sim_mean")),
    ("zero_share_negative_ct", "share of gamma = 0 among CT < 0, optimised (property 4.1)", "evaluate/law.json",
     ("policy", "zero_share_negative_ct")),
    ("low_weight_share_learned", "share of gamma < 0.2 max gamma among well-learned examples, optimised "
     "(property 4.2)", "evaluate/law.json", ("policy", "low_weight_share_learned")),
    ("kkt_residual_constant", "KKT residual, constant", "evaluate/law.json", ("constant", "kkt_residual")),
    ("kkt_residual_policy", "KKT residual, optimised", "evaluate/law.json", ("policy", "kkt_residual")),
)


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


def seed_dir(out: str | Path, seed: int) -> Path:
    """The folder of one seed's reproduction inside ``out``."""
    return Path(out) / f"seed-{seed}"


def read_headline(folder: str | Path) -> dict[str, float | None]:
    """{name: value} of :data:`HEADLINE` read from one finished one-seed reproduction folder (None where a
    fit failed or a number is missing)."""
    folder, files, out = Path(folder), {}, {}
    for name, _, rel, keys in HEADLINE:
        if rel not in files:
            files[rel] = R.read_json(folder / rel)
        value = files[rel]
        for k in keys:
            value = value.get(k) if isinstance(value, dict) else None
        out[name] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return out


def aggregate(seed_dirs: dict[int, Path], level: float = LEVEL, other_search: str | None = None) -> dict:
    """summary.json of several seeds: for every name of :data:`HEADLINE`, ``{"mean", "sd", "ci_low",
    "ci_high", "n", "values"}`` (``values`` one per seed in the order of ``seed_dirs``, None where missing;
    the statistics over the finite ones); with ``other_search``, ``"other"``: :func:`aggregate_other`."""
    per_seed = {s: read_headline(d) for s, d in seed_dirs.items()}
    out: dict = {"seeds": list(seed_dirs), "level": level,
                 "interval": "Student t interval of the mean over seeds: mean +- t_{(1+level)/2, n-1} sd / sqrt(n)"}
    for name, *_ in HEADLINE:
        values = [per_seed[s][name] for s in seed_dirs]
        out[name] = {**I.interval(values, level)._asdict(), "values": values}
    if other_search is not None:
        out["other"] = aggregate_other(seed_dirs, other_search, level)
    return out


def aggregate_other(seed_dirs: dict[int, Path], search: str, level: float = LEVEL) -> dict:
    """The search a preset runs beside its own (``evaluate-SEARCH`` in every seed folder) against the
    preset's (``evaluate``), seed by seed: both test speed-ups and test AUCs, the ratio of the speed-ups
    (other / the preset's) and the number of seeds where the other search's policy has the lower test AUC;
    each number with its interval over the seeds."""
    def read(folder: Path, key: str) -> float | None:
        value = R.read_json(folder / "summary.json").get(key) if (folder / "summary.json").exists() else None
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    cols = {"speedup_own": [read(d / "evaluate", "speedup") for d in seed_dirs.values()],
            "speedup_other": [read(d / f"evaluate-{search}", "speedup") for d in seed_dirs.values()],
            "auc_test_own": [read(d / "evaluate", "auc_test_policy") for d in seed_dirs.values()],
            "auc_test_other": [read(d / f"evaluate-{search}", "auc_test_policy") for d in seed_dirs.values()]}
    cols["speedup_ratio"] = [o / m if o is not None and m else None
                             for o, m in zip(cols["speedup_other"], cols["speedup_own"])]
    pairs = [(o, m) for o, m in zip(cols["auc_test_other"], cols["auc_test_own"]) if o is not None and m is not None]
    return {"search": search, "lower_test_auc_seeds": sum(o < m for o, m in pairs), "compared_seeds": len(pairs),
            **{k: {**I.interval(v, level)._asdict(), "values": v} for k, v in cols.items()}}


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


# ----------------------------------------------------------------------------------------- report


# The Learning-Law rows whose paper value is a range read off a figure (Experiment.law, law_vs_paper).
LAW_RANGES = {"zero_share_negative_ct": "zero_share", "low_weight_share_learned": "low_weight_share"}


def _paper(exp: Experiment, name: str):
    """The paper's value of a headline number: a float, a (low, high) range of the Learning Law, or None."""
    if name in exp.paper:
        return exp.paper[name]
    return (exp.law or {}).get(LAW_RANGES.get(name, ""))


def _paper_cell(paper) -> str:
    if paper is None:
        return "n/a"
    if isinstance(paper, tuple):
        return f"{paper[0]:g}-{paper[1]:g}"
    return fmt(paper, 3)


def _in_out(paper, row: dict) -> str:
    """Whether the paper's value lies in the interval (for a range: whether the two overlap)."""
    lo, hi = (float("nan") if row[k] is None else row[k] for k in ("ci_low", "ci_high"))
    if isinstance(paper, tuple):
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return ""
        if hi < paper[0] or lo > paper[1]:
            gap = paper[0] - hi if hi < paper[0] else lo - paper[1]
            return f"**outside** ({100 * gap:.1f} points {'below' if hi < paper[0] else 'above'})"
        return "inside"
    where = I.inside(paper if isinstance(paper, (int, float)) else None, lo, hi)
    return {None: "", True: "inside", False: "**outside**"}[where]


def _search_name(outer: C.OuterConfig) -> str:
    if outer.search == "auto":
        return "the default search"
    how = {"constant": "", "linear": " decaying linearly"}.get(outer.schedule, f" ({outer.schedule} schedule)")
    return f"the fixed outer lr {outer.outer_lr:g}{how}"


def other_section(p: C.Preset, summary: dict) -> str:
    """Markdown: the preset's search against the one it runs beside it, over the seeds ("" without one)."""
    o = summary.get("other")
    if o is None or p.other_outer is None:
        return ""
    own, other = _search_name(p.outer), _search_name(p.other_outer)
    rows = [f"| {label} | {fmt(o[k]['mean'])} | {fmt(o[k]['sd'], 3)} | [{fmt(o[k]['ci_low'])}, "
            f"{fmt(o[k]['ci_high'])}] | {o[k]['n']} |"
            for k, label in (("speedup_own", f"test speed-up, {own} (the report's policy)"),
                             ("speedup_other", f"test speed-up, {other}"),
                             ("speedup_ratio", f"ratio, {other} / {own}"),
                             ("auc_test_own", f"test AUC, {own}"), ("auc_test_other", f"test AUC, {other}"))]
    per_seed = [f"| {seed} | " + " | ".join(fmt(o[k]["values"][i]) for k in
                                              ("speedup_own", "speedup_other", "speedup_ratio", "auc_test_own",
                                               "auc_test_other")) + " |"
                for i, seed in enumerate(summary["seeds"])]
    return f"""## The two searches over the seeds

Every seed also ran {other} (`seed-S/optimize-{o['search']}`, `seed-S/evaluate-{o['search']}`) beside
{own}. The ratio is taken seed by seed. {other[0].upper() + other[1:]}'s policy has the lower test AUC on
{o['lower_test_auc_seeds']} of {o['compared_seeds']} seeds.

| quantity | mean | sd | {summary['level']:.0%} interval | n |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}

| seed | speed-up, {own} | speed-up, {other} | ratio | test AUC, {own} | test AUC, {other} |
| --- | --- | --- | --- | --- | --- |
{chr(10).join(per_seed)}
"""


def report(exp: Experiment, preset: str, summary: dict, figs: dict[str, list[str]], out: Path,
           seconds: dict[int, float], wall: float, task_changes: dict | None = None) -> str:
    """report.md of several seeds, from summary.json (``summary``) and the seeds' report files."""
    p = C.get_preset(exp.task, preset)
    seeds, pct = summary["seeds"], f"{summary['level']:.0%}"
    rows = []
    for name, label, _, _ in HEADLINE:  # a "|" inside a cell (log2|V|) is escaped: markdown splits cells there
        r, paper, cell = summary[name], _paper(exp, name), label.replace("|", r"\|")
        rows.append(f"| {cell} | {_paper_cell(paper)} | {fmt(r['mean'])} | "
                    f"{fmt(r['sd'], 3)} | [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}] | {r['n']} | "
                    f"{_in_out(paper, r)} |")
    outside = [label for name, label, _, _ in HEADLINE if _in_out(_paper(exp, name), summary[name]).startswith("**")]
    cols = ("speedup", "speedup_dev", "auc_constant", "auc_policy")
    per_seed = [f"| {s} | {' | '.join(fmt(summary[c]['values'][i]) for c in cols)} | [report](seed-{s}/report.md) |"
                for i, s in enumerate(seeds)]
    outside_text = ("Paper values outside the interval: " + ", ".join(outside) + "." if outside
                    else "No paper value lies outside its interval.")
    law_text = ("\n\nThe Learning-Law ranges (properties 4.1 and 4.2) are read off the paper's Fig. 8 and Fig. 9; "
                "a range is \"inside\" when it overlaps the interval." if exp.law else "")
    law_text += ("\n\nTable 1's B and beta: the t interval is symmetric about the mean, so for a positive "
                 "coefficient whose fits spread widely over the seeds it can reach below 0; the per-seed values "
                 "are in summary.json.")
    law_text += ("\n\nEach seed's report has the Learning Law per saved policy (Fig. 8, Fig. 9, Fig. 3B / 7 and the "
                 "KKT residual) in its section \"The Learning Law where the paper measured it\", with what to try "
                 "where ours differ.")
    rel = lambda path: str(Path(path).relative_to(out))  # noqa: E731
    fig_md = "\n\n".join(f"![{cap}]({rel(figs[name][0])})\n\n*{cap}.*" for name, cap in (
        ("loss_band", "test loss over the seeds: the mean, with a band of mean +- 1 sd (the spread of single "
                      "runs, not the interval of the mean)"),
        ("speedup_seeds", f"speed-up on the test loss: one point per seed, their mean and its {pct} t interval"
                          + (", the paper's value dashed" if "speedup" in exp.paper else ""))))
    q = shlex.quote(str(out))
    seeds_arg = ",".join(map(str, seeds))
    timing = ", ".join(f"seed {s} {v:.1f} s" for s, v in seconds.items()) or "every seed reused"
    flags = task_flags(task_changes)
    changed = ("Replaced in the preset's task config, in every seed: "
               + ", ".join(f"`{k}` = `{v}`" for k, v in task_changes.items()) + ".\n" if task_changes else "")
    return f"""# {exp.title} (preset `{preset}`, {len(seeds)} seeds)

{p.description}
{changed}Seeds {seeds_arg}: each is the whole one-seed reproduction (`seed-S/report.md`) with the task config's
`seed` (the data and theta_0) replaced by S.

| quantity | paper | mean | sd | {pct} interval | n | paper's value |
| --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}

The interval is the Student t interval of the mean over the n seeds with a finite value:
mean +- t_(n-1) sd / sqrt(n), t the {(1 + summary['level']) / 2:.3g} quantile of Student's t with n - 1
degrees of freedom; sd is the sample standard deviation (n - 1 in the denominator). It bounds the mean over
seeds, not one run, and is wide for few seeds. "inside" / "outside": whether the paper's value lies in it.
{outside_text}
{exp.paper_source} They are for the paper's own sizes (the `paper` preset); a smaller preset is not
expected to match them.{law_text}

| seed | test speed-up | dev speed-up | AUC, constant | AUC, optimised | one-seed report |
| --- | --- | --- | --- | --- | --- |
{chr(10).join(per_seed)}

{other_section(p, summary)}
## Figures

{fig_md}

(PDF versions beside the PNGs.)

## Re-run

```
learning-law reproduce {exp.task} --preset {preset} --seeds {seeds_arg}{flags} --out {q}
# one seed S alone (the same as {q}/seed-S):
learning-law reproduce {exp.task} --preset {preset} --seeds S{flags} --out DIR
```

Wall time: {wall:.1f} s ({timing}; seeds reused with --resume are not re-run).
"""


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
