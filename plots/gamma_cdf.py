"""Paper Fig. 9: CDF of gamma / max gamma for well-learned perceptron examples (Property 4.2).

    python -m plots.gamma_cdf RUN_DIR [--loss-below 1e-6] [--out STEM]

RUN_DIR is a training run of the policy. The (step, example) pairs whose train loss is below a
threshold ("perfectly learned", margin -> infinity) are collected, and their weight relative to the
largest weight of that step is pooled into one empirical CDF; the other pairs are drawn beside them (for
the ``paper`` panel this is control (c) of :mod:`theory.law_measures`). Property 4.2 predicts the
well-learned examples' weights go to zero.

Two panels, one per Learning-Law definition (:func:`theory.law.definition`, task from RUN_DIR/config.json):

- left, ``paper`` (the authors' figure scripts), from the run's replay ``law_records_paper.npz``
  (:func:`learning_law.law_replay.load_records`): the steps of the definition's Fig. 9 window (t = 1..49),
  gamma clamped at 0 and renormalised, then divided by the row's max
  (:func:`theory.law_measures.relative_weights`), train losses after the step, well learned = train loss
  below the definition's ``learned_below``; the dotted line is its ``low_frac`` and the legend gives each
  group's share below it (the left group's share is the ``low_weight_share`` of law.json's ``paper``);
- right, ``strict`` (this toolkit's measure): every recorded step, gamma / max gamma as recorded, well
  learned = train loss below ``--loss-below``.

Without ``law_records_paper.npz`` only the ``strict`` panel is drawn.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from learning_law.law_replay import load_records
from learning_law.record import load_run, read_json
from plots.common import COLORS, new_figure, save
from theory.law import LawDefinition, definition
from theory.law_measures import in_window, relative_weights


def _window(w: tuple[int, int | None]) -> str:
    return "all steps" if w[1] is None else f"t = {w[0]}..{w[1] - 1}"


def paper_definition(run_dir: str | Path) -> LawDefinition:
    """The ``paper`` definition of the run's task (RUN_DIR/config.json ``task``)."""
    cfg = Path(run_dir) / "config.json"
    task = read_json(cfg).get("task") if cfg.exists() else None
    return definition("paper", task or "perceptron")


def paper_groups(rec: dict, d: LawDefinition) -> dict[str, np.ndarray]:
    """Fig. 9's values under ``d`` from a replay's ``dense`` records: ``learned`` and ``other``, the sorted
    relative weights gamma / max gamma of the pairs in ``d.learned_steps`` whose train loss is below
    ``d.learned_below`` and of the rest, and ``steps``, the rows used."""
    dense = rec["dense"]
    rows = in_window(dense["steps"], d.learned_steps)
    rel = relative_weights(np.asarray(dense["gamma"])[rows], d)
    good = np.asarray(dense["train_loss"])[rows] < d.learned_below
    return {"learned": np.sort(rel[good]), "other": np.sort(rel[~good]), "steps": np.asarray(dense["steps"])[rows]}


def _cdf(ax, vals: np.ndarray, color: str, label: str) -> None:
    """The empirical CDF of sorted ``vals``, rising from 0 at the smallest value (so one pair shows too)."""
    if vals.size:
        ax.step(np.r_[vals[0], vals], np.arange(vals.size + 1) / vals.size, where="post", color=color, label=label)


def _paper_panel(ax, rec: dict, d: LawDefinition) -> None:
    g = paper_groups(rec, d)
    below = f"{d.learned_below:g}"
    for key, label, color in (("learned", f"train loss < {below}", COLORS["policy"]),
                              ("other", f"train loss >= {below} (control c)", COLORS["constant"])):
        vals = g[key]
        share = f"{np.mean(vals < d.low_frac):.0%}" if vals.size else "n/a"
        _cdf(ax, vals, color, f"{label}: {vals.size:,} pair{'s' * (vals.size != 1)}, {share} below {d.low_frac:g}")
    ax.axvline(d.low_frac, color="0.3", ls=":", lw=1.2, label=f"gamma / max gamma = {d.low_frac:g}")
    ax.set_xlabel("gamma / max gamma at that step" + (" (clamped at 0, renormalised)" if d.clamp else ""))
    ax.set_ylabel("cumulative fraction")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    timing = "after the step" if d.ct_timing == "after" else "at theta_t"
    none = "" if g["learned"].size else f"\nno pair has a train loss < {below}"
    ax.set_title(f"paper definition: {_window(d.learned_steps)}, train loss {timing}{none}", fontsize=9)
    ax.legend(loc="lower right", fontsize=7.5)


def _strict_panel(ax, run: dict, loss_below: float) -> None:
    gamma, loss = np.asarray(run["gamma_recorded"], np.float64), np.asarray(run["train_loss"], np.float64)
    rel = gamma / np.maximum(gamma.max(axis=1, keepdims=True), 1e-30)
    learned = loss < loss_below
    for mask, label, color in ((learned, f"train loss < {loss_below:g}", COLORS["policy"]),
                               (~learned, f"train loss >= {loss_below:g}", COLORS["constant"])):
        vals = np.sort(rel[mask])
        at_zero = np.mean(vals == 0) if vals.size else 0.0
        _cdf(ax, vals, color, f"{label} ({vals.size:,} example-steps, {at_zero:.0%} at 0)")
    ax.set_xlabel("gamma / max gamma at that step")
    ax.set_ylabel("cumulative fraction")
    ax.set_xlim(-0.02, 1.02)
    if learned.any():
        ax.set_title("strict: every recorded step, train loss at theta_t", fontsize=9)
    else:  # e.g. a language model: no example reaches the threshold, so Fig. 9's group is empty
        ax.set_title(f"strict: every recorded step; none has a train loss < {loss_below:g}", fontsize=9)
    ax.legend(loc="lower right", fontsize=7.5)


def draw(run_dir: str | Path, out: str | Path | None = None, loss_below: float = 1e-6) -> list[str]:
    run = load_run(run_dir)
    rec = load_records(run_dir, "paper")
    title = "Weights of well-learned examples vs the others (Fig. 9)"
    if rec is not None:
        fig, (left, right) = new_figure(11.0, 4.2, ncols=2)
        _paper_panel(left, rec, paper_definition(run_dir))
        _strict_panel(right, run, loss_below)
        fig.suptitle(title, fontsize=10)
    else:
        fig, ax = new_figure()
        _strict_panel(ax, run, loss_below)
        fig.suptitle(title, fontsize=10)
    return save(fig, out or Path(run_dir) / "gamma_cdf")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--loss-below", type=float, default=1e-6,
                    help="threshold of a well-learned example in the strict panel (the paper panel uses its "
                         "definition's)")
    ap.add_argument("--out", default=None, help="output path without extension (default: RUN_DIR/gamma_cdf)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.run_dir, args.out, args.loss_below)))


if __name__ == "__main__":
    main()
