"""Paper Fig. 4: the objective (AUC of the dev loss) and the compression ratio per outer step.

    python -m plots.outer_progress OPT_DIR [--out STEM]

OPT_DIR is a folder written by ``learning-law optimize``. CR here is the paper's convention
(log2|V| / mean loss in nats, computed from the AUC over t = 0..T).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from learning_law.record import read_json
from plots.common import COLORS, new_figure, save


def draw(opt_dir: str | Path, out: str | Path | None = None) -> list[str]:
    opt_dir = Path(opt_dir)
    auc = np.load(opt_dir / "outer_auc.npy")
    cfg = read_json(opt_dir / "config.json")
    vocab = 2 if cfg["task"] == "perceptron" else int(cfg.get("vocab_size", 2))
    k = np.arange(auc.shape[0])
    fig, ax = new_figure()
    ax.plot(k, auc, color=COLORS["policy"], label="AUC (mean dev loss, nats)")
    ax.set_xlabel("outer step")
    ax.set_ylabel("AUC of the dev loss (nats)")
    ax2 = ax.twinx()
    ax2.plot(k, math.log2(vocab) / auc, color=COLORS["constant"], ls="--", label="CR (paper's convention)")
    ax2.set_ylabel("compression ratio log2|V| / AUC")
    ax2.grid(False)
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], loc="center right")
    ax.set_title("Policy search: objective per outer step")
    return save(fig, out or opt_dir / "outer_progress")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("opt_dir")
    ap.add_argument("--out", default=None, help="output path without extension (default: OPT_DIR/outer_progress)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.opt_dir, args.out)))


if __name__ == "__main__":
    main()
