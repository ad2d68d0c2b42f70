"""Figure helpers and fits behind the figures: SIM-vs-CR fit (Fig. 3B/7), Table 1/2 changes and intervals."""

import numpy as np
import pytest

from plots import FIGURES
from plots.scaling_fits import _abs_range, changes, markdown
from theory import scaling as S
from theory.law import fit_sim_cr, sim_cr_curve


@pytest.mark.parametrize("k,a,b", [(0.3, 2.0, 7.4), (1.5, 0.8, 3.2), (0.05, 20.0, 10.0)])
def test_fit_sim_cr_recovers_known_parameters_exactly(k, a, b):
    cr = np.linspace(b - 3.0, b - 0.1, 9)
    fit = fit_sim_cr(cr, k * np.log(a / (b - cr)))  # closed form, no noise
    np.testing.assert_allclose([fit["k"], fit["a"], fit["b"]], [k, a, b], rtol=1e-5)
    assert fit["r2"] > 1 - 1e-10
    assert fit["asymptote_identified"]


def test_fit_sim_cr_with_noise_is_within_its_standard_errors():
    rng = np.random.default_rng(1)
    k, a, b = 0.4, 3.0, 7.0
    cr = np.sort(rng.uniform(4.0, 6.9, 12))
    fit = fit_sim_cr(cr, sim_cr_curve(cr, k, a, b) + rng.normal(0, 0.01, cr.size))
    for name, true in (("k", k), ("a", a), ("b", b)):
        assert abs(fit[name] - true) < 4 * fit[f"{name}_se"] + 1e-9, (name, fit)


def test_fit_sim_cr_says_when_there_is_no_asymptote_and_refuses_too_few_points():
    cr = np.linspace(4.0, 7.0, 8)
    fit = fit_sim_cr(cr, 0.05 * cr + 0.1)  # exactly linear: b runs off to the edge of the search
    assert not fit["asymptote_identified"]
    assert fit["r2"] > 0.999
    with pytest.raises(ValueError, match="at least 3"):
        fit_sim_cr([1.0, 2.0, np.nan], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="vary"):
        fit_sim_cr([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])


def _box_samples(p1, p2, keys, rng, n=4000):
    """Random parameter pairs inside both runs' interval boxes (plus the point estimates)."""
    out = []
    for _ in range(n):
        q1, q2 = dict(p1), dict(p2)
        for k in keys:
            q1[k] = rng.uniform(*p1[f"{k}_interval"])
            q2[k] = rng.uniform(*p2[f"{k}_interval"])
        out.append((q1, q2))
    return out


def test_changes_intervals_contain_every_point_of_the_parameter_box():
    p1 = {"L0": 0.1, "B": 1e4, "beta": 0.12, "L0_interval": (0.09, 0.11), "B_interval": (5e3, 2e4),
          "beta_interval": (0.11, 0.13)}
    p2 = {"L0": 0.1, "B": 8e3, "beta": 0.14, "L0_interval": (0.09, 0.11), "B_interval": (4e3, 1.5e4),
          "beta_interval": (0.13, 0.15)}
    T = 1000.0
    c = changes(p1, p2, T)
    assert c["dB_over_B"] == pytest.approx(0.2)
    assert c["dbeta_over_beta"] == pytest.approx(0.02 / 0.12)
    rng = np.random.default_rng(0)
    for q1, q2 in _box_samples(p1, p2, ("B", "beta"), rng):
        dB = abs(q2["B"] - q1["B"]) / q1["B"]
        dbeta = abs(q2["beta"] - q1["beta"]) / q1["beta"]
        ar = T / (q2["B"] * (T / q1["B"]) ** (q1["beta"] / q2["beta"]))  # t* solved by hand from Eq. 8, L0 = 0
        lo, hi = c["dB_over_B_interval"]
        assert lo - 1e-12 <= dB <= hi + 1e-12
        lo, hi = c["dbeta_over_beta_interval"]
        assert lo - 1e-12 <= dbeta <= hi + 1e-12
        lo, hi = c["ar_eq9_interval"][0]
        assert lo * (1 - 1e-9) <= ar <= hi * (1 + 1e-9)
    # the B interval straddles "no change": |dB/B| can be 0
    assert c["dB_over_B_interval"][0] == 0.0
    # Eq. 9 at T agrees with root finding on the two L0-free curves
    root = S.acceleration_ratio_root(T, lambda t: (p1["B"] / t) ** p1["beta"], lambda t: (p2["B"] / t) ** p2["beta"])
    assert c["ar_eq9"][0] == pytest.approx(float(root[0]), rel=1e-8)


def test_abs_range():
    assert _abs_range((-0.2, 0.5)) == (0.0, 0.5)
    assert _abs_range((-0.7, -0.2)) == (0.2, 0.7)
    assert np.isnan(_abs_range((float("nan"), 1.0))[0])


def test_table1_markdown_reports_failed_fits_instead_of_numbers():
    ok = {"L0": 0.1, "B": 2.0, "beta": 0.3, "r2": 0.99, **{f"{k}_interval": (float("nan"),) * 2 for k in ("L0", "B", "beta")}}
    table = {"curve": "test", "t_min": 10.0, "steps": 100, "n_boot": 0, "sigma_paper": 0.0, "l0_fixed": None,
             "measured_speedup": 1.5, "fits": {"robust": {"constant": ok, "policy": {"error": "only 3 points"}},
                                               "paper": {"constant": ok, "policy": ok}},
             "changes": {"robust": {"error": "only 3 points"}, "paper": changes(ok, ok, 100.0)}}
    text = markdown(table)
    assert "fit failed: only 3 points" in text
    assert "| paper | 0.0%" in text  # identical fits: no change


def test_every_figure_module_has_draw_and_main():
    import importlib

    for name, (module, kind, _) in FIGURES.items():
        mod = importlib.import_module(f"plots.{module}")
        assert callable(mod.draw) and callable(mod.main), name
        assert kind in ("evaluate", "optimize", "trajectory", "run", "evaluates")
