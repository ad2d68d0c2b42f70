"""Run records: one folder per run, every file written atomically (write to a temp file, then rename).

Layout of a training run folder::

    config.json        everything needed to re-run it (configs, seeds, policy, package versions)
    summary.json       headline numbers; written last: its presence means the run finished
    dev_loss.npy       [T+1]  L_dev(theta_t), t = 0..T (the mean over the dev split, in nats)
    test_loss.npy      [T+1]  the same on the test split
    record_steps.npy   [T']   steps t at which per-example records were taken (0, K, 2K, ...)
    train_loss.npy     [T', N] per-example train losses l_n(theta_t)
    ct.npy             [T', N] contributions CT[t, n] = grad L_dev(theta_t) . grad l_n(theta_t)
    gamma_recorded.npy [T', N] the policy rows gamma[t] at the recorded steps
    params_final.npz   theta_T
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from learning_law.errors import NumericalError, UsageError

MARKERS = ("config.json", "report.md", "summary.json")  # files every output folder of ours has
PACKAGES = ("learning-law", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "scipy",
            "tensorflow-datasets", "matplotlib")


def versions() -> dict[str, str]:
    """Python, platform and the versions of the packages a result depends on."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def is_writer() -> bool:
    """Whether this process writes files: always, but in a multi-process run only process 0 (the others
    compute the same values; :mod:`learning_law.distributed`). Without jax imported, one process."""
    if "jax" not in sys.modules:  # the CLI's start-up and pure-file commands need not import jax
        return True
    from learning_law.distributed import is_writer as writer

    return writer()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once at import: os.umask can only be read by setting it


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, fsync, then rename onto ``path``.

    Only the writing process writes (:func:`is_writer`); on the others this is a no-op.
    """
    if not is_writer():
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600: give the result the mode open() would
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if hasattr(x, "item") and getattr(x, "shape", None) == ():
        return _jsonable(x.item())
    return x


def non_finite(obj: Any, prefix: str = "") -> list[tuple[str, float]]:
    """``(key path, value)`` of every NaN/inf number in ``obj`` (dicts, lists, scalars, arrays)."""
    if isinstance(obj, dict):
        return [bad for k, v in obj.items() for bad in non_finite(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(obj, (list, tuple)):
        return [bad for i, v in enumerate(obj) for bad in non_finite(v, f"{prefix}[{i}]")]
    if isinstance(obj, (float, np.floating, np.ndarray)):
        flat = np.asarray(obj, dtype=np.float64).reshape(-1)
        bad = ~np.isfinite(flat)
        if bad.any():
            return [(prefix, float(flat[np.argmax(bad)]))]
    return []


def check_finished(summary: dict, where: str) -> None:
    """Refuse a summary marked ``finished: true`` that holds a NaN or inf (:class:`NumericalError`)."""
    if isinstance(summary, dict) and summary.get("finished") is True:
        bad = non_finite(summary)
        if bad:
            key, value = bad[0]
            raise NumericalError(f"{where}: {key} is {value}; a result with a non-finite number is not "
                                 "marked finished")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (non-finite floats become null).

    A dict marked ``finished: true`` must hold finite numbers only (:func:`check_finished`), so a
    finished record never carries a silent null where a metric should be.
    """
    check_finished(obj, str(path))
    data = json.dumps(_jsonable(obj), indent=2, sort_keys=False).encode() + b"\n"
    atomic_write(path, lambda f: f.write(data))


def read_json(path: str | os.PathLike) -> Any:
    with open(path) as f:
        return json.load(f)


def save_npy(path: str | os.PathLike, array) -> None:
    """Atomically write one array as ``.npy`` (memory-mappable with ``np.load(mmap_mode='r')``).

    An array sharded over several processes is gathered first, by every process (a collective).
    """
    arr = _host(array)
    atomic_write(path, lambda f: np.save(f, arr, allow_pickle=False))


def save_sources(out: str | os.PathLike, task) -> None:
    """``sources.json``: the source (domain) of every train example of ``task`` (``Task.groups``), when it has
    them: ``{"names": [D], "sizes": [D], "ids": [N]}``. Nothing for a task without sources."""
    if getattr(task, "groups", None) is None or not is_writer():
        return
    ids = np.asarray(task.groups)
    write_json(Path(out) / "sources.json", {"names": list(task.group_names),
                                            "sizes": np.bincount(ids, minlength=len(task.group_names)).tolist(),
                                            "ids": ids.tolist()})


def save_npz(path: str | os.PathLike, **arrays) -> None:
    arrays = {k: _host(v) for k, v in arrays.items()}
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _host(array) -> np.ndarray:
    if "jax" in sys.modules:
        from learning_law.distributed import to_host

        array = to_host(array)
    return np.asarray(array)


def prepare_out_dir(path: str | os.PathLike, overwrite: bool = False, resume: bool = False) -> Path:
    """Create the output folder; refuse a non-empty one unless ``overwrite`` or ``resume``.

    In a multi-process run process 0 checks and prepares the folder and tells the others its verdict
    (they would otherwise race with its first files, or wait forever for a process that refused).
    """
    if "jax" not in sys.modules:  # a multi-process run has imported it long before
        return _prepare_out_dir(path, overwrite, resume)
    from learning_law import distributed as D

    if not D.multi_process():
        return _prepare_out_dir(path, overwrite, resume)
    error = None
    if D.is_writer():
        try:
            _prepare_out_dir(path, overwrite, resume)
        except UsageError as e:
            error = e
    D.agree(error is None, f"out={str(path)!r}")
    if error is not None:
        raise error
    return Path(path)


def _prepare_out_dir(path: str | os.PathLike, overwrite: bool, resume: bool) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"out={str(path)!r} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not (overwrite or resume):
        raise UsageError(f"out={str(path)!r} exists and is not empty: pass --overwrite to replace its "
                         "results (or --resume where the command supports it)")
    if overwrite and not resume and out.exists() and any(out.iterdir()):
        # Old results must not survive into a new run; delete only what looks like our own output.
        if not any((out / name).exists() for name in MARKERS):
            raise UsageError(f"out={str(path)!r} is not empty and does not look like a learning-law output "
                             f"folder (none of {', '.join(MARKERS)}): refusing to delete it; choose another --out")
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"out={str(path)!r} is not writable: {e.strerror}") from None
    return out


def is_finished(path: str | os.PathLike) -> bool:
    """A run folder is finished when its summary.json exists."""
    return (Path(path) / "summary.json").exists()


def load_run(path: str | os.PathLike, mmap: bool = True) -> dict[str, Any]:
    """Read a finished training run folder: config, summary and its arrays (memory-mapped)."""
    path = Path(path)
    if not is_finished(path):
        raise UsageError(f"run={str(path)!r} has no summary.json: not a finished run folder")
    out: dict[str, Any] = {"config": read_json(path / "config.json"),
                           "summary": read_json(path / "summary.json"), "path": str(path)}
    for f in sorted(path.glob("*.npy")):
        out[f.stem] = np.load(f, mmap_mode="r" if mmap else None)
    return out
