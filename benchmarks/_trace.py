"""Time per kind of XLA operation (matmul, logits-sized element-wise work, the rest) in one call of a
compiled program, from a ``jax.profiler`` trace: a helper module of the benchmarks, not a script."""

from __future__ import annotations

import glob
import gzip
import json
import re
import tempfile
import time

import jax
import numpy as np

import _common


def _op_kinds(hlo_text: str, logits_elems: int) -> dict[str, str]:
    """HLO instruction name -> matmul | logits-sized | other, from the compiled module's text."""
    comps, cur = {}, None
    for line in hlo_text.splitlines():
        m = re.match(r"^\s*(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$", line)
        if m and "=" not in line.split("{")[0]:
            cur = m.group(1)
            comps[cur] = []
        elif cur is not None:
            comps[cur].append(line)
    has_dot = {c: any(" dot(" in l or " convolution(" in l for l in lines) for c, lines in comps.items()}
    kinds = {}
    for lines in comps.values():
        for line in lines:
            m = re.match(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(\w+)\[([\d,]*)\][^ ]*\s+(\w[\w-]*)\(", line)
            if not m:
                continue
            name, _, dims, op = m.groups()
            called = re.search(r"calls=%?([\w.\-]+)", line)
            elems = int(np.prod([int(x) for x in dims.split(",") if x])) if dims else 1
            if op in ("dot", "convolution") or (called and has_dot.get(called.group(1))):
                kinds[name] = "matmul"
            elif elems >= logits_elems:
                kinds[name] = "logits-sized"
            else:
                kinds[name] = "other"
    return kinds


def profile(compiled, args, logits_elems: int) -> dict:
    """Time per kind of XLA operation in one call, from a jax.profiler trace (perfetto JSON)."""
    try:
        kinds = _op_kinds(compiled.as_text(), logits_elems)
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            with jax.profiler.trace(d, create_perfetto_trace=True):
                _common.block(compiled(*args))
            wall = time.perf_counter() - t0
            files = sorted(glob.glob(f"{d}/**/*.trace.json.gz", recursive=True))
            trace = json.load(gzip.open(files[-1]))
    except Exception as e:  # noqa: BLE001 - the profiler's output format is not an API we control
        return {"error": f"{type(e).__name__}: {e}"[:300]}
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    per_kind, threads = {"matmul": 0.0, "logits-sized": 0.0, "other": 0.0}, set()
    for e in events:
        name = e.get("name", "")
        if e.get("ph") != "X" or name not in kinds:
            continue
        per_kind[kinds[name]] += e.get("dur", 0.0) / 1e6
        threads.add(e.get("tid"))
    busy = sum(per_kind.values())
    return {"wall_s_traced": wall, "op_seconds": per_kind, "op_seconds_total": busy,
            "share": {k: v / busy for k, v in per_kind.items()} if busy else None, "threads": len(threads)}
