"""Paper Fig. 4: the objective (AUC of the dev loss) and the compression ratio per outer step; below it,
the optimality certificate (run-level KKT residual, :func:`theory.certificate.kkt_residual`) the search
logged at each step (1: the constant policy, 0: a first-order optimum) and how the search stopped.

    python -m plots.outer_progress OPT_DIR [--out STEM]

OPT_DIR is a folder written by ``learning-law optimize``. CR here is the paper's convention
(log2|V| / mean loss in nats, computed from the AUC over t = 0..T; |V| from the task, see
:func:`plots.common.log2_vocab`). When OPT_DIR/trajectory.json exists (``learning-law law OPT_DIR``),
the saved policies' exact CR (over t = 1..T, from their retrained runs) are drawn as markers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from plots.common import COLORS, log2_vocab, new_figure, save


def draw(opt_dir: str | Path, out: str | Path | None = None) -> list[str]:
    opt_dir = Path(opt_dir)
    auc = np.load(opt_dir / "outer_auc.npy")
    bits = log2_vocab(opt_dir)
    k = np.arange(auc.shape[0])  # row k: the AUC of the policy before update k
    kkt = _kkt(opt_dir)
    fig, axes = new_figure(height=5.6 if kkt else 3.8, nrows=2 if kkt else 1, sharex=True,
                           **({"gridspec_kw": {"height_ratios": [2, 1]}} if kkt else {}))
    ax = axes[0] if kkt else axes
    ax.plot(k, auc, color=COLORS["policy"], label="AUC (mean dev loss, nats)")
    evals = opt_dir / "outer_evals.npy"
    if evals.exists():
        ev = np.load(evals)
        if ev.shape[1] > 4 and np.any(~np.isnan(ev[:, 4])):
            at = np.nonzero(~np.isnan(ev[:, 4]))[0]
            ax.plot(at + 1, ev[at, 4], ".", ms=3, color="gray", label="validation AUC (selection)")
    from plots.speedup_progress import _mark_selected

    _mark_selected(ax, opt_dir)
    ax.set_xlabel("outer step")
    ax.set_ylabel("AUC of the dev loss (nats)")
    ax2 = ax.twinx()
    ax2.plot(k, bits / auc, color=COLORS["constant"], ls="--", label="CR (paper's convention)")
    traj = opt_dir / "trajectory.json"
    if traj.exists():
        cps = json.loads(traj.read_text())["checkpoints"]
        ax2.plot([c["outer_step"] for c in cps], [c["cr_paper"] for c in cps], "o", ms=4, mfc="none",
                 color=COLORS["constant"], label="CR of the saved policies (retrained)")
    ax2.set_ylabel("compression ratio log2|V| / AUC")
    ax2.grid(False)
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], loc="center right", fontsize=8)
    ax.set_title("Policy search: objective per outer step")
    if kkt:
        ax.set_xlabel("")
        low = axes[1]
        steps, values = zip(*kkt)
        low.plot(steps, values, color=COLORS["policy"], label="KKT residual (run level)")
        summary = opt_dir / "summary.json"
        stop = json.loads(summary.read_text()) if summary.exists() else {}
        if stop.get("until_kkt"):
            low.axhline(stop["until_kkt"], color="gray", ls=":", label=f"--until-kkt {stop['until_kkt']:g}")
        low.set_ylim(0, max(1.05, max(values) * 1.05))
        low.set_xlabel("outer step")
        low.set_ylabel("KKT residual")
        reason = stop.get("stop_reason")
        low.legend(loc="upper right", fontsize=8,
                   title=None if reason in (None, "completed") else f"stopped: {reason}", title_fontsize=8)
    return save(fig, out or opt_dir / "outer_progress")


def _kkt(opt_dir: Path) -> list[tuple[int, float]]:
    """(outer step, residual) rows of metrics.jsonl (older runs have none)."""
    path = opt_dir / "metrics.jsonl"
    if not path.exists():
        return []
    rows = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return [(r["outer_step"], r["kkt_residual"]) for r in rows if "kkt_residual" in r]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("opt_dir")
    ap.add_argument("--out", default=None, help="output path without extension (default: OPT_DIR/outer_progress)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.opt_dir, args.out)))


if __name__ == "__main__":
    main()
