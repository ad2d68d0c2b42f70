"""TensorBoard event files for the commands' metrics (``--tensorboard DIR``), through tensorboardX.

Optional and off by default (no TensorFlow needed; DESIGN.md: trackers behind a small interface). What is
written, with the step axis in brackets:

- ``train``: ``loss/dev``, ``loss/test`` [inner step t = 0..T] and every number of summary.json under
  ``summary/`` [T], e.g. ``summary/auc`` (the AUC of the dev curve);
- ``optimize``: each line of metrics.jsonl as ``outer/<key>`` [outer step], e.g. ``outer/auc``, live while the
  search runs, then summary.json under ``summary/`` [outer steps run];
- ``evaluate``: the two runs' curves under ``DIR/constant`` and ``DIR/policy`` (one TensorBoard run each, so
  the curves overlay) and summary.json under ``summary/`` [T], e.g. ``summary/auc_policy``, ``summary/speedup``,
  ``summary/test_accuracy_policy``.

:func:`read_scalars` parses event files back without TensorBoard (the TFRecord framing and the Event proto).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Callable

import numpy as np

from learning_law import record as R


def writer(logdir: str | Path):
    """A tensorboardX ``SummaryWriter`` on ``logdir`` (created)."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError as e:  # an optional tracker: say how to get it
        from learning_law.errors import UsageError

        raise UsageError("--tensorboard needs tensorboardX: pip install tensorboardX") from e
    Path(logdir).mkdir(parents=True, exist_ok=True)
    return SummaryWriter(logdir=str(logdir), flush_secs=10)


def _numbers(d: dict, prefix: str = "") -> dict[str, float]:
    """Every finite number of a (nested) summary dict as ``{"a/b": value}``; bools and strings left out."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_numbers(v, f"{prefix}{k}/"))
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v):
            out[f"{prefix}{k}"] = float(v)
    return out


def _curves(w, folder: Path) -> int:
    """loss/dev and loss/test of a run folder, one scalar per step; returns T."""
    dev, test = np.load(folder / "dev_loss.npy"), np.load(folder / "test_loss.npy")
    for t, (d, e) in enumerate(zip(dev, test)):
        w.add_scalar("loss/dev", float(d), t)
        w.add_scalar("loss/test", float(e), t)
    return len(dev) - 1


def _summary(w, folder: Path, step: int) -> None:
    for tag, v in _numbers(R.read_json(folder / "summary.json")).items():
        w.add_scalar(f"summary/{tag}", v, step)


def write_train(folder: str | Path, logdir: str | Path) -> None:
    """Event files of a finished ``train`` run folder into ``logdir``."""
    folder = Path(folder)
    w = writer(logdir)
    _summary(w, folder, _curves(w, folder))
    w.close()


def write_evaluate(folder: str | Path, logdir: str | Path) -> None:
    """Event files of a finished ``evaluate`` folder: ``logdir/constant``, ``logdir/policy`` and the comparison."""
    folder, logdir = Path(folder), Path(logdir)
    steps = 0
    for run in ("constant", "policy"):
        w = writer(logdir / run)
        steps = _curves(w, folder / run)
        w.close()
    w = writer(logdir)
    _summary(w, folder, steps)
    w.close()


def live_optimize(logdir: str | Path) -> tuple[Callable[[dict], None], Callable[[Path], None]]:
    """``(on_metrics, finish)`` for the search: ``on_metrics(row)`` writes one metrics.jsonl row as
    ``outer/<key>`` at its outer step; ``finish(folder)`` adds summary.json and closes the file."""
    w = writer(logdir)

    def on_metrics(row: dict) -> None:
        k = int(row["outer_step"])
        for key, v in row.items():
            if key != "outer_step" and v is not None and np.isfinite(v):
                w.add_scalar(f"outer/{key}", float(v), k)

    def finish(folder: Path) -> None:
        s = R.read_json(Path(folder) / "summary.json")
        _summary(w, Path(folder), int(s.get("outer_steps_run") or 0))
        w.close()

    return on_metrics, finish


def read_scalars(logdir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` of every event file directly in ``logdir`` (not its sub-folders)."""
    from tensorboardX.proto import event_pb2

    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(Path(logdir).glob("events.out.tfevents.*")):
        data = path.read_bytes()
        pos = 0
        while pos + 12 <= len(data):  # TFRecord: uint64 length, uint32 crc, payload, uint32 crc
            (n,) = struct.unpack("<Q", data[pos:pos + 8])
            ev = event_pb2.Event.FromString(data[pos + 12:pos + 12 + n])
            pos += 12 + n + 4
            for v in ev.summary.value:
                out.setdefault(v.tag, []).append((int(ev.step), float(v.simple_value)))
    return out
