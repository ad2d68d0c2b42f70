"""Paper Fig. 10: the optimised policy over time, for random training examples with CT > 0.

    python -m plots.gamma_heatmap RUN_DIR [--examples 2048] [--seed 0] [--out STEM]

RUN_DIR is a training run of the policy (e.g. EVAL_DIR/policy): it has gamma_recorded.npy and ct.npy
[T', N] at record_steps.npy. Examples are drawn among those with CT > 0 at the first recorded step,
sorted by their total weight; the colour is N * gamma (1 = the constant policy's weight).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np

from learning_law.record import load_run
from plots.common import new_figure, save


def draw(run_dir: str | Path, out: str | Path | None = None, examples: int = 2048, seed: int = 0) -> list[str]:
    run = load_run(run_dir)
    gamma, ct, steps = np.asarray(run["gamma_recorded"]), np.asarray(run["ct"]), np.asarray(run["record_steps"])
    n = gamma.shape[1]
    candidates = np.nonzero(ct[0] > 0)[0]
    rng = np.random.default_rng(seed)
    pick = rng.choice(candidates, size=min(examples, candidates.size), replace=False)
    pick = pick[np.argsort(-gamma[:, pick].sum(0))]
    scaled = n * gamma[:, pick].T  # [examples, T']
    fig, ax = new_figure(6.0, 4.2)
    vmax = max(float(np.percentile(scaled, 99.5)), 1.0 + 1e-6)
    im = ax.imshow(scaled, aspect="auto", interpolation="nearest", cmap="magma",
                   norm=mcolors.PowerNorm(0.5, vmin=0, vmax=vmax),
                   extent=(steps[0], steps[-1] + (steps[1] - steps[0] if len(steps) > 1 else 1), len(pick), 0))
    ax.grid(False)
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("N x gamma (1 = constant policy)")
    ax.set_xlabel("inner step t")
    ax.set_ylabel(f"{len(pick)} examples with CT > 0 at t = 0\n(sorted by total weight)")
    ax.set_title("Optimised policy gamma[t, n]")
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
