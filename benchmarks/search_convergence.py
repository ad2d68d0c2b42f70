"""How fast each search that finds its own step converges: dev AUC and the KKT certificate against
meta-gradients and seconds, side by side in one run.

    python benchmarks/search_convergence.py [--presets perceptron:cpu,perceptron:paper,lm:cpu]
        [--rules auto,qn,eg,rows,apg] [--outer-steps N] [--max-seconds S] [--quick] [--out FILE]
    python benchmarks/search_convergence.py --report FILE [FILE ...]   # the tables of earlier runs

For each preset (validation split removed: the search objective is all that is measured) and each rule of
:mod:`learning_law.search` (``auto``, the default: ``eg`` for 20 outer steps, then ``qn``; ``qn``: L-BFGS on the
softmax logits; ``eg``: exponentiated gradient, one step for the whole policy, which was ``auto`` until it
stalled before qn landed; ``rows``: each row's step normalised; ``apg``: accelerated projected gradient), the
search runs from the constant policy for ``--outer-steps`` outer steps (or ``--max-seconds``, whichever ends
first), logging after every step the dev AUC, the run-level KKT residual of the policy the step started from
(:func:`theory.certificate.kkt_residual`, from the meta-gradient the step takes anyway), meta-gradients,
forward runs and seconds. Printed per preset: each rule's final AUC and residual, its best residual, and the
meta-gradients it needed to reach the AUC that ``apg`` reaches at its end (the ratio against ``apg``'s).
At each rule's last policy of a perceptron preset, the residual is recomputed with a float64 meta-gradient
(is float32 what bounds it?), split by rows (where is the gap left?), and the curvature of F along each row
block's steepest descent is measured (:func:`curvature_by_rows`: the spread of the best step size over blocks
is the condition number one step size faces). A figure (PNG and PDF) beside the JSON shows AUC and residual
against meta-gradients.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as B  # noqa: E402
from learning_law import config as C  # noqa: E402
from learning_law import policy as P  # noqa: E402
from learning_law import search as S  # noqa: E402
from learning_law.inner import lr_schedule  # noqa: E402
from learning_law.metagrad import auc_and_grad, auc_of_policy  # noqa: E402
from learning_law.tasks import build_task  # noqa: E402
from theory.certificate import kkt_residual  # noqa: E402

DEFAULT_STEPS = {"perceptron:cpu": 1000, "perceptron:paper": 300, "lm:cpu": 24}


def _task(spec: str, quick: bool):
    name, preset = spec.split(":")
    p = C.get_preset(name, preset)
    changes = {"n_val": 0}
    inner = p.inner
    if quick:  # a smoke run: the preset's model on a few examples and steps
        changes.update(n_train=64, n_dev=32, n_test=32)
        inner = dataclasses.replace(inner, steps=50)
    return name, build_task(name, dataclasses.replace(p.task, **changes)), inner


def counted_objective(task, inner):
    """(vg, value, count, g0): the compiled meta-gradient and forward run, each counting its calls in
    ``count``, and the constant policy, both programs compiled before any clock starts."""
    etas = jnp.asarray(lr_schedule(inner.steps, inner.lr, inner.warmup_steps))
    f, p0, train, dev = task.per_example_loss, task.init_params, task.train, task.dev
    vg_c = jax.jit(lambda g: auc_and_grad(f, p0, train, dev, g, etas))
    fw_c = jax.jit(lambda g: auc_of_policy(f, p0, train, dev, g, etas))
    count = {"vg": 0, "fwd": 0}

    def vg(g):
        count["vg"] += 1
        return vg_c(g)

    def value(g):
        count["fwd"] += 1
        return fw_c(g), None

    g0 = jnp.asarray(P.constant(inner.steps, task.n_train))
    B.block(vg_c(g0))
    B.block(fw_c(g0))
    return vg, value, count, g0


def run_rule(task, inner, rule: str, steps: int, max_seconds: float) -> dict:
    """One search from the constant policy; its log and last policy."""
    vg, value, count, g0 = counted_objective(task, inner)
    t0 = time.perf_counter()
    wrapped = S.reuse_first(vg)
    st = S.auto_init(wrapped, g0, 0, rule)
    log, stop = [], "outer steps"
    for k in range(steps):
        auc = float(st.auc)
        st, info = S.STEP_RULES[rule](st, value, wrapped, 0)
        log.append({"outer_step": k, "auc": auc, "kkt": info.kkt, "meta_gradients": count["vg"],
                    "forward_runs": count["fwd"], "seconds": round(time.perf_counter() - t0, 3)})
        if info.stationary:
            stop = info.reason
            break
        if time.perf_counter() - t0 > max_seconds:
            stop = "max seconds"
            break
    log.append({"outer_step": len(log), "auc": float(st.auc), "kkt": math.nan, "meta_gradients": count["vg"],
                "forward_runs": count["fwd"], "seconds": round(time.perf_counter() - t0, 3)})
    return {"rule": rule, "stop": stop, "log": log, "gamma": np.asarray(st.gamma)}


def float64_check(task, inner, gamma: np.ndarray) -> dict:
    """The residual of ``gamma`` from a float32 and a float64 meta-gradient, and by rows: is precision the
    floor, and which rows hold the gap?"""
    with jax.enable_x64(True):
        c64 = lambda t: jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), t)  # noqa: E731
        etas = jnp.asarray(lr_schedule(inner.steps, inner.lr, inner.warmup_steps), jnp.float64)
        _, g64 = auc_and_grad(task.per_example_loss, c64(task.init_params), c64(task.train), c64(task.dev),
                              jnp.asarray(gamma, jnp.float64), etas)
        g64 = np.asarray(g64)
    etas32 = jnp.asarray(lr_schedule(inner.steps, inner.lr, inner.warmup_steps))
    _, g32 = auc_and_grad(task.per_example_loss, task.init_params, task.train, task.dev, jnp.asarray(gamma), etas32)
    g32 = np.asarray(g32, np.float64)
    rows, total64 = kkt_residual(gamma.astype(np.float64), g64)
    _, total32 = kkt_residual(gamma.astype(np.float64), g32)
    rows = np.asarray(rows)
    gap = np.maximum((gamma * g64).sum(1) - g64.min(1), 0)
    T = gamma.shape[0]
    cuts = sorted({0, min(10, T), min(50, T), T // 4, T // 2, T})
    parts = [{"rows": f"{a}-{b - 1}", "median_residual": float(np.median(rows[a:b])),
              "share_of_gap": float(gap[a:b].sum() / max(gap.sum(), 1e-300))} for a, b in zip(cuts, cuts[1:]) if b > a]
    c64v, c32v = g64 - g64.mean(1, keepdims=True), g32 - g32.mean(1, keepdims=True)
    return {"kkt_float32_gradient": float(total32), "kkt_float64_gradient": float(total64),
            "centred_gradient_rel_error": float(np.linalg.norm(c32v - c64v) / np.linalg.norm(c64v)),
            "by_rows": parts}


def curvature_by_rows(task, inner, gamma: np.ndarray, rel_step: float = 1e-2) -> list[dict]:
    r"""Where the conditioning lies: for blocks B of rows, the curvature of F along the steepest-descent
    direction in the softmax logits restricted to B, :math:`v_B = -\nabla_u F` on B, 0 elsewhere.

    :math:`c_B = v_B^\top H v_B / \lVert v_B\rVert^2` by a central difference of two meta-gradients
    (:math:`H v \approx (\nabla_u F(u + \epsilon v) - \nabla_u F(u - \epsilon v)) / 2\epsilon`, the largest
    logit change :data:`rel_step`), the block's best step along :math:`v_B`, :math:`a^*_B = 1 / c_B`, and the
    decrease it buys, :math:`\lVert v_B\rVert^2 / 2 c_B`, against the block's share of the first-order
    (Frank-Wolfe) gap. One step size for the whole policy moves a block at :math:`a / a^*_B` of its own best
    rate, so the spread of :math:`a^*_B` over blocks is the condition number any such step faces."""
    from learning_law.search_qn import grad_logits

    etas = jnp.asarray(lr_schedule(inner.steps, inner.lr, inner.warmup_steps))
    vg = jax.jit(lambda g: auc_and_grad(task.per_example_loss, task.init_params, task.train, task.dev, g, etas))
    x = np.asarray(gamma, np.float64)
    u = np.log(np.maximum(x, 1e-30))

    def gu_at(uu):
        z = np.exp(uu - uu.max(1, keepdims=True))
        xx = z / z.sum(1, keepdims=True)
        _, g = vg(jnp.asarray(xx, jnp.float32))
        return np.asarray(grad_logits(jnp.asarray(xx, jnp.float32), g), np.float64), xx, np.asarray(g, np.float64)

    gu, _, g = gu_at(u)
    gap = np.maximum((x * g).sum(1) - g.min(1), 0)
    T = x.shape[0]
    cuts = sorted({0, min(10, T), min(50, T), T // 4, T // 2, T})
    out = []
    for a, b in zip(cuts, cuts[1:]):
        v = np.zeros_like(gu)
        v[a:b] = -gu[a:b]
        vv = float(np.vdot(v, v))
        if vv == 0:
            continue
        eps = rel_step / np.abs(v).max()
        hv = (gu_at(u + eps * v)[0] - gu_at(u - eps * v)[0]) / (2 * eps)
        c = float(np.vdot(v, hv)) / vv
        out.append({"rows": f"{a}-{b - 1}", "grad_norm2": vv, "curvature": c,
                    "best_step": (1.0 / c) if c > 0 else None,
                    "decrease_at_best_step": (vv / (2 * c)) if c > 0 else None,
                    "share_of_gap": float(gap[a:b].sum() / max(gap.sum(), 1e-300))})
    return out


def to_reach(log: list[dict], target: float) -> int | None:
    """Meta-gradients taken when the AUC first reached ``target`` (None: never)."""
    return next((r["meta_gradients"] for r in log if r["auc"] <= target), None)


def reach_lines(results: list[dict]) -> list[str]:
    """Per preset, a markdown table: the meta-gradients each rule needs to reach the AUC the reference
    rule has after 10%, 30%, 50% and 100% of its outer steps."""
    out = []
    for res in results:
        ref = next(r for r in res["runs"] if r["rule"] == res["reference"])
        n = len(ref["log"]) - 1
        marks = sorted({max(1, round(n * q)) for q in (0.1, 0.3, 0.5, 1.0)})
        targets = [(m, ref["log"][m]["auc"]) for m in marks]
        out += [f"{res['preset']}: meta-gradients to reach {ref['rule']}'s dev AUC after m meta-gradients",
                "| rule | " + " | ".join(f"{t:.5f} (m = {m})" for m, t in targets) + " | final AUC | best KKT |",
                "| --- " * (len(targets) + 3) + "|"]
        for run in res["runs"]:
            cells = [str(to_reach(run["log"], t) or "not reached") for _, t in targets]
            best = np.nanmin([np.nan if r["kkt"] is None else r["kkt"] for r in run["log"]])
            out.append(f"| {run['rule']} | " + " | ".join(cells) + f" | {run['log'][-1]['auc']:.5f} | {best:.3f} |")
        out.append("")
    return out


def figure(results: list[dict], stem: Path) -> list[str]:
    from plots.common import new_figure, save

    fig, axes = new_figure(width=5.5 * len(results), height=6.0, nrows=2, ncols=len(results), squeeze=False)
    for j, res in enumerate(results):
        for run in res["runs"]:
            mg = [r["meta_gradients"] for r in run["log"]]
            axes[0, j].plot(mg, [r["auc"] for r in run["log"]], label=run["rule"])
            axes[1, j].plot(mg[:-1], [r["kkt"] for r in run["log"][:-1]], label=run["rule"])
        axes[0, j].set_title(res["preset"])
        axes[0, j].set_ylabel("dev AUC")
        axes[1, j].set_ylabel("KKT residual (run level)")
        axes[1, j].set_xlabel("meta-gradients")
        axes[1, j].set_ylim(0, 1.05)
        axes[0, j].legend(fontsize=8)
    return save(fig, stem)


def main(argv=None) -> int:
    ap = B.parser(__doc__.split("\n\n")[0])
    ap.add_argument("--presets", default="perceptron:cpu,perceptron:paper,lm:cpu")
    ap.add_argument("--rules", default="auto,qn,eg,apg")
    ap.add_argument("--outer-steps", type=int, default=None, help="per preset (default: 1000 cpu, 300 paper, 24 lm)")
    ap.add_argument("--max-seconds", type=float, default=900.0, help="per preset and rule (default 900)")
    ap.add_argument("--report", nargs="+", default=None, metavar="JSON",
                    help="print the tables of earlier results files (their runs merged by preset) and stop")
    args = ap.parse_args(argv)
    if args.report:
        import json

        merged: dict = {}
        for path in args.report:
            for res in json.loads(Path(path).read_text())["results"]:
                merged.setdefault(res["preset"], {**res, "runs": []})["runs"] += res["runs"]
        print("\n".join(reach_lines(list(merged.values()))))
        return 0
    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    bad = [r for r in rules if r not in S.STEP_RULES]
    if bad:
        ap.error(f"--rules {bad} is invalid: allowed {sorted(S.STEP_RULES)}")
    if "lm:cpu" in args.presets:
        B.lm_xla_flags()
    results = []
    for spec in [s.strip() for s in args.presets.split(",") if s.strip()]:
        name, task, inner = _task(spec, args.quick)
        steps = args.outer_steps or (10 if args.quick else DEFAULT_STEPS.get(spec, 300))
        runs = []
        for rule in rules:
            run = run_rule(task, inner, rule, steps, args.max_seconds)
            if name == "perceptron":
                run["float64"] = float64_check(task, inner, run["gamma"])
                run["curvature"] = curvature_by_rows(task, inner, run["gamma"])
            del run["gamma"]
            runs.append(run)
            last = run["log"][-1]
            print(f"{spec:17s} {rule:5s} outer steps {last['outer_step']:5d} ({run['stop']}), meta-gradients "
                  f"{last['meta_gradients']:5d}, forward runs {last['forward_runs']:5d}, {last['seconds']:7.1f} s: "
                  f"dev AUC {run['log'][0]['auc']:.5f} -> {last['auc']:.5f}, KKT residual "
                  f"{np.nanmin([r['kkt'] for r in run['log']]):.3f} (best) {run['log'][-2]['kkt']:.3f} (last)",
                  flush=True)
        ref = next((r for r in runs if r["rule"] == "apg"), runs[-1])
        target = ref["log"][-1]["auc"]
        for run in runs:
            n = to_reach(run["log"], target)
            run["meta_gradients_to_reference_auc"] = n
            run["ratio_vs_reference"] = (ref["log"][-1]["meta_gradients"] / n) if n else None
        results.append({"preset": spec, "reference": ref["rule"], "reference_auc": target, "runs": runs})
        print(f"{spec}: meta-gradients to reach {ref['rule']}'s final dev AUC {target:.5f}: "
              + ", ".join(f"{r['rule']} {r['meta_gradients_to_reference_auc'] or 'not reached'}"
                          + (f" ({r['ratio_vs_reference']:.2f}x fewer)" if r["ratio_vs_reference"] else "")
                          for r in runs), flush=True)
        for run in runs:
            if "float64" in run:
                f64 = run["float64"]
                print(f"  {run['rule']}: last policy's residual {f64['kkt_float32_gradient']:.4f} (float32 gradient) "
                      f"{f64['kkt_float64_gradient']:.4f} (float64); gradient rel. error "
                      f"{f64['centred_gradient_rel_error']:.1e}; by rows: "
                      + ", ".join(f"t {p['rows']}: residual {p['median_residual']:.2f}, {100 * p['share_of_gap']:.0f}% of gap"
                                  for p in f64["by_rows"]), flush=True)
            if run.get("curvature"):
                steps_ = [c["best_step"] for c in run["curvature"] if c["best_step"]]
                print(f"  {run['rule']}: best step along each row block's steepest descent (1 / curvature): "
                      + ", ".join(f"t {c['rows']}: {c['best_step']:.3g}" if c["best_step"] else
                                  f"t {c['rows']}: negative curvature" for c in run["curvature"])
                      + (f"; spread {max(steps_) / min(steps_):.3g}x" if len(steps_) > 1 else ""), flush=True)
    print("\n".join(reach_lines(results)))
    out = B.write_result("search_convergence", args, {"results": results})
    print("\n".join(figure(results, out.with_suffix(""))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
