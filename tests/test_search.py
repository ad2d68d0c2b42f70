"""The outer update rules (learning_law.search): scale invariance, monotonicity, stationary points."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learning_law import config as C
from learning_law import policy as P
from learning_law import search as S
from learning_law import search_qn as QN
from learning_law.inner import lr_schedule
from learning_law.metagrad import auc_and_grad, auc_of_policy
from learning_law.tasks import build_task

TASK = C.PerceptronConfig(dim=8, n_train=24, n_dev=12, n_test=12, n_val=12, init_std=1.0, seed=3)
INNER = C.InnerConfig(steps=30, lr=0.2)


def _perceptron(scale: float = 1.0, dtype=jnp.float32, inner: C.InnerConfig = INNER):
    task = build_task("perceptron", TASK)
    etas = jnp.asarray(lr_schedule(inner.steps, inner.lr, 0), dtype)
    cast = lambda tree: jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), tree)  # noqa: E731
    args = (task.per_example_loss, cast(task.init_params), cast(task.train), cast(task.dev))

    def vg(g):
        a, d = auc_and_grad(*args, g, etas)
        return scale * a, scale * d

    def value(g):
        return scale * jax.jit(auc_of_policy, static_argnums=0)(*args, g, etas), None

    return vg, value, jnp.asarray(P.constant(inner.steps, task.n_train), dtype)


RULES = pytest.mark.parametrize("rule", S.BACKTRACKING)


def _run(vg, value, gamma, steps: int, frozen: int = 0, rule: str = "auto"):
    st = S.auto_init(vg, gamma, frozen, rule)
    aucs, infos = [float(st.auc)], []
    for _ in range(steps):
        st, info = S.STEP_RULES[rule](st, value, vg, frozen)
        aucs.append(float(st.auc))
        infos.append(info)
    return st, aucs, infos


@RULES
def test_objective_times_1000_gives_the_same_policy(rule):
    # float64, so that what is compared is the method and not float32 rounding over 8 steps (which moves
    # entries by ~1e-5; a fixed step on the rescaled objective would move them 1000x further).
    with jax.enable_x64(True):
        st1, a1, i1 = _run(*_perceptron(1.0, jnp.float64), steps=8, rule=rule)
        st2, a2, i2 = _run(*_perceptron(1000.0, jnp.float64), steps=8, rule=rule)
    assert [i.trials for i in i1] == [i.trials for i in i2]
    np.testing.assert_allclose(np.array(a2) / 1000.0, a1, rtol=1e-6)
    unit = 1.0 if rule in ("rows", "qn") else 1000.0  # rows' and qn's steps are dimensionless; the others' 1 / F
    np.testing.assert_allclose(np.array([i.alpha for i in i2]) * unit, [i.alpha for i in i1], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(st2.gamma), np.asarray(st1.gamma), atol=1e-6)
    assert a1[-1] < 0.9 * a1[0]  # and it did move


@RULES
def test_never_raises_the_objective_even_from_a_huge_trial_step(rule):
    # Inner lr 1: the policy that step 1e6 lands on (all weight on one example per row) has 4.5x the AUC.
    vg, value, g0 = _perceptron(inner=C.InnerConfig(steps=30, lr=1.0))
    st = S.auto_init(vg, g0, 5, rule)._replace(alpha=jnp.float32(1e6))
    aucs, trials = [float(st.auc)], []
    for _ in range(6):
        st, info = S.STEP_RULES[rule](st, value, vg, 5)
        aucs.append(float(st.auc))
        trials.append(info.trials)
    assert all(b <= a for a, b in zip(aucs, aucs[1:])), aucs
    assert aucs[-1] < aucs[0]
    assert trials[0] > 1  # the first trial was rejected: backtracking happened
    g = np.asarray(st.gamma)
    np.testing.assert_array_equal(g[:5], np.asarray(g0)[:5])  # frozen rows untouched
    np.testing.assert_allclose(g.sum(1), 1.0, atol=1e-5)
    assert (g >= 0).all()


@RULES
def test_nan_trial_counts_as_a_rise(rule):
    # F is a quadratic with a wall of NaN far from the start: the first trial lands in it and is rejected.
    target = jnp.asarray(np.random.default_rng(0).dirichlet(np.ones(6), size=4), jnp.float32)
    start = jnp.full((4, 6), 1 / 6, jnp.float32)

    def f(g):
        base = jnp.sum((g - target) ** 2)
        return jnp.where(jnp.max(jnp.abs(g - start)) > 0.3, jnp.nan, base)

    vg = jax.jit(jax.value_and_grad(f))
    value = lambda g: (f(g), None)  # noqa: E731
    st = S.auto_init(vg, start, 0, rule)._replace(alpha=jnp.float32(100.0))
    st, info = S.STEP_RULES[rule](st, value, vg, 0)
    assert info.moved and info.trials > 1 and np.isfinite(float(st.auc))


@pytest.mark.parametrize("rule, atol", [("apg", 1e-4), ("auto", 1e-3), ("eg", 1e-3), ("rows", 1e-3)])
def test_converges_to_the_projection_and_then_reports_stationary(rule, atol):
    """min ||gamma - c||^2 over row simplices has the closed-form solution Proj(c), computed independently.

    Exponentiated gradient only approaches the zeros of Proj(c) (a zero is never reached), hence its
    looser tolerance."""
    rng = np.random.default_rng(1)
    c = rng.normal(0.1, 0.3, size=(5, 7))

    def proj_row(v):  # sort-based projection (Held et al.), in float64, independent of the code under test
        u = np.sort(v)[::-1]
        css = np.cumsum(u) - 1
        r = np.nonzero(u - css / np.arange(1, v.size + 1) > 0)[0][-1]
        return np.maximum(v - css[r] / (r + 1), 0)

    want = np.stack([proj_row(row) for row in c])
    cj = jnp.asarray(c, jnp.float32)
    f = lambda g: 0.5 * jnp.sum((g - cj) ** 2)  # noqa: E731
    vg = jax.jit(jax.value_and_grad(f))
    st = S.auto_init(vg, jnp.full((5, 7), 1 / 7, jnp.float32), 0, rule)
    for k in range(600):  # rows: about 360 (its normalised direction needs the backtracking to shrink a)
        st, info = S.STEP_RULES[rule](st, lambda g: (f(g), None), vg, 0)
        if info.stationary:
            break
    assert info.stationary and info.reason == S.STATIONARY, "should stop at the minimiser"
    np.testing.assert_allclose(np.asarray(st.gamma), want, atol=atol)


def test_a_plain_step_backtracks_on_armijo_an_extrapolated_one_on_the_quadratic_bound():
    # F = (L/2)||gamma - p||^2 and a first trial step a = 1.5 / L: the step lowers F by 1 - aL/2 = 25% of
    # the decrease the gradient predicts. Enough for Armijo's condition (a plain step: taken at the first
    # trial); not for the quadratic bound (needs 50%), which the extrapolated steps keep.
    n, rows = 6, 3
    g0 = jnp.asarray(P.constant(rows, n))
    offsets = jnp.asarray(np.tile(np.linspace(-1.0, 1.0, n), (rows, 1)), jnp.float32)
    p = g0 + offsets / (1.5 * n)  # centred gamma - p has largest entry 1 / (1.5 N): a L = 1.5
    L = 7.0

    def vg(g):
        return 0.5 * L * jnp.sum((g - p) ** 2), L * (g - p)

    value = lambda g: (vg(g)[0], None)  # noqa: E731
    st = S.auto_init(vg, g0, 0, "apg")
    assert abs(float(st.alpha) * S.GROW * L - 1.5) < 1e-5
    st1, info = S.apg_step(st, value, vg, 0)
    assert info.moved and info.trials == 1 and float(st1.auc) < float(st.auc)
    # The next step extrapolates (t > 1) with a doubled trial step: the bound rejects aL = 3 (F rises past p).
    assert float(st1.t) > 1.0
    _, info2 = S.apg_step(st1, value, vg, 0)
    assert info2.trials >= 2 and info2.alpha * L <= 1.5 + 1e-5


def test_exponentiated_gradient_trial_is_the_multiplicative_update_row_by_row():
    # Computed independently in float64: z_tn = x_tn exp(-a g_tn) / sum_m x_tm exp(-a g_tm); a zero entry
    # stays zero (the mirror map cannot revive it) and frozen rows are left as they are.
    rng = np.random.default_rng(2)
    x = rng.dirichlet(np.ones(6), size=4)
    x[1, 2] = 0.0
    x[1] /= x[1].sum()
    g = rng.normal(size=(4, 6)) * 30.0  # exp(30 a) would overflow float32 without the softmax form
    a = 2.0
    want = x * np.exp(-a * (g - g.max()))
    want /= want.sum(1, keepdims=True)
    want[0] = x[0]  # frozen
    z, slope = S._eg_trial(jnp.asarray(x, jnp.float32), jnp.asarray(g, jnp.float32), np.float32(a), np.int32(1))
    np.testing.assert_allclose(np.asarray(z), want, atol=1e-6)
    assert float(z[1, 2]) == 0.0
    np.testing.assert_allclose(float(slope), np.sum(g * (want - x)), rtol=1e-4)
    # The first trial step of ``eg``: the largest centred gradient entry times a is 1, i.e. the entry's
    # weight relative to its row's weighted mean changes by a factor e.
    c = g - np.sum(x * g, 1, keepdims=True)
    first = float(S._first_alpha_eg(jnp.asarray(x, jnp.float32), jnp.asarray(g, jnp.float32)))
    assert abs(first * np.abs(c).max() - 1.0) < 1e-5


@RULES
def test_first_step_reuses_the_starting_meta_gradient(rule):
    # auto_init and the first outer step both need dF/dgamma at the start policy: with reuse_first it is
    # computed once, and the steps are the same as without it.
    vg, value, g0 = _perceptron()
    calls = []

    def counted(g):
        calls.append(1)
        return vg(g)

    st, a_plain, _ = _run(vg, value, g0, steps=3, rule=rule)
    wrapped = S.reuse_first(counted)
    st2 = S.auto_init(wrapped, g0, 0, rule)
    for _ in range(3):
        st2, _ = S.STEP_RULES[rule](st2, value, wrapped, 0)
    np.testing.assert_array_equal(np.asarray(st2.gamma), np.asarray(st.gamma))
    assert len(calls) == 3  # init + 3 steps would be 4 without the reuse


def test_row_direction_is_each_rows_centred_gradient_over_its_largest_entry():
    # Independent float64 computation; a row scaled by 1e6 (a spike) gets the same direction, a constant
    # row (frozen, or exactly stationary) none.
    rng = np.random.default_rng(4)
    x = rng.dirichlet(np.ones(5), size=3)
    g = rng.normal(size=(3, 5))
    g[1] *= 1e6
    g[2] = 0.7
    c = g - np.sum(x * g, 1, keepdims=True)
    want = np.zeros_like(c)
    want[:2] = c[:2] / np.abs(c[:2]).max(1, keepdims=True)
    got = np.asarray(S.row_direction(jnp.asarray(x, jnp.float32), jnp.asarray(g, jnp.float32)))
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_spike_in_one_row_does_not_freeze_the_others():
    # F = sum_t s_t ||gamma_t - p_t||^2 / 2 with row 0 a million times stiffer: ``eg``'s one step is set by
    # row 0, so after 10 steps rows 1-3 have barely moved; ``rows`` normalises each row and moves them all
    # to within a fraction of their start's distance. Both are monotone.
    rng = np.random.default_rng(5)
    p = jnp.asarray(rng.dirichlet(np.ones(6), size=4), jnp.float32)
    s = jnp.asarray([1e6, 1.0, 1.0, 1.0], jnp.float32)[:, None]
    f = lambda g: 0.5 * jnp.sum(s * (g - p) ** 2)  # noqa: E731
    vg = jax.jit(jax.value_and_grad(f))
    g0 = jnp.full((4, 6), 1 / 6, jnp.float32)
    start = np.linalg.norm(np.asarray(g0 - p)[1:])
    left = {}
    for rule in ("eg", "rows"):
        st, aucs, _ = _run(vg, lambda g: (f(g), None), g0, steps=10, rule=rule)
        assert all(b <= a for a, b in zip(aucs, aucs[1:]))
        left[rule] = np.linalg.norm(np.asarray(st.gamma - p)[1:]) / start
    assert left["eg"] > 0.9 and left["rows"] < 0.3, left


def test_no_passing_trial_with_a_large_gap_is_a_stall_not_a_stationary_point():
    # A gradient that promises a decrease F never delivers (F rises with every move): the step must stop
    # as STALLED, with the residual of the start.
    g = jnp.asarray(np.tile(np.linspace(-1.0, 1.0, 6), (3, 1)), jnp.float32)
    x0 = jnp.full((3, 6), 1 / 6, jnp.float32)
    f = lambda x: 1.0 + jnp.sum(jnp.abs(x - x0))  # noqa: E731 (minimum at x0, but the "gradient" lies)
    vg = lambda x: (f(x), g)  # noqa: E731
    for rule in S.BACKTRACKING:
        st = S.auto_init(vg, x0, 0, rule)
        st2, info = S.STEP_RULES[rule](st, lambda x: (f(x), None), vg, 0)
        assert info.stationary and info.reason == S.STALLED and not info.moved, (rule, info)
        np.testing.assert_array_equal(np.asarray(st2.gamma), np.asarray(x0))
        assert abs(info.kkt - 1.0) < 1e-6  # uniform weights: residual 1


@RULES
def test_stop_below_returns_the_policy_with_its_certificate(rule):
    vg, value, g0 = _perceptron()
    st = S.auto_init(vg, g0, 0, rule)
    st2, info = S.STEP_RULES[rule](st, value, vg, 0, stop_below=2.0)  # the constant policy's residual is 1
    assert info.stationary and info.reason == S.CERTIFIED and info.trials == 0
    assert st2 is st and 0.99 < info.kkt <= 1.0 + 1e-6


def test_auto_is_eg_until_a_stall_then_rows_and_the_switch_survives_in_the_state():
    # Until eg stalls, auto's trajectory is eg's bit for bit; a "gradient" that no eg step can follow (F
    # rises along it, but falls along the row-normalised direction) makes auto switch, and the mode is kept.
    vg, value, g0 = _perceptron()
    st_eg, a_eg, _ = _run(vg, value, g0, steps=4, rule="eg")
    st_auto, a_auto, infos = _run(vg, value, g0, steps=4, rule="auto")
    np.testing.assert_array_equal(np.asarray(st_auto.gamma), np.asarray(st_eg.gamma))
    assert a_auto == a_eg and float(st_auto.t_prev) == 1.0
    # In rows mode (kept in t_prev, so a resume keeps it) auto takes exactly the rows step.
    rows_state = st_auto._replace(alpha=jnp.float32(1.0 / S.GROW), t_prev=jnp.float32(S.ROWS_MODE))
    got, _ = S.auto_step(rows_state, value, vg, 0)
    want, _ = S.rows_step(rows_state, value, vg, 0)
    np.testing.assert_array_equal(np.asarray(got.gamma), np.asarray(want.gamma))
    assert float(got.t_prev) == S.ROWS_MODE


def test_auto_is_eg_for_its_first_steps_then_qn_from_where_eg_stands(monkeypatch):
    # EG_STEPS eg steps bit for bit, then the mode is qn's (kept in the state for a resume) and the next
    # step is exactly qn's from an empty memory at eg's policy, with eg's last accepted step.
    monkeypatch.setattr(S, "EG_STEPS", 3)
    vg, value, g0 = _perceptron()
    st_eg, a_eg, _ = _run(vg, value, g0, steps=3, rule="eg")
    st_auto, a_auto, _ = _run(vg, value, g0, steps=3, rule="auto")
    np.testing.assert_array_equal(np.asarray(st_auto.gamma), np.asarray(st_eg.gamma))
    assert a_auto == a_eg and float(st_auto.t_prev) == S.QN_MODE and float(st_auto.alpha) == float(st_eg.alpha)
    want, _ = QN.qn_step(st_eg._replace(memory=QN.qn_memory(st_eg.gamma)), value, vg, 0)
    got, info = S.auto_step(st_auto, value, vg, 0)
    np.testing.assert_array_equal(np.asarray(got.gamma), np.asarray(want.gamma))
    assert info.moved and float(got.t_prev) == S.QN_MODE and float(got.memory.started) == 1.0


def test_qn_two_loop_is_the_inverse_bfgs_matrix_applied():
    # Independent float64 check: the BFGS inverse-Hessian update H <- (I - rho s y^T) H (I - rho y s^T) +
    # rho s s^T applied pair by pair to H_0 = diag(h0), then times q; empty slots (rho = 0) change nothing.
    rng = np.random.default_rng(7)
    n, m = 6, 3
    s = rng.normal(size=(m, n))
    y = s + 0.3 * rng.normal(size=(m, n))
    rho = 1.0 / np.sum(s * y, axis=1)
    assert (rho > 0).all()
    h0, q = rng.uniform(0.5, 2.0, n), rng.normal(size=n)
    H = np.diag(h0)
    for k in range(m):
        V = np.eye(n) - rho[k] * np.outer(y[k], s[k])
        H = V.T @ H @ V + rho[k] * np.outer(s[k], s[k])
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    got = QN.two_loop(f32(np.vstack([np.zeros(n), s])), f32(np.vstack([np.zeros(n), y])),
                      f32(np.r_[0.0, rho]), f32(q), f32(h0))
    np.testing.assert_allclose(np.asarray(got), H @ q, rtol=1e-4, atol=1e-5)


def test_oscillates_counts_the_turns_of_the_dev_loss():
    # A curve that alternates turns at every step; a monotone one never; one that falls then rises (over-
    # fitting) turns once: only the first oscillates.
    t = np.arange(51, dtype=float)
    assert S.oscillates(1.0 / (1 + t) + 0.1 * (-1.0) ** t)
    assert not S.oscillates(1.0 / (1 + t))
    assert not S.oscillates((t - 30.0) ** 2)
    assert S.TURNS * 50 > 1


def test_qn_memory_is_validated_and_sizes_the_state():
    # --qn-memory m: the pairs L-BFGS keeps (2m + 3 arrays of gamma's shape, in checkpoints too).
    for bad in (0, 101, 2.5):
        with pytest.raises(ValueError, match="qn_memory"):
            C.OuterConfig(qn_memory=bad)
    vg, _, g0 = _perceptron()
    st = S.auto_init(vg, g0, 0, "qn", memory=3)
    assert st.memory.s.shape == (3, *g0.shape) and st.memory.rho.shape == (3,)
