"""`learning-law optimize`: search the policy gamma[T, N] minimising the AUC of the dev loss.

The search is `auto` unless `--search` or `--outer-lr` says otherwise (`--search fixed` alone: the preset's
hand-set step).

Example:
  learning-law optimize --task perceptron --preset cpu --out runs/perc-opt
"""

from __future__ import annotations

from learning_law.commands import common

NAME = "optimize"
HELP = "search the policy minimising the AUC of the dev loss"


def add_arguments(p) -> None:
    common.add_common(p, outer=True)
    common.add_tensorboard(p)
    p.add_argument("--out", required=True, help="folder for the policy, logs and checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")


def run(args) -> int:
    from learning_law import record as R
    from learning_law.optimize import optimize

    preset, tcfg, inner, outer = common.configs(args)
    out = R.prepare_out_dir(args.out, overwrite=args.overwrite, resume=args.resume)
    task = common.build(args, tcfg)
    on_metrics = finish = None
    if args.tensorboard:
        from learning_law import tensorboard as TB

        on_metrics, finish = TB.live_optimize(args.tensorboard)
    s = optimize(task, inner, outer, out, resume=args.resume, progress=not args.quiet,
                 extra_config={"preset": preset.name}, on_metrics=on_metrics)
    if finish is not None:
        finish(out)
    kkt = s.get("kkt_residual_last")
    print(f"optimised {s['outer_steps_run']} of {s['outer_steps']} outer steps ({s['stop_reason']}) in "
          f"{s['wall_time_s']:.1f} s ({s['seconds_per_outer_step']} s/step): AUC {s['auc_constant']:.5f} -> "
          f"{s['auc_final']:.5f}" + (f", KKT residual {kkt:.3f}" if kkt is not None else "")
          + f"; policy: {out}/gamma.npy")
    return 0
