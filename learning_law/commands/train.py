"""`learning-law train`: train under a policy (constant, a file, an optimize folder or an online rule) and
write a run record.

Example:
  learning-law train --task perceptron --preset cpu --out runs/perc-const
"""

from __future__ import annotations

from pathlib import Path

from learning_law.commands import common

NAME = "train"
HELP = "train under a policy and write a run record"


def add_arguments(p) -> None:
    common.add_common(p, outer=False)
    common.add_tensorboard(p)
    common.add_policy_options(p, required=False,
                              help="'constant', a .npy [T, N] (or [T, D] per source), an optimize folder, or "
                                   "online:NAME[:k=v,...] with NAME in equalize | greedy | loss | dropneg")
    p.add_argument("--out", required=True, help="run folder to write")


def run(args) -> int:
    from learning_law import record as R
    from learning_law.train import train

    from learning_law import online as OL

    online = OL.parse_spec(args.policy) if OL.is_online(args.policy) else None
    base = None if args.preset or args.policy == "constant" or online else common.preset_from_run(Path(args.policy))
    preset, tcfg, inner, _ = common.configs(args, base)
    out = R.prepare_out_dir(args.out, overwrite=args.overwrite)
    task = common.build(args, tcfg)
    if online:
        res = OL.train_online(task, online[0], inner, out=out, progress=not args.quiet,
                              extra_config={"preset": preset.name}, **online[1])
    else:
        gamma, name = common.policy_array(args.policy, inner.steps, task, args.stretch)
        res = train(task, gamma, inner, out=out, policy_name=name, progress=not args.quiet,
                    extra_config={"preset": preset.name})
    if args.tensorboard:
        from learning_law import tensorboard as TB

        TB.write_train(out, args.tensorboard)
    s = res["summary"]
    print(f"trained {s['steps']} steps in {s['wall_time_s']:.2f} s: AUC {s['auc']:.5f}, final dev loss "
          f"{s['final_dev_loss']:.5f}, final test loss {s['final_test_loss']:.5f} -> {out}")
    return 0
