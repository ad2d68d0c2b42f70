"""Shared figure helpers: a consistent style and writing PNG + PDF atomically."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from learning_law.record import atomic_write  # noqa: E402

COLORS = {"constant": "#4C72B0", "policy": "#C44E52", "fit": "#555555"}


def new_figure(width: float = 5.5, height: float = 3.8, nrows: int = 1, ncols: int = 1, **kw):
    """(figure, axes) with the shared style; ``nrows``/``ncols``/``kw`` as ``plt.subplots``."""
    plt.rcParams.update({"font.size": 10, "axes.grid": True, "grid.alpha": 0.3})
    return plt.subplots(nrows, ncols, figsize=(width, height), constrained_layout=True, **kw)


def save(fig, path_stem: str | os.PathLike) -> list[str]:
    """Write ``<stem>.png`` (150 dpi) and ``<stem>.pdf``; returns both paths."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        p = stem.with_suffix(f".{ext}")
        atomic_write(p, lambda f, ext=ext: fig.savefig(f, format=ext, dpi=150))
        paths.append(str(p))
    plt.close(fig)
    return paths


def load_trajectory(opt_dir: str | os.PathLike) -> dict:
    """OPT_DIR/trajectory.json (written by ``learning-law law OPT_DIR``); a UsageError says how to make it."""
    from learning_law.errors import UsageError
    from learning_law.record import read_json

    path = Path(opt_dir) / "trajectory.json"
    if not path.exists():
        raise UsageError(f"opt_dir={str(opt_dir)!r} has no trajectory.json: run `learning-law law {opt_dir}` "
                         "first (it trains every saved policy with records)")
    return read_json(path)


def log2_vocab(folder: str | os.PathLike) -> float:
    """log2|V| of the coded symbols of an optimize/evaluate folder's task.

    Read back from a finished run when there is one (cr_paper * mean_{t>=1} L_t, exact: it is how
    cr_paper was computed), else from task_config (2 for the perceptron's binary labels).
    """
    import math

    import numpy as np

    from learning_law.record import read_json

    folder = Path(folder)
    for run in (folder / "trajectory" / "step_00000", folder / "constant"):
        if (run / "summary.json").exists() and (run / "dev_loss.npy").exists():
            cr = read_json(run / "summary.json").get("cr_paper")
            if cr:
                return float(cr * np.mean(np.load(run / "dev_loss.npy")[1:].astype(np.float64)))
    cfg = read_json(folder / "config.json")
    if cfg.get("task") == "perceptron":
        return 1.0
    return math.log2(int(cfg.get("task_config", {}).get("vocab_size", 2)))


def checkpoint_colors(values):
    """(colormap, norm) for colouring outer checkpoints by a value (e.g. the compression ratio)."""
    import matplotlib.colors as mcolors
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
    return plt.get_cmap("viridis"), mcolors.Normalize(lo, hi if hi > lo else lo + 1e-9)


def fmt(x, digits: int = 3) -> str:
    """A number for a label or a table: 3 significant digits, 'n/a' for None/NaN."""
    import math

    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return str(x)
    return f"{x:.{digits}g}"


def plain_log_ticks(axis) -> None:
    """Label a log axis with plain numbers (0.2, 0.3, 0.5 between decades) instead of 2x10^-1 ..."""
    import math

    from matplotlib.ticker import FuncFormatter

    def minor(v, _):
        if v <= 0:
            return ""
        lead = round(v / 10 ** math.floor(math.log10(v)), 6)
        return f"{v:g}" if lead in (2.0, 3.0, 5.0) else ""

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(minor))
