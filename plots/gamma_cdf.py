"""Paper Fig. 9: CDF of gamma / max gamma for well-learned perceptron examples (Property 4.2).

    python -m plots.gamma_cdf RUN_DIR [--loss-below 1e-6] [--out STEM]

RUN_DIR is a training run of the policy. At every recorded step, the examples whose train loss is
below the threshold ("perfectly learned", margin -> infinity) are collected, and their weight relative
to the largest weight of that step is pooled into one empirical CDF; the examples above the threshold
are drawn for comparison. Property 4.2 predicts the well-learned examples' weights go to zero.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from learning_law.record import load_run
from plots.common import COLORS, new_figure, save


def draw(run_dir: str | Path, out: str | Path | None = None, loss_below: float = 1e-6) -> list[str]:
    run = load_run(run_dir)
    gamma, loss = np.asarray(run["gamma_recorded"], np.float64), np.asarray(run["train_loss"], np.float64)
    rel = gamma / np.maximum(gamma.max(axis=1, keepdims=True), 1e-30)
    learned = loss < loss_below
    fig, ax = new_figure()
    for mask, label, color in ((learned, f"train loss < {loss_below:g}", COLORS["policy"]),
                               (~learned, f"train loss >= {loss_below:g}", COLORS["constant"])):
        vals = np.sort(rel[mask])
        if vals.size:
            ax.step(vals, np.arange(1, vals.size + 1) / vals.size, where="post", color=color,
                    label=f"{label} ({vals.size:,} example-steps, {np.mean(vals == 0):.0%} at 0)")
    ax.set_xlabel("gamma / max gamma at that step")
    ax.set_ylabel("cumulative fraction")
    ax.set_xlim(-0.02, 1.02)
    if learned.any():
        ax.set_title("Weights of well-learned examples vs the others")
    else:  # e.g. a language model: no example reaches the threshold, so Fig. 9's group is empty
        ax.set_title(f"Weights per example: none has a train loss < {loss_below:g}")
    ax.legend(loc="lower right", fontsize=8)
    return save(fig, out or Path(run_dir) / "gamma_cdf")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--loss-below", type=float, default=1e-6, help="threshold of a well-learned example")
    ap.add_argument("--out", default=None, help="output path without extension (default: RUN_DIR/gamma_cdf)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.run_dir, args.out, args.loss_below)))


if __name__ == "__main__":
    main()
