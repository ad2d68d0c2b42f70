"""Shared figure helpers: a consistent style and writing PNG + PDF atomically."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from learning_law.record import atomic_write  # noqa: E402

COLORS = {"constant": "#4C72B0", "policy": "#C44E52", "fit": "#555555"}


def new_figure(width: float = 5.5, height: float = 3.8):
    plt.rcParams.update({"font.size": 10, "axes.grid": True, "grid.alpha": 0.3})
    return plt.subplots(figsize=(width, height), constrained_layout=True)


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
