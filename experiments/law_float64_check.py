"""Check a perceptron run's Fig. 8 and Fig. 9 under the ``paper`` definition against an independent float64
NumPy replay of the same policy (issue 27).

    python -m experiments.law_float64_check RUN_DIR [RUN_DIR ...]

RUN_DIR is a train run of the perceptron whose law.json has ``definitions.paper`` (``learning-law law`` on it,
or on the evaluate folder holding it, e.g. ``R/evaluate/policy`` of ``learning-law reproduce perceptron
--preset paper --out R``). The policy is read from the file the run names (checked by its SHA-256), the data
and theta_0 from the task rebuilt from config.json; then plain NumPy in float64 runs gradient descent on the
logistic loss over the first 50 steps, with the contributions on the test split after each step, and the two
shares are computed from those arrays by the definition's rules written out here again, not by
:mod:`theory.law_measures`. Prints both and their difference in percentage points, and the same replay
with the loss gradient free of cancellation (:func:`_dloss`).

Fig. 8 is ill-conditioned: in the first steps thousands of well-learned examples have a contribution of
order 1e-10, and whether it is negative, zero or positive depends on how ``sigmoid(a) - y`` rounds. The
library (like the authors' float32 PyTorch) rounds it to exactly 0 for margins above about 17, float64 above
about 37, the exact form never. Measured on the perceptron `paper` preset, seeds 0-4: docs/law.md, "Does the
Learning Law hold?".
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from learning_law import analysis as A
from learning_law import config as C
from learning_law import record as R
from learning_law.inner import lr_schedule


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _dloss(a: np.ndarray, y: np.ndarray, exact: bool) -> np.ndarray:
    """d l / d a of l = softplus(a) - y a: ``sigmoid(a) - y`` as the library's autodiff forms it (it rounds to
    exactly 0 once sigmoid(a) rounds to y: |a| > 37 in float64, > 17 in float32), or ``exact``:
    (1 - 2y) sigmoid((1 - 2y) a), the same number without the cancellation (y in {0, 1})."""
    if exact:
        s = 1.0 - 2.0 * y
        return s * _sigmoid(s * a)
    return _sigmoid(a) - y


def replay64(x, y, x_test, y_test, w0, gamma, etas, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """float64 GD on the perceptron's log-loss under ``gamma: [K, N]``; per step t the train losses and
    CT[t, n] = grad l_n(w_{t+1}) . grad L_test(w_{t+1}) (``[K, N]`` each); ``exact``: see :func:`_dloss`."""
    w = np.asarray(w0, np.float64)
    ct, loss = [], []
    for g, eta in zip(np.asarray(gamma, np.float64), etas):
        w = w - float(eta) * x.T @ (g * _dloss(x @ w, y, exact))
        g_test = x_test.T @ _dloss(x_test @ w, y_test, exact) / y_test.shape[0]
        a = x @ w
        ct.append(_dloss(a, y, exact) * (x @ g_test))
        loss.append(np.logaddexp(0.0, (1.0 - 2.0 * y) * a) if exact else np.logaddexp(0.0, a) - y * a)
    return np.array(ct), np.array(loss)


def shares64(gamma: np.ndarray, ct: np.ndarray, loss: np.ndarray) -> dict[str, float]:
    """The authors' Fig. 8 (t = 0..9, CT < 0, gamma < 1e-4) and Fig. 9 (t = 1..49, train loss < 1e-6,
    gamma clamped at 0, renormalised, over the row max, below 0.2) from the float64 arrays."""
    g = np.asarray(gamma, np.float64)
    neg = ct[:10] < 0
    fig8 = float(np.sum(neg & (g[:10] < 1e-4)) / neg.sum()) if neg.any() else float("nan")
    c = np.clip(g[1:50], 0.0, None)
    c = c / c.sum(axis=1, keepdims=True)
    rel = c / c.max(axis=1, keepdims=True)
    learned = loss[1:50] < 1e-6
    fig9 = float(np.sum(learned & (rel < 0.2)) / learned.sum()) if learned.any() else float("nan")
    return {"zero_share": fig8, "low_weight_share": fig9, "n_negative": int(neg.sum()), "n_learned": int(learned.sum())}


def check(run_dir: str | Path) -> dict:
    """{"float64": shares64(...), "law": the run's law.json paper values, "diff_pp": {key: percentage points}}."""
    run_dir = Path(run_dir)
    cfg = R.read_json(run_dir / "config.json")
    if cfg.get("task") != "perceptron":
        raise SystemExit(f"{run_dir}: the float64 replay is written for the perceptron, not {cfg.get('task')!r}")
    task, gamma, _, why = A.task_and_policy(run_dir, cfg)
    if why:
        raise SystemExit(f"{run_dir}: {why}")
    inner = C.from_dict(C.InnerConfig, cfg["inner"])
    k = min(50, inner.steps)
    as64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
    args = (as64(task.train["x"]), as64(task.train["y"]), as64(task.test["x"]), as64(task.test["y"]),
            as64(task.init_params["w"]), gamma[:k], lr_schedule(inner.steps, inner.lr, inner.warmup_steps)[:k])
    ours = shares64(gamma[:k], *replay64(*args))
    exact = shares64(gamma[:k], *replay64(*args, exact=True))
    law = R.read_json(run_dir / "law.json")["definitions"]["paper"]
    return {"float64": ours, "exact": exact, "law": {key: law.get(key) for key in ours},
            "diff_pp": {key: 100 * (law[key] - ours[key]) for key in ("zero_share", "low_weight_share")},
            "diff_exact_pp": {key: 100 * (law[key] - exact[key]) for key in ("zero_share", "low_weight_share")}}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dirs", nargs="+")
    args = ap.parse_args(argv)
    for d in args.run_dirs:
        r = check(d)
        print(f"{d}: Fig. 8 law.json {100 * r['law']['zero_share']:.2f}% vs float64 {100 * r['float64']['zero_share']:.2f}% "
              f"({r['diff_pp']['zero_share']:+.2f} points; CT < 0 pairs {r['law']['n_negative']} vs "
              f"{r['float64']['n_negative']}); Fig. 9 {100 * r['law']['low_weight_share']:.2f}% vs "
              f"{100 * r['float64']['low_weight_share']:.2f}% ({r['diff_pp']['low_weight_share']:+.2f} points; "
              f"well-learned pairs {r['law']['n_learned']} vs {r['float64']['n_learned']}); without the cancellation "
              f"in sigmoid(a) - y: Fig. 8 {100 * r['exact']['zero_share']:.2f}% ({r['diff_exact_pp']['zero_share']:+.2f}), "
              f"Fig. 9 {100 * r['exact']['low_weight_share']:.2f}% ({r['diff_exact_pp']['low_weight_share']:+.2f}), "
              f"CT < 0 pairs {r['exact']['n_negative']}")


if __name__ == "__main__":
    main()
