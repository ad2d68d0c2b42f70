"""Online, unroll-free policies against constant training and the optimised policy (issue 9).

    python -m experiments.online_policies --out DIR [--preset paper] [--optimized OPT_DIR]
    python -m experiments.online_policies --out DIR --seeds 0-4 [--optimized 'OPT_{seed}'] [--resume]

Trains, on the same task and theta_0: the constant policy, every online policy of
:mod:`learning_law.online` (``equalize`` and the baselines ``loss``, ``dropneg``, ``greedy``), and, with
``--optimized``, the policy found by ``learning-law optimize`` (OPT_DIR/gamma.npy). Writes one run
record per policy under DIR, then DIR/online_policies.json and DIR/report.md with, per policy: the
speed-up on the test loss and on the dev loss (theory.speedup_ratio against the constant run), the AUC
(dev and test), the wall-clock cost relative to constant training, and Learning-Law statistics at the
recorded steps (paper Section 4.4-4.5): SIM, the coefficient of variation of CT on the support, and
the share of gamma = 0 among the examples with CT < 0.

With ``--seeds`` (several), the whole comparison runs once per seed S into DIR/seed-S (the task config's
``seed`` replaced by S; ``--optimized`` then names one policy per seed with ``{seed}`` in its path), then
DIR/summary.json holds, under ``summary[policy][number]`` (``number`` as in online_policies.json, e.g.
``summary["online:equalize"]["speedup_test"]``), every seed's value with their mean, sd and Student t
interval (:mod:`experiments.seed_tables`); DIR/report.md shows the test and dev numbers side by side and
DIR/figures/policies_seeds.png/.pdf the speed-ups with their intervals as error bars.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path

import numpy as np

import theory
from experiments import seed_tables as S
from experiments.seeds import SEEDS_FORM, parse_seeds
from learning_law import config as C
from learning_law import online as O
from learning_law import policy as P
from learning_law import record as R
from learning_law.errors import UsageError
from learning_law.inner import lr_schedule
from learning_law.tasks import build_task
from learning_law.train import train

TARGET_FRACTION, TARGET_COST = 0.5, 1.5  # issue 9: half the optimised speed-up at <= 1.5x the time


def law_stats(gamma: np.ndarray, ct: np.ndarray, record_steps: np.ndarray, dev_loss: np.ndarray,
              etas: np.ndarray, until_loss: float | None) -> dict:
    """Learning-Law statistics of a run at its recorded steps (:func:`theory.law.law_table`).

    SIM (paper Section 4.4), the coefficient of variation of CT on the support and the share of gamma = 0
    among the examples with CT < 0 (Property 4.1), averaged over the recorded steps before the run
    reaches ``until_loss`` (the constant policy's final dev loss), as in the paper's analysis.
    """
    _, run = theory.law.law_table(gamma, ct, record_steps, dev_loss, etas, until_loss=until_loss)
    pick = lambda key: run.get(f"{key}_until", run.get(key))  # noqa: E731
    return {"sim": pick("sim_mean"), "cv_ct_support": pick("ct_cv_support"),
            "zero_share_neg": pick("zero_share_negative_ct"), "support_share": run.get("support_fraction")}


def _row(name: str, run: dict, const: dict, cost: float, cost_note: str, etas: np.ndarray) -> dict:
    test = theory.speedup_ratio(const["test_loss"], run["test_loss"])
    dev = theory.speedup_ratio(const["dev_loss"], run["dev_loss"])
    return {"policy": name, "speedup_test": test["speedup"], "speedup_dev": dev["speedup"],
            "auc_dev": run["summary"]["auc"], "auc_test": run["summary"]["auc_test"],
            "final_test_loss": run["summary"]["final_test_loss"], "cost_vs_constant": cost,
            "cost_note": cost_note, **law_stats(run["gamma_recorded"], run["ct"], run["record_steps"], run["dev_loss"], etas,
                         float(const["dev_loss"][-1]))}


def run(preset: str, out: str | Path, optimized: str | None = None, seed: int | None = None,
        progress: bool = True, hparams: dict | None = None, task_name: str = "perceptron",
        everies: tuple[int, ...] = (1,)) -> Path:
    """Train every policy into ``out`` and write the table; returns the path of report.md."""
    p = C.get_preset(task_name, preset)
    task_cfg = p.task if seed is None else dataclasses.replace(p.task, seed=seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    task = build_task(task_name, task_cfg)
    inner = p.inner
    etas = lr_schedule(inner.steps, inner.lr, inner.warmup_steps)
    extra = {"preset": preset, "experiment": "online_policies"}
    t0 = time.perf_counter()
    const = train(task, P.constant(inner.steps, task.n_train), inner, out=out / "constant", progress=progress,
                  desc="constant", extra_config=extra)
    rows = [_row("constant", const, const, 1.0, "reference", etas)]
    for every in everies:
        for name in O.POLICIES:
            hp = {**(hparams or {}).get(name, {}), **({"every": every} if every != 1 else {})}
            label = O.PREFIX + name + (f":every={every}" if every != 1 else "")
            folder = out / (f"online_{name}" + (f"_every{every}" if every != 1 else ""))
            res = O.train_online(task, name, inner, out=folder, progress=progress, extra_config=extra, **hp)
            s = res["summary"]
            # Steady-state time per step over constant training's, both measured in the same process.
            rows.append(_row(label, res, const, s["time_ratio_vs_constant"], "per step, compiled", etas))
            rows[-1]["wall_time_s"] = s["wall_time_s"]
            rows[-1]["hparams"] = s["hparams"]
    opt_info = None
    if optimized:
        gamma, label = P.resolve(optimized, inner.steps, task.n_train)
        res = train(task, gamma, inner, out=out / "optimized", policy_name=label, progress=progress,
                    desc="optimized", extra_config=extra)
        opt_sum = Path(optimized) / "summary.json"
        search = R.read_json(opt_sum).get("wall_time_s") if opt_sum.exists() else None
        # Its training costs a constant run; finding it cost the whole search (outer loop).
        cost = (search + const["summary"]["wall_time_s"]) / const["summary"]["wall_time_s"] if search else None
        rows.append(_row("optimized", res, const, cost, "search + training", etas))
        opt_info = {"path": label, "search_wall_time_s": search}
    rows[0]["wall_time_s"] = const["summary"]["wall_time_s"]
    verdict = _verdict(rows)
    data = {"task": task_name, "preset": preset, "task_config": C.asdict(task_cfg), "inner": C.asdict(inner), "rows": rows,
            "optimized": opt_info, "law_stats_source": _law_source(), "target": verdict,
            "wall_time_s": round(time.perf_counter() - t0, 2)}
    R.write_json(out / "online_policies.json", data)
    report = out / "report.md"
    text = _report(data)
    R.atomic_write(report, lambda f: f.write(text.encode()))
    return report


def _law_source() -> str:
    return ("theory.law.law_table: SIM_t = weighted mean of CT on the support / its standard deviation there; "
            "CV = that standard deviation / |weighted mean|; averages over the recorded steps before the run "
            "reaches the constant policy's final dev loss")


def _verdict(rows: list[dict]) -> dict | None:
    opt = next((r for r in rows if r["policy"] == "optimized"), None)
    if opt is None:
        return None
    out = {}
    for split in ("test", "dev"):
        need = TARGET_FRACTION * opt[f"speedup_{split}"]
        ok = [r["policy"] for r in rows if r["policy"].startswith(O.PREFIX)
              and r[f"speedup_{split}"] >= need and r["cost_vs_constant"] <= TARGET_COST]
        out[split] = {"needed_speedup": need, "max_cost": TARGET_COST, "policies_meeting_target": ok}
    return out


def worse_than_constant(rows: list[tuple[str, float | None, float | None]]) -> list[str]:
    """Markdown lines that flag every policy whose test speed-up is below 1 (it ends above the constant
    run's final test loss), with its dev speed-up beside it; no lines when there is none.

    ``rows``: (policy, test speed-up, dev speed-up); for several seeds, their means.
    """
    bad = [(n, t, d) for n, t, d in rows if n != "constant" and t is not None and t < 1]
    if not bad:
        return []
    items = "; ".join(f"{n}: test {_f(t)}x (dev {_f(d)}x)" for n, t, d in bad)
    fits_dev = [n for n, _, d in bad if d is not None and d > 1]
    one = len(fits_dev) == 1
    why = (f" {', '.join(fits_dev)} {'is' if one else 'are'} faster than constant on the dev loss: "
           f"{'it fits' if one else 'they fit'} the desired examples seen through CT rather than their "
           "distribution." if fits_dev else "")
    return [f"**Worse than the constant policy on held-out data:** {items}. A test speed-up below 1 means "
            "the policy never reaches the constant run's final test loss (the ratio is then the step at which the "
            f"constant run reaches the policy's final loss, over T).{why} On this setting, constant training "
            f"is the better choice than {'this policy' if len(bad) == 1 else 'these policies'}.", ""]


def _f(x, digits=3):
    return "n/a" if x is None else f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def _report(data: dict) -> str:
    size = (f"d = {data['task_config']['dim']}, " if "dim" in data["task_config"] else
            f"seq_len = {data['task_config'].get('seq_len')}, |V| = {data['task_config'].get('vocab_size')}, ")
    lines = [f"# Online policies vs constant and optimised ({data['task']}, preset {data['preset']})", "",
             f"{size}N = {data['task_config']['n_train']}, "
             f"T = {data['inner']['steps']}, eta = {data['inner']['lr']}, task seed {data['task_config']['seed']}.",
             "Speed-up = T / t* against the constant run (theory.speedup_ratio), on the test loss (held-out draw "
             "of the desired distribution) and on the dev loss (the data the policies see through CT; optimistic). "
             "AUC = mean loss over t = 0..T (nats). Cost = time per training step over constant training's, both "
             "compiled, same process (for the optimised policy: the search's wall time plus one training run, "
             "over one constant run).", "",
             "| policy | speed-up test | speed-up dev | AUC dev | AUC test | final test loss | cost vs constant "
             "| SIM | CV of CT on support | share gamma=0 among CT<0 | share gamma>0 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        lines.append(f"| {r['policy']} | {_f(r['speedup_test'])} | {_f(r['speedup_dev'])} | {_f(r['auc_dev'], 4)} | "
                     f"{_f(r['auc_test'], 4)} | {_f(r['final_test_loss'], 4)} | {_f(r['cost_vs_constant'])} | "
                     f"{_f(r['sim'])} | {_f(r['cv_ct_support'])} | {_f(r['zero_share_neg'])} | "
                     f"{_f(r['support_share'])} |")
    lines += ["", f"Learning-Law statistics: {data['law_stats_source']}.", ""]
    lines += worse_than_constant([(r["policy"], r["speedup_test"], r["speedup_dev"]) for r in data["rows"]])
    hp = {r["policy"]: r["hparams"] for r in data["rows"] if r.get("hparams")}
    lines += ["Hyper-parameters: " + "; ".join(f"{k} {v}" for k, v in hp.items()), ""]
    if data["target"]:
        for split, v in data["target"].items():
            met = ", ".join(v["policies_meeting_target"]) or "none"
            lines.append(f"Target on the {split} loss (speed-up >= {_f(v['needed_speedup'])}, half the optimised "
                         f"one, at cost <= {v['max_cost']}x): met by {met}.")
    else:
        lines.append("No optimised policy given (--optimized): the target of issue 9 is not evaluated.")
    lines += ["", f"Total wall time {data['wall_time_s']} s.", ""]
    return "\n".join(lines)


PAIRED = ("speedup_test", "speedup_dev", "auc_dev", "auc_test")  # compared with the optimised policy per seed
# The numbers of a row of online_policies.json that summary.json aggregates over seeds.
NUMBERS = ("speedup_test", "speedup_dev", "auc_dev", "auc_test", "cost_vs_constant", "wall_time_s",
           "final_test_loss", "sim", "cv_ct_support", "zero_share_neg", "support_share")


def read_rows(folder: str | Path) -> dict[str, dict[str, float | None]]:
    """{policy: {number of :data:`NUMBERS`: value}} of one finished comparison folder (online_policies.json).

    The optimised row's ``wall_time_s`` (the table has none: its cost is the search's) is read from its
    own training run, so the seconds column is the training time of every policy alike.
    """
    folder = Path(folder)
    out = {}
    for r in R.read_json(folder / "online_policies.json")["rows"]:
        nums = {k: r.get(k) for k in NUMBERS}
        if r["policy"] == "optimized" and nums["wall_time_s"] is None:
            nums["wall_time_s"] = R.read_json(folder / "optimized" / "summary.json").get("wall_time_s")
        out[r["policy"]] = nums
    return out


def optimized_for(spec: str, seed: int) -> str:
    """The ``--optimized`` policy of one seed: ``{seed}`` in ``spec`` replaced by it. A policy searched on
    another seed's data weighs other examples, so an optimize folder of another task seed is refused."""
    if "{seed}" not in spec:
        raise UsageError(f"--optimized {spec!r} names one policy for several --seeds: write {{seed}} where the "
                         "seed goes, e.g. --optimized 'runs/opt-{seed}' (one `learning-law optimize` per seed)")
    path = Path(spec.replace("{seed}", str(seed)))
    if not path.exists():
        raise UsageError(f"--optimized {spec!r}: {str(path)!r} (seed {seed}) does not exist")
    cfg = path / "config.json"
    got = R.read_json(cfg).get("task_config", {}).get("seed") if path.is_dir() and cfg.exists() else seed
    if got != seed:
        raise UsageError(f"--optimized {spec!r}: {str(path)!r} was searched with task seed {got}, not {seed}")
    return str(path)


def run_seeds(preset: str, out: str | Path, seeds: tuple[int, ...], optimized: str | None = None, *,
              resume: bool = False, overwrite: bool = False, progress: bool = True, hparams: dict | None = None,
              task_name: str = "perceptron", everies: tuple[int, ...] = (1,), log=None) -> Path:
    """:func:`run` once per seed into ``out/seed-S``, then summary.json, report.md and the error-bar figure;
    returns the path of report.md. One seed (or none) is :func:`run` itself into ``out``.

    With ``resume`` a seed whose report.md exists is reused; an unfinished one is run again from the start.
    """
    if len(seeds) <= 1:
        return run(preset, out, optimized, seed=seeds[0] if seeds else None, progress=progress, hparams=hparams,
                   task_name=task_name, everies=everies)
    C.get_preset(task_name, preset)  # a bad preset or --optimized fails before any folder is touched
    specs = {s: optimized_for(optimized, s) for s in seeds} if optimized else {}
    asked = {"kind": "online-policies-seeds", "task": task_name, "preset": preset, "optimized": optimized,
             "every": list(everies), "hparams": hparams, "seeds": list(seeds)}
    out = S.start(out, asked, resume=resume, overwrite=overwrite)
    t0 = time.perf_counter()
    dirs, seconds = S.run_seeds(
        out, seeds, lambda s, d: run(preset, d, specs.get(s), seed=s, progress=progress, hparams=hparams,
                                     task_name=task_name, everies=everies),
        lambda d: (d / "report.md").exists(), resume=resume, **({"log": log} if log else {}))
    per_seed = {s: read_rows(d) for s, d in dirs.items()}
    # The comparison the table is for: each policy against the optimised one on the same seed (paired).
    paired = {"vs_optimized": S.summarize(S.differences(per_seed, "optimized", PAIRED))} if optimized else {}
    summary = S.write_summary(out, per_seed, extra=paired)
    from plots import seed_errorbars  # plots read run folders; imported here, where the figure is drawn

    figs = seed_errorbars.draw_policies(summary, out / "figures" / "policies_seeds")
    first = R.read_json(dirs[seeds[0]] / "online_policies.json")
    text = _seeds_report(first, asked, summary, out, figs, seconds, time.perf_counter() - t0)
    return S.write_report(out, text)


def _seeds_report(first: dict, asked: dict, summary: dict, out: Path, figs: list[str], seconds: dict[int, float],
                  wall: float) -> str:
    seeds = ",".join(map(str, summary["seeds"]))
    name = (("policy", lambda e: e),)
    main = S.table(summary, name, [("speed-up test", "speedup_test"), ("speed-up dev", "speedup_dev"),
                                   ("AUC dev", "auc_dev"), ("AUC test", "auc_test"),
                                   ("cost vs constant", "cost_vs_constant"), ("seconds (training)", "wall_time_s")])
    law = S.table(summary, name, [("final test loss", "final_test_loss"), ("SIM", "sim"),
                                  ("CV of CT on support", "cv_ct_support"),
                                  ("share gamma=0 among CT<0", "zero_share_neg"), ("share gamma>0", "support_share")])
    header = _report(first).split("\n")[2:5]  # the setting and the definitions of the one-seed report
    header[0] = header[0].split(", task seed")[0] + "."
    opt = f" --optimized {shlex.quote(asked['optimized'])}" if asked["optimized"] else ""
    every = f" --every {','.join(map(str, asked['every']))}" if asked["every"] != [1] else ""
    timing = ", ".join(f"seed {s} {v:.1f} s" for s, v in seconds.items()) or "every seed reused"
    return "\n".join([
        f"# Online policies over seeds ({asked['task']}, preset {asked['preset']}, seeds {seeds})", "",
        *header, "Each seed S is the whole comparison (`seed-S/report.md`, with its own target verdict) with the "
        "task config's `seed` (the data and theta_0) replaced by S. Seconds: wall time of the policy's training run "
        "(the optimised policy's search is in its cost, not here). Keys in summary.json: "
        '`summary[policy][number]`, e.g. `summary["online:equalize"]["speedup_test"]`.', "",
        "Test (held out) and dev (the desired examples the policies fit) side by side:", "", *main, "",
        *worse_than_constant([(e, summary[e]["speedup_test"]["mean"], summary[e]["speedup_dev"]["mean"])
                              for e in summary["entries"]]),
        S.interval_note(summary), "", *_paired_table(summary), "Learning-Law statistics (as in each seed's report):", "", *law, "",
        f"![speed-ups over seeds]({Path(figs[0]).relative_to(out)})", "",
        f"*Speed-up on the test and on the dev loss per policy: the seeds' mean, error bars the "
        f"{summary['level']:.0%} Student t interval of the mean over n seeds (PDF beside the PNG).*", "",
        "## Re-run", "", "```",
        f"python -m experiments.online_policies --task {asked['task']} --preset {asked['preset']}{opt}{every} "
        f"--seeds {seeds} --out {shlex.quote(str(out))} --resume", "```", "",
        f"Wall time: {wall:.1f} s ({timing}; seeds reused with --resume are not re-run).", ""])


def _paired_table(summary: dict) -> list[str]:
    """Markdown of the paired differences against the optimised policy (none without --optimized)."""
    if "vs_optimized" not in summary:
        return ["No optimised policy given (--optimized): no paired comparison with it.", ""]
    cols = [(f"{h}, policy - optimised", k) for h, k in (("speed-up test", "speedup_test"),
                                                        ("speed-up dev", "speedup_dev"), ("AUC dev", "auc_dev"),
                                                        ("AUC test", "auc_test"))]
    return ["Against the optimised policy, seed by seed (the difference on each seed, then its mean ± sd and "
            "Student t interval over the seeds; in summary.json under "
            '`summary["vs_optimized"][policy][number]`). An interval that excludes 0 is a difference beyond '
            "the seeds' noise:", "", *S.table(summary["vs_optimized"], (("policy", lambda e: e),), cols), ""]


def _ints(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        vals = ()
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"every={text!r} is invalid: allowed integers >= 1, e.g. 1,2")
    return vals


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output folder (one run record per policy, report.md)")
    ap.add_argument("--task", default="perceptron", help="perceptron | lm (default perceptron)")
    ap.add_argument("--preset", default="paper", help="the task's preset, e.g. paper | cpu | tiny (default paper)")
    ap.add_argument("--optimized", default=None, help="folder (or .npy) of a policy from 'learning-law optimize'")
    seed = ap.add_mutually_exclusive_group()
    seed.add_argument("--seed", type=int, default=None, help="task seed (default: the preset's)")
    seed.add_argument("--seeds", default=None, help=f"task seeds: {SEEDS_FORM}; one comparison per seed in "
                      "OUT/seed-S, then the means with t intervals")
    ap.add_argument("--resume", action="store_true", help="with --seeds: reuse the finished seeds in --out")
    ap.add_argument("--overwrite", action="store_true", help="with --seeds: write into a non-empty --out")
    ap.add_argument("--every", type=_ints, default=(1,),
                    help="comma-separated refresh intervals: each online policy is run with gamma refreshed "
                         "every k steps, for each k (default 1; e.g. 1,2)")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    if args.seeds is None and (args.resume or args.overwrite):
        ap.error("--resume and --overwrite apply to --seeds: add --seeds (one comparison per seed)")
    try:
        if args.seeds is None:
            report = run(args.preset, args.out, args.optimized, seed=args.seed, progress=not args.quiet,
                         task_name=args.task, everies=args.every)
        else:
            report = run_seeds(args.preset, args.out, parse_seeds(args.seeds), args.optimized, resume=args.resume,
                               overwrite=args.overwrite, progress=not args.quiet, task_name=args.task,
                               everies=args.every)
    except UsageError as e:
        print(f"online_policies: error: {e}", file=sys.stderr)
        return 2
    print(report.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
