"""Fit a scaling law with bootstrap intervals and write it as JSON.

  --form time        L(t) = L0 + (B/t)^beta (paper Eq. 8) to columns step,loss of a CSV, or to the
                     dev/test loss curve of a train run folder (--curve; step 0 is left out).
  --form chinchilla  L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022) to columns N,D,loss.

--method robust (default): Huber loss on log residuals, grid of starts, L-BFGS, steps weighted by their
share of ln t. --method paper: the paper's regression of ln(L - L0) on ln t with L0 and t0 searched
(add --sigma 100 to smooth as the authors' script did). Other CSV columns are ignored.

Example:  learning-law fit runs/const --curve dev --t-min 100 --out runs/const/fit.json
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from learning_law.errors import UsageError, require

NAME = "fit"
HELP = "fit L(t) = L0 + (B/t)^beta (Eq. 8) or L(N, D) = E + A/N^alpha + B/D^beta, with bootstrap intervals"
MIN_ROWS = {"time": 4, "chinchilla": 6}


def add_arguments(p) -> None:
    p.add_argument("source", help="a CSV file (columns step,loss or N,D,loss) or a train run folder")
    p.add_argument("--form", choices=("time", "chinchilla"), default="time",
                   help="time: L0 + (B/t)^beta; chinchilla: E + A/N^alpha + B/D^beta (default: time)")
    p.add_argument("--method", choices=("robust", "paper"), default="robust",
                   help="robust: Huber in log space + L-BFGS; paper: OLS of ln(L-L0) on ln t (default: robust)")
    p.add_argument("--curve", choices=("dev", "test"), default="dev",
                   help="which loss curve of a run folder (default: dev)")
    p.add_argument("--t-min", type=float, default=None,
                   help="fit only steps t > t_min (default: 0 for robust; searched for paper)")
    p.add_argument("--sigma", type=float, default=0.0,
                   help="Gaussian smoothing of the curve in steps before fitting (default: 0; the authors used 100)")
    p.add_argument("--weighting", choices=("log", "uniform"), default="log",
                   help="robust time fit: weight points by their share of ln t, or equally (default: log)")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples for the intervals (default: 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: 0)")
    p.add_argument("--level", type=float, default=0.95, help="level of the percentile intervals (default: 0.95)")
    p.add_argument("--out", default=None, help="JSON file to write (default: print only)")


def _number(text: str, row: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"row {row}, column {column!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"row {row}, column {column!r}: {text!r} is not finite")
    return value


def read_csv(path: Path, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named columns of a CSV with a header (names matched case-insensitively; others ignored)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"source={str(path)!r} cannot be read: {e}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise UsageError(f"source={str(path)!r} is empty: expected a header with columns {', '.join(columns)}")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in columns if c.lower() not in header]
    if missing:
        raise UsageError(f"source={str(path)!r} has no column(s) {', '.join(missing)} (header: {', '.join(rows[0])}); "
                         f"required: {', '.join(columns)}")
    idx = {c: header.index(c.lower()) for c in columns}
    out = {c: [] for c in columns}
    for i, r in enumerate(rows[1:], start=2):
        for c in columns:
            if idx[c] >= len(r):
                raise UsageError(f"row {i}, column {c!r}: missing value")
            out[c].append(_number(r[idx[c]].strip(), i, c))
    return {c: np.asarray(v, dtype=np.float64) for c, v in out.items()}


def read_run(path: Path, curve: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps t = 1..T, losses) of a train run folder's ``{curve}_loss.npy`` (step 0 left out)."""
    from learning_law import record as R

    f = path / f"{curve}_loss.npy"
    if not f.exists():
        subs = sorted(p.name for p in path.iterdir() if (p / f.name).exists()) if path.is_dir() else []
        hint = f"; its subfolders {', '.join(subs)} are runs: fit one of them" if subs else ""
        raise UsageError(f"source={str(path)!r} is a folder without {f.name}: not a train run folder{hint}")
    losses = np.asarray(R.load_run(path)[f"{curve}_loss"], dtype=np.float64)[1:]
    return np.arange(1, losses.size + 1, dtype=np.float64), losses


def _validate(args) -> None:
    require(args.n_boot >= 0, "n_boot", args.n_boot, ">= 0")
    require(0 < args.level < 1, "level", args.level, "in (0, 1)")
    require(math.isfinite(args.sigma) and args.sigma >= 0, "sigma", args.sigma, ">= 0")
    if args.t_min is not None:
        require(math.isfinite(args.t_min) and args.t_min >= 0, "t_min", args.t_min, ">= 0")
    require(args.seed >= 0, "seed", args.seed, ">= 0")
    if args.out is not None:
        require(not Path(args.out).is_dir(), "out", args.out, "a JSON file path, not a folder")
    if args.form == "chinchilla":
        require(args.method == "robust", "method", args.method, "robust for --form chinchilla")
        require(args.t_min is None and args.sigma == 0, "t_min/sigma", (args.t_min, args.sigma),
                "unset for --form chinchilla (they apply to loss curves)")


def load(args) -> tuple[str, dict[str, np.ndarray]]:
    """(description of the source, columns) with every check done before fitting."""
    src = Path(args.source)
    if not src.exists():
        raise UsageError(f"source={args.source!r} does not exist: give a CSV file or a train run folder")
    if src.is_dir():
        if args.form != "time":
            raise UsageError(f"source={args.source!r} is a run folder: only --form time fits a run's loss curve")
        t, L = read_run(src, args.curve)
        data, what = {"step": t, "loss": L}, f"{src / (args.curve + '_loss.npy')}"
    else:
        cols = ("step", "loss") if args.form == "time" else ("N", "D", "loss")
        data, what = read_csv(src, cols), str(src)
    for name, v in data.items():
        bad = np.nonzero(v <= 0)[0]
        if bad.size:
            raise UsageError(f"{name}={v[bad[0]]:g} (entry {bad[0] + 1} of {what}) is invalid: allowed > 0")
    n = len(data["loss"])
    if args.form == "time":
        if args.method == "robust" or args.t_min is not None:
            n = int(np.sum(data["step"] > (args.t_min or 0.0)))
        if np.unique(data["step"]).size != data["step"].size:
            raise UsageError(f"steps of {what} are not distinct")
    if n < MIN_ROWS[args.form]:
        raise UsageError(f"{what} has {n} usable rows{' with step > t_min' if args.t_min else ''}: "
                         f"need at least {MIN_ROWS[args.form]} for --form {args.form}")
    return what, data


def _fmt(v: float) -> str:
    return f"{v:.6g}" if v is not None and math.isfinite(v) else "nan"


def run(args) -> int:
    from learning_law import record as R
    from theory import scaling as S

    _validate(args)
    what, data = load(args)
    try:
        if args.form == "chinchilla":
            fit = S.fit_chinchilla(data["N"], data["D"], data["loss"], n_boot=args.n_boot, level=args.level,
                                   seed=args.seed)
            names, law = ("E", "A", "B", "alpha", "beta"), "L(N, D) = E + A/N^alpha + B/D^beta"
        elif args.method == "paper":
            fit = S.fit_paper(data["step"], data["loss"], t_min=args.t_min, sigma=args.sigma, n_boot=args.n_boot,
                              level=args.level, seed=args.seed)
            names, law = ("L0", "B", "beta"), "L(t) = L0 + (B/t)^beta"
        else:
            fit = S.fit_scaling_law(data["step"], data["loss"], t_min=args.t_min or 0.0, sigma=args.sigma,
                                    weighting=args.weighting, n_boot=args.n_boot, level=args.level, seed=args.seed)
            names, law = ("L0", "B", "beta"), "L(t) = L0 + (B/t)^beta"
    except ValueError as e:  # the fitters' own checks (e.g. smoothing needs equally spaced steps)
        raise UsageError(str(e)) from None
    d = fit.to_dict()
    extra = f", t > {_fmt(d['t_min'])}" if "t_min" in d else ""
    print(f"{law}: {fit.method}, {fit.n} points of {what}{extra}")
    ci = f"{fit.level:.0%} bootstrap interval, {fit.n_boot} resamples" if fit.n_boot else "no bootstrap"
    for k in names:
        lo, hi = d[f"{k}_interval"]
        note = (f"; at its {d['at_bound'][k]} bound" if k in d.get("at_bound", {}) else "") + (
            f"; the percentile interval {d['interval_extended'][k]} missed the estimate and was widened"
            if k in d.get("interval_extended", {}) else "")
        print(f"  {k:<5} = {_fmt(d[k]):>12}   [{_fmt(lo)}, {_fmt(hi)}]  ({ci}{note})")
    r2 = "squared correlation of ln(L - L0) and ln t" if args.method == "paper" and args.form == "time" else "ln L"
    print(f"  r2 = {fit.r2:.6f} ({r2})")
    if args.out:
        R.write_json(args.out, {"form": args.form, "source": what, "seed": args.seed, "sigma": args.sigma, **d})
        print(f"-> {args.out}")
    return 0
