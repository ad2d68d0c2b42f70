"""Paper Fig. 1: the objective of optimal learning -- the area under the desired-loss curve is a code length.

    python -m plots.objective EVAL_DIR [--out STEM]

EVAL_DIR is a folder written by ``learning-law evaluate``. Both dev-loss curves (the desired loss the
policy minimises) are drawn with the area under them shaded. The legend gives each run's AUC (mean dev
loss over t = 0..T, nats) and its prequential code length sum_{t=1..T} L(theta_t) / ln 2 in bits per
desired example (paper App. A): a smaller area is a shorter description of the data, i.e. a higher
compression ratio. All numbers come from the runs' summary.json and loss curves.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from learning_law.record import load_run
from plots.common import COLORS, new_figure, save


def draw(eval_dir: str | Path, out: str | Path | None = None) -> list[str]:
    eval_dir = Path(eval_dir)
    fig, ax = new_figure(6.0, 4.0)
    top = 0.0
    for name, label in (("constant", "constant policy"), ("policy", "optimised policy")):
        run = load_run(eval_dir / name)
        loss = np.asarray(run["dev_loss"], np.float64)
        s = run["summary"]
        t = np.arange(loss.size)
        bits = float(np.sum(loss[1:]) / math.log(2))
        ax.plot(t, loss, color=COLORS[name], lw=1.5,
                label=f"{label}: AUC {s['auc']:.4g} nats; code {bits:,.0f} bits per {t[-1]:,} symbols; CR {s['cr_paper']:.3g}")
        ax.fill_between(t, 0, loss, color=COLORS[name], alpha=0.18, lw=0)
        top = max(top, float(loss[min(loss.size - 1, max(1, loss.size // 50))]))
    ax.set_ylim(0, top * 1.15)
    ax.set_xlim(0, t[-1])
    ax.set_xlabel("inner step t")
    ax.set_ylabel("desired (dev) loss L(theta_t), nats")
    ax.set_title("Objective: area under the desired-loss curve = code length\n"
                 "(code: sum over t >= 1 of L_t / ln 2 bits; CR = T log2|V| / sum L_t, the paper's)",
                 fontsize=9)
    ax.legend(loc="upper right", fontsize=8)
    return save(fig, out or eval_dir / "objective")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("eval_dir")
    ap.add_argument("--out", default=None, help="output path without extension (default: EVAL_DIR/objective)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.eval_dir, args.out)))


if __name__ == "__main__":
    main()
