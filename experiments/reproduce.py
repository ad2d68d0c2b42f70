"""Task-generic reproduction of an experiment of the paper: optimise, evaluate, Learning Law, fits, figures,
report. ``experiments/perceptron.py`` and ``experiments/lm.py`` are thin: they give an :class:`Experiment`
(the paper's reference numbers and task-specific extras) to :func:`reproduce`.

Layout of ``OUT``:

- ``optimize/``   the policy search (``learning-law optimize``), plus ``trajectory/`` and ``trajectory.json``:
  every saved policy retrained with records and its Learning Law statistics (``learning-law law OPT_DIR``);
- ``evaluate/``   constant vs optimised runs (``learning-law evaluate``) and their ``law.json``;
- ``figures/``    every figure as PNG + PDF, Table 1 (``scaling_fits.md/.json``), the SIM-vs-CR fit
  (``sim_vs_cr.json``);
- ``report.md``   the paper's headline numbers beside ours, the figures, the commands and versions.

Every number in the report is read back from those files; only the paper's reference values (labelled
as the paper's) are typed, in the experiment modules.
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from experiments import law_vs_paper
from experiments.report_text import (CLOSE, _comparison, _interval, _law_hint, _overfit_note, _search_flags, _sim_fit_text,
                                     _sim_trend, _sizes, _sizes_note, _val_text, fmt, search_text, stop_text, verdict,
                                     which_search)
from learning_law import analysis as A
from learning_law import config as C
from learning_law import record as R
from learning_law.evaluate import evaluate
from learning_law.errors import UsageError
from learning_law.optimize import optimize
from learning_law.run_config import override
from learning_law.tasks import build_task


# (figure name, folder it reads: "opt" | "ev" | "policy", caption)
FIGURE_LIST = (
    ("objective", "ev", "Fig. 1: the objective, area under the desired-loss curve = code length"),
    ("loss_curves", "ev", "Fig. 2/5: test loss, constant vs optimised policy, speed-up from the data"),
    ("loss_curves_log", "ev", "the same, log-log"),
    ("outer_progress", "opt", "Fig. 4: AUC and compression ratio per outer step"),
    ("speedup_progress", "opt", "speed-up on the dev and test splits during the search (over-fitting)"),
    ("sim_progress", "opt", "SIM and KKT residual per outer step"),
    ("sim_vs_cr", "opt", "Fig. 3B/7: SIM vs CR with the fitted curve, asymptote and the constant policy over the same window (left: the paper's definition; right: strict)"),
    ("sim_t_vs_loss", "opt", "Fig. 6: SIM_t vs loss, one line per saved policy, coloured by CR (left: the paper's definition, test loss; right: strict, dev loss)"),
    ("zero_share_vs_cr", "opt", "Fig. 8: share of zero weights among CT < 0 vs CR (left: the paper's definition; right: strict)"),
    ("gamma_heatmap", "policy", "Fig. 10: the optimised policy for random examples with CT > 0 (left: t = 0..49, clamped at max/30 as the authors drew it; right: every recorded step)"),
    ("gamma_cdf", "policy", "Fig. 9: CDF of gamma / max gamma for well-learned examples and, as a control, the others (left: the paper's definition; right: strict)"),
    ("scaling_fits", "ev", "Fig. 11: scaling-law fits, extrapolation and the predicted acceleration ratio"),
)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """What differs between the experiments of the paper; the rest of :func:`reproduce` is generic.

    Attributes:
      task: task name (a key of ``learning_law.config.PRESETS``).
      title: heading of the report.
      paper: the paper's headline numbers, typed from the paper (../shared/PAPER.md); keys used:
        ``speedup``, ``auc_constant``, ``auc_policy``, ``cr_paper_constant``, ``cr_paper_policy``,
        ``B_constant``, ``beta_constant``, ``B_policy``, ``beta_policy`` (Table 1), ``sim_trend``
        (text). Missing keys print as n/a.
      paper_source: one sentence saying where those numbers come from.
      known_l0: task config -> the irreducible loss when known exactly (fixes L0 of the paper's fit), or None.
      overfit_hint: appended to the over-fitting note (e.g. which preset to try instead).
      law: the paper's ranges of the Learning-Law properties (:mod:`experiments.law_vs_paper`), or None;
        ``law_hint``: what to try when ours are far from them (with commands).
    """

    task: str
    title: str
    paper: dict[str, Any]
    paper_source: str
    known_l0: Callable[[Any], float | None] | None = None
    overfit_hint: str = ""
    law: dict | None = None
    law_hint: str = ""


def reproduce(exp: Experiment, preset: str, out: str | Path, *, resume: bool = False, overwrite: bool = False,
              progress: bool = True, n_boot: int = 100, seed: int | None = None,
              task_changes: dict[str, Any] | None = None) -> Path:
    """Run the whole experiment into ``out``; returns the path of report.md.

    With ``resume`` finished parts are reused (an interrupted policy search continues) and only the
    missing ones are computed. ``seed`` replaces the task config's seed (None: the preset's);
    ``task_changes`` replaces other fields of the preset's task config (e.g. ``{"corpus": "tinystories:F"}``).
    """
    p = preset_with(exp, preset, task_changes)
    if seed is not None:
        p = dataclasses.replace(p, task=dataclasses.replace(p.task, seed=seed))
    out = R.prepare_out_dir(out, overwrite=overwrite, resume=resume)
    (out / "report.md").unlink(missing_ok=True)
    clock, t0 = {}, time.perf_counter()
    task = build_task(exp.task, p.task)
    extra = {"preset": preset}
    clock["build task"] = time.perf_counter() - t0

    t = time.perf_counter()
    opt_dir = out / "optimize"
    if resume and R.is_finished(opt_dir):
        opt = R.read_json(opt_dir / "summary.json")
    else:
        opt = optimize(task, p.inner, p.reproduce_outer, opt_dir, resume=resume, progress=progress,
                       extra_config=extra)
    clock["policy search"] = time.perf_counter() - t

    t = time.perf_counter()
    ev_dir = out / "evaluate"
    if resume and R.is_finished(ev_dir):
        ev = R.read_json(ev_dir / "summary.json")
    else:
        policy = evaluated_policy(p, opt_dir)
        gamma = np.load(policy, mmap_mode="r")
        ev = evaluate(task, p.inner, gamma, ev_dir, policy_name=str(policy),
                      smooth_sigma=p.smooth_sigma, progress=progress, extra_config=extra, resume=resume)
    clock["evaluate"] = time.perf_counter() - t

    t = time.perf_counter()
    other = _other_search(p, task, out, resume=resume, progress=progress, extra=extra)
    if other is not None:
        clock[f"the other search ({other['search']}) + its evaluation"] = time.perf_counter() - t

    t = time.perf_counter()
    law = A.law_of_evaluate(ev_dir)
    if other is not None:  # the search beside it: its policy under both definitions too
        other["law"] = A.law_of_evaluate(out / other["ev_dir"])
    A.outer_trajectory(opt_dir, progress=progress)
    clock["Learning Law (trajectory of saved policies)"] = time.perf_counter() - t

    t = time.perf_counter()
    l0 = exp.known_l0(p.task) if exp.known_l0 else None
    figs = draw_figures(opt_dir, ev_dir, out / "figures", n_boot=n_boot, l0=l0)
    clock["fits and figures"] = time.perf_counter() - t

    table1 = R.read_json(out / "figures" / "scaling_fits.json")
    simfit = R.read_json(out / "figures" / "sim_vs_cr.json")
    traj = R.read_json(opt_dir / "trajectory.json")
    text = report(exp, preset, p, opt, ev, law, traj, table1, simfit, figs, out, clock,
                  time.perf_counter() - t0, l0, other, task_changes)
    path = out / "report.md"
    R.atomic_write(path, lambda f: f.write(text.encode()))
    return path


def evaluated_policy(p: C.Preset, opt_dir: Path) -> Path:
    """The policy file a reproduction evaluates: the search's selected ``gamma.npy``, or the saved policy of
    ``p.evaluate_outer_step`` (the authors' figure epoch)."""
    if p.evaluate_outer_step is None:
        return opt_dir / "gamma.npy"
    return opt_dir / "policies" / f"gamma_{p.evaluate_outer_step:05d}.npy"


def preset_with(exp: Experiment, preset: str, task_changes: dict[str, Any] | None) -> C.Preset:
    """The preset with ``task_changes`` applied to its task config; an unknown field or a None value is a
    :class:`UsageError` naming it (before any folder is touched)."""
    p = C.get_preset(exp.task, preset)
    if not task_changes:
        return p
    bad = [k for k, v in task_changes.items() if v is None]
    if bad:
        raise UsageError(f"task setting(s) {bad} of {exp.task} have no value")
    return dataclasses.replace(p, task=override(p.task, **task_changes))


def task_flags(changes: dict[str, Any] | None) -> str:
    """``task_changes`` as command-line options (`` --corpus tinystories:F``) for the report's commands."""
    return "".join(f" --{k.replace('_', '-')} {shlex.quote(str(v))}" for k, v in (changes or {}).items())


def other_outer(p: C.Preset) -> C.OuterConfig | None:
    """The search shown beside the preset's own (``p.other_outer``; None: none)."""
    return p.other_outer


def _other_search(p: C.Preset, task, out: Path, *, resume: bool, progress: bool, extra: dict) -> dict | None:
    """Optimise and evaluate with :func:`other_outer` into ``optimize-SEARCH`` / ``evaluate-SEARCH``."""
    outer = other_outer(p)
    if outer is None:
        return None
    opt_dir, ev_dir = out / f"optimize-{outer.search}", out / f"evaluate-{outer.search}"
    if resume and R.is_finished(opt_dir):
        opt = R.read_json(opt_dir / "summary.json")
    else:
        opt = optimize(task, p.inner, outer, opt_dir, resume=resume, progress=progress, extra_config=extra)
    if resume and R.is_finished(ev_dir):
        ev = R.read_json(ev_dir / "summary.json")
    else:
        ev = evaluate(task, p.inner, np.load(opt_dir / "gamma.npy", mmap_mode="r"), ev_dir,
                      policy_name=str(opt_dir / "gamma.npy"), smooth_sigma=p.smooth_sigma, progress=progress,
                      extra_config=extra, resume=resume)
    return {"search": outer.search, "outer": outer, "opt": opt, "ev": ev, "opt_dir": opt_dir.name,
            "ev_dir": ev_dir.name}


def draw_figures(opt_dir: Path, ev_dir: Path, fig_dir: Path, *, n_boot: int = 100,
                 l0: float | None = None) -> dict[str, list[str]]:
    """Every figure of :data:`FIGURE_LIST` into ``fig_dir``; {name: written paths}."""
    import importlib

    folders = {"opt": opt_dir, "ev": ev_dir, "policy": ev_dir / "policy"}
    figs = {}
    for name, src, _ in FIGURE_LIST:
        stem = fig_dir / name
        if name == "loss_curves_log":
            figs[name] = importlib.import_module("plots.loss_curves").draw(ev_dir, stem, log=True)
        elif name == "scaling_fits":
            figs[name] = importlib.import_module("plots.scaling_fits").draw(ev_dir, stem, n_boot=n_boot, l0=l0)
        else:
            figs[name] = importlib.import_module(f"plots.{name}").draw(folders[src], stem)
    return figs


# ----------------------------------------------------------------------------------------- report

def _evaluated_text(p: C.Preset, opt: dict) -> str:
    if p.evaluate_outer_step is not None:
        return (f"the saved policy of outer step {p.evaluate_outer_step}, as the authors' figures show it (the search "
                f"itself would select outer step {fmt(opt.get('selected_outer_step'))} by "
                f"{opt.get('selected_by', 'dev AUC')})")
    return f"the one with the best {opt.get('selected_by', 'dev AUC')} (outer step {fmt(opt.get('selected_outer_step'))})"


def report(exp: Experiment, preset: str, p, opt: dict, ev: dict, law: dict, traj: dict, table1: dict,
           simfit: dict, figs: dict, out: Path, clock: dict, wall: float, l0: float | None,
           other: dict | None = None, task_changes: dict[str, Any] | None = None) -> str:
    P = exp.paper
    rel = lambda path: str(Path(path).relative_to(out))  # noqa: E731
    fits = table1["fits"]["paper"]
    ch = table1["changes"].get("paper", {})
    fc, fp = fits["constant"], fits["policy"]
    paper_dB = (abs(P["B_policy"] - P["B_constant"]) / P["B_constant"]
                if "B_constant" in P and "B_policy" in P else None)
    paper_dbeta = (abs(P["beta_policy"] - P["beta_constant"]) / P["beta_constant"]
                   if "beta_constant" in P and "beta_policy" in P else None)
    sim_ours, sim_verdict = _sim_trend(traj, simfit)
    cps = traj["checkpoints"]
    rows = [
        ("speed-up on the test loss (T / t*)", P.get("speedup"), ev["speedup"], None),
        ("speed-up on the dev loss (the split the policy was optimised on)", None, ev["speedup_dev"], None),
        (f"speed-up, smoothed curves (sigma = {fmt(p.smooth_sigma)} steps)", None, ev.get("speedup_smoothed"), None),
        ("AUC (mean dev loss over t = 0..T, nats), constant", P.get("auc_constant"), ev["auc_constant"], None),
        ("AUC, optimised policy", P.get("auc_policy"), ev["auc_policy"], None),
        ("CR, paper's convention (log2|V| / mean loss), constant", P.get("cr_paper_constant"),
         ev["cr_paper_constant"], None),
        ("CR, paper's convention, optimised", P.get("cr_paper_policy"), ev["cr_paper_policy"], None),
        ("CR in bits (raw bits / code bits), constant", None, ev["cr_bits_constant"], None),
        ("CR in bits, optimised", None, ev["cr_bits_policy"], None),
        ("Table 1: B, constant (paper's fit)", P.get("B_constant"), fc.get("B"), _interval(fc, "B")),
        ("Table 1: beta, constant (paper's fit)", P.get("beta_constant"), fc.get("beta"), _interval(fc, "beta")),
        ("Table 1: B, optimised (paper's fit)", P.get("B_policy"), fp.get("B"), _interval(fp, "B")),
        ("Table 1: beta, optimised (paper's fit)", P.get("beta_policy"), fp.get("beta"), _interval(fp, "beta")),
        ("abs(dB/B) (paper's value computed from its Table 1)", paper_dB, ch.get("dB_over_B"), None),
        ("abs(dbeta/beta) (likewise)", paper_dbeta, ch.get("dbeta_over_beta"), None),
        ("acceleration ratio at T predicted by Eq. 9 (paper's fits)", None, (ch.get("ar_eq9") or [None])[0], None),
        ("acceleration ratio at T from the paper's fits with their L0 (measured: the speed-up)", None,
         (ch.get("ar_l0") or [None])[0], None),
        ("SIM (mean_t SIM_t), constant", None, law["constant"].get("sim_mean"), None),
        ("SIM, optimised", None, law["policy"].get("sim_mean"), None),
        ("share of gamma = 0 among CT < 0, optimised (property 4.1)", None,
         law["policy"].get("zero_share_negative_ct"), None),
        ("KKT residual, constant (0 = first-order optimal, 1 = as uniform weights)", None,
         law["constant"].get("kkt_residual"), None),
        ("KKT residual, optimised", None, law["policy"].get("kkt_residual"), None),
        ("share of gamma = 0 in the final policy", None, opt.get("zero_weight_share"), None),
    ]
    if "test_accuracy_constant" in ev:  # classification tasks: the final model's accuracy on the test split
        rows += [("test accuracy of theta_T, constant", None, ev["test_accuracy_constant"], None),
                 ("test accuracy of theta_T, optimised", None, ev["test_accuracy_policy"], None)]
    lines = []
    for name, paper, ours, ci in rows:
        lines.append(f"| {name} | {fmt(paper, 3) if paper is not None else 'n/a'} | {fmt(ours)}{ci or ''} | "
                     f"{verdict(paper, ours)} |")
    lines.append(f"| SIM trend over the search: constant -> final | {P.get('sim_trend', 'n/a')} | {sim_ours} | "
                 f"{sim_verdict} |")
    misses = [name for name, paper, ours, _ in rows if verdict(paper, ours).startswith("**differs")]
    if sim_verdict.startswith("**"):
        misses.append("SIM trend")
    miss_text = (f"Numbers of ours that differ from the paper's by more than {CLOSE:.0%} (either way): "
                 f"{', '.join(misses)}."
                 if misses else f"Every number with a paper value is within {CLOSE:.0%} of it."
                 if any(paper is not None for _, paper, _, _ in rows) else "")
    sim_fit_text = _sim_fit_text(simfit)
    versions = R.versions()
    q = shlex.quote(str(out))
    # A seed other than the preset's (`reproduce --seeds`): every command that builds the task names it.
    s = p.task.seed if p.task.seed != C.get_preset(exp.task, preset).task.seed else None
    seeds, seed = (f" --seeds {s}", f" --seed {s}") if s is not None else ("", "")
    flags = task_flags(task_changes)
    seeds, seed = seeds + flags, seed + flags
    commands = "\n".join([
        f"learning-law reproduce {exp.task} --preset {preset}{seeds} --out {q}",
        "# the same, step by step:",
        f"learning-law optimize --task {exp.task} --preset {preset}{seed}"
        + (f" {_search_flags(p.reference)}" if p.reference is not None else "") + f" --out {q}/optimize",
        f"learning-law evaluate --policy {q}/optimize{'' if p.evaluate_outer_step is None else f'/policies/gamma_{p.evaluate_outer_step:05d}.npy'} --out {q}/evaluate",
        f"learning-law law {q}/evaluate",
        f"learning-law law {q}/optimize",
        *([f"learning-law optimize --task {exp.task} --preset {preset}{seed} {_search_flags(other['outer'])} "
           f"--out {q}/{other['opt_dir']}",
           f"learning-law evaluate --policy {q}/{other['opt_dir']} --out {q}/{other['ev_dir']}"] if other else []),
        *[f"learning-law plot {name} {q}/{'optimize' if src == 'opt' else 'evaluate'} --out {q}/figures/{name}"
          for name, src, _ in FIGURE_LIST if name != "loss_curves_log"],
    ])
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in clock.items())
    fig_md = "\n\n".join(f"![{cap}]({rel(figs[name][0])})\n\n*{cap}.*" for name, _, cap in FIGURE_LIST)
    table1_md = (out / "figures" / "scaling_fits.md").read_text()
    l0_text = f" L0 of the paper's fit is fixed at the known irreducible loss {fmt(l0)} nats." if l0 is not None else ""
    changed = ("Replaced in the preset's task config: " + ", ".join(f"`{k}` = `{v}`" for k, v in task_changes.items())
               + ".\n" if task_changes else "")
    return f"""# {exp.title} (preset `{preset}`)

{p.description}
{changed}{which_search(p)}
Task `{exp.task}`: N = {p.task.n_train}{_sizes(p)}; inner T = {p.inner.steps}, eta = {p.inner.lr};
policy search: {search_text(p.reproduce_outer)}, at most {p.reproduce_outer.outer_steps} outer steps ({fmt(opt.get('outer_steps_run'))} run,
stop: {opt.get('stop_reason', 'n/a')}), memory `{p.reproduce_outer.memory}`; the policy evaluated is {_evaluated_text(p, opt)} ({_val_text(p)});
{len(cps)} policies of the search (outer steps {', '.join(str(c['outer_step']) for c in cps)}) retrained for the Learning Law.

{stop_text(opt, ev)}
| quantity | paper | this run | |
| --- | --- | --- | --- |
{chr(10).join(lines)}

{miss_text} {exp.paper_source}{_sizes_note(exp)} The speed-up is measured on the test split (a second draw of the desired
distribution), the AUC and CR on the dev split the policy was optimised on. Table 1 rows: the paper's
fitting procedure on the test loss, t > {fmt(table1['t_min'])}, curve smoothed with sigma =
{fmt(table1['sigma_paper'])} steps, 95% bootstrap intervals ({table1['n_boot']} resamples).{l0_text}

{_overfit_note(ev, p, exp.overfit_hint)}
{sim_fit_text}

{law_vs_paper.section(traj, law, exp.law, _law_hint(exp, other), other=other)}
{_comparison(p, opt, ev, other)}
## Table 1: scaling-law fits (both methods)

{table1_md}
## Figures

{fig_md}

(PDF versions beside the PNGs.)

## Re-run

```
{commands}
```

Wall time: {wall:.1f} s ({timing}; parts reused with --resume are not re-run).
Policy search: {fmt(opt.get('wall_time_s'))} s ({fmt(opt.get('seconds_per_outer_step'))} s per outer step).

Versions: {", ".join(f"{k} {v}" for k, v in versions.items())}.
"""

