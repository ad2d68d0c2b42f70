"""report.md of a reproduction over several seeds: every headline number with its interval beside the
paper's value (a Learning-Law range counts as inside when it overlaps the interval), the seeds' own numbers,
the search the preset runs beside its own compared seed by seed, the figures and the commands.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path

from experiments.report_text import fmt, which_search
from experiments.reproduce import Experiment, task_flags
from experiments.seeds_summary import HEADLINE
from learning_law import config as C
from theory import intervals as I

# The Learning-Law rows whose paper value is a range read off a figure (Experiment.law, law_vs_paper): only those
# measured as the paper measured it (the `paper` definition); the `strict` rows measure another quantity.
LAW_RANGES = {"zero_share_paper": "zero_share", "low_weight_share_paper": "low_weight_share"}


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


def _at_bound_text(summary: dict) -> str:
    """The sentence naming the seeds left out of Table 1's rows (fit with L0 on a bound); "" when none."""
    left = {label: summary[name].get("at_bound") for name, label, *_ in HEADLINE if summary[name].get("at_bound")}
    if not left:
        return ""
    items = "; ".join(f"{label.split(': ', 1)[-1]}: seed{'s' if len(v) > 1 else ''} {', '.join(map(str, v))}"
                      for label, v in left.items())
    return (" Left out of those rows (n counts the rest), because the seed's fit put L0 on a bound of its range "
            f"(‡ in its report: Eq. 8 does not describe that curve, and B and beta absorb it): {items}.")


def _search_name(outer: C.OuterConfig) -> str:
    if outer.search == "auto":
        return "the default search"
    if outer.search == "apg":
        return "the `apg` search"
    how = {"constant": "", "linear": " decaying linearly"}.get(outer.schedule, f" ({outer.schedule} schedule)")
    return f"the fixed outer lr {outer.outer_lr:g}{how}"


def _below_one(o: dict, seeds: list, own: str, other: str) -> str:
    """A loud sentence naming the seeds where a search's test speed-up is below 1 ("" when none)."""
    parts = []
    for key, name in (("speedup_own", own), ("speedup_other", other)):
        slow = [str(s) for s, v in zip(seeds, o[key]["values"]) if v is not None and v < 1]
        if slow:
            parts.append(f"{name} on seed{'s' if len(slow) > 1 else ''} {', '.join(slow)}")
    if not parts:
        return ""
    return (" **Slower than constant training on held-out data** (test speed-up below 1: the policy never "
            f"reaches the constant run's final test loss): {'; '.join(parts)}.")


def other_section(p: C.Preset, summary: dict) -> str:
    """Markdown: the preset's search against the one it runs beside it, over the seeds ("" without one)."""
    o = summary.get("other")
    if o is None or p.other_outer is None or not o["compared_seeds"]:  # no seed ran the other search
        return ""
    own, other = _search_name(p.reproduce_outer), _search_name(p.other_outer)
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
{o['lower_test_auc_seeds']} of {o['compared_seeds']} seeds.{_below_one(o, summary['seeds'], own, other)}

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
                 "are in summary.json." + _at_bound_text(summary))
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
{changed}{which_search(p)}
Seeds {seeds_arg}: each is the whole one-seed reproduction (`seed-S/report.md`) with the task config's
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
