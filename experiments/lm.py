"""The Transformer LM experiment of the paper (Section 4.2, App. D): the same reproduction as the perceptron.

    learning-law reproduce lm --preset cpu|paper|tiny [--seeds 0-4] --out DIR
    python -m experiments.lm --preset cpu --out DIR

Needs the LM task (learning_law/tasks/lm.py). On the embedded corpus the irreducible loss is known
exactly and fixes L0 of the paper's scaling-law fit.
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments.reproduce import Experiment
from experiments.reproduce import reproduce as _reproduce
from experiments.seeds import main as _main

# The paper's numbers (../shared/PAPER.md sections 4-5): speed-up, AUC and CR read off its text/figures;
# Table 1 (t0 = 400, L0 = 0.051): constant B = 3.16e8, beta = 0.12; near-optimal B = 1.99e7, beta = 0.14.
PAPER = {"speedup": 2.41, "auc_constant": 4.1, "auc_policy": 3.8, "cr_paper_constant": 3.0,
         "cr_paper_policy": 3.3, "B_constant": 3.16e8, "beta_constant": 0.12, "B_policy": 1.99e7,
         "beta_policy": 0.14, "sim_trend": "increases with CR (Fig. 7)"}


def known_l0(cfg) -> float | None:
    """The irreducible loss of the LM's corpus (nats; None when unknown)."""
    from learning_law.tasks.lm import irreducible_loss

    return irreducible_loss(cfg)


EXPERIMENT = Experiment(
    task="lm", title="Transformer LM: optimal learning policy", paper=PAPER,
    paper_source="The paper's values: Section 4.2 (2.41x, AUC about 4.1 -> 3.8, CR about 3.0 -> 3.3) and "
                 "Table 1 (B, beta).",
    known_l0=known_l0)


def reproduce(preset: str, out: str | Path, *, resume: bool = False, overwrite: bool = False,
              progress: bool = True) -> Path:
    """Run the whole experiment into ``out``; returns the path of report.md."""
    return _reproduce(EXPERIMENT, preset, out, resume=resume, overwrite=overwrite, progress=progress)


def main(argv=None) -> int:
    return _main(EXPERIMENT, argv, __doc__)


if __name__ == "__main__":
    from learning_law import xla_flags
    xla_flags.apply()  # the CLI's XLA settings for LM runs, before JAX's backend starts
    sys.exit(main())
