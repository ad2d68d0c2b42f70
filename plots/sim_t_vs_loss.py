"""Paper Fig. 6: SIM_t against the desired loss, one line per outer-checkpoint policy, coloured by CR.

    python -m plots.sim_t_vs_loss OPT_DIR [--out STEM]

Reads OPT_DIR/trajectory.json (``learning-law law OPT_DIR``): per saved policy the per-record-step
SIM_t and the dev loss at the same steps. Training runs from right (high loss) to left; a policy
closer to optimal keeps SIM_t higher at the same loss.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable

from plots.common import checkpoint_colors, load_trajectory, new_figure, plain_log_ticks, save


def draw(opt_dir: str | Path, out: str | Path | None = None) -> list[str]:
    opt_dir = Path(opt_dir)
    tr = load_trajectory(opt_dir)
    cps = tr["checkpoints"]
    crs = [c["cr_paper"] for c in cps]
    cmap, norm = checkpoint_colors(crs)
    fig, ax = new_figure(6.0, 4.2)
    for c in cps:
        loss = np.array([np.nan if v is None else v for v in c["dev_loss_t"]], np.float64)
        sim = np.array([np.nan if v is None else v for v in c["sim_t"]], np.float64)
        ok = np.isfinite(loss) & np.isfinite(sim) & (loss > 0)
        ax.plot(loss[ok], sim[ok], color=cmap(norm(c["cr_paper"])), lw=1.1,
                ls="--" if c["outer_step"] == 0 else "-")
    ax.set_xscale("log")
    ax.invert_xaxis()
    plain_log_ticks(ax.xaxis)
    sm = ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(sm, ax=ax)
    cb.set_label("compression ratio of the policy (paper's CR)")
    ax.plot([], [], "k--", lw=1.1, label="constant policy (outer step 0)")
    ax.plot([], [], "k-", lw=1.1, label=f"{len(cps) - 1} saved policies of the search")
    ax.set_xlabel("desired (dev) loss at step t, nats (log scale; training runs left to right)")
    ax.set_ylabel("SIM_t (weighted mean / std of CT)")
    ax.set_title("SIM_t along training, per policy (Fig. 6)")
    ax.legend(fontsize=8, loc="best")
    return save(fig, out or opt_dir / "sim_t_vs_loss")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("opt_dir")
    ap.add_argument("--out", default=None, help="output path without extension (default: OPT_DIR/sim_t_vs_loss)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.opt_dir, args.out)))


if __name__ == "__main__":
    main()
