"""theory.intervals: mean, sample sd and the Student t interval, against hand computations and scipy."""

import math

import numpy as np
import pytest
from scipy import stats

from theory import intervals as I


def test_interval_of_known_values_by_hand():
    # x = 1, 2, 3, 6: mean 3, sum of squares 4 + 1 + 0 + 9 = 14, sd = sqrt(14 / 3)
    r = I.interval([1.0, 2.0, 3.0, 6.0])
    sd = math.sqrt(14 / 3)
    half = stats.t.ppf(0.975, 3) * sd / 2
    assert (r.mean, r.n) == (3.0, 4)
    assert r.sd == pytest.approx(sd, rel=1e-12)
    assert (r.ci_low, r.ci_high) == pytest.approx((3 - half, 3 + half), rel=1e-12)
    # scipy's own t interval of the mean, an independent formula for the same thing
    lo, hi = stats.t.interval(0.95, 3, loc=3.0, scale=stats.sem([1.0, 2.0, 3.0, 6.0]))
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), rel=1e-12)


def test_level_changes_the_width():
    x = [0.5, 1.5, 0.9, 1.1, 1.4]
    narrow, wide = I.interval(x, 0.5), I.interval(x, 0.99)
    assert wide.ci_low < narrow.ci_low < narrow.mean < narrow.ci_high < wide.ci_high
    lo, hi = stats.t.interval(0.99, 4, loc=np.mean(x), scale=stats.sem(x))
    assert (wide.ci_low, wide.ci_high) == pytest.approx((lo, hi), rel=1e-12)
    with pytest.raises(ValueError, match="level"):
        I.interval(x, 1.0)


def test_missing_values_are_left_out_and_counted():
    r = I.interval([2.0, None, float("nan"), 4.0])
    assert (r.mean, r.n) == (3.0, 2)
    assert r.sd == pytest.approx(math.sqrt(2))
    one = I.interval([None, 5.0])
    assert (one.mean, one.n) == (5.0, 1)
    assert all(math.isnan(v) for v in (one.sd, one.ci_low, one.ci_high))  # no spread from one value: not 0
    assert I.interval([None]).n == 0 and math.isnan(I.interval([]).mean)


def test_band_is_the_interval_of_every_column():
    rng = np.random.default_rng(0)
    curves = rng.normal(size=(3, 7))
    b = I.band(curves)
    for t in range(7):
        r = I.interval(curves[:, t])
        assert b["mean"][t] == pytest.approx(r.mean) and b["sd"][t] == pytest.approx(r.sd)
        assert (b["ci_low"][t], b["ci_high"][t]) == pytest.approx((r.ci_low, r.ci_high))
    assert np.isnan(I.band(curves[:1])["sd"]).all()
    with pytest.raises(FloatingPointError):
        I.band(np.array([[1.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="shape"):
        I.band(np.ones(3))


def test_inside():
    assert I.inside(1.0, 0.5, 1.5) is True and I.inside(2.0, 0.5, 1.5) is False
    assert I.inside(None, 0.5, 1.5) is None and I.inside(1.0, float("nan"), float("nan")) is None
