"""Speed-up of the policy on the dev split (optimised) and on the test split (held out) per outer step.

    python -m plots.speedup_progress OPT_DIR [--out STEM]

Reads OPT_DIR/outer_evals.npy written by ``learning-law optimize`` (every --eval-every outer steps).
A gap between the two curves is the policy over-fitting the desired examples it was optimised on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from plots.common import COLORS, new_figure, save


def draw(opt_dir: str | Path, out: str | Path | None = None) -> list[str]:
    opt_dir = Path(opt_dir)
    ev = np.load(opt_dir / "outer_evals.npy")
    k = np.nonzero(~np.isnan(ev[:, 0]))[0]
    steps = k + 1  # row k holds the policy after k + 1 updates
    fig, ax = new_figure()
    ax.plot(steps, ev[k, 3], "o-", ms=3, color=COLORS["constant"], label="on the dev split (optimised on)")
    ax.plot(steps, ev[k, 2], "s-", ms=3, color=COLORS["policy"], label="on the test split (held out)")
    if ev.shape[1] > 5 and np.any(~np.isnan(ev[k, 5])):
        ax.plot(steps, ev[k, 5], "^-", ms=3, color="gray", label="on the validation split (selection)")
    _mark_selected(ax, opt_dir)
    ax.axhline(1.0, color="gray", lw=0.8, ls=":")
    ax.set_xlabel("outer step (policy updates)")
    ax.set_ylabel("speed-up over the constant policy (T / t*)")
    ax.set_title("Speed-up of the policy during the search")
    ax.legend()
    return save(fig, out or opt_dir / "speedup_progress")


def _mark_selected(ax, opt_dir: Path) -> None:
    """A vertical line at the outer step whose policy is gamma.npy (from summary.json, when finished)."""
    summary = opt_dir / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        if s.get("selected_outer_step") is not None:
            ax.axvline(s["selected_outer_step"], color="black", lw=0.8, ls="--",
                       label=f"selected (gamma.npy, by {s.get('selected_by', 'dev AUC')})")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("opt_dir")
    ap.add_argument("--out", default=None, help="output path without extension (default: OPT_DIR/speedup_progress)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.opt_dir, args.out)))


if __name__ == "__main__":
    main()
