"""Theory of optimal learning: pure functions on arrays (no models, no files).

Modules, one per concept of the paper (Gu et al., 2024, arXiv 2402.17759):

- :mod:`theory.objective`  -- AUC of the desired loss, code length in bits, compression ratio.
- :mod:`theory.speedup`    -- speed-up of one loss curve over another (T / t*).
- :mod:`theory.simplex`    -- exact Euclidean projection of policy rows onto the probability simplex.
- :mod:`theory.law`        -- Learning Law statistics: SIM, spread of CT on the support, gamma = 0 among
  CT < 0, CT vs -dL/dt (Theorem 3.1, Section 4.4-4.5); the named definitions of the Law's measures
  (``strict``, ``paper``: :class:`theory.law.LawDefinition`).
- :mod:`theory.law_measures` -- those measures under a definition (Figs. 7-9) and the controls that tell a
  policy's effect from an artefact of the window.
- :mod:`theory.sim_cr`     -- SIM vs CR: the curve SIM = k ln(a / (b - CR)) and its fit (Fig. 3B / 7).
- :mod:`theory.certificate` -- exact adjoint gradient of the AUC and the KKT residual on the simplices.
- :mod:`theory.coding`     -- an exact arithmetic (range) coder: prequential code length made real (App. A).
- :mod:`theory.scaling`    -- scaling law of the loss curve (Eq. 8), its fits with bootstrap intervals,
  acceleration ratio (Eq. 9), Chinchilla L(N, D); a package: ``law``, ``robust``, ``paper``,
  ``chinchilla``, ``bootstrap``, ``fitting``.
- :mod:`theory.intervals`  -- error bars over seeds: mean, sd, Student t interval of the mean.
"""

from theory import certificate, coding, intervals, law, law_measures, objective, scaling, sim_cr, simplex, speedup
from theory.certificate import adjoint_gradient, auc_and_adjoint, kkt_residual
from theory.law import fit_sim_cr, law_table, sim_cr_curve
from theory.objective import auc, code_length_bits, compression_ratio_bits, compression_ratio_paper
from theory.scaling import (acceleration_ratio, acceleration_ratio_eq9, fit_chinchilla, fit_paper,
                            fit_scaling_law, scaling_law)
from theory.simplex import project_rows_onto_simplex
from theory.speedup import speedup_ratio

__all__ = [
    "certificate",
    "law",
    "adjoint_gradient",
    "auc_and_adjoint",
    "kkt_residual",
    "law_table",
    "fit_sim_cr",
    "sim_cr_curve",
    "coding",
    "intervals",
    "objective",
    "scaling",
    "simplex",
    "speedup",
    "auc",
    "code_length_bits",
    "compression_ratio_bits",
    "compression_ratio_paper",
    "project_rows_onto_simplex",
    "speedup_ratio",
    "acceleration_ratio",
    "acceleration_ratio_eq9",
    "fit_chinchilla",
    "fit_paper",
    "fit_scaling_law",
    "scaling_law",
]
