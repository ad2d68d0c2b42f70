"""Check the Learning Law (paper Theorem 3.1) and the exact optimality certificate of recorded runs.

    learning-law law RUN_DIR [--until-loss X] [--quiet]

RUN_DIR may be
  - a train run folder: prints SIM, the spread of CT on the support, the share of gamma = 0 among
    CT < 0, CT vs -dL/dt and the KKT residual of its policy; writes RUN_DIR/law.json;
  - an evaluate folder (constant/ and policy/): both runs side by side, averages also over the steps
    before the constant run's final dev loss; writes law.json in each;
  - an optimize folder: trains every saved policy with records (OPT_DIR/trajectory/, reused when run
    again) and prints SIM, spread and KKT residual per outer step; writes OPT_DIR/trajectory.json.

Every run is measured under both named definitions of theory/law.py: `strict` (the rows above: every
record step, exact zeros, dev CT at theta_t) and `paper` (the authors' figure scripts: test CT after
the step, Fig. 8 over the first 10 steps (LM: 100) with gamma < 1e-4 (LM: 1e-8), Fig. 9 over t = 1..49,
SIM until the constant run's final test loss), the latter from a replay of the run cached beside it
(law_records_paper.npz); an evaluate or optimize folder also gets the SIM controls against the
constant policy (same window, equal test loss).

KKT residual: 0 = the policy satisfies the first-order optimality conditions of the discrete problem
exactly; 1 = no better placed than uniform weighting (see theory/certificate.py).
"""

from __future__ import annotations

import math
from pathlib import Path

from learning_law import analysis as A
from learning_law import record as R
from learning_law.errors import UsageError

NAME = "law"
HELP = "Learning Law statistics and the KKT optimality certificate of a train/evaluate/optimize folder"

LABELS = {
    "auc": "AUC (mean dev loss, nats)",
    "cr_paper": "compression ratio (paper's)",
    "sim_mean": "SIM (mean_t)",
    "sim_mean_until": "SIM, steps before target",
    "ct_cv_support": "CV of CT on support",
    "ct_cv_support_until": "CV of CT, steps before target",
    "zero_share_negative_ct": "share gamma=0 among CT<0",
    "zero_share_negative_ct_until": "  same, steps before target",
    "support_fraction": "support size / N",
    "ct_to_neg_dldt_ratio": "weighted CT / (-dL/dt) (median)",
    "ct_support_rel_dev": "|CT - (-dL/dt)| / |dL/dt| (median)",
    "kkt_residual": "KKT residual",
    "sim_adjoint_mean": "SIM of adjoint-weighted CT",
}


def add_arguments(p) -> None:
    p.add_argument("run_dir", help="a train run, an evaluate folder or an optimize folder")
    p.add_argument("--until-loss", type=float, default=None,
                   help="target dev loss for the '_until' averages (default: the constant run's final dev loss)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    return str(v)


def _print_rows(rows: list[tuple[str, list]], header: list[str]) -> None:
    width = max(len(LABELS.get(k, k)) for k, _ in rows)
    print(f"{'':<{width}}  " + "  ".join(f"{h:>12}" for h in header))
    for key, vals in rows:
        print(f"{LABELS.get(key, key):<{width}}  " + "  ".join(f"{_fmt(v):>12}" for v in vals))


DEF_ROWS = (("zero_share", "Fig. 8: share of zero weights among CT < 0"),
            ("low_weight_share", "Fig. 9: share < 0.2 max gamma, well learned"),
            ("low_weight_share_not_learned", "  same, not well learned (control)"),
            ("sim", "SIM (the definition's window)"), ("i_star", "  window ends at step"),
            ("cr", "compression ratio (the definition's)"))
CONTROL_ROWS = (("sim_constant_same_window", "constant's SIM over the policy's window"),
                ("effect", "SIM policy / that (control a)"), ("equal_loss_ratio", "SIM_t at equal loss (control b)"),
                ("verdict", "the SIM rise is"), ("equal_loss_verdict", "at equal loss"))


def _print_definitions(runs: dict[str, dict], controls: dict | None = None) -> None:
    """Both definitions' numbers of one or two runs, then the controls."""
    for name in ("strict", "paper"):
        recs = {k: r.get("definitions", {}).get(name, {}) for k, r in runs.items()}
        why = next((d["reason"] for d in recs.values() if "reason" in d), None)
        desc = next((d.get("description") for d in recs.values() if d.get("description")), "")
        print(f"\ndefinition `{name}`: " + (f"not measured: {why}" if why else desc))
        if why:
            continue
        rows = [(k, [recs[r].get(k) for r in runs]) for k, _ in DEF_ROWS]
        if controls and "reason" not in controls.get(name, {"reason": 1}):
            rows += [(k, [None] * (len(runs) - 1) + [controls[name].get(k)]) for k, _ in CONTROL_ROWS]
        labels = dict(DEF_ROWS + CONTROL_ROWS)
        width = max(len(v) for v in labels.values())
        print(f"{'':<{width}}  " + "  ".join(f"{h:>12}" for h in runs))
        for key, vals in rows:
            print(f"{labels[key]:<{width}}  " + "  ".join(f"{_fmt(v):>12}" for v in vals))


def run(args) -> int:
    A.check_until_loss(args.until_loss)
    path = Path(args.run_dir)
    if not path.is_dir():
        raise UsageError(f"run_dir={args.run_dir!r} is not a folder")
    if A.is_optimize_folder(path):
        res = A.outer_trajectory(path, args.until_loss, progress=not args.quiet)
        print(f"policy search {path}: {len(res['checkpoints'])} policies, target dev loss "
              f"{_fmt(res['until_loss'])} (the '_until' columns average the steps before it)")
        cols = ("auc", "cr_paper", "sim_mean", "sim_mean_until", "ct_cv_support", "zero_share_negative_ct",
                "kkt_residual")
        names = ("AUC", "CR", "SIM", "SIM_until", "CV(CT)", "zero|CT<0", "KKT")
        print(f"{'outer step':>10}  " + "  ".join(f"{n:>10}" for n in names))
        for c in res["checkpoints"]:
            print(f"{c['outer_step']:>10}  " + "  ".join(f"{_fmt(c[k]):>10}" for k in cols))
        print("the `paper` definition (the authors' figure scripts) and the SIM control against outer step 0:")
        names = ("CR", "zero|CT<0", "low|learned", "SIM", "SIM const.", "SIM rise")
        print(f"{'outer step':>10}  " + "  ".join(f"{n:>12}" for n in names))
        for c in res["checkpoints"]:
            d, ctl = c["definitions"].get("paper", {}), c["controls"].get("paper", {})
            vals = (d.get("cr"), d.get("zero_share"), d.get("low_weight_share"), d.get("sim"),
                    ctl.get("sim_constant_same_window"), ctl.get("verdict", d.get("reason", "-")))
            print(f"{c['outer_step']:>10}  " + "  ".join(f"{_fmt(v):>12}" for v in vals))
        reasons = {c["kkt_reason"] for c in res["checkpoints"] if c["kkt_reason"]}
        for why in reasons:
            print(f"KKT residual not computed: {why}")
        print(f"-> {path / 'trajectory.json'}")
        return 0
    if A.is_evaluate_folder(path):
        res = A.law_of_evaluate(path, args.until_loss)
        print(f"evaluate {path}: target dev loss {_fmt(res['until_loss'])} (the constant run's final loss "
              "unless --until-loss)")
        _print_rows([(k, [c, p]) for k, c, p in res["table"]], ["constant", "policy"])
        _print_definitions({"constant": res["constant"], "policy": res["policy"]}, res.get("controls"))
        for name in ("constant", "policy"):
            if res[name]["kkt_reason"]:
                print(f"KKT residual of {name}: not computed: {res[name]['kkt_reason']}")
        print(f"-> {path / 'law.json'}")
        return 0
    if R.is_finished(path) and (path / "ct.npy").exists():
        res = A.law_of_run(path, args.until_loss)
        print(f"run {path} (policy {res['policy']})")
        _print_rows([(k, [res.get(k)]) for k in A.TABLE_KEYS if k in res], ["value"])
        _print_definitions({"value": res})
        if res["kkt_reason"]:
            print(f"KKT residual not computed: {res['kkt_reason']}")
        print(f"-> {path / 'law.json'}")
        return 0
    raise UsageError(f"run_dir={args.run_dir!r} is not a finished train run (summary.json and ct.npy), an "
                     "evaluate folder (constant/ and policy/) or an optimize folder (config.json of kind "
                     "'optimize')")
