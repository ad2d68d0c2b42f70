"""Error bars over seeds for the sweep (Table 2) and the online policies: each number's mean over the seeds
with its Student t interval of the mean as the error bar, read from a seeds folder's summary.json.

    python -m plots.seed_errorbars SEEDS_DIR [--out-dir DIR]

SEEDS_DIR is written by ``python -m experiments.sweep --seeds ...`` (figure ``table2_seeds``) or
``python -m experiments.online_policies --seeds ...`` (figure ``policies_seeds``); its config.json says
which. A number with fewer than two finite seeds has no interval: its point is drawn without a bar.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from learning_law.errors import UsageError
from learning_law.record import read_json
from plots.common import COLORS, new_figure, plain_log_ticks, save


def _mean_err(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """means ``[K]`` and asymmetric error bars ``[2, K]`` (NaN where there is no interval) of summary rows."""
    num = lambda v: np.nan if v is None else float(v)  # noqa: E731
    mean = np.array([num(r["mean"]) for r in rows])
    lo = np.array([num(r["ci_low"]) for r in rows])
    hi = np.array([num(r["ci_high"]) for r in rows])
    return mean, np.stack([mean - lo, hi - mean])


def _level(summary: dict) -> str:
    return f"{summary['level']:.0%} t interval of the mean over {len(summary['seeds'])} seeds"


def draw_table2(summary: dict, out: str | Path) -> list[str]:
    """Measured speed-up and the Eq. 9 acceleration ratio (both fits) against T: mean and interval bars."""
    cells = summary["cells"]
    T = np.array([c["T"] for c in cells], np.float64)
    fig, ax = new_figure()
    series = (("measured_speedup", "speed-up measured at T", "k", "*-", 0.0),
              ("ar_eq9_paper", "Eq. 9 at T, paper fits", COLORS["policy"], "o:", -0.03),
              ("ar_eq9_robust", "Eq. 9 at T, robust fits", COLORS["constant"], "s--", 0.03))
    for key, label, color, style, shift in series:
        mean, err = _mean_err([summary[c["key"]][key] for c in cells])
        # A small shift in log T keeps the three bars of one cell apart.
        ax.errorbar(T * np.exp(shift), mean, yerr=err, fmt=style, color=color, capsize=3, ms=7, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_xticks(T, [f"T={int(c['T'])}\nN={c['N']}" for c in cells])
    ax.minorticks_off()
    ax.set_xlabel("size of the run (T and N grow together)")
    ax.set_ylabel("acceleration ratio T / t* (log)")
    ax.set_title(f"Table 2 over seeds: mean, bars = {_level(summary)}", fontsize=9)
    ax.legend(fontsize=8)
    return save(fig, out)


def draw_policies(summary: dict, out: str | Path) -> list[str]:
    """Speed-up on the test and on the dev loss per policy: mean and interval bars, side by side."""
    names = summary["entries"]
    x = np.arange(len(names))
    fig, ax = new_figure(width=max(5.5, 1.1 * len(names)))
    for key, label, color, shift in (("speedup_test", "test loss (held out)", COLORS["policy"], -0.12),
                                     ("speedup_dev", "dev loss (the desired examples seen)", COLORS["constant"], 0.12)):
        mean, err = _mean_err([summary[n][key] for n in names])
        ax.errorbar(x + shift, mean, yerr=err, fmt="o", color=color, capsize=3, label=f"speed-up on the {label}")
    ax.axhline(1.0, color="gray", lw=0.8, ls=":")
    ax.set_xticks(x, [n.replace("online:", "online:\n") for n in names], fontsize=8)
    ax.set_xlim(-0.5, len(names) - 0.5)
    ax.set_ylabel("speed-up T / t* against constant")
    ax.set_title(f"Policies over seeds: mean, bars = {_level(summary)}", fontsize=9)
    fig.legend(fontsize=8, loc="outside lower center", ncols=1)  # below the axes: it hid bars inside them
    return save(fig, out)


FIGURES = {"sweep-seeds": ("table2_seeds", draw_table2), "online-policies-seeds": ("policies_seeds", draw_policies)}


def draw(seeds_dir: str | Path, out_dir: str | Path | None = None) -> list[str]:
    """The figure of a seeds folder (its config.json ``kind`` says which) into ``out_dir`` (default
    SEEDS_DIR/figures); returns [png, pdf]."""
    seeds_dir = Path(seeds_dir)
    kind = read_json(seeds_dir / "config.json").get("kind") if (seeds_dir / "config.json").exists() else None
    if kind not in FIGURES or not (seeds_dir / "summary.json").exists():
        raise UsageError(f"seeds_dir={str(seeds_dir)!r} is not a finished folder of `python -m experiments.sweep "
                         "--seeds` or `python -m experiments.online_policies --seeds` (config.json, summary.json)")
    name, fn = FIGURES[kind]
    return fn(read_json(seeds_dir / "summary.json"), Path(out_dir or seeds_dir / "figures") / name)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("seeds_dir")
    ap.add_argument("--out-dir", default=None, help="folder for the figure (default: SEEDS_DIR/figures)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.seeds_dir, args.out_dir)))


if __name__ == "__main__":
    main()
