"""Error bars over seeds: the test-loss curves as the seeds' mean with a band, and the speed-up per seed.

    python -m plots.seed_bands SEEDS_DIR [--out-dir DIR]

SEEDS_DIR is a folder written by ``learning-law reproduce TASK --seeds ...`` (``summary.json`` and one
``seed-S/`` reproduction per seed). The loss band is mean +- 1 sd over seeds at every step (the spread of
single runs); the speed-up figure shows each seed's value, their mean and the Student t interval of the
mean, read from ``summary.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from learning_law.errors import UsageError
from learning_law.record import read_json
from plots.common import COLORS, new_figure, plain_log_ticks, save
from theory.intervals import band


def _summary(seeds_dir: Path) -> dict:
    path = seeds_dir / "summary.json"
    if not path.exists() or "seeds" not in read_json(path):
        raise UsageError(f"seeds_dir={str(seeds_dir)!r} has no summary.json of several seeds: write it with "
                         "`learning-law reproduce TASK --seeds 0-4 --out SEEDS_DIR`")
    return read_json(path)


def draw_loss_band(seeds_dir: str | Path, out: str | Path | None = None) -> list[str]:
    """Test loss of the constant and the optimised policy: mean over seeds, band mean +- 1 sd; left on
    linear axes, right on log-log axes (the paper's Fig. 5a view, where the tail's gap is visible)."""
    seeds_dir = Path(seeds_dir)
    seeds = _summary(seeds_dir)["seeds"]
    fig, (ax, lax) = new_figure(width=10.0, ncols=2)
    lows, highs = [], []
    for run, label in (("constant", "constant policy"), ("policy", "optimised policy")):
        curves_SxT = np.stack([np.load(seeds_dir / f"seed-{s}" / "evaluate" / run / "test_loss.npy")
                               .astype(np.float64) for s in seeds])
        b = band(curves_SxT)
        t = np.arange(curves_SxT.shape[1])
        sd = np.nan_to_num(b["sd"])  # one seed: no band
        lo, hi = b["mean"] - sd, b["mean"] + sd
        ax.plot(t, b["mean"], color=COLORS[run], label=f"{label}, mean of {len(seeds)} seeds")
        ax.fill_between(t, lo, hi, color=COLORS[run], alpha=0.25, lw=0, label=f"{label}, mean ± 1 sd")
        # Log axes: t = 0 has no place, and a band reaching below 0 is cut at a tenth of the mean.
        lax.plot(t[1:], b["mean"][1:], color=COLORS[run])
        lax.fill_between(t[1:], np.maximum(lo, 0.1 * b["mean"])[1:], hi[1:], color=COLORS[run], alpha=0.25,
                         lw=0)
        # As loss_curves: the first steps' high loss would flatten the part where the curves differ.
        k = min(t.size - 1, max(1, t.size // 50))
        lows.append(float(np.min(lo)))
        highs.append(float(hi[k]))
    ax.set_ylim(min(lows) * 0.9, max(highs) * 1.1)
    ax.set_xlabel("inner step t")
    ax.set_ylabel("test loss (nats, desired distribution)")
    ax.set_title(f"Test loss over seeds {', '.join(map(str, seeds))}", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    lax.set_xscale("log")
    lax.set_yscale("log")
    plain_log_ticks(lax.yaxis)
    lax.set_xlabel("inner step t (log)")
    lax.set_ylabel("test loss (log)")
    lax.set_title("the same, log-log (Fig. 5a view)", fontsize=10)
    return save(fig, out or seeds_dir / "figures" / "loss_band")


def draw_speedups(seeds_dir: str | Path, out: str | Path | None = None,
                  paper_speedup: float | None = None) -> list[str]:
    """Speed-up on the test loss per seed (points), their mean and its t interval (band)."""
    seeds_dir = Path(seeds_dir)
    summary = _summary(seeds_dir)
    seeds, r = summary["seeds"], summary["speedup"]
    fig, ax = new_figure()
    x = np.arange(len(seeds))
    values = np.array([np.nan if v is None else v for v in r["values"]], dtype=np.float64)
    ax.plot(x, values, "o", color=COLORS["policy"], label="one seed")
    ax.axhline(r["mean"], color="black", lw=1.2, label=f"mean {r['mean']:.3g} (n = {r['n']})")
    if r["ci_low"] is not None and r["ci_high"] is not None:
        ax.axhspan(r["ci_low"], r["ci_high"], color="gray", alpha=0.25, lw=0,
                   label=f"{summary['level']:.0%} t interval of the mean [{r['ci_low']:.3g}, {r['ci_high']:.3g}]")
    if paper_speedup is not None:
        ax.axhline(paper_speedup, color=COLORS["fit"], ls="--", lw=1, label=f"the paper: {paper_speedup:g}x")
    ax.axhline(1.0, color="gray", lw=0.8, ls=":")
    ax.set_xticks(x, [str(s) for s in seeds])
    ax.set_xlim(-0.5, len(seeds) - 0.5)
    ax.set_xlabel("seed of the task (data and theta_0)")
    ax.set_ylabel("speed-up on the test loss (T / t*)")
    ax.set_title("Speed-up per seed", fontsize=10)
    ax.legend(loc="best", fontsize=8)
    return save(fig, out or seeds_dir / "figures" / "speedup_seeds")


def draw(seeds_dir: str | Path, out_dir: str | Path | None = None,
         paper_speedup: float | None = None) -> dict[str, list[str]]:
    """Both figures into ``out_dir`` (default SEEDS_DIR/figures); {name: [png, pdf]}."""
    out_dir = Path(out_dir) if out_dir is not None else Path(seeds_dir) / "figures"
    return {"loss_band": draw_loss_band(seeds_dir, out_dir / "loss_band"),
            "speedup_seeds": draw_speedups(seeds_dir, out_dir / "speedup_seeds", paper_speedup)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("seeds_dir")
    ap.add_argument("--out-dir", default=None, help="folder for the figures (default: SEEDS_DIR/figures)")
    ap.add_argument("--paper-speedup", type=float, default=None, help="the paper's speed-up, drawn dashed")
    args = ap.parse_args(argv)
    for paths in draw(args.seeds_dir, args.out_dir, args.paper_speedup).values():
        print("\n".join(paths))


if __name__ == "__main__":
    main()
