"""Shared helpers of the benchmark scripts: command line, timing, table printing, JSON results.

Benchmarks are scripts, not tests: each measures two or more implementations side by side in one
process (so the ratios are fair on a shared machine), prints a short table and writes it to
``benchmarks/results/<name>.json`` (or ``--out``) atomically with :func:`learning_law.record.write_json`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import jax

from learning_law import record as R
from learning_law import xla_flags


def lm_xla_flags() -> None:
    """The XLA flags the CLI sets for LM runs (``learning_law/xla_flags.py``), so that an LM benchmark times what
    the CLI runs; call it before the first computation (the backend reads them once)."""
    xla_flags.apply()


RESULTS = Path(__file__).resolve().parent / "results"


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the two options every benchmark has: ``--quick`` and ``--out``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small sizes (well under 30 s), a smoke run")
    p.add_argument("--out", type=Path, default=None,
                   help="JSON file to write (default: benchmarks/results/<name>[_quick].json)")
    return p


def block(x: Any) -> Any:
    """Wait for every array in the pytree ``x`` (JAX dispatch is asynchronous)."""
    return jax.block_until_ready(x)


def time_call(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1,
              setup: Callable[[], Any] | None = None) -> dict[str, float]:
    """Median / min / max wall seconds of ``fn()`` (blocked until ready) over ``repeats`` calls.

    ``setup`` (optional) runs before each call, outside the timed region; its result is passed to fn
    (for donated arguments, which must be fresh each call).
    """
    def once() -> float:
        arg = block(setup()) if setup is not None else None
        t0 = time.perf_counter()
        block(fn(arg) if setup is not None else fn())
        return time.perf_counter() - t0

    for _ in range(warmup):
        once()
    times = [once() for _ in range(repeats)]
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "repeats": repeats}


def timed(fn, repeats: int, warmup: int = 1) -> dict:
    """Median wall and process-CPU seconds of ``fn()`` (blocked), after ``warmup`` calls, and the best wall time."""
    for _ in range(warmup):
        block(fn())
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        block(fn())
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus), "wall_min_s": min(walls)}


def fmt(v: Any) -> str:
    if isinstance(v, float):
        if v == 0 or 1e-3 <= abs(v) < 1e5:
            return f"{v:.4g}"
        return f"{v:.3e}"
    return str(v)


def print_table(rows: Sequence[dict], columns: Sequence[str] | None = None, title: str = "") -> str:
    """Print ``rows`` (dicts) as an aligned plain-text table; returns the text."""
    columns = list(columns or rows[0].keys())
    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ([title] if title else []) + [
        "  ".join(c.rjust(w) for c, w in zip(columns, widths)),
        "  ".join("-" * w for w in widths),
        *("  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells),
    ]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {"platform": platform.platform(), "cpu_count": os.cpu_count(), "backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()], "python": sys.version.split()[0],
            "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}


def write_result(name: str, args: argparse.Namespace, result: dict) -> Path:
    """Write ``result`` (plus the command, machine and versions) to JSON atomically; returns the path."""
    path = args.out or RESULTS / f"{name}{'_quick' if args.quick else ''}.json"
    payload = {"benchmark": name, "quick": bool(args.quick), "command": " ".join(sys.argv),
               "machine": machine(), "versions": R.versions(), **result}
    R.write_json(path, payload)
    print(f"wrote {path}", flush=True)
    return Path(path)
