"""Data mixtures: train on several sources, desire one; optimised policies against DoReMi, DoGE and fixed mixtures.

    python -m experiments.mixtures --out DIR [--seeds 0-2] [--preset cpu] [--n-train N] [--outer-steps K]
                                   [--train-corpus SPEC,...] [--desired-corpus SPEC] [--resume] [--overwrite]

The paper's Section 2 motivates a desired loss that differs from the training loss by a curated target
corpus; here the training data is a mixture of sources (``--train-corpus``, default the embedded grammar
stories and the embedded news reports, half each) and the desired (dev, validation, test) data is one source
(``--desired-corpus``, default the grammar stories). For every seed S (data, noise and theta_0), into
``DIR/seed-S/``, on the same task and theta_0, one run record per method:

- ``constant``: uniform weights 1/N, which is the natural mixture (every source at its share of the examples);
- ``desired-only``: all weight on the desired source's examples, uniform among them;
- ``doremi``, ``doge``: the domain weights of DoReMi (Xie et al. 2023) and DoGE (Fan et al. 2024) found by
  their proxy runs (:mod:`learning_law.mixture_peers`), averaged over the steps as both papers do, then the
  model trained again under that fixed mixture;
- ``optimized-domain``: ``learning-law optimize --policy-granularity domain``: the schedule ``w[t, d]`` over the
  D sources searched by the meta-gradient (T x D parameters), trained again;
- ``optimized-example``: the per-example search (T x N parameters), trained again.

Per method: the test AUC, the test speed-up T / t* against ``constant`` (:func:`learning_law.evaluate.compare`)
and the share of weight on the desired source (mean over steps). ``seed-S/weights.npz`` holds every method's
weight per source and step (``[T, D]``), ``seed-S/contributions.npz`` the mean contribution CT per source at the
recorded steps of the constant and both optimised runs (over all its examples, and weighted by the policy).
Then ``DIR/summary.json``, ``DIR/report.md`` (each optimised policy against every other method by the paired
test-AUC difference over the seeds) and the figures ``DIR/mixture_weights.{png,pdf}`` (where the weight goes,
per source, over training) and ``DIR/mixture_contributions.{png,pdf}`` (the Learning Law's contributions per
source).
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
from learning_law import domains as DO
from learning_law import mixture_peers as MP
from learning_law import record as R
from learning_law.errors import UsageError
from learning_law.evaluate import compare
from learning_law.optimize import optimize
from learning_law.tasks import build_task
from learning_law.train import train

TRAIN_CORPUS = "default=0.5,news=0.5"
# 128 sequences per source on the cpu preset (whose own N is 512): three seeds of all six methods in 8.6 min
# on 2 idle cores, where --n-train 512 took about 19 (experiments/results/mixtures.md)
N_TRAIN = {"cpu": 256}
DESIRED_CORPUS = "default"
METHODS = ("constant", "desired-only", "doremi", "doge", "optimized-domain", "optimized-example")
ABOUT = {
    "constant": "uniform 1/N = the natural mixture",
    "desired-only": "the desired source's examples only",
    "doremi": "Xie et al. 2023: proxy run on clipped excess loss over a reference model; averaged weights",
    "doge": "Fan et al. 2024: proxy run on each source's gradient alignment with the desired gradient; averaged",
    "optimized-domain": "meta-gradient search over w[t, d] (T x D), `--policy-granularity domain`",
    "optimized-example": "meta-gradient search over gamma[t, n] (T x N), the default",
}
NUMBERS = ("auc_test", "speedup", "desired_weight", "seconds")


def task_config(preset: str, seed: int, train_corpus: str, desired_corpus: str, n_train: int | None = None,
                outer_steps: int | None = None):
    """The preset of the LM task with the mixture's sources, ``seed`` and ``n_train`` (default
    :data:`N_TRAIN` of the preset, else the preset's), its search with ``outer_steps`` (default the preset's)."""
    p = C.get_preset("lm", preset)
    n = n_train if n_train is not None else N_TRAIN.get(preset, p.task.n_train)
    if outer_steps is not None:
        p = dataclasses.replace(p, outer=dataclasses.replace(p.outer, outer_steps=outer_steps))
    return p, dataclasses.replace(p.task, seed=seed, train_corpus=train_corpus, desired_corpus=desired_corpus,
                                  n_train=n)


def source_shares(gamma: np.ndarray, groups: np.ndarray, d: int) -> np.ndarray:
    """``[T, D]``: the share of each step's total weight on each source.

    >>> source_shares(np.array([[0.5, 0.25, 0.25]]), np.array([0, 1, 1]), 2)
    array([[0.5, 0.5]])
    """
    g = np.asarray(gamma, np.float64)
    out = np.stack([g[:, groups == k].sum(1) for k in range(d)], axis=1)
    tot = out.sum(1, keepdims=True)
    return np.divide(out, tot, out=np.zeros_like(out), where=tot > 0)


def ct_by_source(run: dict, groups: np.ndarray, d: int) -> np.ndarray:
    """``[T', D, 2]``: at the run's recorded steps, each source's contribution CT[t, n] averaged over all its
    examples (``[..., 0]``) and weighted by the policy's weights on them (``[..., 1]``: the examples the policy
    uses; NaN where it gives the source no weight). The Learning Law speaks of the second: equal on the
    support, whatever the source.

    >>> run = {"ct": np.array([[1.0, 2.0, 3.0, 5.0]]), "gamma_recorded": np.array([[0.0, 0.5, 0.5, 0.0]])}
    >>> ct_by_source(run, np.array([0, 1, 1, 0]), 2).tolist()
    [[[3.0, nan], [2.5, 2.5]]]
    """
    ct = np.asarray(run["ct"], np.float64)
    g = np.asarray(run["gamma_recorded"], np.float64)
    out = np.full(ct.shape[:1] + (d, 2), np.nan)
    for k in range(d):
        m = groups == k
        out[:, k, 0] = ct[:, m].mean(1)
        w = g[:, m].sum(1)
        out[:, k, 1] = np.where(w > 0, (g[:, m] * ct[:, m]).sum(1) / np.where(w > 0, w, 1.0), np.nan)
    return out


def run_seed(preset: str, seed: int, out: Path, *, train_corpus: str, desired_corpus: str,
             n_train: int | None = None, outer_steps: int | None = None, progress: bool = False) -> dict:
    """Every method on one seed into ``out``; returns the rows (``rows.json`` is written last)."""
    t_seed = time.perf_counter()
    p, tcfg = task_config(preset, seed, train_corpus, desired_corpus, n_train, outer_steps)
    out.mkdir(parents=True, exist_ok=True)
    task = build_task("lm", tcfg)
    groups, d = np.asarray(task.groups), task.n_groups
    desired = task.group_names.index(tcfg.desired_corpus or task.group_names[0])
    inner, extra = p.inner, {"preset": preset, "experiment": "mixtures"}
    T = inner.steps
    runs: dict[str, tuple[dict, float, np.ndarray, np.ndarray]] = {}  # method -> (run, s, gamma [T, N], w [T, D])

    def fixed(label: str, w: np.ndarray, seconds0: float = 0.0, shown: np.ndarray | None = None) -> None:
        t = time.perf_counter()
        gamma = DO.expand(np.broadcast_to(w, (T, d)).astype(np.float32), groups)
        res = train(task, gamma, inner, out=out / label, policy_name=label, progress=progress, desc=label,
                    extra_config=extra)
        runs[label] = (res, seconds0 + time.perf_counter() - t, gamma,
                       source_shares(gamma, groups, d) if shown is None else shown)

    fixed("constant", DO.natural_weights(groups, d))
    fixed("desired-only", np.eye(d, dtype=np.float32)[desired])
    for label in ("doremi", "doge"):
        t = time.perf_counter()
        peer = MP.run_mixture_method(task, label, inner, desired=desired)
        fixed(label, np.asarray(peer["w_final"], np.float32), time.perf_counter() - t, np.asarray(peer["w"]))
    searches = {}
    for label, granularity in (("optimized-domain", "domain"), ("optimized-example", "example")):
        t = time.perf_counter()
        outer = dataclasses.replace(p.outer, policy_granularity=granularity)
        opt = optimize(task, inner, outer, out / f"optimize-{granularity}", progress=progress, extra_config=extra)
        gamma = DO.expand(opt["gamma"], groups) if granularity == "domain" else opt["gamma"]
        res = train(task, gamma, inner, out=out / label, policy_name=label, progress=progress, desc=label,
                    extra_config=extra)
        runs[label] = (res, time.perf_counter() - t, gamma, source_shares(gamma, groups, d))
        searches[label] = {k: opt[k] for k in ("selected_outer_step", "outer_steps_run", "stop_reason",
                                                "auc_constant", "auc_final", "wall_time_s") if k in opt}

    const = runs["constant"][0]
    rows = {}
    for label, (res, seconds, gamma, shares) in runs.items():
        rows[label] = {"auc_test": res["summary"]["auc_test"], "speedup": compare(const, res)["speedup"],
                       "desired_weight": float(np.mean(shares[:, desired])), "seconds": round(seconds, 2),
                       "auc_dev": res["summary"]["auc"], "final_test_loss": res["summary"]["final_test_loss"]}
    R.save_npz(out / "weights.npz", **{label: r[3] for label, r in runs.items()})
    R.save_npz(out / "contributions.npz", record_steps=np.asarray(const["record_steps"]),
               **{label: ct_by_source(runs[label][0], groups, d) for label in
                  ("constant", "optimized-domain", "optimized-example")})
    R.write_json(out / "rows.json", {"preset": preset, "task_config": C.asdict(tcfg), "inner": C.asdict(inner),
                                     "outer": C.asdict(p.outer), "sources": list(task.group_names),
                                     "sizes": np.bincount(groups, minlength=d).tolist(), "desired": desired,
                                     "rows": rows, "searches": searches,
                                     "seconds_seed": round(time.perf_counter() - t_seed, 1)})
    return rows


def run(out: str | Path, *, preset: str = "cpu", seeds: tuple[int, ...] = (0, 1, 2), train_corpus: str = TRAIN_CORPUS,
        desired_corpus: str = DESIRED_CORPUS, n_train: int | None = None, outer_steps: int | None = None,
        resume: bool = False, overwrite: bool = False, progress: bool = False) -> Path:
    """:func:`run_seed` for every seed into ``out/seed-S``, then summary.json, figures and report.md."""
    # bad settings fail before any folder is touched
    p, tcfg = task_config(preset, seeds[0], train_corpus, desired_corpus, n_train, outer_steps)
    asked = {"kind": "mixtures", "preset": preset, "train_corpus": train_corpus, "desired_corpus": desired_corpus,
             "n_train": tcfg.n_train, "outer_steps": p.outer.outer_steps, "seeds": list(seeds)}
    out = S.start(out, asked, resume=resume, overwrite=overwrite)
    t0 = time.perf_counter()
    dirs, _ = S.run_seeds(out, seeds, lambda s, d: run_seed(preset, s, d, train_corpus=train_corpus,
                                                             desired_corpus=desired_corpus, n_train=tcfg.n_train,
                                                             outer_steps=p.outer.outer_steps, progress=progress),
                          lambda d: (d / "rows.json").exists(), resume=resume)
    per_seed = {s: R.read_json(d / "rows.json")["rows"] for s, d in dirs.items()}
    diffs = S.summarize(S.differences(per_seed, "constant", ("auc_test", "speedup")))
    stats = S.summarize(per_seed)
    R.write_json(out / "summary.json", {**stats, "vs_constant": diffs})
    from plots.mixtures import plot_contributions, plot_weights

    figures = plot_weights(out, dirs) + plot_contributions(out, dirs)
    first = R.read_json(dirs[seeds[0]] / "rows.json")
    seed_seconds = {s: R.read_json(d / "rows.json").get("seconds_seed") for s, d in dirs.items()}
    text = report(first, asked, per_seed, stats, diffs, out, time.perf_counter() - t0, figures, seed_seconds)
    return S.write_report(out, text)


def _table(stats: dict, first, cols) -> list[str]:
    if len(stats["seeds"]) > 1:
        return S.table(stats, first, cols)
    from plots.common import fmt

    head = [h for h, _ in first] + [h for h, _ in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in stats["entries"]:
        cells = [f(e) for _, f in first] + [fmt(stats[e][k]["mean"], 3) if k in stats[e] else "n/a" for _, k in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _with_seconds(table: list[str], stats: dict) -> list[str]:
    """``table`` with a last column of seconds: the mean over the seeds and their range (min-max). A t interval
    of the mean says nothing useful of a cost whose spread is mostly the first seed's compilation."""
    from plots.common import fmt

    cells = []
    for e in stats["entries"]:
        row = stats[e].get("seconds") or {}
        vals = [v for v in row.get("values", []) if v is not None]
        cells.append("n/a" if not vals else fmt(float(np.mean(vals)), 3) if len(vals) == 1
                     else f"{fmt(float(np.mean(vals)), 3)} ({fmt(min(vals), 3)}-{fmt(max(vals), 3)})")
    return [table[0] + " seconds |", table[1] + "---|"] + [line + f" {c} |" for line, c in zip(table[2:], cells)]


def _side(d: dict) -> str:
    """Where a paired difference's 95% t interval lies against 0 (n < 2: no interval, no verdict)."""
    if d["n"] < 2:
        return "n = 1, no interval:"
    return "below" if d["ci_high"] < 0 else "above" if d["ci_low"] > 0 else "not distinguishable from"


def _findings(stats: dict, diffs: dict, first: dict, per_seed: dict) -> list[str]:
    """Sentences computed from the numbers: the best method, and each optimised policy against constant training
    and against every peer by the paired test-AUC difference seed by seed (the seeds' shared data cancel)."""
    mean = {e: stats[e]["auc_test"]["mean"] for e in stats["entries"]}
    best = min(mean, key=mean.get)
    lines = [f"Lowest mean test AUC: `{best}` ({mean[best]:.4f})."]
    peers = [e for e in ("desired-only", "doremi", "doge") if e in mean]
    against = {p: S.summarize(S.differences(per_seed, p, ("auc_test",))) for p in peers}
    for label in ("optimized-domain", "optimized-example"):
        if label not in mean:
            continue
        parts = []
        for ref, dd in [("constant training", diffs), *[(f"`{p}`", against[p]) for p in peers]]:
            d = dd.get(label, {}).get("auc_test")
            if d and d["n"]:
                ci = f", 95% t interval [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]" if d["n"] > 1 else ""
                parts.append(f"{_side(d)} {ref} ({d['mean']:+.4f}{ci})")
        lines.append(f"`{label}`, test AUC against each (paired difference): " + "; ".join(parts) + ".")
    dw = {e: stats[e]["desired_weight"]["mean"] for e in stats["entries"]}
    src = first["sources"][first["desired"]]
    lines.append("Mean share of weight on the desired source `" + src + "`: "
                 + ", ".join(f"`{e}` {dw[e]:.2f}" for e in dw) + ".")
    return lines


def report(first: dict, asked: dict, per_seed: dict, stats: dict, diffs: dict, out: Path, wall: float,
           figures: list[str], seed_seconds: dict | None = None) -> str:
    cfg, inner = first["task_config"], first["inner"]
    seeds = ",".join(map(str, per_seed))
    cols = [("test AUC", "auc_test"), ("test speed-up", "speedup"), ("weight on desired source", "desired_weight")]
    table = _table(stats, (("method", lambda e: f"`{e}`"), ("what", lambda e: ABOUT.get(e, ""))), cols)
    table = _with_seconds(table, stats)
    paired = _table(diffs, (("method", lambda e: f"`{e}`"),),
                    [("test AUC - constant's", "auc_test"), ("speed-up - 1", "speedup")])
    sources = ", ".join(f"`{s}` ({n} examples)" for s, n in zip(first["sources"], first["sizes"]))
    cmd = (f"python -m experiments.mixtures --preset {asked['preset']} --seeds {seeds} --n-train {asked['n_train']} "
           f"--outer-steps {asked['outer_steps']} --train-corpus "
           f"{shlex.quote(asked['train_corpus'])} --desired-corpus {shlex.quote(asked['desired_corpus'])} "
           f"--out {shlex.quote(str(out))}")
    searches = first["searches"]
    return "\n".join([
        f"# Data mixtures: optimised policies against DoReMi, DoGE and fixed mixtures (LM, preset {asked['preset']}, "
        f"seeds {seeds})", "",
        f"Training sources: {sources}; desired (dev, validation, test): `{first['sources'][first['desired']]}`. "
        f"Noise edits on {cfg['noise_fraction']:g} of the training sequences x {cfg['noise_edits']} edits. Model: "
        f"{cfg['n_layers']} layer(s) x {cfg['d_model']}, sequences of {cfg['seq_len']} tokens. Inner run: T = "
        f"{inner['steps']}, eta = {inner['lr']}, full-batch GD. Every method starts from the same theta_0 on each "
        "seed.", "",
        "Test AUC: mean test loss over t = 0..T. Speed-up: T / t* on the test loss against `constant` "
        "(`learning_law.evaluate.compare`). Weight on the desired source: the share of each step's total weight "
        "on its examples, mean over the steps (for DoReMi and DoGE, the weights of their proxy runs). Seconds: "
        "wall time on this machine, mean over the seeds (min-max), compilation included (searches: search plus "
        "training; DoReMi: reference, proxy and training).", "",
        *table, "", S.interval_note(stats) if len(per_seed) > 1 else "One seed: no spread to show.", "",
        "## Against constant training, seed by seed", "", *paired, "",
        *_findings(stats, diffs, first, per_seed), "",
        "## Figures", "",
        *[f"![{Path(f).stem}]({Path(f).name})" for f in figures if f.endswith(".png")], "",
        "`mixture_weights`: the share of weight per source over the inner steps, per method (mean over seeds). "
        "`mixture_contributions`: the Learning Law's contributions CT = grad L_dev . grad l_n averaged per source "
        "at the recorded steps, under the constant and both optimised policies (seed "
        f"{next(iter(per_seed))}).", "",
        "## Methods", "",
        "DoReMi and DoGE: `learning_law/mixture_peers.py` (its docstring gives the papers' algorithms and the "
        "hyper-parameters used: their defaults). Both produce per-step weights in a proxy run; the model is "
        "trained again under their average, as the papers train their main model. DoReMi never sees the desired "
        "source: it minimises the worst excess loss over the training sources, so it moves weight towards the "
        "source the reference model finds hardest; DoGE weighs each source by its gradient's alignment with the "
        "desired gradient. The searches: "
        f"`learning-law optimize` with the preset's search (`{first['outer'].get('search')}`, at most "
        f"{first['outer']['outer_steps']} outer steps); on seed {next(iter(per_seed))}: "
        + "; ".join(f"`{k}` ran {v.get('outer_steps_run')} outer steps ({v.get('stop_reason')}), dev AUC "
                    f"{v.get('auc_constant', float('nan')):.4f} -> {v.get('auc_final', float('nan')):.4f}"
                    for k, v in searches.items()) + ".", "",
        "## Re-run", "", "```", cmd, "```", "",
        f"Wall time: {wall:.1f} s on this machine for this call (seeds reused with --resume not re-run)"
        + ("; each seed when it ran: " + ", ".join(f"seed {s} {v:.0f} s" for s, v in seed_seconds.items())
           + f" ({sum(seed_seconds.values()):.0f} s in all)." if seed_seconds and None not in seed_seconds.values()
           else "."), ""])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output folder (seed-S/ per seed, summary.json, report.md, figures)")
    ap.add_argument("--preset", default="cpu", help="the LM task's preset (default cpu)")
    ap.add_argument("--seeds", default="0-2", help=f"task seeds: {SEEDS_FORM} (default 0-2)")
    ap.add_argument("--n-train", type=int, default=None,
                    help="training sequences over all sources, an integer >= 1 (default: "
                         + ", ".join(f"{v} for preset {k}" for k, v in N_TRAIN.items()) + "; else the preset's)")
    ap.add_argument("--outer-steps", type=int, default=None,
                    help="outer steps of both searches, an integer >= 1 (default: the preset's)")
    ap.add_argument("--train-corpus", default=TRAIN_CORPUS, help=f"training sources (default {TRAIN_CORPUS})")
    ap.add_argument("--desired-corpus", default=DESIRED_CORPUS, help=f"desired source (default {DESIRED_CORPUS})")
    ap.add_argument("--resume", action="store_true", help="reuse the finished seeds in --out")
    ap.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    ap.add_argument("--progress", action="store_true", help="progress bars")
    args = ap.parse_args(argv)
    try:
        path = run(args.out, preset=args.preset, seeds=parse_seeds(args.seeds), train_corpus=args.train_corpus,
                   desired_corpus=args.desired_corpus, n_train=args.n_train, outer_steps=args.outer_steps,
                   resume=args.resume, overwrite=args.overwrite,
                   progress=args.progress)
    except UsageError as e:
        print(f"mixtures: error: {e}", file=sys.stderr)
        return 2
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
