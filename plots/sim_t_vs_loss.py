"""Paper Fig. 6: SIM_t against the desired loss, one line per outer-checkpoint policy, coloured by CR.

    python -m plots.sim_t_vs_loss OPT_DIR [--out STEM]

Reads OPT_DIR/trajectory.json (``learning-law law OPT_DIR``). Training runs from right (high loss) to
left; a policy closer to optimal keeps SIM_t higher at the same loss (control (b) of
:mod:`theory.law_measures` compares SIM_t at equal loss). Two panels, one per Learning-Law definition
(:func:`theory.law.definition`):

- left, ``paper`` (the authors' figure scripts): per saved policy ``paper_sim_t``, SIM_t of every step
  (test-split CT after the step, gamma clamped at 0 and renormalised), against ``paper_loss_t``, the test
  loss paired with each row (at theta_{t+1}), coloured by ``definitions.paper.cr``;
- right, ``strict`` (this toolkit's measure): the per-record-step ``sim_t`` (dev-split CT at theta_t)
  against the dev loss at the same steps, coloured by ``cr_paper``.

Without any ``paper_sim_t`` (a trajectory made before the definitions existed, or no replay) only the
``strict`` panel is drawn.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable

from plots.common import checkpoint_colors, load_trajectory, new_figure, plain_log_ticks, save


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], np.float64)


def paper_lines(tr: dict) -> list[dict]:
    """One dict per checkpoint with ``paper_sim_t``: ``outer_step``, ``cr`` (``definitions.paper.cr``, NaN
    when missing), ``loss`` and ``sim``: the finite pairs (``paper_loss_t``, ``paper_sim_t``) with loss > 0,
    as drawn."""
    out = []
    for c in tr["checkpoints"]:
        if not c.get("paper_sim_t") or not c.get("paper_loss_t"):
            continue
        loss, sim = _arr(c["paper_loss_t"]), _arr(c["paper_sim_t"])
        ok = np.isfinite(loss) & np.isfinite(sim) & (loss > 0)
        cr = c.get("definitions", {}).get("paper", {}).get("cr")
        out.append({"outer_step": c["outer_step"], "cr": np.nan if cr is None else float(cr), "loss": loss[ok],
                    "sim": sim[ok]})
    return out


def _finish(fig, ax, cmap, norm, n_saved: int, cr_label: str, x_label: str, title: str) -> None:
    ax.set_xscale("log")
    ax.invert_xaxis()
    plain_log_ticks(ax.xaxis)
    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax)
    cb.set_label(cr_label)
    ax.plot([], [], "k--", lw=1.1, label="constant policy (outer step 0)")
    ax.plot([], [], "k-", lw=1.1, label=f"{n_saved} saved policies of the search")
    ax.set_xlabel(x_label)
    ax.set_ylabel("SIM_t (weighted mean / std of CT)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="best")


def _paper_panel(fig, ax, tr: dict) -> None:
    lines = paper_lines(tr)
    crs = [ln["cr"] for ln in lines]
    cmap, norm = checkpoint_colors(crs if np.isfinite(crs).any() else [0.0])
    for ln in lines:
        ax.plot(ln["loss"], ln["sim"], color=cmap(norm(ln["cr"])) if np.isfinite(ln["cr"]) else "0.5", lw=1.1,
                ls="--" if ln["outer_step"] == 0 else "-")
    _finish(fig, ax, cmap, norm, sum(ln["outer_step"] != 0 for ln in lines),
            "compression ratio of the policy (authors' scripts' CR)",
            "test loss after step t, nats (log scale; training runs left to right)",
            "paper definition: every step, test CT after the step")


def _strict_panel(fig, ax, tr: dict) -> None:
    cps = tr["checkpoints"]
    cmap, norm = checkpoint_colors([c["cr_paper"] for c in cps])
    for c in cps:
        loss, sim = _arr(c["dev_loss_t"]), _arr(c["sim_t"])
        ok = np.isfinite(loss) & np.isfinite(sim) & (loss > 0)
        ax.plot(loss[ok], sim[ok], color=cmap(norm(c["cr_paper"])), lw=1.1, ls="--" if c["outer_step"] == 0 else "-")
    _finish(fig, ax, cmap, norm, len(cps) - 1, "compression ratio of the policy (paper's CR)",
            "desired (dev) loss at step t, nats (log scale; training runs left to right)",
            "strict: record steps, dev CT at theta_t")


def draw(opt_dir: str | Path, out: str | Path | None = None) -> list[str]:
    opt_dir = Path(opt_dir)
    tr = load_trajectory(opt_dir)
    title = "SIM_t along training, per policy (Fig. 6)"
    if any(ln["loss"].size for ln in paper_lines(tr)):
        fig, (left, right) = new_figure(12.0, 4.4, ncols=2)
        _paper_panel(fig, left, tr)
        _strict_panel(fig, right, tr)
    else:
        fig, ax = new_figure(6.0, 4.4)
        _strict_panel(fig, ax, tr)
    fig.suptitle(title, fontsize=10)
    return save(fig, out or opt_dir / "sim_t_vs_loss")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("opt_dir")
    ap.add_argument("--out", default=None, help="output path without extension (default: OPT_DIR/sim_t_vs_loss)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.opt_dir, args.out)))


if __name__ == "__main__":
    main()
