"""Paper Table 2: how the scaling-law coefficients and the acceleration ratio change as T and N grow.

    python -m plots.table2 EVAL_DIR [EVAL_DIR ...] [--curve test|dev] [--n-boot 100] [--l0 L0] [--out STEM]

Each EVAL_DIR is a ``learning-law evaluate`` folder of one size of a sweep (e.g. written by
``python -m experiments.sweep``). Each is fitted as in :mod:`plots.scaling_fits` (both methods, t > T/10)
and one row per folder gives T, N, |dB/B|, |dbeta/beta| of the optimised run against the constant
one, the acceleration ratio Eq. 9 predicts at T, and the speed-up measured at T -- with 95% intervals
(ranges over the corners of the bootstrap intervals). Writes STEM.md, STEM.json and a figure of the
acceleration ratio against T (STEM.png/.pdf).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from learning_law.errors import UsageError
from learning_law.record import atomic_write, read_json, write_json
from plots.common import COLORS, fmt, new_figure, plain_log_ticks, save
from plots.scaling_fits import fit_evaluate

METHODS = ("paper", "robust")


def rows_of(eval_dirs, curve: str = "test", n_boot: int = 100, l0: float | None = None) -> list[dict]:
    """One dict per evaluate folder (sorted by T): T, N, the fits' changes and the measured speed-up."""
    rows = []
    for d in eval_dirs:
        d = Path(d)
        if not (d / "summary.json").exists() or not (d / "constant").is_dir():
            raise UsageError(f"eval_dir={str(d)!r} is not a finished evaluate folder (summary.json, constant/)")
        cfg = read_json(d / "config.json")
        table = fit_evaluate(d, curve=curve, n_boot=n_boot, l0=l0)
        rows.append({"eval_dir": str(d), "T": table["steps"], "N": cfg["task_config"]["n_train"],
                     "measured_speedup": table["measured_speedup"], "changes": table["changes"],
                     "fits": table["fits"]})
    return sorted(rows, key=lambda r: (r["T"], r["N"]))


def _pct(v, lo_hi) -> str:
    lo, hi = lo_hi
    ci = f" [{100 * lo:.1f}, {100 * hi:.1f}]" if math.isfinite(lo) and math.isfinite(hi) else ""
    return f"{100 * v:.1f}{ci}"


def markdown(rows: list[dict], curve: str) -> str:
    out = []
    for m in METHODS:
        out += [f"Method `{m}` ({curve} loss; 95% intervals):", "",
                "| T | N | abs(dB/B) % | abs(dbeta/beta) % | AR (Eq. 9 at T) | speed-up measured at T |",
                "| --- | --- | --- | --- | --- | --- |"]
        for r in rows:
            c = r["changes"][m]
            if "error" in c:
                out.append(f"| {r['T']} | {r['N']} | fit failed: {c['error']} | | | {fmt(r['measured_speedup'])} |")
                continue
            lo, hi = c["ar_eq9_interval"][0]
            ci = f" [{fmt(lo)}, {fmt(hi)}]" if math.isfinite(lo) and math.isfinite(hi) else ""
            out.append(f"| {r['T']} | {r['N']} | {_pct(c['dB_over_B'], c['dB_over_B_interval'])} | "
                       f"{_pct(c['dbeta_over_beta'], c['dbeta_over_beta_interval'])} | {fmt(c['ar_eq9'][0])}{ci} | "
                       f"{fmt(r['measured_speedup'])} |")
        out.append("")
    return "\n".join(out)


def draw(eval_dirs, out: str | Path | None = None, curve: str = "test", n_boot: int = 100,
         l0: float | None = None) -> list[str]:
    eval_dirs = [Path(d) for d in eval_dirs]
    if not eval_dirs:
        raise UsageError("table2 needs at least one evaluate folder")
    rows = rows_of(eval_dirs, curve, n_boot, l0)
    T = np.array([r["T"] for r in rows], np.float64)
    fig, ax = new_figure()
    ax.plot(T, [r["measured_speedup"] for r in rows], "k*-", ms=10, label="speed-up measured at T")
    for m, ls in zip(METHODS, (":", "--")):
        ar = np.array([r["changes"][m]["ar_eq9"][0] if "error" not in r["changes"][m] else np.nan for r in rows])
        lo = np.array([r["changes"][m]["ar_eq9_interval"][0][0] if "error" not in r["changes"][m] else np.nan
                       for r in rows], np.float64)
        hi = np.array([r["changes"][m]["ar_eq9_interval"][0][1] if "error" not in r["changes"][m] else np.nan
                       for r in rows], np.float64)
        ax.plot(T, ar, "o" + ls, color=COLORS["policy" if m == "paper" else "constant"],
                label=f"Eq. 9 at T from the {m} fits (shaded: 95% interval)")
        if np.any(np.isfinite(lo)):
            ax.fill_between(T, lo, hi, color=COLORS["policy" if m == "paper" else "constant"], alpha=0.12, lw=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_xticks(T, [f"T={int(t)}\nN={r['N']}" for t, r in zip(T, rows)])
    ax.minorticks_off()
    ax.set_xlabel("size of the run (T and N grow together)")
    ax.set_ylabel("acceleration ratio T / t* (log)")
    ax.set_title("Acceleration ratio as T and N grow (Table 2)")
    ax.legend(fontsize=8)
    stem = Path(out) if out else eval_dirs[0].parent / "table2"
    paths = save(fig, stem)
    write_json(stem.with_suffix(".json"), {"curve": curve, "n_boot": n_boot, "l0_fixed": l0, "rows": rows})
    text = markdown(rows, curve)
    atomic_write(stem.with_suffix(".md"), lambda fh: fh.write(text.encode()))
    return paths + [str(stem.with_suffix(".json")), str(stem.with_suffix(".md"))]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("eval_dirs", nargs="+")
    ap.add_argument("--curve", choices=("test", "dev"), default="test", help="which loss curve (default: test)")
    ap.add_argument("--n-boot", type=int, default=100, help="bootstrap resamples (default: 100)")
    ap.add_argument("--l0", type=float, default=None, help="fix L0 of the paper method (e.g. a known entropy)")
    ap.add_argument("--out", default=None, help="output path without extension (default: beside the first folder)")
    args = ap.parse_args(argv)
    print("\n".join(draw(args.eval_dirs, args.out, args.curve, args.n_boot, args.l0)))


if __name__ == "__main__":
    main()
