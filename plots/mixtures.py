"""Figures of a data-mixture experiment: where each method puts its weight per source, and the contributions.

    python -m plots.mixtures MIXTURES_DIR

MIXTURES_DIR is a folder written by ``python -m experiments.mixtures`` (``seed-S/weights.npz``,
``seed-S/contributions.npz``, ``seed-S/rows.json``). Writes ``mixture_weights.{png,pdf}`` and
``mixture_contributions.{png,pdf}`` into it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from learning_law.errors import UsageError
from learning_law.record import read_json
from plots.common import new_figure, save

STYLE = {"constant": ("#4C72B0", "-"), "desired-only": ("#222222", ":"), "doremi": ("#DD8452", "--"),
         "doge": ("#8172B3", "--"), "optimized-domain": ("#55A868", "-"), "optimized-example": ("#C44E52", "-")}


def _seed_dirs(out: Path) -> dict[int, Path]:
    dirs = {int(p.name.split("-", 1)[1]): p for p in sorted(out.glob("seed-*")) if (p / "rows.json").exists()}
    if not dirs:
        raise UsageError(f"{str(out)!r} has no seed-S/rows.json: run `python -m experiments.mixtures --out {out}`")
    return dict(sorted(dirs.items()))


def plot_weights(out: str | Path, dirs: dict[int, Path] | None = None) -> list[str]:
    """One panel per source: its share of each step's weight, per method, mean over the seeds (a band of
    min..max over seeds where there are several)."""
    out = Path(out)
    dirs = dirs or _seed_dirs(out)
    rows = read_json(next(iter(dirs.values())) / "rows.json")
    names, desired = rows["sources"], rows["desired"]
    weights = [np.load(d / "weights.npz") for d in dirs.values()]
    fig, axes = new_figure(width=5.0 * len(names), height=3.8, ncols=len(names), squeeze=False)
    for k, ax in enumerate(axes[0]):
        for label in weights[0].files:
            w_SxT = np.stack([w[label][:, k] for w in weights])
            color, ls = STYLE.get(label, ("#777777", "-"))
            t = np.arange(w_SxT.shape[1])
            ax.plot(t, w_SxT.mean(0), color=color, ls=ls, lw=1.6, label=label)
            if len(weights) > 1:
                ax.fill_between(t, w_SxT.min(0), w_SxT.max(0), color=color, alpha=0.12, lw=0)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("inner step t")
        ax.set_ylabel("share of the step's weight")
        ax.set_title(f"source `{names[k]}`" + (" (desired)" if k == desired else ""))
    axes[0][0].legend(fontsize=8, loc="best")
    fig.suptitle(f"Where the weight goes, per source (mean over {len(weights)} seed(s); band: min..max)")
    return save(fig, out / "mixture_weights")


def plot_contributions(out: str | Path, dirs: dict[int, Path] | None = None) -> list[str]:
    """Contribution CT per source at the recorded steps (first seed), one panel per policy: weighted by the
    policy's weights on the source's examples (solid: the examples it uses) and over all of them (dashed). The
    Learning Law says the used examples of a near-optimal policy contribute alike, whatever their source."""
    out = Path(out)
    dirs = dirs or _seed_dirs(out)
    seed, folder = next(iter(dirs.items()))
    rows = read_json(folder / "rows.json")
    names = rows["sources"]
    ct = np.load(folder / "contributions.npz")
    labels = [f for f in ct.files if f != "record_steps"]
    steps = ct["record_steps"]
    fig, axes = new_figure(width=4.4 * len(labels), height=3.8, ncols=len(labels), squeeze=False, sharey=True)
    colors = ("#C44E52", "#4C72B0", "#55A868", "#8172B3", "#DD8452")
    for ax, label in zip(axes[0], labels):
        for k, name in enumerate(names):
            color = colors[k % len(colors)]
            tag = name + (" (desired)" if k == rows["desired"] else "")
            ax.plot(steps, ct[label][:, k, 1], color=color, lw=1.8, label=f"{tag}, weighted by the policy")
            ax.plot(steps, ct[label][:, k, 0], color=color, lw=1.0, ls="--", label=f"{tag}, all its examples")
        ax.axhline(0.0, color="#999999", lw=0.8)
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_xlabel("inner step t")
        ax.set_title(f"policy `{label}`")
    axes[0][0].set_ylabel("CT per source (mean)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Contributions CT = grad L_dev . grad l_n per source (seed {seed}); no solid line: no weight")
    return save(fig, out / "mixture_contributions")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mixtures_dir", help="a folder written by python -m experiments.mixtures")
    args = ap.parse_args(argv)
    try:
        for path in plot_weights(args.mixtures_dir) + plot_contributions(args.mixtures_dir):
            print(path)
    except UsageError as e:
        print(f"plots.mixtures: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
