r"""Theorem 3.1's equality along a search: does the spread of the contributions on the support shrink as the
policy nears a first-order optimum, for the paper's CT or only for the exact discrete-time contribution?

    python -m experiments.deep_law OPT_DIR [--out DIR] [--quiet]

OPT_DIR is a ``learning-law optimize`` folder of a full-batch plain-GD task (``config.json`` and the saved
``policies/gamma_*.npy``; ``--save-every`` sets how many). For the constant policy and each saved one, the
inner run is replayed and three contributions are measured per step t and training example n:

- ``adjoint``: :math:`(T+1)\,\lambda_{t+1} \cdot \nabla l_n(\theta_t)`, the adjoint-weighted contribution
  (:func:`theory.certificate.auc_and_adjoint`). The discrete problem's KKT conditions say it is the same for
  every example with :math:`\gamma_{t,n} > 0` at a stationary policy, and the certificate
  (:func:`theory.certificate.kkt_residual`) measures the first-order gap they leave;
- ``CT (dev, theta_t)``: :math:`\nabla L_{dev}(\theta_t) \cdot \nabla l_n(\theta_t)`, the paper's
  contribution as Theorem 3.1 states it (this toolkit's ``strict`` definition);
- ``CT (test, theta_t+1)``: the authors' figure scripts' (the ``paper`` definition of :mod:`theory.law_measures`).

The spread on the support is weighted by the policy, :math:`\mathrm{CV}_t = \sqrt{\sum_n \gamma_{t,n}
(c_{t,n} - m_t)^2} / |m_t|` with :math:`m_t = \sum_n \gamma_{t,n} c_{t,n}` (rows sum to 1): a weight that
underflowed towards 0 (the softmax rules never reach exactly 0) counts as little as it weighs, so the
measure is 0 exactly when the equality holds on the support. Reported per policy: the run-level KKT residual,
the dev AUC, and the median over steps of each CV, in row blocks (the first steps hold most of the gap).
Writes ``DIR/deep_law.json``, ``DIR/report.md`` and ``DIR/deep_law.png``/``.pdf`` (default DIR: OPT_DIR/deep_law).
Measured: docs/law.md, "At the deepest policy".
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from learning_law import analysis as A
from learning_law import policy as P
from learning_law import record as R
from learning_law.inner import contributions, gd_step, lr_schedule
from learning_law.progress import bar
from theory.certificate import auc_and_adjoint, kkt_residual

KINDS = ("adjoint", "ct_dev", "ct_test")
LABELS = {"adjoint": "adjoint-weighted (KKT's)", "ct_dev": "CT (dev, theta_t)", "ct_test": "CT (test, theta_t+1)"}


def weighted_cv(gamma: np.ndarray, c: np.ndarray) -> np.ndarray:
    r"""Per row, :math:`\sqrt{\sum_n \gamma_n (c_n - m)^2} / |m|` with :math:`m = \sum_n \gamma_n c_n / \sum_n
    \gamma_n`: the policy-weighted spread of ``c: [T, N]`` relative to its weighted mean (NaN where m = 0).

    >>> weighted_cv(np.array([[0.5, 0.5, 0.0]]), np.array([[1.0, 3.0, -50.0]])).round(3).tolist()
    [0.5]
    """
    g = np.asarray(gamma, np.float64)
    c = np.asarray(c, np.float64)
    w = g / g.sum(axis=1, keepdims=True)
    m = np.sum(w * c, axis=1)
    s = np.sqrt(np.sum(w * (c - m[:, None]) ** 2, axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m != 0, s / np.abs(m), np.nan)


def measure(task, etas: jax.Array, gamma: np.ndarray) -> dict:
    """The three contributions' weighted CV per step, the KKT residual (run and per row) and the AUC."""
    g = jnp.asarray(gamma, jnp.float32)
    auc, grad, act = auc_and_adjoint(task.per_example_loss, task.init_params, task.train, task.dev, g, etas)
    rows, total = kkt_residual(g, grad)
    f, train, dev, test = task.per_example_loss, task.train, task.dev, task.test

    def step(p, xs):
        gamma_t, eta_t = xs
        ct_dev = contributions(f, p, train, dev)[1]
        p_next = gd_step(f, p, train, gamma_t, eta_t)
        return p_next, (ct_dev, contributions(f, p_next, train, test)[1])

    _, (ct_dev, ct_test) = jax.lax.scan(step, task.init_params, (g, etas))
    cs = {"adjoint": np.asarray(act), "ct_dev": np.asarray(ct_dev), "ct_test": np.asarray(ct_test)}
    return {"auc": float(auc), "kkt": float(total), "kkt_t": np.asarray(rows),
            "cv_t": {k: weighted_cv(gamma, v) for k, v in cs.items()}}


def blocks(T: int) -> list[tuple[int, int]]:
    cuts = sorted({0, min(10, T), min(50, T), T // 4, T})
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def summarise(m: dict, T: int) -> dict:
    out = {"auc": m["auc"], "kkt": m["kkt"]}
    for k in KINDS:
        out[k] = {"median": float(np.nanmedian(m["cv_t"][k])),
                  **{f"t {a}-{b - 1}": float(np.nanmedian(m["cv_t"][k][a:b])) for a, b in blocks(T)}}
    out["kkt_by_rows"] = {f"t {a}-{b - 1}": float(np.median(m["kkt_t"][a:b])) for a, b in blocks(T)}
    return out


def policies(opt_dir: Path, T: int, N: int) -> list[tuple[int, np.ndarray]]:
    """(outer step, policy): the constant one, then every ``policies/gamma_KKKKK.npy`` in order."""
    found = sorted((int(m.group(1)), p) for p in (opt_dir / "policies").glob("gamma_*.npy")
                   if (m := re.fullmatch(r"gamma_(\d+)\.npy", p.name)))
    if not found:
        raise SystemExit(f"{opt_dir}/policies holds no gamma_*.npy: not an optimize folder (or nothing saved yet)")
    return [(0, P.constant(T, N))] + [(k, np.load(p)) for k, p in found]


def report(rows: list[dict], opt_dir: Path, T: int) -> str:
    head = ("| outer step | dev AUC | KKT residual | " + " | ".join(f"CV {LABELS[k]}" for k in KINDS)
            + " | " + " | ".join(f"CV adjoint, {b}" for b in rows[0]["adjoint"] if b != "median")
            + " | " + " | ".join(f"CV CT dev, {b}" for b in rows[0]["ct_dev"] if b != "median")
            + " | " + " | ".join(f"KKT, {b}" for b in rows[0]["kkt_by_rows"]) + " |")
    lines = [f"# Theorem 3.1's equality along the search of `{opt_dir}`", "",
             f"Written by `python -m experiments.deep_law {opt_dir}`. CV: the policy-weighted spread of each "
             "contribution over its weighted mean, median over the inner steps (0 where the equality holds on the "
             "support); KKT residual: 1 for the constant policy, 0 at a first-order optimum (by rows: the median "
             "per-row residual).", "",
             head, "| --- " * (head.count("|") - 1) + "|"]
    for r in rows:
        cells = [str(r["outer_step"]), f"{r['auc']:.5f}", f"{r['kkt']:.3f}"]
        cells += [f"{r[k]['median']:.3g}" for k in KINDS]
        cells += [f"{v:.3g}" for b, v in r["adjoint"].items() if b != "median"]
        cells += [f"{v:.3g}" for b, v in r["ct_dev"].items() if b != "median"]
        cells += [f"{v:.2f}" for v in r["kkt_by_rows"].values()]
        lines.append("| " + " | ".join(cells) + " |")
    first, last = rows[0], rows[-1]
    lines += ["", "From the constant policy to the last: "
              + "; ".join(f"{LABELS[k]} CV {first[k]['median']:.3g} -> {last[k]['median']:.3g} "
                          f"(x{last[k]['median'] / first[k]['median']:.2g})" for k in KINDS)
              + f"; KKT residual {first['kkt']:.3f} -> {last['kkt']:.3f}.", ""]
    return "\n".join(lines)


def figure(rows: list[dict], stem: Path) -> list[str]:
    from plots.common import new_figure, save

    fig, (ax, bx) = new_figure(width=10.0, height=3.8, ncols=2)
    steps = [r["outer_step"] for r in rows]
    first = next(b for b in rows[0]["kkt_by_rows"])  # the first block of rows: the nearest to stationary
    for i, k in enumerate(KINDS):
        ax.plot(steps, [r[k][first] for r in rows], marker="o", color=f"C{i}", label=f"{LABELS[k]}, {first}")
        ax.plot(steps, [r[k]["median"] for r in rows], ls="--", alpha=0.5, color=f"C{i}", label=f"{LABELS[k]}, all t")
    ax.set_yscale("log")
    ax.set_xlabel("outer step")
    ax.set_ylabel("weighted CV on the support (median over t)")
    ax.legend(fontsize=7)
    bx.plot(steps, [r["kkt"] for r in rows], marker="o", color="k", label="run level")
    bx.plot(steps, [r["kkt_by_rows"][first] for r in rows], marker="o", color="0.5", label=f"median per row, {first}")
    bx.set_xlabel("outer step")
    bx.set_ylabel("KKT residual")
    bx.set_ylim(0, 1.05)
    bx.legend(fontsize=8)
    fig.suptitle("Theorem 3.1's equality along the search")
    return save(fig, stem)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("opt_dir", type=Path, help="a learning-law optimize folder (full-batch plain GD)")
    ap.add_argument("--out", type=Path, default=None, help="default: OPT_DIR/deep_law")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    cfg = R.read_json(args.opt_dir / "config.json")
    inner = A._inner_of(cfg)
    if inner.optimizer != "gd" or inner.batch_size:
        ap.error(f"{args.opt_dir}: optimizer={inner.optimizer!r}, batch_size={inner.batch_size}: the adjoint "
                 "contribution is defined here for full-batch plain GD only")
    task = A._build_task(cfg)
    etas = jnp.asarray(lr_schedule(inner.steps, inner.lr, inner.warmup_steps))
    todo = policies(args.opt_dir, inner.steps, task.n_train)
    out = args.out or args.opt_dir / "deep_law"
    rows = []
    with bar(len(todo), "deep law", not args.quiet, unit="policy") as pbar:
        for k, gamma in todo:
            rows.append({"outer_step": k, **summarise(measure(task, etas, gamma), inner.steps)})
            pbar.update(1)
            pbar.set_postfix(kkt=f"{rows[-1]['kkt']:.3f}", cv_adjoint=f"{rows[-1]['adjoint']['median']:.3g}")
    R.write_json(out / "deep_law.json", {"opt_dir": str(args.opt_dir), "policies": rows})
    text = report(rows, args.opt_dir, inner.steps)
    R.atomic_write(out / "report.md", lambda f: f.write(text.encode()))
    print(text)
    print("\n".join(figure(rows, out / "deep_law")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
