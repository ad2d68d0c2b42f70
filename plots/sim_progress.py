"""SIM (and the KKT residual) per outer step of the policy search (paper Section 4.4).

    python -m plots.sim_progress OPT_DIR [--out STEM]

Reads OPT_DIR/trajectory.json (``learning-law law OPT_DIR``): for every saved policy (outer step 0 =
the constant policy) the run-level SIM = mean_t SIM_t, the same over the steps before the constant
run's final loss is reached, and the KKT residual of the discrete problem (0 = first-order optimal,
1 = no better than uniform weights).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from plots.common import COLORS, load_trajectory, new_figure, save


def _column(checkpoints, key):
    return np.array([np.nan if c.get(key) is None else c[key] for c in checkpoints], dtype=np.float64)


def draw(opt_dir: str | Path, out: str | Path | None = None) -> list[str]:
    opt_dir = Path(opt_dir)
    tr = load_trajectory(opt_dir)
    cps = tr["checkpoints"]
    k = _column(cps, "outer_step")
    fig, (ax, ax2) = new_figure(5.5, 5.2, nrows=2, sharex=True)
    ax.plot(k, _column(cps, "sim_mean"), "o-", color=COLORS["policy"], label="SIM = mean over all recorded t")
    ax.plot(k, _column(cps, "sim_mean_until"), "s--", color=COLORS["constant"],
            label=f"mean over t before dev loss {tr['until_loss']:.4g}\n(the constant run's final loss)")
    ax.set_ylabel("SIM (mean/std of CT)")
    ax.set_title("Learning Law along the policy search")
    ax.legend(fontsize=8, loc="center right")
    kkt = _column(cps, "kkt_residual")
    if np.any(np.isfinite(kkt)):
        ax2.plot(k, kkt, "o-", color=COLORS["fit"], label="KKT residual (1 = uniform weights)")
        ax2.set_ylim(0, max(1.05, float(np.nanmax(kkt)) * 1.05))
    else:
        reason = next((c.get("kkt_reason") for c in cps if c.get("kkt_reason")), "not computed")
        ax2.text(0.5, 0.5, f"KKT residual not available:\n{reason}", ha="center", va="center",
                 transform=ax2.transAxes, fontsize=8)
    ax2.set_ylabel("KKT residual")
    ax2.set_xlabel("outer step (0 = constant policy)")
    ax2.legend(fontsize=8, loc="upper right")
    return save(fig, out or opt_dir / "sim_progress")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("opt_dir")
    ap.add_argument("--out", default=None, help="output path without extension (default: OPT_DIR/sim_progress)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.opt_dir, args.out)))


if __name__ == "__main__":
    main()
