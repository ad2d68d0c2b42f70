"""Memory planning: estimate the peak memory of a policy search before it starts, and refuse a run
that cannot fit (DESIGN.md "Scale"; issue: the paper's Transformer run stores ~27 GB of theta_t naively).

The estimate is XLA's own: the outer step is lowered and compiled (no array is allocated) and its
``memory_analysis()`` gives the bytes of arguments, outputs and temporaries. The compiled step is then
reused by the run, so planning costs no extra compilation.
"""

from __future__ import annotations

import os

import jax

from learning_law.errors import UsageError

GiB = 1024**3


def available_bytes(device=None) -> int | None:
    """Memory the run may use on ``device``: the accelerator's limit, or the host's available RAM."""
    device = device or jax.devices()[0]
    try:
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    except Exception:  # noqa: BLE001 - CPU devices may not implement memory_stats
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def analysis_bytes(compiled) -> dict[str, int]:
    """Bytes of arguments, outputs, temporaries and their sum from a compiled XLA executable."""
    m = compiled.memory_analysis()
    out = {"arguments": int(m.argument_size_in_bytes), "outputs": int(m.output_size_in_bytes),
           "temporaries": int(m.temp_size_in_bytes), "aliased": int(getattr(m, "alias_size_in_bytes", 0))}
    out["total"] = out["arguments"] + out["outputs"] + out["temporaries"] - out["aliased"]
    return out


def check_fits(estimate: dict[str, int], memory: str, alternatives: dict[str, dict[str, int]] | None = None,
               available: int | None = None, headroom: float = 0.9) -> None:
    """Raise a UsageError when ``estimate['total']`` exceeds ``headroom`` x the available memory."""
    available = available_bytes() if available is None else available
    if available is None or estimate["total"] <= headroom * available:
        return
    hint = ""
    if alternatives:
        fits = [f"--memory {k} ({v['total'] / GiB:.2f} GiB)" for k, v in alternatives.items()
                if v["total"] <= headroom * available]
        hint = ("; these fit: " + ", ".join(fits)) if fits else \
            "; no memory strategy fits: use more devices (--devices), a smaller T, fewer examples or, for the LM, --micro-batch (e.g. 2048)"
    raise UsageError(f"memory={memory!r} needs about {estimate['total'] / GiB:.2f} GiB but only "
                     f"{available / GiB:.2f} GiB are available{hint}")
