"""Paper Fig. 3B / 7: SIM vs compression ratio over the policy search, with the fit SIM = k ln(a / (b - CR)).

    python -m plots.sim_vs_cr OPT_DIR [--sim sim_mean|sim_mean_until] [--out STEM]

Reads OPT_DIR/trajectory.json (``learning-law law OPT_DIR``): one point per saved policy (outer step
0 = the constant policy), CR in the paper's convention. The curve is :func:`theory.law.fit_sim_cr`
(scipy ``curve_fit``) and the dotted vertical line its asymptote CR = b; the legend gives the fitted
(k, a, b) with standard errors and R^2. The fit is also written to ``STEM.json``. When the data do not
locate an asymptote (SIM about linear in CR), the legend says so.
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


def fit_of_trajectory(tr: dict, sim_key: str = "sim_mean") -> dict:
    """The fit of SIM vs CR over a trajectory's checkpoints, or ``{"error": why}``."""
    cps = tr["checkpoints"]
    cr = np.array([np.nan if c.get("cr_paper") is None else c["cr_paper"] for c in cps], np.float64)
    sim = np.array([np.nan if c.get(sim_key) is None else c[sim_key] for c in cps], np.float64)
    try:
        fit = fit_sim_cr(cr, sim)
    except ValueError as e:
        return {"error": str(e), "sim_key": sim_key}
    ok = np.isfinite(cr) & np.isfinite(sim)
    rho = float(spearmanr(cr[ok], sim[ok]).statistic)
    return {**fit, "sim_key": sim_key, "spearman_sim_cr": rho, "cr": cr, "sim": sim,
            "outer_step": [c["outer_step"] for c in cps]}


def draw(opt_dir: str | Path, out: str | Path | None = None, sim_key: str = "sim_mean") -> list[str]:
    opt_dir = Path(opt_dir)
    tr = load_trajectory(opt_dir)
    res = fit_of_trajectory(tr, sim_key)
    cps = tr["checkpoints"]
    cr = np.array([np.nan if c.get("cr_paper") is None else c["cr_paper"] for c in cps], np.float64)
    sim = np.array([np.nan if c.get(sim_key) is None else c[sim_key] for c in cps], np.float64)
    steps = [c["outer_step"] for c in cps]
    fig, ax = new_figure(6.4, 5.0)
    cmap, norm = checkpoint_colors(steps)
    sc = ax.scatter(cr, sim, c=steps, cmap=cmap, norm=norm, s=36, zorder=3, edgecolor="black", lw=0.5,
                    label="one policy per outer checkpoint")
    cb = fig.colorbar(sc, ax=ax)
    cb.set_label("outer step (0 = constant policy)")
    if "error" not in res:
        hi = res["b"] if res["asymptote_identified"] else np.nanmax(cr) + 0.05 * np.ptp(cr[np.isfinite(cr)])
        x = np.linspace(np.nanmin(cr), np.nanmin([hi, np.nanmax(cr) + 0.5 * np.ptp(cr[np.isfinite(cr)])]), 400)
        x = x[x < res["b"]]
        se = lambda key: f" +- {fmt(res[key + '_se'], 2)}" if np.isfinite(res[key + "_se"]) else ""  # noqa: E731
        if res["asymptote_identified"]:
            label = (f"fit SIM = k ln(a / (b - CR)): k = {fmt(res['k'])}{se('k')}, a = {fmt(res['a'])}{se('a')},"
                     f" b = {fmt(res['b'])}{se('b')}; R^2 = {res['r2']:.3f}")
        else:  # the parameters run off together; their values say nothing, the verdict does
            label = (f"fit SIM = k ln(a / (b - CR)), R^2 = {res['r2']:.3f}: these points do not locate the "
                     f"asymptote b\n(b = {fmt(res['b'])}{se('b')}; SIM about linear in CR)")
        ax.plot(x, sim_cr_curve(x, res["k"], res["a"], res["b"]), color=COLORS["fit"], lw=1.3, label=label)
        if res["asymptote_identified"]:
            ax.axvline(res["b"], color=COLORS["fit"], ls=":", lw=1.2, label=f"asymptote CR = b = {fmt(res['b'])}")
    else:
        ax.plot([], [], " ", label=f"no fit: {res['error']}")
    ax.set_xlabel("compression ratio CR (paper's: log2|V| / mean loss)")
    ax.set_ylabel(SIM_KEYS.get(sim_key, sim_key))
    ax.set_title("SIM vs compression ratio (Learning Law, Fig. 3B / 7)")
    fig.legend(fontsize=7.5, loc="outside lower center")  # below the axes: points are never hidden
    stem = Path(out) if out else opt_dir / "sim_vs_cr"
    paths = save(fig, stem)
    write_json(stem.with_suffix(".json"), res)
    return paths + [str(stem.with_suffix(".json"))]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("opt_dir")
    ap.add_argument("--sim", default="sim_mean", choices=sorted(SIM_KEYS), help="which run-level SIM")
    ap.add_argument("--out", default=None, help="output path without extension (default: OPT_DIR/sim_vs_cr)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.opt_dir, args.out, args.sim)))


if __name__ == "__main__":
    main()
