"""Check the Learning Law (paper Theorem 3.1) and the exact optimality certificate of recorded runs.

    learning-law law RUN_DIR [--until-loss X] [--quiet]

RUN_DIR may be
  - a train run folder: prints SIM, the spread of CT on the support, the share of gamma = 0 among
    CT < 0, CT vs -dL/dt and the KKT residual of its policy; writes RUN_DIR/law.json;
  - an evaluate folder (constant/ and policy/): both runs side by side, averages also over the steps
    before the constant run's final dev loss; writes law.json in each;
  - an optimize folder: trains every saved policy with records (OPT_DIR/trajectory/, reused when run
    again) and prints SIM, spread and KKT residual per outer step; writes OPT_DIR/trajectory.json.

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
        for name in ("constant", "policy"):
            if res[name]["kkt_reason"]:
                print(f"KKT residual of {name}: not computed: {res[name]['kkt_reason']}")
        print(f"-> {path / 'law.json'}")
        return 0
    if R.is_finished(path) and (path / "ct.npy").exists():
        res = A.law_of_run(path, args.until_loss)
        print(f"run {path} (policy {res['policy']})")
        _print_rows([(k, [res.get(k)]) for k in A.TABLE_KEYS if k in res], ["value"])
        if res["kkt_reason"]:
            print(f"KKT residual not computed: {res['kkt_reason']}")
        print(f"-> {path / 'law.json'}")
        return 0
    raise UsageError(f"run_dir={args.run_dir!r} is not a finished train run (summary.json and ct.npy), an "
                     "evaluate folder (constant/ and policy/) or an optimize folder (config.json of kind "
                     "'optimize')")
