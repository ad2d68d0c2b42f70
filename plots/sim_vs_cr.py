"""Paper Fig. 3B / 7: SIM vs compression ratio over the policy search, with the fit SIM = k ln(a / (b - CR)).

    python -m plots.sim_vs_cr OPT_DIR [--sim sim_mean|sim_mean_until] [--out STEM]

Reads OPT_DIR/trajectory.json (``learning-law law OPT_DIR``): one point per saved policy (outer step
0 = the constant policy). The curve is :func:`theory.law.fit_sim_cr` (scipy ``curve_fit``) and the dotted
vertical line its asymptote CR = b; the legend gives the fitted (k, a, b) with standard errors and R^2.
When the data do not locate an asymptote (SIM about linear in CR), the legend says so. Two panels, one
per Learning-Law definition (:func:`theory.law.definition`):

- left, ``paper`` (the authors' figure scripts): ``definitions.paper.sim`` (SIM_t with test CT after the
  step, averaged over t = 1..i*, i* the last step above the constant run's test loss at T-1) against
  ``definitions.paper.cr`` (the scripts' CR), with its fit, and the control series "constant policy, same
  window" (control (a) of :mod:`theory.law_measures`: ``controls.paper.sim_constant_same_window``, the
  constant policy's SIM over each policy's window, at the policy's CR): where the policies' points rise
  and the control does not, the rise is the policy's; where the control rises with them, the window's;
- right, ``strict`` (this toolkit's measure): ``sim_key`` (``sim_mean``: every record step, dev CT at
  theta_t) against ``cr_paper``.

The fit is also written to ``STEM.json``: the strict fit's keys at the top level (as before:
:func:`fit_of_trajectory`, or ``{"error", "sim_key"}``) and ``paper``: the same kind of fit of the
``paper`` points (:func:`paper_fit`) or ``{"error": why}``. Without any ``paper`` value only the
``strict`` panel is drawn.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from learning_law.record import write_json
from plots.common import COLORS, checkpoint_colors, fmt, load_trajectory, new_figure, save
from theory.law import fit_sim_cr, sim_cr_curve

SIM_KEYS = {"sim_mean": "SIM (mean over all recorded steps)",
            "sim_mean_until": "SIM (mean over steps before the constant run's final loss)"}


def _col(dicts: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if not isinstance(d, dict) or d.get(key) is None else d[key] for d in dicts], np.float64)


def _fit(cr: np.ndarray, sim: np.ndarray) -> dict:
    """:func:`fit_sim_cr` plus ``spearman_sim_cr``; raises ValueError as it does."""
    fit = fit_sim_cr(cr, sim)
    ok = np.isfinite(cr) & np.isfinite(sim)
    return {**fit, "spearman_sim_cr": float(spearmanr(cr[ok], sim[ok]).statistic)}


def fit_of_trajectory(tr: dict, sim_key: str = "sim_mean") -> dict:
    """The fit of the ``strict`` SIM (``sim_key``) vs ``cr_paper`` over a trajectory's checkpoints, or
    ``{"error": why}``."""
    cps = tr["checkpoints"]
    cr, sim = _col(cps, "cr_paper"), _col(cps, sim_key)
    try:
        fit = _fit(cr, sim)
    except ValueError as e:
        return {"error": str(e), "sim_key": sim_key}
    return {**fit, "sim_key": sim_key, "cr": cr, "sim": sim, "outer_step": [c["outer_step"] for c in cps]}


def paper_points(tr: dict) -> dict[str, np.ndarray]:
    """Per checkpoint (NaN where missing): ``cr`` = ``definitions.paper.cr``, ``sim`` = ``definitions.paper.sim``
    and ``control`` = ``controls.paper.sim_constant_same_window`` (control a)."""
    cps = tr["checkpoints"]
    paper = [c.get("definitions", {}).get("paper", {}) for c in cps]
    ctl = [c.get("controls", {}).get("paper", {}) for c in cps]
    return {"cr": _col(paper, "cr"), "sim": _col(paper, "sim"), "control": _col(ctl, "sim_constant_same_window"),
            "outer_step": np.array([c["outer_step"] for c in cps])}


def paper_fit(tr: dict) -> dict:
    """The fit of the ``paper`` SIM vs the ``paper`` CR, the kind of dict :func:`fit_of_trajectory` gives
    (with ``definition``, ``sim_constant_same_window``, and no ``sim_key``), or ``{"error": why}``."""
    p = paper_points(tr)
    try:
        fit = _fit(p["cr"], p["sim"])
    except ValueError as e:
        return {"error": str(e)}
    return {**fit, "definition": "paper", "cr": p["cr"], "sim": p["sim"],
            "sim_constant_same_window": p["control"], "outer_step": p["outer_step"].tolist()}


def _draw_fit(ax, cr: np.ndarray, res: dict) -> None:
    if "error" in res:
        ax.plot([], [], " ", label=f"no fit: {res['error']}")
        return
    fin = cr[np.isfinite(cr)]
    hi = res["b"] if res["asymptote_identified"] else np.nanmax(cr) + 0.05 * np.ptp(fin)
    x = np.linspace(np.nanmin(cr), np.nanmin([hi, np.nanmax(cr) + 0.5 * np.ptp(fin)]), 400)
    x = x[x < res["b"]]
    se = lambda key: f" +- {fmt(res[key + '_se'], 2)}" if np.isfinite(res[key + "_se"]) else ""  # noqa: E731
    if res["asymptote_identified"]:
        label = (f"fit SIM = k ln(a / (b - CR)): k = {fmt(res['k'])}{se('k')}, a = {fmt(res['a'])}{se('a')},\n"
                 f"b = {fmt(res['b'])}{se('b')}; R^2 = {res['r2']:.3f}")
    else:  # the parameters run off together; their values say nothing, the verdict does
        label = (f"fit SIM = k ln(a / (b - CR)), R^2 = {res['r2']:.3f}: these points do not\nlocate the "
                 f"asymptote b (b = {fmt(res['b'])}{se('b')}; SIM about linear in CR)")
    ax.plot(x, sim_cr_curve(x, res["k"], res["a"], res["b"]), color=COLORS["fit"], lw=1.3, label=label)
    if res["asymptote_identified"]:
        ax.axvline(res["b"], color=COLORS["fit"], ls=":", lw=1.2, label=f"asymptote CR = b = {fmt(res['b'])}")


def _points(ax, cr, sim, steps, cmap, norm):
    return ax.scatter(cr, sim, c=steps, cmap=cmap, norm=norm, s=36, zorder=3, edgecolor="black", lw=0.5,
                      label="one policy per outer checkpoint")


def _below(ax) -> None:
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16))  # below the axes: points never hidden


def draw(opt_dir: str | Path, out: str | Path | None = None, sim_key: str = "sim_mean") -> list[str]:
    opt_dir = Path(opt_dir)
    tr = load_trajectory(opt_dir)
    res = fit_of_trajectory(tr, sim_key)
    res["paper"] = paper_fit(tr)
    cps = tr["checkpoints"]
    cr, sim = _col(cps, "cr_paper"), _col(cps, sim_key)
    steps = [c["outer_step"] for c in cps]
    cmap, norm = checkpoint_colors(steps)
    p = paper_points(tr)
    title = "SIM vs compression ratio (Learning Law, Fig. 3B / 7)"
    if np.isfinite(p["sim"]).any():
        fig, (left, right) = new_figure(12.0, 5.6, ncols=2)
        _points(left, p["cr"], p["sim"], steps, cmap, norm)
        ok = np.isfinite(p["cr"]) & np.isfinite(p["control"])
        if ok.any():
            left.vlines(p["cr"][ok], np.fmin(p["sim"], p["control"])[ok], np.fmax(p["sim"], p["control"])[ok],
                        color="0.6", lw=0.7, ls=":", zorder=1)
            left.plot(p["cr"][ok], p["control"][ok], "s--", color=COLORS["constant"], mfc="white", ms=6, lw=0.9,
                      zorder=2, label="constant policy, same window (control a: its SIM over each policy's t <= i*)")
        _draw_fit(left, p["cr"], res["paper"])
        left.set_xlabel("compression ratio CR (authors' scripts: log2|V| (T-1) / sum_{t=1}^{T-1} test L_t)")
        left.set_ylabel("SIM (mean of SIM_t over t = 1..i*)")
        left.set_title("paper definition: test CT after the step, gamma clamped", fontsize=9)
        _below(left)
        axes = [left, right]
    else:
        fig, right = new_figure(6.4, 5.0)
        axes = [right]
    sc = _points(right, cr, sim, steps, cmap, norm)
    _draw_fit(right, cr, res)
    right.set_xlabel("compression ratio CR (paper's: log2|V| / mean dev loss)")
    right.set_ylabel(SIM_KEYS.get(sim_key, sim_key))
    right.set_title("strict: record steps, dev CT at theta_t", fontsize=9)
    _below(right)
    cb = fig.colorbar(sc, ax=axes)
    cb.set_label("outer step (0 = constant policy)")
    fig.suptitle(title, fontsize=10)
    stem = Path(out) if out else opt_dir / "sim_vs_cr"
    paths = save(fig, stem)
    write_json(stem.with_suffix(".json"), res)
    return paths + [str(stem.with_suffix(".json"))]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("opt_dir")
    ap.add_argument("--sim", default="sim_mean", choices=sorted(SIM_KEYS), help="which run-level strict SIM")
    ap.add_argument("--out", default=None, help="output path without extension (default: OPT_DIR/sim_vs_cr)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.opt_dir, args.out, args.sim)))


if __name__ == "__main__":
    main()
