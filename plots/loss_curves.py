"""Paper Fig. 2 / 5: desired (test) loss of the constant vs the optimised policy, with the speed-up.

    python -m plots.loss_curves EVAL_DIR [--out STEM]

EVAL_DIR is a folder written by ``learning-law evaluate`` (it holds ``constant/`` and ``policy/``).
The arrow and the label come from the data: the constant policy's final loss and the first step t* at
which the optimised policy reaches it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from learning_law.record import load_run, read_json
from plots.common import COLORS, new_figure, plain_log_ticks, save


def draw(eval_dir: str | Path, out: str | Path | None = None, log: bool = False) -> list[str]:
    eval_dir = Path(eval_dir)
    const, pol = load_run(eval_dir / "constant"), load_run(eval_dir / "policy")
    summary = read_json(eval_dir / "summary.json")
    fig, ax = new_figure()
    t = np.arange(const["test_loss"].shape[0])
    ax.plot(t, const["test_loss"], color=COLORS["constant"], label="constant policy (conventional)")
    ax.plot(t, pol["test_loss"], color=COLORS["policy"], label="optimised policy")
    target, t_star, steps = summary["target_test_loss"], summary["t_star"], summary["steps"]
    ax.axhline(target, color="gray", lw=0.8, ls=":")
    if t_star is not None:
        ax.annotate("", xy=(t_star, target), xytext=(steps, target),
                    arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.2})
        # The label goes in the legend: on the plot it would cover one of the curves or the arrow.
        ax.plot([], [], color="black", lw=1.2, marker="<", ms=5,
                label=f"{summary['speedup']:.2f}x speed-up: the optimised run reaches the\n"
                      f"constant run's final loss {target:.4g} at t* = {t_star} of T = {steps}")
    else:  # the optimised run never reaches the constant run's final loss: say so, with the ratio below 1
        ax.plot([], [], " ", label=f"no speed-up: the optimised run never reaches {target:.4g};\n"
                f"ratio {summary['speedup']:.2f}x = (step at which the constant run reaches\n"
                "the optimised run's final loss) / T")
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
    else:
        lo = min(float(np.min(const["test_loss"])), float(np.min(pol["test_loss"])))
        ax.set_ylim(lo * 0.9, float(const["test_loss"][min(len(t) - 1, max(1, steps // 50))]) * 1.1)
    ax.set_xlabel("inner step t")
    ax.set_ylabel("test loss (nats, desired distribution)")
    ax.set_title(f"Test loss (desired distribution): test AUC {summary['auc_test_constant']:.4f} -> "
                 f"{summary['auc_test_policy']:.4f}", fontsize=10)
    ax.legend(loc="lower left" if log else "upper right", fontsize=8)
    return save(fig, out or eval_dir / "loss_curves")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("eval_dir")
    ap.add_argument("--out", default=None, help="output path without extension (default: EVAL_DIR/loss_curves)")
    ap.add_argument("--log", action="store_true", help="log-log axes")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.eval_dir, args.out, args.log)))


if __name__ == "__main__":
    main()
