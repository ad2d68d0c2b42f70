"""Paper Fig. 8: share of zero weights among the examples with CT < 0, against the compression ratio.

    python -m plots.zero_share_vs_cr OPT_DIR [--out STEM]

Reads OPT_DIR/trajectory.json (``learning-law law OPT_DIR``): one point per saved policy (outer step
0 = the constant policy, which never gives weight 0). Property 4.1 of the paper: an optimal policy
gives no weight to examples that do not help the desired loss (CT <= 0) before convergence, so the
share rises towards 1 as CR grows. (The paper writes CT <= 0; CT = 0 exactly does not occur in floats.)

Two panels, one per Learning-Law definition (:func:`theory.law.definition`):

- left, ``paper`` (the authors' figure scripts): per checkpoint ``definitions.paper.zero_share`` against
  ``definitions.paper.cr``: test-split CT after the step, the pairs of the first steps only (perceptron
  t = 0..9, language model t = 0..99), a weight below an absolute threshold (1e-4, LM 1e-8) counts as
  zero, CR of the authors' scripts (test loss);
- right, ``strict`` (this toolkit's measure): gamma = 0 exactly among dev-split CT < 0 at theta_t, pooled
  over all recorded steps and over the steps before the constant run's final dev loss is reached
  (before convergence), against ``cr_paper`` (dev loss).

Without any ``paper`` value (a trajectory made before the definitions existed, or no replay) only the
``strict`` panel is drawn.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from plots.common import COLORS, load_trajectory, new_figure, save
from theory.law import LawDefinition, definition


def _num(v: float) -> str:
    """1e-4 rather than 0.0001 for a power of ten; %g otherwise."""
    if v > 0 and float(10 ** round(math.log10(v))) == v and abs(math.log10(v)) >= 3:
        return f"1e{round(math.log10(v))}"
    return f"{v:g}"


def window_text(window: tuple[int, int | None]) -> str:
    """``t = 0..9`` for the window (0, 10); ``all steps`` for (0, None)."""
    start, stop = window
    return f"t >= {start}" if stop is None and start else "all steps" if stop is None else f"t = {start}..{stop - 1}"


def zero_rule_text(d: LawDefinition) -> str:
    """What counts as a zero weight under ``d``: ``gamma < 1e-4``, ``gamma < 0.41/N`` or ``gamma = 0``."""
    return {"exact": "gamma = 0", "absolute": f"gamma < {_num(d.zero_value)}",
            "relative": f"gamma < {_num(d.zero_value)}/N"}[d.zero_rule]


def paper_definition(tr: dict) -> LawDefinition:
    """The ``paper`` definition of the trajectory's task."""
    return definition("paper", tr.get("task") or "perceptron")


def _value(d: dict, key: str) -> float:
    v = d.get(key) if isinstance(d, dict) else None
    return float("nan") if v is None else float(v)


def paper_points(tr: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(cr, share)``: ``[checkpoints]`` arrays of ``definitions.paper.cr`` and ``.zero_share`` (NaN where a
    checkpoint has no ``paper`` value)."""
    paper = [c.get("definitions", {}).get("paper", {}) for c in tr["checkpoints"]]
    return (np.array([_value(p, "cr") for p in paper], np.float64),
            np.array([_value(p, "zero_share") for p in paper], np.float64))


def _annotate_ends(ax, cps, x, y) -> None:
    for i in (0, len(cps) - 1):  # first and last only: intermediate labels crowd where CR converges
        if np.isfinite(x[i]) and np.isfinite(y[i]):
            ax.annotate(f"outer step {cps[i]['outer_step']}", (x[i], y[i]), textcoords="offset points",
                        xytext=(12, 14) if i == 0 else (-14, 14) if y[i] < 0.15 else (-14, -20),
                        ha="left" if i == 0 else "right", fontsize=7,
                        arrowprops={"arrowstyle": "-", "lw": 0.6, "color": "0.3"})


def _strict_panel(ax, tr: dict) -> None:
    cps = tr["checkpoints"]
    col = lambda key: np.array([np.nan if c.get(key) is None else c[key] for c in cps], np.float64)  # noqa: E731
    cr = col("cr_paper")
    ax.plot(cr, col("zero_share_negative_ct"), "o-", color=COLORS["policy"], label="over all recorded steps")
    until = col("zero_share_negative_ct_until")
    ax.plot(cr, until, "s--", color=COLORS["constant"], label=f"over steps before dev loss {tr['until_loss']:.4g}")
    _annotate_ends(ax, cps, cr, until)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("compression ratio CR\n(paper's: log2|V| / mean L_t, L = dev loss)")
    ax.set_ylabel("share of gamma = 0 among CT < 0")
    ax.set_title("strict: dev CT at theta_t, gamma = 0 exactly", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")


def _paper_panel(ax, tr: dict, d: LawDefinition) -> None:
    cps = tr["checkpoints"]
    cr, share = paper_points(tr)
    neg = f"CT {d.negative} 0"
    ax.plot(cr, share, "o-", color=COLORS["policy"],
            label=f"{window_text(d.zero_steps)}, {zero_rule_text(d)} among {neg}")
    _annotate_ends(ax, cps, cr, share)
    ax.set_ylim(-0.03, 1.03)
    cr_text = ("authors' scripts: log2|V| (T-1) / sum_{t=1}^{T-1} L_t" if d.cr == "scripts"
               else "paper's: log2|V| / mean L_t")
    ax.set_xlabel(f"compression ratio CR\n({cr_text}, L = {d.ct_split} loss)")
    ax.set_ylabel(f"share of {zero_rule_text(d)} among {neg}")
    timing = "after the step" if d.ct_timing == "after" else "at theta_t"
    ax.set_title(f"paper definition: {d.ct_split} CT {timing}, {window_text(d.zero_steps)}", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")


def draw(opt_dir: str | Path, out: str | Path | None = None) -> list[str]:
    opt_dir = Path(opt_dir)
    tr = load_trajectory(opt_dir)
    title = "Unhelpful examples get no weight (Fig. 8): one point per saved policy of the search"
    if np.isfinite(paper_points(tr)[1]).any():
        fig, (left, right) = new_figure(11.0, 4.2, ncols=2)
        _paper_panel(left, tr, paper_definition(tr))
        _strict_panel(right, tr)
        fig.suptitle(title, fontsize=10)
    else:
        fig, ax = new_figure()
        _strict_panel(ax, tr)
        ax.set_title("Unhelpful examples get no weight (Fig. 8)\none point per saved policy of the search "
                     "(strict definition)", fontsize=10)
    return save(fig, out or opt_dir / "zero_share_vs_cr")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("opt_dir")
    ap.add_argument("--out", default=None, help="output path without extension (default: OPT_DIR/zero_share_vs_cr)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.opt_dir, args.out)))


if __name__ == "__main__":
    main()
