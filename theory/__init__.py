"""Theory of optimal learning: pure functions on arrays (no models, no files).

Modules, one per concept of the paper (Gu et al., 2024, arXiv 2402.17759):

- :mod:`theory.objective`  -- AUC of the desired loss, code length in bits, compression ratio.
- :mod:`theory.speedup`    -- speed-up of one loss curve over another (T / t*).
- :mod:`theory.simplex`    -- exact Euclidean projection of policy rows onto the probability simplex.
"""

from theory import objective, simplex, speedup
from theory.objective import auc, code_length_bits, compression_ratio_bits, compression_ratio_paper
from theory.simplex import project_rows_onto_simplex
from theory.speedup import speedup_ratio

__all__ = [
    "objective",
    "simplex",
    "speedup",
    "auc",
    "code_length_bits",
    "compression_ratio_bits",
    "compression_ratio_paper",
    "project_rows_onto_simplex",
    "speedup_ratio",
]
