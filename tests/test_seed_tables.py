"""experiments.seed_tables: the statistics over seeds against a closed form, missing values, paired differences."""

import math

import pytest

from experiments import seed_tables as S


def test_summarize_gives_mean_sd_and_t_interval_per_entry_and_number():
    per_seed = {0: {"a": {"x": 1.0, "y": None}}, 1: {"a": {"x": 3.0, "y": 2.0}}, 2: {"a": {"x": 5.0}, "b": {"x": 1.0}}}
    s = S.summarize(per_seed)
    assert s["seeds"] == [0, 1, 2] and s["entries"] == ["a", "b"] and "Student t interval" in s["interval"]
    x = s["a"]["x"]
    # mean 3, sd 2; Student t with 2 degrees of freedom has the closed-form quantile (2p - 1) / sqrt(2 p (1 - p)).
    p = 0.975
    half = (2 * p - 1) / math.sqrt(2 * p * (1 - p)) * 2.0 / math.sqrt(3)
    assert (x["mean"], x["sd"], x["n"], x["values"]) == (3.0, 2.0, 3, [1.0, 3.0, 5.0])
    assert (x["ci_low"], x["ci_high"]) == pytest.approx((3.0 - half, 3.0 + half))
    # A seed without the number is left out, and one value has no spread: sd and interval NaN, never 0.
    assert s["a"]["y"]["values"] == [None, 2.0, None] and s["a"]["y"]["n"] == 1 and math.isnan(s["a"]["y"]["sd"])
    assert s["b"]["x"]["values"] == [None, None, 1.0]
    assert S.cell(s["a"]["y"]).endswith("(n = 1)") and "n/a" in S.cell(s["a"]["y"])


def test_differences_are_paired_seed_by_seed():
    per_seed = {0: {"ref": {"x": 1.0}, "p": {"x": 4.0}}, 1: {"ref": {"x": 2.0}, "p": {"x": None}}}
    d = S.differences(per_seed, "ref", ["x"])
    assert d == {0: {"p": {"x": 3.0}}, 1: {"p": {"x": None}}}
