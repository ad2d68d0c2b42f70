"""Paper Fig. 11 and Table 1: scaling-law fits L(t) = L0 + (B/t)^beta of both runs, extrapolated.

    python -m plots.scaling_fits EVAL_DIR [--curve test|dev] [--t-min T0] [--sigma S] [--n-boot 100]
                                          [--l0 L0] [--out STEM]

EVAL_DIR is a folder written by ``learning-law evaluate``. Each run's loss curve (steps t > t0) is
fitted by both methods of :mod:`theory.scaling`: ``robust`` (Huber on log residuals, L0 estimated) and
``paper`` (the paper's regression of ln(L - L0) on ln t with L0 searched, on the curve smoothed with
sigma steps, the evaluate folder's smooth_sigma by default; ``--l0`` fixes L0, e.g. a known
irreducible loss). Bootstrap percentile intervals (95%).

Left panel: the curves (log-log) and the fits extrapolated to 100 T. Right panel: the acceleration
ratio AR(T') = T' / t* the fits predict at horizons T' (Eq. 9 from (B, beta) as the paper does, and
with the asymptotes L0), with the measured speed-up of the runs at T.

Writes STEM.png/.pdf and Table 1 as STEM.json and STEM.md: per method and run L0, B, beta (intervals),
r^2, and the changes |dB/B|, |dbeta/beta| and AR at T, 10 T, 100 T. Interval of a change: its range
over the corners of the two runs' parameter intervals (conservative).
"""

from __future__ import annotations

import argparse
import itertools
import math
from pathlib import Path

import numpy as np

from learning_law.record import load_run, read_json, write_json, atomic_write
from plots.common import COLORS, fmt, new_figure, plain_log_ticks, save
from theory import scaling as S

HORIZONS = (1, 10, 100)  # multiples of T at which the acceleration ratio is reported
RUNS = ("constant", "policy")


def _fit(method, t, L, t_min, sigma, n_boot, l0, seed):
    try:
        if method == "robust":
            return S.fit_scaling_law(t, L, t_min=t_min, n_boot=n_boot, seed=seed).to_dict()
        return S.fit_paper(t, L, t_min=t_min, sigma=sigma, L0=l0, n_boot=n_boot, seed=seed).to_dict()
    except ValueError as e:
        return {"error": str(e)}


def _corners(f, p1: dict, p2: dict, keys: tuple[str, ...]) -> tuple[float, float]:
    """Range of f(params1, params2) over the corners of both runs' intervals of ``keys`` (NaN if unknown)."""
    vals = []
    for c1 in itertools.product(*[p1[f"{k}_interval"] for k in keys]):
        for c2 in itertools.product(*[p2[f"{k}_interval"] for k in keys]):
            with np.errstate(all="ignore"):
                vals.append(float(f(dict(zip(keys, c1)), dict(zip(keys, c2)))))
    vals = np.asarray(vals)
    if vals.size == 0 or not np.all(np.isfinite(vals)):
        return (float("nan"), float("nan"))
    return (float(vals.min()), float(vals.max()))


def _abs_range(lo_hi: tuple[float, float]) -> tuple[float, float]:
    """Range of |x| for x in [lo, hi]."""
    lo, hi = lo_hi
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return (float("nan"), float("nan"))
    return (0.0, max(-lo, hi)) if lo <= 0 <= hi else (min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))


def changes(p1: dict, p2: dict, T: float) -> dict:
    """|dB/B|, |dbeta/beta| and the acceleration ratios at ``HORIZONS`` x T of fit p2 over fit p1.

    The signed relative changes are monotone in each parameter, so their ranges over the corners of the
    intervals are exact for the box; the absolute value is taken afterwards.
    """
    dB = lambda a, b: (b["B"] - a["B"]) / a["B"]  # noqa: E731
    dbeta = lambda a, b: (b["beta"] - a["beta"]) / a["beta"]  # noqa: E731
    eq9 = lambda a, b, h: S.acceleration_ratio_eq9(h, a["B"], a["beta"], b["B"], b["beta"])  # noqa: E731
    withl0 = lambda a, b, h: S.acceleration_ratio(h, a["L0"], a["B"], a["beta"], b["L0"], b["B"], b["beta"])  # noqa: E731
    horizons = [m * T for m in HORIZONS]
    out = {"dB_over_B": abs(dB(p1, p2)), "dB_over_B_interval": _abs_range(_corners(dB, p1, p2, ("B",))),
           "dbeta_over_beta": abs(dbeta(p1, p2)),
           "dbeta_over_beta_interval": _abs_range(_corners(dbeta, p1, p2, ("beta",))), "horizons": horizons}
    out["ar_eq9"] = [float(eq9(p1, p2, h)) for h in horizons]
    out["ar_eq9_interval"] = [_corners(lambda a, b, h=h: eq9(a, b, h), p1, p2, ("B", "beta")) for h in horizons]
    out["ar_l0"] = [float(withl0(p1, p2, h)) for h in horizons]
    return out


def fit_evaluate(eval_dir: str | Path, curve: str = "test", t_min: float | None = None,
                 sigma: float | None = None, n_boot: int = 100, l0: float | None = None, seed: int = 0) -> dict:
    """Table 1 of an evaluate folder: both runs fitted by both methods, and the changes between them.

    Defaults: ``t_min`` = T / 10 (the paper's t0 = 400 of T = 4000), ``sigma`` = the folder's
    smooth_sigma (paper method only; the robust fit needs no smoothing), ``l0`` searched.
    """
    eval_dir = Path(eval_dir)
    summary = read_json(eval_dir / "summary.json")
    cfg = read_json(eval_dir / "config.json")
    T = int(summary["steps"])
    t_min = T / 10 if t_min is None else float(t_min)
    sigma = float(cfg.get("smooth_sigma") or 0.0) if sigma is None else float(sigma)
    curves = {}
    for name in RUNS:
        L = np.asarray(load_run(eval_dir / name)[f"{curve}_loss"], np.float64)
        curves[name] = L
    fits = {m: {name: _fit(m, np.arange(1, T + 1), curves[name][1:], t_min, sigma if m == "paper" else 0.0,
                           n_boot, l0 if m == "paper" else None, seed) for name in RUNS}
            for m in ("robust", "paper")}
    table = {"eval_dir": str(eval_dir), "curve": curve, "steps": T, "t_min": t_min, "sigma_paper": sigma,
             "l0_fixed": l0, "n_boot": n_boot, "level": 0.95,
             "measured_speedup": summary["speedup" if curve == "test" else "speedup_dev"], "fits": fits,
             "changes": {}}
    for m, f in fits.items():
        if "error" not in f["constant"] and "error" not in f["policy"]:
            table["changes"][m] = changes(f["constant"], f["policy"], T)
        else:
            table["changes"][m] = {"error": f["constant"].get("error") or f["policy"].get("error")}
    return table


def _interval(lo_hi, value: float | None = None) -> str:
    """' [lo, hi]', with a dagger when the estimate lies outside it (fits written before theory.scaling
    widened every interval to its estimate; newer ones carry the flag, see :func:`_coef`)."""
    lo, hi = lo_hi
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    outside = value is not None and math.isfinite(value) and not (lo <= value <= hi)
    return f" [{fmt(lo)}, {fmt(hi)}]" + (" (†)" if outside else "")


def _coef(p: dict, name: str, with_interval: bool = True) -> str:
    """'value [lo, hi]' of one fitted coefficient, with (†) where the bootstrap percentile interval missed
    the estimate (the interval shown is widened to it: ``interval_extended``) and (‡) where the estimate
    sits on a bound of its range (``at_bound``: L0 = 0 or L0 = min L)."""
    text = fmt(p[name]) + (_interval(p[f"{name}_interval"], p[name]) if with_interval else "")
    if with_interval and name in p.get("interval_extended", {}) and "(†)" not in text:
        text += " (†)"
    if name in p.get("at_bound", {}):
        text += f" (‡ {p['at_bound'][name]})"
    return text


def markdown(table: dict) -> str:
    """Table 1 (coefficients) and the changes, as markdown."""
    lines = [f"Fits of L(t) = L0 + (B/t)^beta to the {table['curve']} loss, t > {fmt(table['t_min'])} of "
             f"T = {table['steps']} (95% bootstrap intervals, {table['n_boot']} resamples; paper method on "
             f"the curve smoothed with sigma = {fmt(table['sigma_paper'])} steps).", "",
             "| method | run | L0 | B | beta | r^2 |", "| --- | --- | --- | --- | --- | --- |"]
    for m, f in table["fits"].items():
        for name in RUNS:
            p = f[name]
            if "error" in p:
                lines.append(f"| {m} | {name} | fit failed: {p['error']} | | | |")
                continue
            l0 = _coef(p, "L0", with_interval=not (table.get("l0_fixed") is not None and m == "paper"))
            lines.append(f"| {m} | {name} | {l0} | {_coef(p, 'B')} | {_coef(p, 'beta')} | {p['r2']:.4f} |")
    lines += ["", "| method | abs(dB/B) | abs(dbeta/beta) | " +
              " | ".join(f"AR Eq. 9 at {m} T" for m in HORIZONS) + " | " +
              " | ".join(f"AR with L0 at {m} T" for m in HORIZONS) + " |",
              "| --- " * (3 + 2 * len(HORIZONS)) + "|"]
    for m, c in table["changes"].items():
        if "error" in c:
            lines.append(f"| {m} | n/a ({c['error']}) |" + " |" * (1 + 2 * len(HORIZONS)))
            continue
        ar = " | ".join(f"{fmt(v)}{_interval(i)}" for v, i in zip(c["ar_eq9"], c["ar_eq9_interval"]))
        arl = " | ".join(fmt(v) for v in c["ar_l0"])
        lines.append(f"| {m} | {c['dB_over_B']:.1%}{_pct(c['dB_over_B_interval'])} | "
                     f"{c['dbeta_over_beta']:.1%}{_pct(c['dbeta_over_beta_interval'])} | {ar} | {arl} |")
    lines += ["", f"Measured speed-up at T (T / t*, {table['curve']} loss): {fmt(table['measured_speedup'])}.",
              "AR with L0 = 0 means the optimised run's fitted asymptote is above the constant run's loss at "
              "that horizon (the fit predicts it never catches up)."]
    if "(†)" in "\n".join(lines):
        lines.append("(†) the bootstrap percentile interval did not contain the estimate (the interval shown is "
                     "widened to it): the resampled curves select a different branch of the fit (or, for L0 on "
                     "its upper bound, each resample has its own smaller min L), a sign that Eq. 8 describes this "
                     "curve poorly (see r^2); treat those coefficients with caution.")
    if "(‡" in "\n".join(lines):
        lines.append("(‡ lower / upper) the fit puts L0 on a bound of its range 0 <= L0 <= min L (lower: the "
                     "curve bends like L0 < 0; upper: it flattens or turns up at its end); the interval "
                     "includes the bound.")
    return "\n".join(lines) + "\n"


def _pct(lo_hi) -> str:
    lo, hi = lo_hi
    return "" if not (math.isfinite(lo) and math.isfinite(hi)) else f" [{lo:.1%}, {hi:.1%}]"


def draw(eval_dir: str | Path, out: str | Path | None = None, curve: str = "test", t_min: float | None = None,
         sigma: float | None = None, n_boot: int = 100, l0: float | None = None) -> list[str]:
    eval_dir = Path(eval_dir)
    table = fit_evaluate(eval_dir, curve, t_min, sigma, n_boot, l0)
    T = table["steps"]
    fig, (ax, ax2) = new_figure(11.0, 4.3, ncols=2)
    t_ext = np.geomspace(max(1.0, table["t_min"]), 100 * T, 300)
    styles = {"robust": "--", "paper": ":"}
    for name in RUNS:
        L = np.asarray(load_run(eval_dir / name)[f"{curve}_loss"], np.float64)
        label = "constant policy" if name == "constant" else "optimised policy"
        ax.plot(np.arange(1, T + 1), L[1:], color=COLORS[name], lw=1.4, label=f"{label} ({curve} loss)")
        for m, ls in styles.items():
            p = table["fits"][m][name]
            if "error" not in p:
                ax.plot(t_ext, S.scaling_law(t_ext, p["L0"], p["B"], p["beta"]), color=COLORS[name], ls=ls,
                        lw=1.0, label=f"  {m} fit: L0 {fmt(p['L0'])}, B {fmt(p['B'])}, beta {fmt(p['beta'])}")
    if table["l0_fixed"] is not None:
        ax.axhline(table["l0_fixed"], color="gray", lw=0.8, ls="-.", label=f"L0 fixed at {fmt(table['l0_fixed'])}")
    ax.axvline(T, color="gray", lw=0.8)
    ax.axvspan(table["t_min"], T, color="gray", alpha=0.07, lw=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel("inner step t (log; shaded: fitted range; beyond T: extrapolation)")
    ax.set_ylabel(f"{curve} loss, nats (log)")
    ax.set_title("Scaling law of the loss curve, Eq. 8 (Fig. 11)")
    ax.legend(fontsize=7, loc="lower left")
    horizons = np.geomspace(max(1.0, table["t_min"]), 100 * T, 200)
    for m, ls in styles.items():
        f = table["fits"][m]
        if "error" in f["constant"] or "error" in f["policy"]:
            continue
        a, b = f["constant"], f["policy"]
        ax2.plot(horizons, S.acceleration_ratio_eq9(horizons, a["B"], a["beta"], b["B"], b["beta"]),
                 color=COLORS["policy"], ls=ls, label=f"Eq. 9 (L0 ignored), {m} fits")
        ax2.plot(horizons, S.acceleration_ratio(horizons, a["L0"], a["B"], a["beta"], b["L0"], b["B"], b["beta"]),
                 color=COLORS["constant"], ls=ls, label=f"with the fitted L0, {m} fits")
    ax2.plot([T], [table["measured_speedup"]], "k*", ms=11,
             label=f"measured at T = {T}: {table['measured_speedup']:.3g}x")
    ax2.axvline(T, color="gray", lw=0.8)
    ax2.axhline(1.0, color="gray", lw=0.8, ls=":")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    lo, hi = ax2.get_ylim()
    ax2.set_ylim(max(lo, 0.1), hi)  # AR -> 0 where a fitted asymptote says the run never catches up
    ax2.set_xlabel("horizon T' (inner steps of the constant run, log)")
    ax2.set_ylabel("acceleration ratio T' / t* (log)")
    ax2.set_title("Predicted acceleration ratio vs horizon")
    ax2.legend(fontsize=7, loc="best")
    stem = Path(out) if out else eval_dir / "scaling_fits"
    paths = save(fig, stem)
    write_json(stem.with_suffix(".json"), table)
    text = markdown(table)
    atomic_write(stem.with_suffix(".md"), lambda fh: fh.write(text.encode()))
    return paths + [str(stem.with_suffix(".json")), str(stem.with_suffix(".md"))]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("eval_dir")
    ap.add_argument("--curve", choices=("test", "dev"), default="test", help="which loss curve (default: test)")
    ap.add_argument("--t-min", type=float, default=None, help="fit t > t0 (default: T / 10)")
    ap.add_argument("--sigma", type=float, default=None, help="smoothing of the paper method (default: folder's)")
    ap.add_argument("--n-boot", type=int, default=100, help="bootstrap resamples (default: 100)")
    ap.add_argument("--l0", type=float, default=None, help="fix L0 of the paper method (e.g. a known entropy)")
    ap.add_argument("--out", default=None, help="output path without extension (default: EVAL_DIR/scaling_fits)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.eval_dir, args.out, args.curve, args.t_min, args.sigma, args.n_boot, args.l0)))


if __name__ == "__main__":
    main()
