"""theory.speedup against hand-computed curves: a known crossing step, ties, never reaching the
target, NaN/inf, t* = 0, and the smoothed speed-up against an independent Gaussian filter."""

import math

import numpy as np
import pytest

from theory.speedup import check_finite, first_step_reaching, smooth, speedup_ratio


def test_reaches_the_target_at_a_known_step():
    # T = 10; the reference ends at 0.5; the candidate is first <= 0.5 at t = 4: speed-up 10 / 4.
    ref = np.linspace(1.0, 0.5, 11)
    cand = np.array([1.0, 0.8, 0.7, 0.6, 0.45, 0.4, 0.35, 0.3, 0.3, 0.3, 0.3])
    out = speedup_ratio(ref, cand)
    assert out == {"speedup": 2.5, "t_star": 4, "t_ref": 10, "target": 0.5, "sigma": 0.0}
    # t* = 1: the whole run's length over one step
    out = speedup_ratio(ref, np.array([1.0, 0.2] + [0.1] * 9))
    assert out["t_star"] == 1 and out["speedup"] == 10.0


def test_a_tie_with_the_target_counts_as_reached():
    ref = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5])
    cand = np.array([1.0, 0.7, 0.5, 0.5, 0.5, 0.5])  # equal to the target from t = 2 on
    out = speedup_ratio(ref, cand)
    assert out["t_star"] == 2 and out["speedup"] == 2.5
    # the same curve for both runs: t* = T, speed-up exactly 1
    assert speedup_ratio(ref, ref) == {"speedup": 1.0, "t_star": 5, "t_ref": 5, "target": 0.5, "sigma": 0.0}
    assert first_step_reaching([3.0, 2.0, 2.0], 2.0) == 1 and first_step_reaching([3.0, 2.5], 2.0) is None


def test_never_reaching_gives_the_reference_time_over_t():
    # The candidate ends at 0.6 > 0.3; the reference is first <= 0.6 at t = 3 (<= 0.7 at t = 2): 3 / 4.
    ref = np.array([1.0, 0.8, 0.65, 0.55, 0.3])
    cand = np.array([1.0, 0.9, 0.8, 0.7, 0.6])
    out = speedup_ratio(ref, cand)
    assert out["t_star"] is None and out["speedup"] == 0.75 and out["target"] == 0.3
    # a candidate that ends no better than where both started: 0 (the reference is there at t = 0)
    assert speedup_ratio(ref, np.array([1.0, 1.2, 1.1, 1.0, 1.0]))["speedup"] == 0.0


def test_a_reference_that_falls_then_rises_counts_from_where_it_first_reached_its_final_loss():
    # Over-fitting noisy labels: the reference is at its final loss 0.5 first at t = 2, on the way down.
    ref = np.array([1.0, 0.7, 0.5, 0.3, 0.4, 0.5])
    assert speedup_ratio(ref, ref)["speedup"] == 1.0  # not T / 2 = 2.5: a run is never faster than itself
    out = speedup_ratio(ref, np.array([1.0, 0.4, 0.2, 0.2, 0.2, 0.2]))
    assert (out["t_star"], out["t_ref"], out["speedup"]) == (1, 2, 2.0)
    # never reached (ends at 0.6 > 0.5): below one, the reference's first step at 0.6 (t = 2) over T = 5
    out = speedup_ratio(ref, np.array([1.0, 0.6, 0.55, 0.55, 0.58, 0.6]))
    assert out["t_star"] is None and out["speedup"] == 0.4


def test_t_star_zero_is_infinite_not_t():
    # The reference never gets below L(theta_0) = 1.0: the candidate is at its final loss at t = 0.
    ref = np.array([1.0, 1.1, 1.05, 1.0])
    cand = np.array([1.0, 0.5, 0.4, 0.3])
    out = speedup_ratio(ref, cand)
    assert out["t_star"] == 0 and math.isinf(out["speedup"])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("which", ["reference", "candidate"])
def test_non_finite_curves_stop_with_the_step(bad, which):
    good = np.array([1.0, 0.8, 0.6, 0.4, 0.3])
    broken = good.copy()
    broken[3] = bad
    args = (broken, good) if which == "reference" else (good, broken)
    with pytest.raises(FloatingPointError, match=f"{which} loss curve is .* at step 3"):
        speedup_ratio(*args)
    with pytest.raises(FloatingPointError, match="at step 3"):
        speedup_ratio(*args, sigma=2.0)
    with pytest.raises(FloatingPointError, match=r"^dev_loss is nan at step 0: a loss curve that feeds a "
                                                 r"metric must be finite everywhere$"):
        check_finite(np.array([np.nan, 1.0]), "dev_loss")
    check_finite([1.0, 0.5], "a list")  # finite: no error


def test_the_shortest_run_has_one_step():
    # T = 1: the candidate is at the target after its single step, as the reference is
    assert speedup_ratio([1.0, 0.5], [1.0, 0.4]) == {"speedup": 1.0, "t_star": 1, "t_ref": 1, "target": 0.5,
                                                     "sigma": 0.0}


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="equal length"):
        speedup_ratio(np.ones(5), np.ones(4))
    with pytest.raises(ValueError, match=">= 2"):
        speedup_ratio(np.ones(1), np.ones(1))
    with pytest.raises(ValueError, match="1-D"):
        speedup_ratio(np.ones((2, 3)), np.ones((2, 3)))


def _gaussian_nearest(curve: np.ndarray, sigma: float) -> np.ndarray:
    """Independent smoothing: a normalised Gaussian kernel (radius int(4 sigma + 0.5), scipy's default
    truncation) convolved with the curve padded by repeating its end values."""
    r = int(4.0 * sigma + 0.5)
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    padded = np.concatenate([np.full(r, curve[0]), curve, np.full(r, curve[-1])])
    return np.array([padded[t:t + 2 * r + 1] @ k for t in range(curve.size)])


def test_smoothing_matches_an_independent_gaussian_with_repeated_ends():
    rng = np.random.default_rng(0)
    t = np.arange(41, dtype=np.float64)
    ref = 0.3 + 1.0 / (1.0 + 0.2 * t) + 0.05 * rng.standard_normal(41)
    cand = 0.3 + 1.0 / (1.0 + 0.5 * t) + 0.05 * rng.standard_normal(41)
    for sigma in (1.0, 2.5):
        np.testing.assert_allclose(smooth(ref, sigma), _gaussian_nearest(ref, sigma), rtol=1e-12)
        sr, sc = _gaussian_nearest(ref, sigma), _gaussian_nearest(cand, sigma)
        t_star = int(np.nonzero(sc <= sr[-1])[0][0])
        out = speedup_ratio(ref, cand, sigma=sigma)
        assert out["t_star"] == t_star and out["speedup"] == pytest.approx(40 / t_star, rel=1e-12)
        assert out["target"] == pytest.approx(sr[-1], rel=1e-12) and out["sigma"] == sigma
    np.testing.assert_array_equal(smooth(ref, 0.0), ref)
    # float32 curves (as runs record them) are smoothed in float64
    ref32 = ref.astype(np.float32)
    np.testing.assert_allclose(smooth(ref32, 2.5), _gaussian_nearest(ref32.astype(np.float64), 2.5), rtol=1e-13)
    assert smooth(ref32, 0.0).dtype == np.float64 and smooth(ref32, 2.5).dtype == np.float64


def test_smoothing_repeats_the_end_values():
    # A curve falling at its very start: with the ends repeated (mode 'nearest') the padding before
    # t = 0 is 4, 4, 4, 4 (reflecting would pad 4, 2, 1, 1 and pull the start down).
    falling = np.r_[4.0, 2.0, 1.0, np.ones(18)]
    k = np.exp(-0.5 * np.arange(-4, 5) ** 2)
    k /= k.sum()
    first = k @ np.r_[4.0, 4.0, 4.0, 4.0, 4.0, 2.0, 1.0, 1.0, 1.0]
    assert smooth(falling, 1.0)[0] == pytest.approx(first, rel=1e-12)
    assert smooth(np.full(9, 0.7), 3.0) == pytest.approx(np.full(9, 0.7), rel=1e-12)
