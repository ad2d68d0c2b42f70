"""Handwritten digits with noisy training labels and a clean desired set (issue 15; no counterpart in the paper).

    learning-law reproduce digits --preset cpu|tiny [--seeds 0-4] --out DIR
    python -m experiments.digits --preset cpu --out DIR

The reproduction of :mod:`experiments.reproduce` on the digits task (learning_law/tasks/digits.py): the
policy search, constant vs optimised, the Learning Law, the fits and the figures. The paper has no digits
numbers, so the report's "paper" column is empty. The comparison with the reweighting methods of the noisy-label
literature is :mod:`experiments.noisy_labels`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments.reproduce import Experiment
from experiments.reproduce import reproduce as _reproduce
from experiments.seeds import main as _main

PAPER: dict = {}  # the paper has no digits experiment

EXPERIMENT = Experiment(
    task="digits", title="Digits with noisy labels: optimal learning policy", paper=PAPER,
    paper_source="The paper has no digits experiment: there is nothing to compare with.")


def reproduce(preset: str, out: str | Path, *, resume: bool = False, overwrite: bool = False,
              progress: bool = True) -> Path:
    """Run the whole experiment into ``out``; returns the path of report.md."""
    return _reproduce(EXPERIMENT, preset, out, resume=resume, overwrite=overwrite, progress=progress)


def main(argv=None) -> int:
    return _main(EXPERIMENT, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
