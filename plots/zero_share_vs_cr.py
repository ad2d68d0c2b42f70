"""Paper Fig. 8: share of gamma = 0 among the examples with CT < 0, against the compression ratio.

    python -m plots.zero_share_vs_cr OPT_DIR [--out STEM]

Reads OPT_DIR/trajectory.json (``learning-law law OPT_DIR``): one point per saved policy (outer step
0 = the constant policy, which never gives weight 0). Property 4.1 of the paper: an optimal policy
gives no weight to examples that do not help the desired loss (CT <= 0) before convergence, so the
share rises towards 1 as CR grows. (The paper writes CT <= 0; CT = 0 exactly does not occur in floats.) The share is pooled over all recorded steps, and over the steps
before the constant run's final loss is reached (before convergence).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from plots.common import COLORS, load_trajectory, new_figure, save


def draw(opt_dir: str | Path, out: str | Path | None = None) -> list[str]:
    opt_dir = Path(opt_dir)
    tr = load_trajectory(opt_dir)
    cps = tr["checkpoints"]
    col = lambda key: np.array([np.nan if c.get(key) is None else c[key] for c in cps], np.float64)  # noqa: E731
    cr = col("cr_paper")
    fig, ax = new_figure()
    ax.plot(cr, col("zero_share_negative_ct"), "o-", color=COLORS["policy"], label="over all recorded steps")
    ax.plot(cr, col("zero_share_negative_ct_until"), "s--", color=COLORS["constant"],
            label=f"over steps before dev loss {tr['until_loss']:.4g}")
    until = col("zero_share_negative_ct_until")
    for i in (0, len(cps) - 1):  # first and last only: intermediate labels crowd where CR converges
        if np.isfinite(cr[i]) and np.isfinite(until[i]):
            ax.annotate(f"outer step {cps[i]['outer_step']}", (cr[i], until[i]), textcoords="offset points",
                        xytext=(12, 14) if i == 0 else (-14, -20), ha="left" if i == 0 else "right", fontsize=7,
                        arrowprops={"arrowstyle": "-", "lw": 0.6, "color": "0.3"})
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("compression ratio CR (paper's: log2|V| / mean loss)")
    ax.set_ylabel("share of gamma = 0 among CT < 0")
    ax.set_title("Unhelpful examples get no weight (Fig. 8)\none point per saved policy of the search", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return save(fig, out or opt_dir / "zero_share_vs_cr")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("opt_dir")
    ap.add_argument("--out", default=None, help="output path without extension (default: OPT_DIR/zero_share_vs_cr)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.opt_dir, args.out)))


if __name__ == "__main__":
    main()
