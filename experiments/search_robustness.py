"""How robust is the policy search? The default search (no outer lr) against a small fixed-lr sweep.

    python -m experiments.search_robustness --out DIR [--settings NAME,NAME] [--resume]

For each setting (a task, a preset and the changes below) the policy search runs once per fixed outer lr
of the setting's sweep (``--search fixed``, the setting's schedule) and once with the default search
(``--search auto``: no step to choose) and with ``--search apg`` (accelerated projected gradient, the
default before; no step either), all with the same outer steps, validation split and selection
(:mod:`learning_law.optimize`); each selected ``gamma.npy`` is then evaluated against the constant policy
on the test split, which no search or selection looks at. Everything lands in ``DIR/SETTING/RUN/{optimize,
evaluate}`` (resumable run by run) and ``DIR/report.md`` / ``DIR/results.json``: the best fixed-lr test
speed-up, the default search's, their seconds, the default search's accepted steps and rejected trials,
its cost per accepted step against a fixed step's, and whether any search ended with its search objective
(the dev AUC of what it returns, or of its last policy) above the constant policy's.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from experiments.stories_file import write_stories_file
from learning_law import config as C
from learning_law import record as R
from learning_law.errors import NumericalError, UsageError
from learning_law.evaluate import evaluate
from learning_law.optimize import optimize
from learning_law.tasks import build_task


@dataclasses.dataclass(frozen=True)
class Setting:
    """One row of the table: a preset, changes to it, and the fixed outer lrs to sweep."""

    name: str
    task: str
    preset: str
    fixed_lrs: tuple[float, ...]
    schedule: str = "linear"
    task_changes: dict = dataclasses.field(default_factory=dict)
    inner_changes: dict = dataclasses.field(default_factory=dict)
    outer_changes: dict = dataclasses.field(default_factory=dict)
    about: str = ""

    def preset_configs(self, data_dir: Path) -> tuple[C.Preset, object, C.InnerConfig, C.OuterConfig]:
        p = C.get_preset(self.task, self.preset)
        changes = {k: (v.replace("DATA/", f"{data_dir}/") if isinstance(v, str) else v)  # DATA: the data folder
                   for k, v in self.task_changes.items()}
        outer = dataclasses.replace(p.reproduce_outer, search="auto", outer_lr=None)  # the settings as measured
        return (p, dataclasses.replace(p.task, **changes), dataclasses.replace(p.inner, **self.inner_changes),
                dataclasses.replace(outer, **self.outer_changes))


# Around each preset's own step, a decade apart (the values that work differ 500x between settings).
SETTINGS = (
    Setting("perceptron-paper", "perceptron", "paper", (3e-4, 1e-3, 3e-3),
            about="the authors' perceptron: theta_0 ~ N(0, I), their step 1e-3 decaying linearly"),
    Setting("perceptron-paper-init0", "perceptron", "paper-init0", (0.15, 0.5, 1.5),
            about="the same with theta_0 = 0, where 1e-3 barely moves the policy"),
    Setting("perceptron-paper-dev4096", "perceptron", "paper-dev4096", (0.15, 0.5, 1.5), schedule="constant",
            about="theta_0 = 0, 4096 desired examples, constant fixed steps"),
    Setting("perceptron-cpu", "perceptron", "cpu", (0.15, 0.5, 1.5), about="N = 1024, T = 1000, 300 outer steps"),
    Setting("lm-cpu", "lm", "cpu", (0.1, 0.3, 1.0), about="the Transformer on the embedded corpus"),
    Setting("lm-cpu-tinystories-file", "lm", "cpu", (0.1, 0.3, 1.0),
            task_changes={"corpus": "tinystories:DATA/stories.txt"},
            about="the same model on a TinyStories-format .txt file (stories by the embedded grammar, seed 1, "
                  "written with <|endoftext|> separators)"),
    Setting("perceptron-paper-adam", "perceptron", "paper", (1e-4, 1e-3, 1e-2),
            inner_changes={"optimizer": "adam"}, outer_changes={"outer_steps": 50},
            about="the paper preset under Adam (inner lr 0.1), 50 outer steps: the line that ended 72x "
                  "worse than constant before"),
    Setting("perceptron-cpu-sgd", "perceptron", "cpu", (0.15, 0.5, 1.5),
            inner_changes={"optimizer": "sgd", "batch_size": 128},
            about="the cpu preset under mini-batch SGD (128 of 1024 examples per step)"),
)


def run_one(task, p: C.Preset, inner: C.InnerConfig, outer: C.OuterConfig, folder: Path, *, resume: bool,
            progress: bool, extra: dict) -> dict:
    """Optimise and evaluate one search; the row of results.json (a diverged search is a row too)."""
    opt_dir, ev_dir = folder / "optimize", folder / "evaluate"
    row = {"search": outer.search, "outer_lr": outer.outer_lr, "schedule": outer.schedule if outer.outer_lr else None}
    if (folder / "diverged.json").exists() and resume:
        return {**row, **R.read_json(folder / "diverged.json")}
    t0 = time.perf_counter()
    try:
        if resume and R.is_finished(opt_dir):
            opt = R.read_json(opt_dir / "summary.json")
        else:
            opt = optimize(task, inner, outer, opt_dir, resume=resume, progress=progress, extra_config=extra)
    except NumericalError as e:
        info = {"diverged": str(e).split(":")[0], "search_s": round(time.perf_counter() - t0, 1)}
        R.write_json(folder / "diverged.json", info)
        return {**row, **info}
    import numpy as np

    if resume and R.is_finished(ev_dir):
        ev = R.read_json(ev_dir / "summary.json")
    else:
        ev = evaluate(task, inner, np.load(opt_dir / "gamma.npy"), ev_dir, policy_name=str(opt_dir / "gamma.npy"),
                      smooth_sigma=p.smooth_sigma, progress=False, extra_config=extra, resume=resume)
    ran = opt["outer_steps_run"]
    return {**row, "speedup_test": ev["speedup"], "speedup_dev": ev["speedup_dev"],
            "auc_test_constant": ev["auc_test_constant"], "auc_test_policy": ev["auc_test_policy"],
            "auc_constant": opt["auc_constant"], "auc_selected": opt["auc_final"], "auc_last": opt["auc_last"],
            "selected_outer_step": opt["selected_outer_step"], "outer_steps_run": ran,
            "switched_to_rows": opt.get("switched_to_rows"),
            "stop_reason": opt["stop_reason"], "search_s": opt["wall_time_s"],
            "kkt_residual_last": opt.get("kkt_residual_last"),
            "s_per_outer_step": opt["seconds_per_outer_step"], "forward_trials": opt["forward_trials"],
            "rejected_trials": opt["rejected_trials"], "resumed_from": opt.get("resumed_from_outer_step", 0),
            "ended_above_start": bool(opt["auc_final"] > opt["auc_constant"]),
            "last_above_start": bool(opt["auc_last"] is None or opt["auc_last"] > opt["auc_constant"])}


def reused_rows(path: Path | None, setting: str) -> list[dict]:
    """The rows of ``setting`` in an earlier results.json. Rows written before 2026-12-02 name today's ``eg``
    ``auto`` (the same rule, then the default); they are renamed and marked."""
    if path is None:
        return []
    import json

    old = next((r for r in json.loads(Path(path).read_text()) if r["setting"] == setting), None)
    rows = []
    for row in old["runs"] if old else []:
        row = dict(row, reused_from=str(path))
        if row["search"] == "auto" and "kkt_residual_last" not in row and not row.get("rule_named"):  # pre-12-02
            row.update(search="eg", rule_named="auto when it ran")
        rows.append(row)
    return rows


def run_setting(s: Setting, out: Path, *, resume: bool, progress: bool, searches=("fixed", *C.BACKTRACKING),
                reuse: Path | None = None) -> dict:
    p, tcfg, inner, auto = s.preset_configs(out / "data")
    task = build_task(s.task, tcfg)
    old = reused_rows(reuse, s.name)
    rows = [r for r in old if r["search"] not in searches]
    extra = {"preset": p.name, "robustness_setting": s.name}
    if "fixed" in searches:
        for lr in s.fixed_lrs:
            outer = dataclasses.replace(auto, search="fixed", outer_lr=lr, schedule=s.schedule)
            rows.append(run_one(task, p, inner, outer, out / s.name / f"fixed-{lr:g}", resume=resume,
                                progress=progress, extra=extra))
    for rule in C.BACKTRACKING:  # the default (auto), one step for the whole policy (eg) and apg beside it
        if rule in searches:
            rows.append(run_one(task, p, inner, dataclasses.replace(auto, search=rule), out / s.name / rule,
                                resume=resume, progress=progress, extra=extra))
    return {"setting": s.name, "task": s.task, "preset": s.preset, "about": s.about,
            "outer_steps": auto.outer_steps, "runs": rows}


def _secs(row: dict | None) -> str:
    """Seconds of a search; '*' marks one resumed from a checkpoint (its time covers the resumed part only)."""
    if not row or row.get("search_s") is None:
        return "n/a"
    return f"{row['search_s']:.3g}" + ("*" if row.get("resumed_from") else "")


def report(results: list[dict], command: str) -> str:
    f = lambda x, d=3: "n/a" if x is None else (f"{x:.{d}g}" if isinstance(x, float) else str(x))  # noqa: E731
    lines = ["| setting | fixed outer lr: test speed-up | best fixed | default search: test speed-up | default / best "
             "| test AUC: constant, best fixed, default | seconds: best fixed, default | default: steps run "
             "(accepted), rejected trials | s per step: fixed, default (per accepted) | ended above start "
             "| apg: test speed-up, / best fixed | eg: test speed-up, / best fixed | rows: test speed-up, / best fixed |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    verdicts, apg_verdicts, eg_verdicts, rows_verdicts = [], [], [], []
    for r in results:
        fixed = [x for x in r["runs"] if x["search"] == "fixed"]
        auto = next(x for x in r["runs"] if x["search"] == "auto")
        apg = next((x for x in r["runs"] if x["search"] == "apg"), {})
        eg = next((x for x in r["runs"] if x["search"] == "eg"), {})
        rows = next((x for x in r["runs"] if x["search"] == "rows"), {})
        ok = [x for x in fixed if "speedup_test" in x]
        sweep = ", ".join(f"{x['outer_lr']:g}: " + (f"{x['speedup_test']:.2f}x" if "speedup_test" in x else
                                                    "diverged") for x in fixed)
        best = max(ok, key=lambda x: x["speedup_test"]) if ok else None
        ratio = auto["speedup_test"] / best["speedup_test"] if best and "speedup_test" in auto else None
        apg_ratio = apg["speedup_test"] / best["speedup_test"] if best and "speedup_test" in apg else None
        eg_ratio = eg["speedup_test"] / best["speedup_test"] if best and "speedup_test" in eg else None
        eg_verdicts.append(eg_ratio)
        rows_ratio = rows["speedup_test"] / best["speedup_test"] if best and "speedup_test" in rows else None
        rows_verdicts.append(rows_ratio)
        above = [f"{x['search']} {f(x['outer_lr'])}" for x in r["runs"] if x.get("ended_above_start")]
        last_above = [f"{f(x['outer_lr'])}" for x in fixed if x.get("last_above_start")]
        verdicts.append((r["setting"], ratio))
        apg_verdicts.append(apg_ratio)
        lines.append(
            f"| {r['setting']} | {sweep} | {f(best and best['speedup_test'])} (lr {f(best and best['outer_lr'])}) | "
            f"{f(auto.get('speedup_test'))} | {f(ratio, 3)} | {f(auto.get('auc_test_constant'), 4)}, "
            f"{f(best and best['auc_test_policy'], 4)}, {f(auto.get('auc_test_policy'), 4)} | "
            f"{_secs(best)}, {_secs(auto)} | {f(auto.get('outer_steps_run'))} of "
            f"{r['outer_steps']}, {f(auto.get('rejected_trials'))} | {f(best and best['s_per_outer_step'])}, "
            f"{f(auto.get('s_per_outer_step'))} | "
            f"{'**' + ', '.join(above) + '**' if above else 'none'}"
            f"{' (last policy above start, not returned: fixed ' + ', '.join(last_above) + ')' if last_above else ''} | "
            f"{f(apg.get('speedup_test'))}, {f(apg_ratio, 3)} | {f(eg.get('speedup_test'))}, {f(eg_ratio, 3)} | "
            f"{f(rows.get('speedup_test'))}, {f(rows_ratio, 3)} |")
    passed = [n for n, q in verdicts if q is not None and q >= 0.8]
    return f"""# Policy search robustness: the default search against a fixed-lr sweep

Each setting runs the policy search with each fixed outer lr of its sweep and with the default search
(no outer lr: `auto`, exponentiated gradient with backtracking for 20 outer steps, then L-BFGS on the softmax
logits), with `eg` (exponentiated gradient throughout, the default before), with `rows` (each row's step
normalised) and with `apg` (accelerated projected gradient with backtracking), the same outer steps, validation split and selection; the selected policy (`gamma.npy`) is
evaluated on the test split, which no search or selection looks at. "Ended above start" lists searches whose
returned policy has a dev AUC (the search objective) above the constant policy's; a fixed search whose *last*
policy was above it is named in brackets (selection returned an earlier one). "s per step" is the wall time
of the search divided by the outer steps it ran: for the default search one accepted step costs one
meta-gradient plus its trials' forward runs.

{chr(10).join(lines)}

(*: resumed from a checkpoint after an interruption; its seconds cover the resumed outer steps only.)

Default search at >= 80% of the best fixed-lr test speed-up: {len(passed)} of {len(verdicts)} settings
({', '.join(f'{n} {q:.3f}' if q is not None else f'{n} n/a' for n, q in verdicts)}).
The `apg` search beside it: {sum(q is not None and q >= 0.8 for q in apg_verdicts)} of {len(verdicts)}; `eg`: {sum(q is not None and q >= 0.8 for q in eg_verdicts)} of {len(verdicts)}; `rows`: {sum(q is not None and q >= 0.8 for q in rows_verdicts)} of {len(verdicts)}.
{_reuse_note(results)}

Settings:
{chr(10).join(f"- `{r['setting']}`: task {r['task']}, preset `{r['preset']}`, {r['outer_steps']} outer steps; {r['about']}." for r in results)}

Re-run: `{command}` (add `--resume` to reuse finished runs).
"""


def _reuse_note(results: list[dict]) -> str:
    paths = sorted({x["reused_from"] for r in results for x in r["runs"] if x.get("reused_from")})
    if not paths:
        return ""
    return (f"Rows taken from {', '.join(paths)} (not re-run, `--reuse`): "
            + "; ".join(f"{r['setting']}: {', '.join(sorted({x['search'] for x in r['runs'] if x.get('reused_from')}))}"
                        for r in results) + ". An `eg` row taken from a file written before 2026-12-02 ran under the "
            "name `auto`, when it was the default.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for every run, report.md and results.json")
    ap.add_argument("--settings", default="all", help=f"comma-separated names (default all): "
                                                      f"{', '.join(s.name for s in SETTINGS)}")
    ap.add_argument("--resume", action="store_true", help="reuse finished runs in --out")
    ap.add_argument("--overwrite", action="store_true", help="write into a non-empty --out folder")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    ap.add_argument("--searches", default="fixed," + ",".join(C.BACKTRACKING),
                    help="comma-separated searches to run (default all: fixed," + ",".join(C.BACKTRACKING) + ")")
    ap.add_argument("--reuse", default=None, help="an earlier results.json: its rows of the searches not run are kept")
    args = ap.parse_args(argv)
    searches = tuple(x.strip() for x in args.searches.split(",") if x.strip())
    if args.reuse and not Path(args.reuse).is_file():
        print(f"search_robustness: error: reuse={args.reuse!r} is invalid: allowed an existing results.json",
              file=sys.stderr)
        return 2
    if not searches or any(x not in ("fixed", *C.BACKTRACKING) for x in searches):
        print(f"search_robustness: error: searches={args.searches!r} is invalid: allowed fixed, "
              + ", ".join(C.BACKTRACKING), file=sys.stderr)
        return 2
    names = [s.name for s in SETTINGS]
    chosen = names if args.settings == "all" else [x.strip() for x in args.settings.split(",") if x.strip()]
    bad = [x for x in chosen if x not in names]
    if bad or not chosen:
        print(f"search_robustness: error: settings={bad or args.settings!r} is invalid: allowed {names}",
              file=sys.stderr)
        return 2
    try:
        out = R.prepare_out_dir(args.out, overwrite=args.overwrite, resume=args.resume)
    except UsageError as e:
        print(f"search_robustness: error: {e}", file=sys.stderr)
        return 2
    write_stories_file(out / "data" / "stories.txt")
    results = []
    for s in SETTINGS:
        if s.name in chosen:
            print(f"== {s.name}", file=sys.stderr, flush=True)
            results.append(run_setting(s, out, resume=args.resume, progress=not args.quiet, searches=searches,
                                       reuse=Path(args.reuse) if args.reuse else None))
            R.write_json(out / "results.json", results)  # after every setting: partial results are readable
    command = "python -m experiments.search_robustness --out " + str(args.out) + (
        f" --settings {args.settings}" if args.settings != "all" else "") + (
        f" --searches {args.searches} --reuse {args.reuse}" if args.reuse else "")
    text = report(results, command)
    R.atomic_write(out / "report.md", lambda f: f.write(text.encode()))
    print(out / "report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
