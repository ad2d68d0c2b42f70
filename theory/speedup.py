r"""Speed-up of one training run over another, measured on their loss curves (paper Fig. 2, Eq. 9).

.. math:: \mathrm{speed\text{-}up} = t_{ref} / t^*, \qquad t^* = \min\{t : L_{cand}(t) \le L_{ref}(T)\},
   \qquad t_{ref} = \min\{t : L_{ref}(t) \le L_{ref}(T)\},

the ratio of the steps each run needs to reach the reference run's final loss. The paper writes
:math:`T / t^*`: the same number whenever the reference first reaches its final loss at its last step, as a
decreasing loss curve does. A curve that falls and then rises (a model over-fitting noisy labels) reaches its
final loss earlier, on the way down; with T in the numerator the reference would be "faster than itself"
(docs/results.md, the noisy-label perceptron row); with :math:`t_{ref}` a run against itself is exactly 1. When the candidate never gets there, the ratio is below one:
:math:`t'_{ref} / T` with :math:`t'_{ref}` the first step at which the reference reaches the candidate's final
loss.

Edge cases, each stated rather than hidden:

- ``t* = 0``: the candidate starts at or below the reference's final loss. For two runs from the same
  theta_0 that means the reference never improved on :math:`L(\theta_0)`; T / 0 is reported as ``inf``
  (never as T), and callers that write a record refuse it (:mod:`learning_law.evaluate`).
- a NaN or inf anywhere in either curve raises :class:`FloatingPointError` naming the curve and the
  step: NaN compares false with every level, so it would otherwise pass for "never reached".
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter1d


def check_finite(curve: np.ndarray, name: str) -> None:
    """Raise :class:`FloatingPointError` naming ``name`` and the first step where ``curve: [T+1]`` is
    NaN or inf."""
    bad = ~np.isfinite(curve)
    if bad.any():
        t = int(np.argmax(bad))
        raise FloatingPointError(f"{name} is {float(np.asarray(curve)[t])} at step {t}: a loss curve that "
                                 "feeds a metric must be finite everywhere")


def first_step_reaching(curve: np.ndarray, level: float) -> int | None:
    """First index t with ``curve[t] <= level`` (ties count as reached), or None."""
    hits = np.nonzero(np.asarray(curve) <= level)[0]
    return int(hits[0]) if hits.size else None


def smooth(curve: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-smoothed curve (``mode='nearest'``), as the paper's analysis scripts did; sigma in steps.

    ``nearest`` repeats the end values beyond the curve, so a smoothed curve keeps its first and last
    levels (``reflect`` would fold the descent back in at the start). ``sigma = 0``: the curve itself.
    """
    if sigma <= 0:
        return np.asarray(curve, dtype=np.float64)
    return gaussian_filter1d(np.asarray(curve, dtype=np.float64), sigma, mode="nearest")


def speedup_ratio(reference: np.ndarray, candidate: np.ndarray, sigma: float = 0.0) -> dict:
    """Speed-up of ``candidate`` over ``reference``; both are loss curves ``[T+1]`` over t = 0..T.

    Args:
      reference: the reference run's loss curve (the constant policy), ``[T+1]``.
      candidate: the other run's loss curve, ``[T+1]``.
      sigma: Gaussian smoothing of both curves, in steps (0: none); see :func:`smooth`.

    Returns:
      A dict with ``speedup`` (t_ref / t*, ``inf`` when t* = 0; below one when never reached, see the
      module docstring), ``t_star`` (None if never reached), ``t_ref`` (the first step at which the
      reference reaches its own final loss; T for a decreasing curve), ``target`` (the reference's final
      loss, smoothed) and ``sigma``.

    Raises:
      ValueError: curves of other shapes than 1-D of equal length >= 2.
      FloatingPointError: a NaN or inf in either curve (the message names the step).

    >>> speedup_ratio([3.0, 2.0, 1.0, 0.5, 0.4], [3.0, 1.0, 0.4, 0.3, 0.2])["speedup"]
    2.0
    """
    ref_raw, cand_raw = np.asarray(reference), np.asarray(candidate)
    if ref_raw.shape != cand_raw.shape or ref_raw.ndim != 1 or ref_raw.shape[0] < 2:
        raise ValueError(f"loss curves must be 1-D of equal length >= 2, got {ref_raw.shape} and "
                         f"{cand_raw.shape}")
    check_finite(ref_raw, "the reference loss curve")
    check_finite(cand_raw, "the candidate loss curve")
    ref, cand = smooth(ref_raw, sigma), smooth(cand_raw, sigma)
    target = float(ref[-1])
    t_star = first_step_reaching(cand, target)
    t_ref = first_step_reaching(ref, target)  # <= T; T for a reference that reaches its final loss last
    if t_star is None:
        # cand[T] > ref[T], so the reference reaches cand[T] at the latest at step T: below one.
        ratio = first_step_reaching(ref, float(cand[-1])) / (ref.shape[0] - 1)
    elif t_star == 0:
        ratio = math.inf
    else:
        ratio = t_ref / t_star
    return {"speedup": float(ratio), "t_star": t_star, "t_ref": t_ref, "target": target, "sigma": float(sigma)}
