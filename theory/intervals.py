r"""Error bars over repeated runs (seeds): mean, sample standard deviation, Student t interval of the mean.

For values :math:`x_1, \dots, x_n` (one per seed),

.. math:: \bar x = \frac1n \sum_i x_i, \qquad s = \sqrt{\frac{1}{n-1} \sum_i (x_i - \bar x)^2}, \qquad
          \bar x \pm t_{1-\alpha/2,\, n-1} \, \frac{s}{\sqrt n},

the interval for the mean over seeds at level :math:`1 - \alpha` (0.95 by default), exact when the
values are normal and independent. It is an interval for the *mean*, not for one run: a new seed falls
outside it more often than 5% of the time. With n < 2 there is no spread to measure: sd and the interval
are NaN, never zero.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats


class Interval(NamedTuple):
    """Mean, sample sd (ddof = 1), Student t interval of the mean, and how many values made them."""

    mean: float
    sd: float
    ci_low: float
    ci_high: float
    n: int


def finite_values(values) -> np.ndarray:
    """``values: [S]`` (None allowed) as float64 with None / NaN / inf dropped: a seed whose fit failed
    is left out of the statistics, and :attr:`Interval.n` says how many remained."""
    arr = np.array([np.nan if v is None else v for v in np.asarray(values, dtype=object).reshape(-1)],
                   dtype=np.float64)
    return arr[np.isfinite(arr)]


def t_half_width(sd: np.ndarray | float, n: int, level: float = 0.95) -> np.ndarray | float:
    r"""Half width :math:`t_{(1+level)/2,\, n-1} \, sd / \sqrt n` of the t interval (NaN for n < 2).

    >>> round(float(t_half_width(1.0, 4)), 4)  # t_{0.975, 3} / 2
    1.5912
    """
    if not 0 < level < 1:
        raise ValueError(f"level={level} is invalid: allowed 0 < level < 1")
    if n < 2:
        return np.full_like(np.asarray(sd, dtype=np.float64), np.nan)
    return stats.t.ppf(0.5 + level / 2, df=n - 1) * np.asarray(sd, dtype=np.float64) / np.sqrt(n)


def interval(values, level: float = 0.95) -> Interval:
    """:class:`Interval` of the finite entries of ``values: [S]`` (see :func:`finite_values`).

    >>> interval([1.0, 2.0, 3.0]).mean, interval([1.0, 2.0, 3.0]).sd
    (2.0, 1.0)
    """
    x = finite_values(values)
    n = int(x.size)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    sd = float(x.std(ddof=1)) if n >= 2 else float("nan")
    half = float(t_half_width(sd, n, level))
    return Interval(mean, sd, mean - half, mean + half, n)


def band(curves: np.ndarray, level: float = 0.95) -> dict[str, np.ndarray]:
    """Per-step statistics of ``curves: [S, T]`` (one row per seed, all finite).

    Returns {"mean", "sd", "ci_low", "ci_high"}, each ``[T]``; sd and the interval NaN when S < 2.
    """
    c = np.asarray(curves, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] == 0:
        raise ValueError(f"curves has shape {c.shape}: expected [S, T] with S >= 1")
    if not np.isfinite(c).all():
        raise FloatingPointError("curves holds a NaN or inf: a band over seeds needs finite curves")
    n = c.shape[0]
    mean = c.mean(axis=0)
    sd = c.std(axis=0, ddof=1) if n >= 2 else np.full_like(mean, np.nan)
    half = t_half_width(sd, n, level)
    return {"mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def inside(value: float | None, low: float, high: float) -> bool | None:
    """Whether ``value`` lies in [low, high]; None when either is unknown (no value, or n < 2)."""
    if value is None or not (np.isfinite(low) and np.isfinite(high)):
        return None
    return bool(low <= value <= high)
