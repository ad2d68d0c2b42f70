"""Learning from noisy labels with a small clean set: the optimised policy beside the literature's methods.

    python -m experiments.noisy_labels --out DIR [--task digits|perceptron] [--preset cpu] [--seeds 0-2]
                                       [--label-noise P] [--resume] [--overwrite]

The set-up of Learning to Reweight Examples (Ren et al. 2018) and Meta-Weight-Net (Shu et al. 2019) is the
paper's with the clean set as the desired (dev) data. For every seed S (the task's data, noise and theta_0),
into ``DIR/seed-S/``, on the same task and theta_0, one run record per method:

- ``constant``: uniform weights (ordinary training on the noisy labels);
- ``optimized``: the policy of ``learning-law optimize`` (the default search, no outer lr; selected on the
  clean validation split), trained again;
- ``online:equalize``, ``online:greedy``, ``online:loss``, ``online:dropneg``: the online rules of
  :mod:`learning_law.online_rules` with their defaults;
- ``l2rw``, ``loss-topk``, ``rho-loss``: :mod:`learning_law.peers` (Ren et al. 2018; loss-based selection;
  Mindermann et al. 2022, selection ratio 10%, the irreducible-loss model trained once on dev).

Per method: the clean test accuracy and test loss of theta_T, the speed-up T / t* on the test loss against
``constant`` (:func:`learning_law.evaluate.compare`), the seconds it took (the optimised policy: the search
plus its training; ``rho-loss``: its IL model too), the share of the total weight on the examples whose label
is noisy (mean over steps; the constant policy's is the noise rate) and the share of noisy examples at weight 0
(mean over steps). Then ``DIR/summary.json`` (``{method: {"test_accuracy", "test_loss", "speedup", "seconds",
"noisy_weight", "noisy_zero"}}``: numbers for one seed, :mod:`experiments.seed_tables` interval dicts for
several, plus the paired differences against ``constant`` under ``"vs_constant"``) and ``DIR/report.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from experiments import seed_tables as S
from experiments.seeds import SEEDS_FORM, parse_seeds
from learning_law import config as C
from learning_law import online as O
from learning_law import peers as PE
from learning_law import policy as P
from learning_law import record as R
from learning_law.errors import UsageError
from learning_law.evaluate import accuracy, compare
from learning_law.optimize import optimize
from learning_law.tasks import build_task, noisy_mask
from learning_law.train import train

NUMBERS = ("test_accuracy", "test_loss", "speedup", "seconds", "noisy_weight", "noisy_zero")
DEFAULT_NOISE = {"perceptron": 0.2}  # the perceptron presets have clean labels; digits presets carry their own
PEER_LABELS = {"l2rw": "l2rw", "loss-topk": "loss", "rho-loss": "rho"}
ABOUT = {
    "constant": "uniform weights 1/N",
    "optimized": "the search's selected policy (default search, selected on the clean validation split)",
    "online:equalize": "Learning-Law multiplicative weights (learning_law/online_rules.py defaults)",
    "online:greedy": "gamma ~ max(CT, 0), falls back to uniform",
    "online:loss": "gamma ~ training loss",
    "online:dropneg": "uniform on CT > 0",
    "l2rw": "Ren et al. 2018 Alg. 1: look-ahead gradient, clipped at 0, normalised (zero-sum: no step)",
    "loss-topk": "top 10% training loss per step",
    "rho-loss": "Mindermann et al. 2022: top 10% of loss - IL-model loss, IL model trained once on dev",
}


def noise_shares(gamma: np.ndarray, noisy: np.ndarray) -> dict:
    """Where a policy ``gamma: [T, N]`` puts its weight, given ``noisy: [N]`` bool.

    ``noisy_weight``: mean over the steps with a non-zero row of sum_{n noisy} gamma[t, n] / sum_n gamma[t, n];
    ``noisy_zero``: mean over all steps of the share of noisy examples with gamma[t, n] = 0.
    """
    g = np.asarray(gamma, np.float64)
    tot = g.sum(1)
    live = tot > 0
    weight = float(np.mean(g[live][:, noisy].sum(1) / tot[live])) if live.any() else None
    zero = float(np.mean(g[:, noisy] == 0)) if noisy.any() else None
    return {"noisy_weight": weight, "noisy_zero": zero}


def _config(task_name: str, preset: str, seed: int, label_noise: float | None):
    p = C.get_preset(task_name, preset)
    noise = DEFAULT_NOISE.get(task_name, p.task.label_noise) if label_noise is None else label_noise
    return p, dataclasses.replace(p.task, seed=seed, label_noise=noise)


def run_seed(task_name: str, preset: str, seed: int, out: Path, *, label_noise: float | None = None,
             progress: bool = False) -> dict:
    """Every method on one seed into ``out`` (one run record each, ``rows.json`` last); returns the rows."""
    p, tcfg = _config(task_name, preset, seed, label_noise)
    out.mkdir(parents=True, exist_ok=True)
    task = build_task(task_name, tcfg)
    noisy = noisy_mask(task)
    inner, extra = p.inner, {"preset": preset, "experiment": "noisy_labels"}
    runs: dict[str, tuple[dict, float, np.ndarray]] = {}  # method -> (run, seconds, gamma [T, N] used)

    t = time.perf_counter()
    constant = P.constant(inner.steps, task.n_train)
    res = train(task, constant, inner, out=out / "constant", progress=progress, desc="constant", extra_config=extra)
    runs["constant"] = (res, time.perf_counter() - t, constant)
    t = time.perf_counter()
    opt = optimize(task, inner, p.outer, out / "optimize", progress=progress, extra_config=extra)
    res = train(task, opt["gamma"], inner, out=out / "optimized", policy_name="optimized", progress=progress,
                desc="optimized", extra_config=extra)
    runs["optimized"] = (res, time.perf_counter() - t, opt["gamma"])
    for name in O.POLICIES:
        t = time.perf_counter()
        res = O.train_online(task, name, inner, out=out / f"online_{name}", progress=progress, extra_config=extra,
                             time_constant=False)
        runs[O.PREFIX + name] = (res, time.perf_counter() - t, res["gamma"])
    for label, name in PEER_LABELS.items():
        t = time.perf_counter()
        res = PE.train_peer(task, name, inner, out=out / label, extra_config=extra)
        runs[label] = (res, time.perf_counter() - t, res["gamma"])

    const = runs["constant"][0]
    rows = {}
    for label, (res, seconds, gamma) in runs.items():
        rows[label] = {"test_accuracy": accuracy(task, res["params_final"]),
                       "test_loss": res["summary"]["final_test_loss"],
                       "speedup": compare(const, res)["speedup"], "seconds": round(seconds, 2),
                       **noise_shares(gamma, noisy),
                       "auc_dev": res["summary"]["auc"], "auc_test": res["summary"]["auc_test"]}
    R.write_json(out / "rows.json", {"task": task_name, "preset": preset, "task_config": C.asdict(tcfg),
                                     "inner": C.asdict(inner), "outer": C.asdict(p.outer),
                                     "noise_rate": float(noisy.mean()), "rows": rows,
                                     "optimize": {k: opt[k] for k in ("selected_outer_step", "outer_steps_run",
                                                                      "stop_reason", "wall_time_s")}})
    return rows


def run(out: str | Path, *, task_name: str = "digits", preset: str = "cpu", seeds: tuple[int, ...] = (0, 1, 2),
        label_noise: float | None = None, resume: bool = False, overwrite: bool = False,
        progress: bool = False) -> Path:
    """:func:`run_seed` for every seed into ``out/seed-S``, then summary.json and report.md; returns report.md."""
    _config(task_name, preset, seeds[0], label_noise)  # bad settings fail before any folder is touched
    asked = {"kind": "noisy-labels", "task": task_name, "preset": preset, "label_noise": label_noise,
             "seeds": list(seeds)}
    out = S.start(out, asked, resume=resume, overwrite=overwrite)
    t0 = time.perf_counter()
    dirs, _ = S.run_seeds(out, seeds, lambda s, d: run_seed(task_name, preset, s, d, label_noise=label_noise,
                                                             progress=progress),
                          lambda d: (d / "rows.json").exists(), resume=resume)
    per_seed = {s: R.read_json(d / "rows.json")["rows"] for s, d in dirs.items()}
    diffs = S.summarize(S.differences(per_seed, "constant", ("test_accuracy", "test_loss", "speedup")))
    if len(seeds) == 1:
        summary = {m: {k: v for k, v in r.items()} for m, r in per_seed[seeds[0]].items()}
    else:
        summary = S.summarize(per_seed)
    summary["vs_constant"] = diffs
    R.write_json(out / "summary.json", summary)
    first = R.read_json(dirs[seeds[0]] / "rows.json")
    text = report(first, asked, per_seed, S.summarize(per_seed), diffs, out, time.perf_counter() - t0)
    return S.write_report(out, text)


def _verdict(per_seed: dict, diffs: dict) -> str:
    """Whether the optimised policy's clean test accuracy beats constant training, from the numbers."""
    d = diffs.get("optimized", {}).get("test_accuracy")
    if d is None or d["n"] == 0:
        return "No optimised policy finished: no verdict."
    wins = sum(1 for rows in per_seed.values() if rows["optimized"]["test_accuracy"] > rows["constant"]["test_accuracy"])
    head = (f"**The optimised policy's clean test accuracy is above constant training's on {wins} of "
            f"{len(per_seed)} seeds** (mean difference {d['mean']:+.4f}")
    head += f", 95% t interval [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}])." if d["n"] > 1 else ")."
    if wins < len(per_seed):
        head += (" It does not beat constant training on every seed: the search minimises the AUC of the dev "
                 "*loss*, not the final accuracy, and selects on the validation AUC; the test split was not used "
                 "to tune anything, so this is reported as measured.")
    return head


def _table(stats: dict, first, cols) -> list[str]:
    """:func:`experiments.seed_tables.table`; with one seed, plain numbers (no spread to show)."""
    if len(stats["seeds"]) > 1:
        return S.table(stats, first, cols)
    from plots.common import fmt

    head = [h for h, _ in first] + [h for h, _ in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in stats["entries"]:
        cells = [f(e) for _, f in first] + [fmt(stats[e][k]["mean"], 3) if k in stats[e] else "n/a" for _, k in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def report(first: dict, asked: dict, per_seed: dict, stats: dict, diffs: dict, out: Path, wall: float) -> str:
    cfg, inner = first["task_config"], first["inner"]
    seeds = ",".join(map(str, per_seed))
    cols = [("clean test accuracy", "test_accuracy"), ("test loss", "test_loss"), ("test speed-up", "speedup"),
            ("seconds", "seconds"), ("share of weight on noisy examples", "noisy_weight"),
            ("share of noisy examples at weight 0", "noisy_zero")]
    table = _table(stats, (("method", lambda e: f"`{e}`"), ("what", lambda e: ABOUT.get(e, ""))), cols)
    paired = _table(diffs, (("method", lambda e: f"`{e}`"),),
                     [("test accuracy - constant's", "test_accuracy"), ("test loss - constant's", "test_loss"),
                      ("speed-up - 1", "speedup")])
    size = ", ".join(f"{k} = {cfg[k]}" for k in ("n_train", "n_dev", "n_val", "n_test", "dim", "hidden") if k in cfg)
    noise = asked["label_noise"] if asked["label_noise"] is not None else cfg["label_noise"]
    batch = ", full batch" if not inner["batch_size"] else f", batches of {inner['batch_size']}"
    cmd = (f"python -m experiments.noisy_labels --task {asked['task']} --preset {asked['preset']} --seeds {seeds}"
           + (f" --label-noise {asked['label_noise']}" if asked["label_noise"] is not None else "")
           + f" --out {shlex.quote(str(out))}")
    return "\n".join([
        f"# Noisy labels, clean desired set: the optimised policy and its peers ({asked['task']}, preset "
        f"{asked['preset']}, seeds {seeds})", "",
        f"Task `{asked['task']}`: {size}; training labels corrupted with probability {noise} (seeded; measured "
        f"rate on seed {next(iter(per_seed))}: {first['noise_rate']:.3f}); dev, validation and test labels clean. "
        f"Inner run: T = {inner['steps']}, eta = {inner['lr']}, optimiser {inner['optimizer']}"
        f"{batch}. "
        f"Every method starts from the same theta_0 on each seed.", "",
        "Accuracy and loss are of theta_T on the clean test split; the speed-up is T / t* on the test loss against "
        "`constant` (`learning_law.evaluate.compare`: t* the first step at which the method's test loss reaches "
        "constant training's final one). Seconds: wall time of the method's run on this machine, compilation "
        "included (`optimized`: the policy search plus its training; `rho-loss`: its IL model too). The last two "
        "columns say where the weight goes: the share of each step's total weight on examples whose label is "
        "noisy (the constant policy's is the noise rate), and the share of the noisy examples given weight 0 "
        "(mean over steps).", "",
        *table, "", S.interval_note(stats) if len(per_seed) > 1 else "One seed: no spread to show.", "",
        "Seconds include compilation on the first seed only (later seeds reuse the compiled code), hence their "
        "spread. Under full-batch GD `l2rw`'s look-ahead gradient at eps = 0 is -eta times the contribution CT, "
        "so its rows equal `online:greedy`'s except when no CT is positive (L2RW: a zero row, no step; greedy: "
        "uniform); otherwise their numbers differ only by float rounding.", "",
        "## Against constant training, seed by seed", "",
        "The paired difference on each seed (same data and theta_0), then its mean ± sd and t interval; in "
        'summary.json under `summary["vs_constant"][method][number]`:', "", *paired, "",
        _verdict(per_seed, diffs), "",
        "## Methods and their hyper-parameters", "",
        "`l2rw`, `loss-topk`, `rho-loss`: `learning_law/peers.py` (its docstring says which of the papers' "
        "hyper-parameters transfer: none to tune for L2RW, whose clean batch is the whole dev split under "
        "full-batch training; the 10% selection ratio and an IL model trained once on the hold-out (dev) data "
        "for RHO-LOSS, which uses the same model class, optimiser, steps and lr as the run). Online rules: "
        "`learning_law/online_rules.py` with their defaults. The optimised policy: `learning-law optimize` with "
        f"the preset's search (`{first['outer'].get('search')}`, at most {first['outer']['outer_steps']} outer "
        f"steps, patience {first['outer']['patience']}); on seed {next(iter(per_seed))} it ran "
        f"{first['optimize']['outer_steps_run']} outer steps ({first['optimize']['stop_reason']}) and kept the "
        f"policy of outer step {first['optimize']['selected_outer_step']}.", "",
        "## Re-run", "", "```", cmd, "```", "",
        f"Run folders: `seed-S/METHOD/` (a run record each), `seed-S/optimize/` (the search), `seed-S/rows.json`.", "",
        f"Wall time: {wall:.1f} s on this machine (all seeds, every method; seeds reused with --resume not re-run).",
        ""])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output folder (seed-S/ per seed, summary.json, report.md)")
    ap.add_argument("--task", default="digits", choices=("digits", "perceptron"), help="task (default digits)")
    ap.add_argument("--preset", default="cpu", help="the task's preset: cpu | tiny | ... (default cpu)")
    ap.add_argument("--seeds", default="0-2", help=f"task seeds: {SEEDS_FORM} (default 0-2)")
    ap.add_argument("--label-noise", type=float, default=None,
                    help="probability a training label is corrupted (default: the digits preset's 0.4; "
                         f"perceptron {DEFAULT_NOISE['perceptron']})")
    ap.add_argument("--resume", action="store_true", help="reuse the finished seeds in --out")
    ap.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    ap.add_argument("--progress", action="store_true", help="progress bars")
    args = ap.parse_args(argv)
    try:
        report_path = run(args.out, task_name=args.task, preset=args.preset, seeds=parse_seeds(args.seeds),
                          label_noise=args.label_noise, resume=args.resume, overwrite=args.overwrite,
                          progress=args.progress)
    except UsageError as e:
        print(f"noisy_labels: error: {e}", file=sys.stderr)
        return 2
    print(report_path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
