"""Paper Fig. 10: the optimised policy over time, for random training examples with CT > 0.

    python -m plots.gamma_heatmap RUN_DIR [--examples 2048] [--seed 0] [--out STEM]

RUN_DIR is a training run of the policy (e.g. EVAL_DIR/policy). The colour is N * gamma (1 = the
constant policy's weight); examples are drawn at random (seeded) among those with CT > 0 at t = 0 and
sorted by their total weight over the steps shown. Two panels, one per Learning-Law definition
(:func:`theory.law.definition`):

- left, ``paper`` (the authors' figure script), from the run's replay ``law_records_paper.npz``
  (:func:`learning_law.law_replay.load_records`, every step): steps t = 0..49, CT > 0 at t = 0 on the
  definition's split and timing (test CT after the step), a linear colour scale from 0 to max / 30 of
  the values shown (larger values saturate);
- right, ``strict`` (today's view): every recorded step of gamma_recorded.npy, CT > 0 (dev CT at
  theta_t) at the first recorded step, a square-root colour scale up to the 99.5th percentile.

Without ``law_records_paper.npz`` only the ``strict`` panel is drawn.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.ticker import MaxNLocator

from learning_law.law_replay import load_records
from learning_law.record import load_run
from plots.common import new_figure, save

PAPER_STEPS = 50  # rows t = 0..49
PAPER_CLAMP = 30.0  # colour scale up to max / 30


def _pick(ct0: np.ndarray, weight: np.ndarray, examples: int, seed: int) -> np.ndarray:
    """``examples`` random indices among ct0 > 0 (seeded), sorted by decreasing ``weight: [N]``."""
    candidates = np.nonzero(ct0 > 0)[0]
    rng = np.random.default_rng(seed)
    pick = rng.choice(candidates, size=min(examples, candidates.size), replace=False)
    return pick[np.argsort(-weight[pick], kind="stable")]


def paper_matrix(rec: dict, examples: int = 2048, seed: int = 0, steps: int = PAPER_STEPS) -> dict:
    """Fig. 10 under the ``paper`` definition from a replay's ``dense`` records: ``steps`` (the rows t <
    ``steps`` shown), ``pick`` (the examples, in display order), ``scaled`` (``[examples, steps]``: N * gamma)
    and ``vmax`` (max of ``scaled`` / 30, the top of the colour scale)."""
    dense = rec["dense"]
    rows = np.asarray(dense["steps"]) < steps
    gamma = np.asarray(dense["gamma"], np.float64)[rows]
    ct = np.asarray(dense["ct"])[rows]
    pick = _pick(ct[0], gamma.sum(0), examples, seed)
    scaled = gamma.shape[1] * gamma[:, pick].T
    top = float(scaled.max()) if scaled.size else 0.0
    return {"steps": np.asarray(dense["steps"])[rows], "pick": pick, "scaled": scaled,
            "vmax": top / PAPER_CLAMP if top > 0 else 1.0}


def _extent(steps: np.ndarray, n_rows: int) -> tuple:
    return (steps[0], steps[-1] + (steps[1] - steps[0] if len(steps) > 1 else 1), n_rows, 0)


def _paper_panel(fig, ax, rec: dict, examples: int, seed: int) -> None:
    m = paper_matrix(rec, examples, seed)
    im = ax.imshow(m["scaled"], aspect="auto", interpolation="nearest", cmap="magma",
                   norm=mcolors.Normalize(vmin=0, vmax=m["vmax"]), extent=_extent(m["steps"], len(m["pick"])))
    ax.grid(False)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    cb = fig.colorbar(im, ax=ax, extend="max")
    cb.set_label(f"N x gamma (linear, clamped at max / {PAPER_CLAMP:g})")
    ax.set_xlabel(f"inner step t (t = {int(m['steps'][0])}..{int(m['steps'][-1])})")
    ax.set_ylabel(f"{len(m['pick'])} examples with CT > 0 at t = 0\n(test CT after the step; sorted by total weight)")
    ax.set_title(f"paper definition: every step t < {PAPER_STEPS}", fontsize=9)


def _strict_panel(fig, ax, run: dict, examples: int, seed: int) -> None:
    gamma, ct, steps = np.asarray(run["gamma_recorded"]), np.asarray(run["ct"]), np.asarray(run["record_steps"])
    n = gamma.shape[1]
    pick = _pick(ct[0], gamma.sum(0), examples, seed)
    scaled = n * gamma[:, pick].T  # [examples, T']
    vmax = max(float(np.percentile(scaled, 99.5)), 1.0 + 1e-6)
    im = ax.imshow(scaled, aspect="auto", interpolation="nearest", cmap="magma",
                   norm=mcolors.PowerNorm(0.5, vmin=0, vmax=vmax), extent=_extent(steps, len(pick)))
    ax.grid(False)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("N x gamma (1 = constant policy; square-root scale)")
    ax.set_xlabel("inner step t (recorded steps)")
    ax.set_ylabel(f"{len(pick)} examples with CT > 0 at t = 0\n(dev CT at theta_t; sorted by total weight)")
    ax.set_title("strict: every recorded step", fontsize=9)


def draw(run_dir: str | Path, out: str | Path | None = None, examples: int = 2048, seed: int = 0) -> list[str]:
    run = load_run(run_dir)
    rec = load_records(run_dir, "paper")
    if rec is not None and len(rec["dense"]["steps"]):
        fig, (left, right) = new_figure(12.0, 4.4, ncols=2)
        _paper_panel(fig, left, rec, examples, seed)
        _strict_panel(fig, right, run, examples, seed)
    else:
        fig, ax = new_figure(6.0, 4.2)
        _strict_panel(fig, ax, run, examples, seed)
    fig.suptitle("Optimised policy gamma[t, n] (Fig. 10)", fontsize=10)
    return save(fig, out or Path(run_dir) / "gamma_heatmap")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--examples", type=int, default=2048, help="how many examples to show (default 2048)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random choice of examples")
    ap.add_argument("--out", default=None, help="output path without extension (default: RUN_DIR/gamma_heatmap)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.run_dir, args.out, args.examples, args.seed)))


if __name__ == "__main__":
    main()
