"""The fixed search evaluates a policy inside the meta-gradient its next outer step needs (no forward run)."""

import functools
import json
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

from learning_law import config as C
from learning_law import policy as P
from learning_law import selection as SEL
from learning_law.inner import lr_schedule, split_curves
from learning_law.metagrad import auc_and_grad, auc_grad_and_curves, records_curves
from learning_law.optimize import optimize
from learning_law.tasks import build_task
from theory.certificate import CURVES, GRADIENT, GRADIENT_AND_CURVES

TASK = C.PerceptronConfig(dim=8, n_train=32, n_dev=16, n_test=16, n_val=16, seed=4)
INNER = C.InnerConfig(steps=30, lr=0.1, record_every=5)


def _policy(steps, n, seed=0):
    g = np.random.default_rng(seed).random((steps, n)).astype(np.float32) + 0.1
    return jnp.asarray(g / g.sum(1, keepdims=True))


def _gpu_check():
    import importlib
    import sys
    from pathlib import Path

    bench = str(Path(__file__).resolve().parents[1] / "benchmarks")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    return importlib.import_module("gpu_check")


def _tiny_lm():
    from learning_law.tasks.lm import LM_PRESETS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiny vocabulary does not cover the grammar: said elsewhere
        return build_task("lm", LM_PRESETS["tiny"].task), LM_PRESETS["tiny"].inner


@functools.cache
def _setting(which):
    """The task, its inner run's settings, the schedule and the policy, and the references every memory
    strategy is checked against: the forward run's curves (dev, test, validation) and the meta-gradient without
    recording (``auc_and_grad``, memory theta: the three strategies compute one gradient, see
    test_metagrad.py), computed once per task and shared by the cases (their compilations dominated)."""
    task, inner = (build_task("perceptron", TASK), INNER) if which == "perceptron" else _tiny_lm()
    etas = jnp.asarray(lr_schedule(inner.steps, inner.lr, inner.warmup_steps))
    gamma = _policy(inner.steps, task.n_train)
    held = SEL.held_splits(task)
    curves = [np.asarray(c) for c in split_curves(task.per_example_loss, task.init_params, task.train,
                                                  (task.dev, *held), gamma, etas)]
    a, g = auc_and_grad(task.per_example_loss, task.init_params, task.train, task.dev, gamma, etas, "theta", 0)
    return task, inner, etas, gamma, held, curves, (float(a), np.asarray(g))


@pytest.mark.parametrize("which", ["perceptron", "lm"])
@pytest.mark.parametrize("memory,block", [("theta", 0), ("block", 4), ("block", 7)])
def test_recorded_curves_are_the_runs_and_leave_the_gradient_unchanged(which, memory, block):
    task, inner, etas, gamma, held, ref, (a, g) = _setting(which)
    args = (task.per_example_loss, task.init_params, task.train, task.dev, held, gamma, etas)
    a1, g1, c1 = auc_grad_and_curves(*args, GRADIENT_AND_CURVES, memory, block)
    a0, g0, c0 = auc_grad_and_curves(*args, GRADIENT, memory, block)
    a2, g2, c2 = auc_grad_and_curves(*args, CURVES, memory, block)  # forward only: the same curves, no gradient
    assert not np.any(np.asarray(g2))
    np.testing.assert_allclose(np.asarray(c2), np.asarray(c1), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(float(a2), float(a1), rtol=1e-6)
    # one program for both: recording does not move a bit of the AUC or the gradient
    assert np.asarray(a1).tobytes() == np.asarray(a0).tobytes()
    np.testing.assert_array_equal(np.asarray(g1), np.asarray(g0))
    np.testing.assert_array_equal(np.asarray(c0[0]), np.asarray(c1[0]))
    assert c1.shape == (1 + len(held), inner.steps + 1) and not np.any(np.asarray(c0[1:]))
    # the rows are the forward run's curves (dev, test, validation), and the AUC is the dev row's mean
    assert len(ref) == c1.shape[0]
    for row, want in zip(np.asarray(c1), ref):
        np.testing.assert_allclose(row, want, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(float(a1), float(np.mean(np.asarray(c1[0]))), rtol=1e-6)
    # and the gradient is the meta-gradient of the search without recording
    np.testing.assert_allclose(float(a1), a, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(g1), g, rtol=1e-4, atol=1e-6 * float(np.max(np.abs(g))))


def test_records_curves_only_on_the_adjoint_path():
    from learning_law import optimizers as O

    assert records_curves("theta") and records_curves("block")
    assert not records_curves("full") and not records_curves("theta", O.from_config(C.InnerConfig(optimizer="adam")))
    with pytest.raises(ValueError, match="memory='full'"):
        task = build_task("perceptron", TASK)
        auc_grad_and_curves(task.per_example_loss, task.init_params, task.train, task.dev, (task.test,),
                            P.constant(3, task.n_train), jnp.ones(3), GRADIENT, "full")


@pytest.mark.parametrize("n_val", [16, 0])
def test_fixed_search_evaluates_without_a_forward_run(tmp_path, monkeypatch, n_val):
    """No forward run of a policy beside the meta-gradients in a fixed search: every evaluation (the constant
    policy's included) comes from the run of the meta-gradient the next outer step uses, the last one from the
    same program forward only; K runs with a gradient in all, and the evaluations are the policies' curves."""
    import dataclasses

    task = build_task("perceptron", dataclasses.replace(TASK, n_val=n_val))
    calls = {GRADIENT: 0, GRADIENT_AND_CURVES: 0, CURVES: 0}
    run = SEL.RecordedCurves._run

    def counted(self, gamma, mode):
        calls[int(mode)] += 1
        return run(self, gamma, mode)

    def no_forward_run(*a, **k):
        raise AssertionError("a forward run of a policy")

    monkeypatch.setattr(SEL.RecordedCurves, "_run", counted)
    for name in ("split_curves", "loss_curves", "curves", "auc_of_policy"):
        monkeypatch.setattr(SEL, name, no_forward_run)
    K = 6
    outer = C.OuterConfig(outer_steps=K, outer_lr=0.5, eval_every=2, save_every=1, patience=0)
    s = optimize(task, INNER, outer, tmp_path, progress=False)
    # the constant policy's run is outer step 0's meta-gradient; the evaluations after 2 and 4 updates are
    # outer steps 2's and 4's; the last one (after 6) runs forward only and answers the last policy's AUC
    assert calls == {GRADIENT: 3, GRADIENT_AND_CURVES: 3, CURVES: 1}, calls
    # benchmarks/gpu_check.py extrapolates the paper's searches with the same count
    assert _gpu_check().evaluation_runs(K, 2, shared=True) == {
        "evaluations": 3, "recordings": calls[GRADIENT_AND_CURVES], "forward_runs": calls[CURVES]}
    monkeypatch.undo()
    etas = jnp.asarray(lr_schedule(INNER.steps, INNER.lr, INNER.warmup_steps))
    evals = np.load(tmp_path / "outer_evals.npy")
    splits = (task.dev, task.test) + ((task.val,) if n_val else ())
    for done in (2, 4, 6):
        g = jnp.asarray(np.load(tmp_path / "policies" / f"gamma_{done:05d}.npy"))
        ref = [np.asarray(c) for c in split_curves(task.per_example_loss, task.init_params, task.train, splits, g,
                                                   etas)]
        np.testing.assert_allclose(evals[done - 1, :2], [ref[0].mean(), ref[1].mean()], rtol=1e-5)
        if n_val:
            np.testing.assert_allclose(evals[done - 1, 4], ref[2].mean(), rtol=1e-5)
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert abs(lines[-1]["auc_after"] - s["auc_last"]) < 1e-6
    if n_val:
        const = np.asarray(split_curves(task.per_example_loss, task.init_params, task.train, (task.val,),
                                        P.constant(INNER.steps, task.n_train), etas)[0])
        np.testing.assert_allclose(s["auc_val_constant"], const.mean(), rtol=1e-5)


def test_fixed_search_resumes_bit_identically_after_an_evaluation(tmp_path):
    """Interrupted right after an evaluation (whose meta-gradient the next outer step would have reused), the
    resumed search computes that meta-gradient again and ends bit for bit where the uninterrupted one does."""
    task = build_task("perceptron", TASK)
    outer = C.OuterConfig(outer_steps=6, outer_lr=0.5, eval_every=2, checkpoint_every=2, patience=0)
    ref = optimize(task, INNER, outer, tmp_path / "ref", progress=False)

    def interrupt(row):
        if row["outer_step"] == 1:  # after 2 updates and their evaluation, before the checkpoint
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        optimize(task, INNER, outer, tmp_path / "cut", progress=False, on_metrics=interrupt)
    assert (tmp_path / "cut" / "checkpoints" / "2").exists(), "the interrupt lost the finished outer steps"
    got = optimize(task, INNER, outer, tmp_path / "cut", resume=True, progress=False)
    assert got["resumed_from_outer_step"] == 2
    np.testing.assert_array_equal(got["gamma"], ref["gamma"])
    for name in ("outer_auc.npy", "outer_evals.npy", "policies/gamma_00006.npy"):
        np.testing.assert_array_equal(np.load(tmp_path / "cut" / name), np.load(tmp_path / "ref" / name))
    assert (tmp_path / "cut" / "metrics.jsonl").read_text() == (tmp_path / "ref" / "metrics.jsonl").read_text()
