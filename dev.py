#!/usr/bin/env python3
"""Set up a local virtual environment and run the project's main job or its tests.

    python3 dev.py main    # set up .venv, then reproduce the perceptron and the LM experiments (cpu presets)
    python3 dev.py test    # set up .venv, then run the test suite

Needs only python3 (>= 3.11), pip and git. The environment is (re)installed when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def setup() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"python >= 3.11 is required, this is {sys.version.split()[0]}")
    stamp = VENV / ".installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want and PY.exists():
        return
    if not PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + ["-e", f"{ROOT}[test]"], check=True)
    stamp.write_text(want)


def main() -> int:
    job = sys.argv[1] if len(sys.argv) > 1 else ""
    extra = sys.argv[2:]
    if job not in ("main", "test"):
        print(__doc__)
        return 2
    setup()
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    if job == "main":  # both experiments of the paper at CPU scale, on the embedded (generated) data
        for experiment in ("perceptron", "lm"):
            cmd = [str(PY), "-m", "learning_law.cli", "reproduce", experiment, "--preset", "cpu",
                   "--out", f"runs/reproduce-{experiment}-cpu", "--overwrite", *extra]
            code = subprocess.run(cmd, cwd=ROOT, env=env).returncode
            if code:
                return code
        return 0
    cmd = [str(PY), "-m", "pytest", "tests", *extra]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
