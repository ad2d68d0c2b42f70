"""Arithmetic-code the desired data prequentially under a policy (paper App. A) and check the size.

At step t the model theta_t codes dev example t mod K, then trains one step under the policy. Writes
OUT/stream.bin (the code), OUT/config.json and OUT/summary.json: coded_bits (8 x the file size) next
to loss_bits (the sum of the coded symbols' losses in bits), the compression ratio, and roundtrip_ok
(the stream decoded back by re-running the same training).

Examples:
  learning-law compress --task perceptron --out runs/code-constant
  learning-law compress --task perceptron --preset cpu --policy runs/opt --out runs/code-opt
"""

from __future__ import annotations

from pathlib import Path

NAME = "compress"
HELP = "arithmetic-code the dev stream with the model of each step (prequential code) and compare with the AUC"


def add_arguments(parser) -> None:
    from learning_law.commands import common
    from theory import coding

    common.add_common(parser, outer=False)
    parser.add_argument("--policy", default="constant",
                        help="'constant', a .npy [T, N], or an optimize folder (its settings are used "
                             "unless --preset is given)")
    parser.add_argument("--total", type=int, default=coding.DEFAULT_TOTAL,
                        help="sum of the integer frequencies each distribution is quantised to")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip decoding the stream back (saves a second training run)")
    parser.add_argument("--out", required=True, help="folder for stream.bin, config.json and summary.json")


def run(args) -> int:
    from learning_law import record as R
    from learning_law.commands import common
    from learning_law.compress import compress

    base = None if args.preset or args.policy == "constant" else common.preset_from_run(Path(args.policy))
    preset, tcfg, inner, _ = common.configs(args, base)
    out = R.prepare_out_dir(args.out, overwrite=args.overwrite)
    task = common.build(args, tcfg)
    s = compress(task, args.policy, inner, out, total=args.total, verify=args.verify, progress=not args.quiet,
                 extra_config={"preset": preset.name})
    rt = {True: "ok", False: "FAILED", None: "not checked"}[s["roundtrip_ok"]]
    print(f"coded {s['symbols']} symbols of {s['steps']} steps into {s['bytes']} bytes: {s['coded_bits']} bits "
          f"vs {s['loss_bits']:.1f} bits of loss ({s['excess_bits']:+.1f} bits, ratio {s['coded_over_loss']:.5f}); "
          f"CR (bits) {s['compression_ratio_bits']:.3f}; expected from AUC {s['expected_bits_from_auc']:.1f} bits; "
          f"round trip {rt}; {s['train_encode_s']:.1f} s train+encode"
          + (f", {s['decode_s']:.1f} s decode" if s["decode_s"] is not None else "") + f" -> {out}")
    return 0 if s["roundtrip_ok"] is not False else 1
