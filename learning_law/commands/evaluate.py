"""`learning-law evaluate`: train the constant policy and a policy from the same theta_0 and measure the
speed-up, AUCs and compression ratios.

Example:
  learning-law evaluate --policy runs/perc-opt --out runs/perc-eval
"""

from __future__ import annotations

from pathlib import Path

from learning_law.commands import common
from learning_law.errors import UsageError

NAME = "evaluate"
HELP = "train constant vs a policy and measure the speed-up"


def add_arguments(p) -> None:
    common.add_common(p, outer=False)
    common.add_tensorboard(p)
    common.add_policy_options(p, required=True,
                              help="an optimize folder, a .npy [T, N] (or [T, D] per source), or online:NAME[:k=v,...] "
                                   "(equalize | greedy | loss | dropneg)")
    p.add_argument("--smooth-sigma", type=float, default=None,
                   help="Gaussian smoothing (steps) for the second speed-up number (default: preset's)")
    p.add_argument("--out", required=True, help="folder for both runs and the comparison")
    p.add_argument("--resume", action="store_true", help="reuse finished runs in --out")


def run(args) -> int:
    from learning_law import record as R
    from learning_law.evaluate import evaluate

    from learning_law import online as OL

    online = OL.parse_spec(args.policy) if OL.is_online(args.policy) else None
    base = None if args.preset or online else common.preset_from_run(Path(args.policy))
    preset, tcfg, inner, _ = common.configs(args, base)
    sigma = preset.smooth_sigma if args.smooth_sigma is None else args.smooth_sigma
    if sigma < 0:
        raise UsageError(f"smooth_sigma={sigma} is invalid: allowed >= 0")
    task = common.build(args, tcfg)
    if online:
        gamma, name = None, args.policy
    else:
        gamma, name = common.policy_array(args.policy, inner.steps, task, args.stretch)
    out = R.prepare_out_dir(args.out, overwrite=args.overwrite, resume=args.resume)
    s = evaluate(task, inner, gamma, out, policy_name=name, smooth_sigma=sigma, progress=not args.quiet,
                 extra_config={"preset": preset.name}, resume=args.resume, online=online)
    if args.tensorboard:
        from learning_law import tensorboard as TB

        TB.write_evaluate(out, args.tensorboard)
    extra = f" (smoothed, sigma={sigma:g}: {s['speedup_smoothed']:.2f}x)" if "speedup_smoothed" in s else ""
    if "test_accuracy_policy" in s:
        extra += f"; test accuracy {s['test_accuracy_constant']:.4f} -> {s['test_accuracy_policy']:.4f}"
    print(f"speed-up {s['speedup']:.2f}x{extra}; AUC constant {s['auc_constant']:.5f} vs policy "
          f"{s['auc_policy']:.5f}; CR (bits) {s['cr_bits_constant']:.3f} -> {s['cr_bits_policy']:.3f} -> {out}")
    return 0
