"""The perceptron experiment of the paper (Section 4.2): optimise, evaluate, draw, report.

    learning-law reproduce perceptron --preset cpu|paper --out DIR
    python -m experiments.perceptron --preset cpu --out DIR

Writes DIR/optimize (policy search), DIR/evaluate (constant vs optimised runs), DIR/figures and
DIR/report.md. With --resume a finished part is reused and an interrupted search continues.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from learning_law import config as C
from learning_law import record as R
from learning_law.evaluate import evaluate
from learning_law.optimize import optimize
from learning_law.tasks import build_task
from plots import gamma_cdf, gamma_heatmap, loss_curves, outer_progress, speedup_progress

# The paper's headline numbers for this experiment (../shared/PAPER.md section 4), shown beside ours.
PAPER = {"speedup": 5.50, "auc_constant": 0.25, "auc_policy": 0.15, "cr_paper_constant": 4.0,
         "cr_paper_policy": 7.0}


def reproduce(preset: str, out: str | Path, *, resume: bool = False, overwrite: bool = False,
              progress: bool = True) -> Path:
    """Run the whole experiment into ``out``; returns the path of report.md."""
    p = C.get_preset("perceptron", preset)
    out = R.prepare_out_dir(out, overwrite=overwrite, resume=resume)
    (out / "report.md").unlink(missing_ok=True)
    t0 = time.perf_counter()
    task = build_task("perceptron", p.task)
    extra = {"preset": preset}

    opt_dir = out / "optimize"
    if resume and R.is_finished(opt_dir):
        opt = R.read_json(opt_dir / "summary.json")
    else:
        opt = optimize(task, p.inner, p.outer, opt_dir, resume=resume, progress=progress, extra_config=extra)
    import numpy as np

    gamma = np.load(opt_dir / "gamma.npy", mmap_mode="r")
    ev_dir = out / "evaluate"
    if resume and R.is_finished(ev_dir):
        ev = R.read_json(ev_dir / "summary.json")
    else:
        ev = evaluate(task, p.inner, gamma, ev_dir, policy_name=str(opt_dir / "gamma.npy"),
                      smooth_sigma=p.smooth_sigma, progress=progress, extra_config=extra,
                      resume=resume)
    figs = {
        "loss_curves": loss_curves.draw(ev_dir, out / "figures" / "loss_curves"),
        "loss_curves_log": loss_curves.draw(ev_dir, out / "figures" / "loss_curves_log", log=True),
        "outer_progress": outer_progress.draw(opt_dir, out / "figures" / "outer_progress"),
        "speedup_progress": speedup_progress.draw(opt_dir, out / "figures" / "speedup_progress"),
        "gamma_heatmap": gamma_heatmap.draw(ev_dir / "policy", out / "figures" / "gamma_heatmap"),
        "gamma_cdf": gamma_cdf.draw(ev_dir / "policy", out / "figures" / "gamma_cdf"),
    }
    report = out / "report.md"
    text = _report(preset, p, opt, ev, figs, out, time.perf_counter() - t0)
    R.atomic_write(report, lambda f: f.write(text.encode()))
    return report


def _fmt(x, digits=4):
    return "n/a" if x is None else f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def _overfit_note(ev: dict, p) -> str:
    """A sentence, from the numbers, when the dev and test speed-ups disagree."""
    dev, test = ev["speedup_dev"], ev["speedup"]
    if dev <= 1.5 * test:
        return (f"The speed-up on the held-out test split ({test:.2f}x) is close to the one on the dev split "
                f"({dev:.2f}x): the policy generalises across draws of the desired distribution.\n")
    return (f"**The policy over-fits the desired examples.** On the {p.task.n_dev} dev examples it was optimised "
            f"on, it learns {dev:.2f}x faster; on the held-out test split of the same distribution only "
            f"{test:.2f}x. A policy has T x N = {p.inner.steps * p.task.n_train:,} free weights, enough to steer "
            f"theta towards the dev set itself; see `figures/speedup_progress.png` for when the gap opens, and "
            f"the `paper-dev4096` preset for the same search with 4096 desired examples.\n")


def _report(preset, p, opt, ev, figs, out: Path, wall: float) -> str:
    rel = lambda path: str(Path(path).relative_to(out))  # noqa: E731
    rows = [
        ("speed-up on the test loss (T / t*)", PAPER["speedup"], ev["speedup"]),
        ("speed-up on the dev loss (the split the policy was optimised on)", None, ev["speedup_dev"]),
        (f"speed-up, smoothed curves (sigma = {p.smooth_sigma:g} steps)", None, ev.get("speedup_smoothed")),
        ("AUC (mean dev loss over t = 0..T, nats), constant", PAPER["auc_constant"], ev["auc_constant"]),
        ("AUC, optimised policy", PAPER["auc_policy"], ev["auc_policy"]),
        ("CR, paper's convention (log2|V| / mean loss), constant", PAPER["cr_paper_constant"],
         ev["cr_paper_constant"]),
        ("CR, paper's convention, optimised", PAPER["cr_paper_policy"], ev["cr_paper_policy"]),
        ("CR in bits (raw bits / code bits), constant", None, ev["cr_bits_constant"]),
        ("CR in bits, optimised", None, ev["cr_bits_policy"]),
        ("share of gamma = 0 in the final policy", None, opt.get("zero_weight_share")),
    ]
    table = "\n".join(f"| {name} | {_fmt(paper)} | {_fmt(ours)} |" for name, paper, ours in rows)
    versions = R.versions()
    cmd = f"learning-law reproduce perceptron --preset {preset} --out {shlex.quote(str(out))}"
    return f"""# Perceptron: optimal learning policy (preset `{preset}`)

{p.description}
Task: d = {p.task.dim}, N = {p.task.n_train}, dev/test = {p.task.n_dev}/{p.task.n_test}; inner T = {p.inner.steps},
eta = {p.inner.lr}; policy search: {p.outer.outer_steps} outer steps, outer lr {p.outer.outer_lr}
({p.outer.schedule}), memory strategy `{p.outer.memory}`.

| quantity | paper | this run |
| --- | --- | --- |
{table}

{_overfit_note(ev, p)}
The paper's values are for its own sizes (the `paper` preset); the speed-up is measured on the test split
(a second draw of the desired distribution), the AUC on the dev split the policy was optimised on.
Policy search: {_fmt(opt.get('wall_time_s'))} s ({_fmt(opt.get('seconds_per_outer_step'))} s per outer step).
Wall time of this invocation (finished parts reused with --resume are not counted): {wall:.1f} s.

## Figures

![loss curves]({rel(figs['loss_curves'][0])})

![loss curves, log-log]({rel(figs['loss_curves_log'][0])})

![policy search]({rel(figs['outer_progress'][0])})

![speed-up during the search]({rel(figs['speedup_progress'][0])})

![policy heat-map]({rel(figs['gamma_heatmap'][0])})

![weights of well-learned examples]({rel(figs['gamma_cdf'][0])})

(PDF versions beside the PNGs.)

## Re-run

```
{cmd}
```

Versions: {", ".join(f"{k} {v}" for k, v in versions.items())}.
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="cpu", help="cpu | paper | tiny")
    ap.add_argument("--out", required=True)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    print(reproduce(args.preset, args.out, resume=args.resume, overwrite=args.overwrite))
    return 0


if __name__ == "__main__":
    sys.exit(main())
