"""The Learning Law under named definitions (theory.law.LawDefinition, theory.law_measures): every knob on
hand-made arrays with known answers, the controls, and the `paper` definition of a run against an
independent float64 NumPy replay of the same policy."""

import dataclasses

import numpy as np
import pytest

from theory import law as LAW
from theory import law_measures as M

STRICT, PAPER = LAW.STRICT, LAW.PAPER_PERCEPTRON


def _d(**changes):
    return dataclasses.replace(STRICT, **changes)


# ------------------------------------------------------------------------------------ Fig. 8 knobs

def test_zero_share_window_selects_rows_by_step():
    gamma = np.array([[0.0, 1.0], [0.5, 0.5], [0.0, 1.0]])
    ct = np.array([[-1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0]])
    steps = np.array([0, 10, 20])
    assert M.zero_share(gamma, ct, steps, _d(zero_steps=(0, None)))["share"] == pytest.approx(2 / 3)
    assert M.zero_share(gamma, ct, steps, _d(zero_steps=(0, 10)))["share"] == 1.0   # row 0 only
    assert M.zero_share(gamma, ct, steps, _d(zero_steps=(10, 20)))["share"] == 0.0  # row 10 only
    assert M.zero_share(gamma, ct, steps, _d(zero_steps=(10, 20)))["n_rows"] == 1
    assert np.isnan(M.zero_share(gamma, ct, steps, _d(zero_steps=(30, 40)))["share"])  # no row: undefined


def test_zero_rules_exact_absolute_relative():
    gamma = np.array([[0.0, 5e-5, 2e-4, 1.0 - 2.5e-4]])  # N = 4: 1/N = 0.25
    ct = -np.ones((1, 4))
    steps = np.array([0])
    assert M.zero_share(gamma, ct, steps, _d(zero_rule="exact"))["n_zero"] == 1
    assert M.zero_share(gamma, ct, steps, _d(zero_rule="absolute", zero_value=1e-4))["n_zero"] == 2
    assert M.zero_share(gamma, ct, steps, _d(zero_rule="absolute", zero_value=1e-3))["n_zero"] == 3
    # relative: gamma < value / N; 4e-4 / 4 = 1e-4 -> the same two as the absolute 1e-4
    assert M.zero_share(gamma, ct, steps, _d(zero_rule="relative", zero_value=4e-4))["n_zero"] == 2
    assert M.zero_share(gamma, ct, steps, _d(zero_rule="relative", zero_value=2.0))["n_zero"] == 3  # 0.5
    assert M.zero_share(gamma, ct, steps, _d(zero_rule="relative", zero_value=5.0))["n_zero"] == 4


def test_negative_rule_strict_or_with_zero():
    gamma = np.array([[0.0, 0.0, 1.0]])
    ct = np.array([[-1.0, 0.0, 2.0]])
    lt = M.zero_share(gamma, ct, np.array([0]), _d(negative="<"))
    le = M.zero_share(gamma, ct, np.array([0]), _d(negative="<="))
    assert (lt["n_negative"], lt["n_zero"]) == (1, 1)
    assert (le["n_negative"], le["n_zero"]) == (2, 2)


# ------------------------------------------------------------------------------------ Fig. 9 knobs

def test_low_weight_share_threshold_window_and_control():
    gamma = np.array([[0.05, 0.45, 0.5], [0.3, 0.3, 0.4]])
    loss = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    steps = np.array([0, 1])
    # all rows: learned pairs (0,0) rel 0.1, (0,1) rel 0.9, (1,0) rel 0.75 -> 1 of 3 below 0.2
    assert M.low_weight_share(gamma, loss, steps, STRICT) == {"share": pytest.approx(1 / 3), "n": 3}
    assert M.low_weight_share(gamma, loss, steps, _d(learned_steps=(1, 2)))["share"] == 0.0
    assert M.low_weight_share(gamma, loss, steps, _d(low_frac=0.8))["share"] == pytest.approx(2 / 3)
    assert M.low_weight_share(gamma, loss, steps, _d(learned_below=0.5))["n"] == 3
    # control (c): the pairs that are not well learned, (0,2) rel 1, (1,1) rel 0.75, (1,2) rel 1
    assert M.low_weight_share(gamma, loss, steps, STRICT, learned=False) == {"share": 0.0, "n": 3}


def test_clamp_and_renormalise_changes_relative_weights_only_when_asked():
    gamma = np.array([[0.6, 0.6, -0.2]])
    assert M.clamp_rows(gamma).tolist() == [[0.5, 0.5, 0.0]]
    np.testing.assert_allclose(M.relative_weights(gamma, _d(clamp=False)), [[1.0, 1.0, -1 / 3]])
    np.testing.assert_allclose(M.relative_weights(gamma, _d(clamp=True)), [[1.0, 1.0, 0.0]])
    # the clamped weight is not on the support any more: SIM over two examples instead of three
    ct = np.array([[1.0, 3.0, 50.0]])
    assert M.sim_rows(gamma, ct, _d(clamp=True))[0] == pytest.approx(2.0 / np.sqrt(2.0))
    assert M.sim_rows(gamma, ct, _d(clamp=False))[0] != pytest.approx(2.0 / np.sqrt(2.0))


# ------------------------------------------------------------------------------------ SIM knobs

def test_sim_rows_strict_is_support_stats_and_eps_shifts_the_denominator():
    rng = np.random.default_rng(1)
    gamma = rng.dirichlet(np.ones(6), size=5) * (rng.random((5, 6)) < 0.7)
    gamma[:, 0] += 1e-3
    gamma /= gamma.sum(axis=1, keepdims=True)
    ct = rng.normal(size=(5, 6))
    np.testing.assert_array_equal(M.sim_rows(gamma, ct, STRICT), LAW.support_stats(gamma, ct)["sim_t"])
    st = LAW.support_stats(gamma, ct)
    np.testing.assert_allclose(M.sim_rows(gamma, ct, _d(sim_eps=0.5)),
                               st["ct_mean_support"] / (st["ct_std_support"] + 0.5), rtol=1e-12)


def test_sim_window_until_constant_and_last_above():
    loss = np.array([1.0, 0.8, 0.6, 0.4, 0.2, 0.1])  # T = 5
    assert M.last_above(loss, 0.5) == 2
    assert M.last_above(loss, 0.5, start=3) == 2  # none above from 3 on: start - 1
    assert M.last_above(loss, 0.0) == 4  # T-1 at most: loss[T] is after the last step
    sim_t, steps = np.array([10.0, 1.0, 2.0, 3.0, 4.0]), np.arange(5)
    d = _d(sim_window="until_constant", sim_start=1)
    assert M.sim_window(sim_t, steps, d, stop=2) == 1.5          # t = 1..2
    assert M.sim_window(sim_t, steps, d) == 2.5                  # t = 1..4, the constant run's window
    assert M.sim_window(sim_t, steps, STRICT, stop=2) == 4.0     # records: every row, stop ignored


def test_compression_ratio_conventions():
    loss = np.array([2.0, 1.0, 1.0, 0.5])  # T = 3
    assert M.compression_ratio(loss, 2, _d(cr="paper")) == pytest.approx(1 / np.mean(loss))
    assert M.compression_ratio(loss, 2, _d(cr="scripts")) == pytest.approx(2 / 2.0)  # (T-1) / (L1 + L2)


def test_split_and_timing_choose_the_loss_paired_with_a_row():
    loss = np.array([3.0, 2.0, 1.0])
    assert M.loss_at_rows(loss, np.array([0, 1]), _d(ct_timing="before")).tolist() == [3.0, 2.0]
    assert M.loss_at_rows(loss, np.array([0, 1]), _d(ct_timing="after")).tolist() == [2.0, 1.0]
    assert PAPER.ct_split == "test" and STRICT.ct_split == "dev" and PAPER.dense_steps == 50
    assert STRICT.dense_steps == 0 and LAW.definition("paper", "lm").dense_steps == 100
    assert LAW.definition("paper", "digits") is PAPER  # tasks without scripts of their own


def test_bad_definitions_name_the_field():
    for change, field in ((dict(zero_rule="below"), "zero_rule"), (dict(ct_split="train"), "ct_split"),
                          (dict(ct_timing="later"), "ct_timing"), (dict(negative="<<"), "negative"),
                          (dict(zero_steps=(5, 2)), "zero_steps")):
        with pytest.raises(ValueError, match=field):
            _d(**change)
    with pytest.raises(ValueError, match="definition="):
        LAW.definition("loose")


# ------------------------------------------------------------------------------------ controls

def _run(sim_t, loss):
    return {"sim_t": np.asarray(sim_t, float), "sim_steps": np.arange(len(sim_t)), "loss": np.asarray(loss, float)}


def _measured(run, d, target=None):
    stop = None if target is None else M.last_above(run["loss"], target, d.sim_start)
    return {**run, "measure": {"sim": M.sim_window(run["sim_t"], run["sim_steps"], d, stop=stop),
                               "i_star": len(run["sim_t"]) - 1 if stop is None else stop}}


def test_a_policy_equal_to_the_constant_one_is_no_effect():
    d = PAPER
    t = np.arange(100)
    loss = 1.0 / (1 + 0.1 * t)
    run = _run(5.0 / (1 + 0.05 * t[:-1]), loss)  # SIM_t falls over the run
    c = _measured(run, d)
    p = _measured(run, d, target=float(loss[-2]))
    out = M.controls(p, c, d)
    assert out["effect"] == pytest.approx(1.0) and out["equal_loss_ratio"] == 1.0
    assert out["verdict"] == "no effect" and out["equal_loss_verdict"] == "no effect"


def test_a_shorter_window_alone_is_called_an_artefact():
    """SIM_t the same function of the step for both runs (high in the first steps): the faster policy reaches
    the target sooner, so its mean over t <= i* is higher, as the paper's figure would show it; the constant
    run over the same window is just as high."""
    d = PAPER
    t = np.arange(200)
    sim = 10.0 / (1 + t[:-1])
    loss_c, loss_p = 1.0 / (1 + 0.05 * t), 1.0 / (1 + 0.4 * t)  # the policy 8x faster
    c = _measured(_run(sim, loss_c), d)
    p = _measured(_run(sim, loss_p), d, target=float(loss_c[-2]))
    out = M.controls(p, c, d)
    assert p["measure"]["i_star"] < 40 and out["growth"] > 2
    assert out["effect"] == pytest.approx(1.0)
    assert out["verdict"] == "artefact of the window"


def test_contributions_more_equal_at_every_loss_are_a_policy_effect():
    d = PAPER
    t = np.arange(200)
    loss = 1.0 / (1 + 0.05 * t)
    c = _measured(_run(10.0 * loss[1:] ** 2, loss), d)
    p = _measured(_run(20.0 * loss[1:] ** 2, loss), d, target=float(loss[-2]))
    out = M.controls(p, c, d)
    assert out["equal_loss_ratio"] == pytest.approx(2.0) and out["effect"] == pytest.approx(2.0)
    assert out["verdict"] == "policy effect" and out["equal_loss_verdict"] == "more equal"


def test_sim_at_equal_loss_uses_only_the_overlap_of_the_loss_ranges():
    lp, lc = np.geomspace(1.0, 0.01, 60), np.geomspace(1.0, 0.1, 60)
    out = M.sim_at_equal_loss(3.0 * np.ones(60), lp, np.ones(60), lc, n_bins=6)
    assert out["ratio"] == 3.0 and out["edges"][0] == pytest.approx(0.1) and len(out["ratios"]) == 6
    assert np.isnan(M.sim_at_equal_loss(np.ones(3), np.array([1.0, 0.9, 0.8]), np.ones(3),
                                        np.array([0.5, 0.4, 0.3]))["ratio"])  # no overlap


# ------------------------------------------------- the `paper` definition of a run vs a float64 NumPy replay

def test_paper_definition_of_a_run_matches_an_independent_float64_replay(tmp_path):
    """The run is written to disk and read back as a user's would be: experiments.law_float64_check rebuilds
    the task from config.json and the policy from the file the run names, then replays it in float64 NumPy."""
    from experiments.law_float64_check import check, replay64
    from learning_law import analysis as A
    from learning_law import config as C
    from learning_law import record as R
    from learning_law.tasks import build_task
    from learning_law.train import train

    cfg = C.PerceptronConfig(dim=8, n_train=256, n_dev=64, n_test=64, n_val=0, init_std=1.0)
    inner = C.InnerConfig(steps=60, lr=0.5, record_every=10)
    task = build_task("perceptron", cfg)
    rng = np.random.default_rng(3)
    gamma = rng.dirichlet(np.ones(256), size=60)
    early = rng.random((20, 256))
    gamma[:20] = np.where(early < 0.5, 0.0, np.where(early < 0.6, 5e-5, gamma[:20]))  # zeros and tiny weights
    gamma /= gamma.sum(axis=1, keepdims=True)
    R.save_npy(tmp_path / "policy.npy", gamma.astype(np.float32))
    train(task, np.load(tmp_path / "policy.npy"), inner, out=tmp_path / "run", policy_name=str(tmp_path / "policy.npy"),
          progress=False)
    target = 0.3
    res = A.law_of_run(tmp_path / "run", certificate=False, paper_target=target)
    paper = res["definitions"]["paper"]

    out = check(tmp_path / "run")
    assert out["float64"]["n_learned"] >= 100, "the tiny task must have well-learned examples for Fig. 9"
    assert abs(out["diff_pp"]["zero_share"]) <= 1 and abs(out["diff_pp"]["low_weight_share"]) <= 1
    assert paper["n_negative"] == pytest.approx(out["float64"]["n_negative"], rel=0.03)  # signs of |CT| ~ 1e-9

    # SIM over t = 1..i*, i* the last step whose test loss is above the target; the CR of the scripts
    g64 = np.load(tmp_path / "policy.npy").astype(np.float64)
    as64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
    ct, _ = replay64(as64(task.train["x"]), as64(task.train["y"]), as64(task.test["x"]), as64(task.test["y"]),
                     as64(task.init_params["w"]), g64, np.full(60, 0.5))
    w, test_loss = as64(task.init_params["w"]), []
    for g in g64:  # the test loss at w_0..w_T, the same float64 GD
        a = as64(task.test["x"]) @ w
        test_loss.append(np.mean(np.logaddexp(0, a) - as64(task.test["y"]) * a))
        w = w - 0.5 * as64(task.train["x"]).T @ (g * (1 / (1 + np.exp(-as64(task.train["x"]) @ w)) - as64(task.train["y"])))
    a = as64(task.test["x"]) @ w
    test_loss.append(np.mean(np.logaddexp(0, a) - as64(task.test["y"]) * a))
    i_star = max(t for t in range(1, 60) if test_loss[t] > target)
    assert paper["i_star"] == i_star
    sims = []
    for t in range(1, i_star + 1):
        gt = np.clip(g64[t], 0, None) / np.clip(g64[t], 0, None).sum()
        sims.append(np.sum(gt * ct[t]) / (np.std(ct[t][gt > 0], ddof=1) + 1e-8))
    assert paper["sim"] == pytest.approx(np.mean(sims), rel=5e-3)  # float32 contributions
    assert paper["cr"] == pytest.approx(59 / np.sum(test_loss[1:60]), rel=1e-5)
    # strict is what law.json always reported
    strict = res["definitions"]["strict"]
    assert strict["zero_share"] == res["zero_share_negative_ct"] and strict["sim"] == res["sim_mean"]
    assert strict["low_weight_share"] == res["low_weight_share_learned"]
