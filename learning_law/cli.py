"""The ``learning-law`` command line: a thin layer over the library (one option = one config field).

Usage errors (bad option values, files, folders) print one line and exit with code 2, before any
long computation; a run that diverges exits with code 3 naming the step.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from learning_law import config as C
from learning_law import precision as PR
from learning_law import xla_flags as XF
from learning_law.errors import NumericalError, UsageError

TASK_CLASSES = C.task_config_classes()
INNER_FIELDS = {f.name for f in dataclasses.fields(C.InnerConfig)}
OUTER_FIELDS = {f.name for f in dataclasses.fields(C.OuterConfig)}

HELP = {
    "dim": "input dimension d", "n_train": "N, training examples (lm: sequences) weighted by the policy",
    "n_dev": "desired (dev) examples", "n_test": "test examples", "train_mean": "mean of train inputs",
    "train_std": "std of train inputs", "eval_mean": "mean of dev/test inputs (covariate shift)",
    "eval_std": "std of dev/test inputs", "teacher_scale": "teacher w* scale (default sqrt(d))",
    "label_noise": "probability that a train label is corrupted: perceptron [0, 0.5] (flipped), digits [0, 0.9] "
                   "(replaced by another class, uniformly)",
    "hidden": "width of the digits MLP's hidden layer",
    "init_std": "theta_0 = init_std * N(0, I) (0: zeros)", "seed": "seed of the task's data and theta_0",
    "steps": "T, inner steps", "lr": "eta, inner learning rate", "warmup_steps": "linear eta warm-up steps",
    "record_every": "stride of per-example records (train losses, contributions)",
    "outer_steps": "K, outer steps of the policy search (at most)",
    "search": "auto: exponentiated gradient with steps found by backtracking (never raises the AUC, nothing to "
              "tune), one step for the whole policy until that stalls, then each row's step normalised | eg: the "
              "first part only | rows: the second only | "
              "apg: the same guarantees, projected gradient with momentum (exact zeros in gamma) | fixed: the reference's "
              "--outer-lr and --schedule (given either, fixed is implied)",
    "until_kkt": "auto/eg/rows/apg: stop once the policy's run-level KKT residual (1: the constant policy, 0: a "
                 "first-order optimum; logged every outer step) is below this",
    "outer_lr": "fixed search: outer learning rate eps at step 0",
    "schedule": "fixed search: outer lr schedule, linear (to 0) or constant",
    "select": "which policy of the search gamma.npy is: the best validation AUC (the objective) or the best "
              "validation speed-up (T / t* on the validation curve)",
    "patience": "stop after this many outer steps without a better selected policy (0: never)",
    "n_val": "validation examples: the search keeps the policy with the best AUC on them (0: none, dev decides)",
    "frozen_steps": "first inner steps kept at the constant policy",
    "memory": "what the backward pass stores: full | theta | block (sqrt(T))",
    "block_size": "steps per stored theta for --memory block (0: sqrt(T))",
    "save_every": "save the policy every k outer steps", "checkpoint_every": "checkpoint every k outer steps",
    "eval_every": "log test AUC and dev/test speed-ups every k outer steps",
    "optimizer": "inner optimiser: gd (the paper's) | sgd | momentum | adam",
    "batch_size": "examples per inner step from a seeded schedule (0: full batch)",
    "batch_seed": "seed of the mini-batch schedule", "momentum": "momentum of --optimizer momentum",
    "b1": "Adam's first-moment decay", "b2": "Adam's second-moment decay", "eps": "Adam's epsilon",
    # the lm task
    "corpus": "text source: default (embedded grammar corpus) | tinystories:PATH | text:PATH",
    "seq_len": "L, tokens per input sequence (sequences hold L+1)", "vocab_size": "|V| asked of the tokenizer",
    "d_model": "hidden size", "n_heads": "attention heads (divide d_model)", "d_ff": "FFN width",
    "n_layers": "Transformer blocks", "norm": "pre-norm: rms | layer",
    "positions": "rows of the position table (0: seq_len)",
    "noise_fraction": "share of train sequences with noise edits", "noise_edits": "edits per noisy sequence",
    "corpus_stories": "default corpus: stories to generate (0: enough)",
    "micro_batch": "sequences per forward chunk, bounds memory (0: all)",
}


def _add_fields(p: argparse.ArgumentParser, cls, defaults, title: str, fields=None, preset: str = "paper") -> None:
    g = p.add_argument_group(f"{title} (default: the preset's; shown for --preset {preset})")
    for f in fields if fields is not None else dataclasses.fields(cls):
        typ = _type(f)
        choices = None
        if f.name == "memory":
            choices = C.MEMORY_STRATEGIES
        elif f.name == "optimizer":
            choices = C.INNER_OPTIMIZERS
        elif f.name == "schedule":
            choices = ("linear", "constant")
        elif f.name == "search":
            choices = C.SEARCHES
        elif f.name == "select":
            choices = ("auc", "speedup")
        names = ["--" + f.name.replace("_", "-")] + (["--inner-opt"] if f.name == "optimizer" else [])
        g.add_argument(*names, dest=f.name, type=typ, default=None, choices=choices,
                       metavar=None if choices else f.name.upper(),
                       help=f"{HELP.get(f.name, f.name)} ({preset} preset: {getattr(defaults, f.name)})")


# The fields every task has (split sizes, seed): one heading for all, listed once, with each task's default.
SHARED_FIELDS = tuple(f.name for f in dataclasses.fields(next(iter(TASK_CLASSES.values())))
                      if all(f.name in {g.name for g in dataclasses.fields(cls)} for cls in TASK_CLASSES.values()))


def _type(f: dataclasses.Field):
    return {"int": int, "float": float, "str": str, "float | None": float, "str | None": str,
            "bool": _bool}[str(f.type)]


def _shared_fields(p: argparse.ArgumentParser) -> None:
    """``--n-train/--n-dev/--n-test/--n-val/--seed`` under "split sizes and seed (every task)"."""
    g = p.add_argument_group("split sizes and seed (every task; default: the preset's)")
    presets = {task: C.default_preset(task) for task in TASK_CLASSES}
    fields = {f.name: f for f in dataclasses.fields(next(iter(TASK_CLASSES.values())))}
    for name in SHARED_FIELDS:
        defaults = ", ".join(f"{task} {preset}: {getattr(C.PRESETS[task][preset].task, name)}"
                             for task, preset in presets.items())
        g.add_argument("--" + name.replace("_", "-"), dest=name, type=_type(fields[name]), default=None, metavar=name.upper(),
                       help=f"{HELP.get(name, name)} ({defaults})")


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _common(p: argparse.ArgumentParser, outer: bool) -> None:
    p.add_argument("--task", default="perceptron", choices=sorted(TASK_CLASSES), help="task (default: perceptron)")
    p.add_argument("--preset", default=None,
                   help="named settings (learning-law list-presets; default: paper, cpu for digits, or the policy "
                        "run's own)")
    paper = C.PRESETS["perceptron"]["paper"]
    _shared_fields(p)
    seen: set[str] = set(SHARED_FIELDS)
    for task, cls in TASK_CLASSES.items():
        preset = C.default_preset(task)
        fields = [f for f in dataclasses.fields(cls) if f.name not in seen]
        seen.update(f.name for f in fields)
        _add_fields(p, cls, C.PRESETS[task][preset].task, f"task {task}", fields, preset)
    _add_fields(p, C.InnerConfig, paper.inner, "inner run")
    if outer:
        _add_fields(p, C.OuterConfig, paper.outer, "policy search")
    p.add_argument("--devices", type=int, default=1,
                   help="split the example axis over this many devices (n_train must be a multiple)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out folder")


def _tensorboard(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="also write the metrics as TensorBoard event files into DIR (tensorboardX; the tags: "
                        "learning_law/tensorboard.py)")


def _task(args, tcfg):
    """Build the task and place it on ``--devices`` devices (validated first)."""
    from learning_law.sharding import example_mesh, shard_task
    from learning_law.tasks import build_task

    mesh = example_mesh(args.devices)
    return shard_task(build_task(args.task, tcfg), mesh)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="learning-law",
        description="Optimal learning policies: train under gamma[T, N], search gamma, evaluate the speed-up.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train under a policy and write a run record")
    _common(p, outer=False)
    _tensorboard(p)
    p.add_argument("--policy", default="constant",
                   help="'constant', a .npy [T, N], an optimize folder, or online:NAME[:k=v,...] with NAME in "
                        "equalize | greedy | loss | dropneg")
    p.add_argument("--out", required=True, help="run folder to write")

    p = sub.add_parser("optimize", help="search the policy minimising the AUC of the dev loss")
    _common(p, outer=True)
    _tensorboard(p)
    p.add_argument("--out", required=True, help="folder for the policy, logs and checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")

    p = sub.add_parser("evaluate", help="train constant vs a policy and measure the speed-up")
    _common(p, outer=False)
    _tensorboard(p)
    p.add_argument("--policy", required=True,
                   help="an optimize folder, a .npy [T, N], or online:NAME[:k=v,...] (equalize | greedy | loss | dropneg)")
    p.add_argument("--smooth-sigma", type=float, default=None,
                   help="Gaussian smoothing (steps) for the second speed-up number (default: preset's)")
    p.add_argument("--out", required=True, help="folder for both runs and the comparison")
    p.add_argument("--resume", action="store_true", help="reuse finished runs in --out")

    p = sub.add_parser("reproduce", help="optimise, evaluate, draw the figures and write report.md")
    p.add_argument("experiment", choices=[e for e in ("perceptron", "lm", "digits") if e in TASK_CLASSES],
                   help="which experiment (digits: noisy labels, no counterpart in the paper)")
    p.add_argument("--preset", default="cpu", help="cpu | paper | tiny (default: cpu)")
    p.add_argument("--seeds", default=None,
                   help="seeds of the task (data and theta_0), e.g. 0,1,2,3,4 or 0-4: one reproduction per seed "
                        "in OUT/seed-S, then mean, sd and a 95%% t interval of every number in OUT/report.md "
                        "(default: the preset's seed, one reproduction in OUT)")
    p.add_argument("--corpus", default=None,
                   help="lm only: the text source in place of the preset's (default | tinystories:PATH | text:PATH)")
    p.add_argument("--out", required=True, help="folder for everything")
    p.add_argument("--resume", action="store_true", help="reuse finished parts (and finished seeds) in --out")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")

    sub.add_parser("list-presets", help="list the named presets of every task")
    from learning_law.commands import discover

    for name, mod in sorted(discover().items()):
        mod.add_arguments(sub.add_parser(name, help=mod.HELP, description=mod.__doc__,
                                         formatter_class=argparse.RawDescriptionHelpFormatter))
        COMMANDS[name] = mod.run
    for p in sub.choices.values():  # one option of every command, applied in main()
        p.add_argument("--matmul-precision", default=PR.DEFAULT, choices=PR.CHOICES, help=PR.HELP)
    return parser


def _configs(args, base: C.Preset | None = None):
    if base is not None:  # the settings of an optimize folder: its task too (a policy belongs to one task)
        args.task = next(name for name, cls in TASK_CLASSES.items() if isinstance(base.task, cls))
    preset = base or C.get_preset(args.task, args.preset or C.default_preset(args.task))
    vals = vars(args)
    own = {f.name for f in dataclasses.fields(type(preset.task))}
    others = {f.name for cls in TASK_CLASSES.values() for f in dataclasses.fields(cls)} - own
    given = sorted(k for k in others if vals.get(k) is not None)
    if given:
        raise UsageError(f"option(s) {', '.join('--' + k.replace('_', '-') for k in given)} do not apply to "
                         f"task {args.task!r}")
    task = C.override(preset.task, **{k: vals.get(k) for k in own})
    inner = C.override(preset.inner, **{k: vals.get(k) for k in INNER_FIELDS})
    changes = _search_choice(preset.outer, vals)
    base_outer = (dataclasses.replace(preset.outer, search=changes["search"], outer_lr=None)
                  if changes.get("search") in C.BACKTRACKING else preset.outer)
    outer = C.override(base_outer, **changes)
    return preset, task, inner, outer


def _search_choice(base: C.OuterConfig, vals: dict) -> dict:
    """The outer options given, with the search made consistent: --outer-lr/--schedule imply fixed;
    --search auto (or apg) drops the preset's fixed step."""
    given = {k: vals.get(k) for k in OUTER_FIELDS if k in vals}
    fixed_opts = [k for k in ("outer_lr", "schedule") if given.get(k) is not None]
    if given.get("search") in C.BACKTRACKING:
        if fixed_opts:
            raise UsageError(f"option(s) {', '.join('--' + k.replace('_', '-') for k in fixed_opts)} apply to "
                             f"--search fixed only; --search {given['search']} finds its own step")
        return given
    if fixed_opts and given.get("search") is None:
        given["search"] = "fixed"
    if given.get("search") == "fixed" and base.outer_lr is None and given.get("outer_lr") is None:
        raise UsageError("--search fixed needs --outer-lr (a finite number > 0)")
    return given


def _preset_from_run(folder: Path) -> C.Preset | None:
    """The settings an optimize folder was made with (so evaluate needs no repeated options)."""
    from learning_law import record as R

    cfg_path = folder / "config.json"
    if not (folder.is_dir() and cfg_path.exists()):
        return None
    cfg = R.read_json(cfg_path)
    if cfg.get("kind") != "optimize":
        return None
    base = C.get_preset(cfg["task"], cfg.get("preset") or C.default_preset(cfg["task"]))
    return dataclasses.replace(base, task=C.from_dict(TASK_CLASSES[cfg["task"]], cfg["task_config"]),
                               inner=C.from_dict(C.InnerConfig, cfg["inner"]))


def cmd_train(args) -> int:
    from learning_law import policy as P
    from learning_law import record as R
    from learning_law.train import train

    from learning_law import online as OL

    online = OL.parse_spec(args.policy) if OL.is_online(args.policy) else None
    base = None if args.preset or args.policy == "constant" or online else _preset_from_run(Path(args.policy))
    preset, tcfg, inner, _ = _configs(args, base)
    out = R.prepare_out_dir(args.out, overwrite=args.overwrite)
    task = _task(args, tcfg)
    if online:
        res = OL.train_online(task, online[0], inner, out=out, progress=not args.quiet,
                              extra_config={"preset": preset.name}, **online[1])
    else:
        gamma, name = P.resolve(args.policy, inner.steps, task.n_train)
        res = train(task, gamma, inner, out=out, policy_name=name, progress=not args.quiet,
                    extra_config={"preset": preset.name})
    if args.tensorboard:
        from learning_law import tensorboard as TB

        TB.write_train(out, args.tensorboard)
    s = res["summary"]
    print(f"trained {s['steps']} steps in {s['wall_time_s']:.2f} s: AUC {s['auc']:.5f}, final dev loss "
          f"{s['final_dev_loss']:.5f}, final test loss {s['final_test_loss']:.5f} -> {out}")
    return 0


def cmd_optimize(args) -> int:
    from learning_law import record as R
    from learning_law.optimize import optimize

    preset, tcfg, inner, outer = _configs(args)
    out = R.prepare_out_dir(args.out, overwrite=args.overwrite, resume=args.resume)
    task = _task(args, tcfg)
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


def cmd_evaluate(args) -> int:
    from learning_law import policy as P
    from learning_law import record as R
    from learning_law.evaluate import evaluate

    from learning_law import online as OL

    online = OL.parse_spec(args.policy) if OL.is_online(args.policy) else None
    base = None if args.preset or online else _preset_from_run(Path(args.policy))
    preset, tcfg, inner, _ = _configs(args, base)
    sigma = preset.smooth_sigma if args.smooth_sigma is None else args.smooth_sigma
    if sigma < 0:
        raise UsageError(f"smooth_sigma={sigma} is invalid: allowed >= 0")
    task = _task(args, tcfg)
    if online:
        gamma, name = None, args.policy
    else:
        gamma, name = P.resolve(args.policy, inner.steps, task.n_train)
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


def cmd_reproduce(args) -> int:
    import importlib

    seeds_mod = importlib.import_module("experiments.seeds")  # experiments import learning_law: lazily
    seeds = seeds_mod.parse_seeds(args.seeds) if args.seeds is not None else None
    C.get_preset(args.experiment, args.preset)
    if args.corpus is not None and args.experiment != "lm":
        raise UsageError(f"--corpus is a setting of the lm task, not of {args.experiment!r}")
    experiment = importlib.import_module(f"experiments.{args.experiment}")
    changes = {"corpus": args.corpus} if args.corpus is not None else None
    report = seeds_mod.reproduce_seeds(experiment.EXPERIMENT, args.preset, seeds, args.out, resume=args.resume,
                                       overwrite=args.overwrite, progress=not args.quiet, task_changes=changes)
    print(f"report: {report}")
    return 0


def reproduce_time(p: C.Preset) -> str:
    """How long `reproduce` of preset ``p`` takes: one seed and five (--seeds 0-4), from its measured minutes."""
    m = p.reproduce_minutes
    if m is None:
        return "reproduce: time not measured"
    one = f"{m * 60:.0f} s" if m < 1.5 else f"{m:.0f} min"
    five = f"{5 * m:.0f} min" if 5 * m < 90 else f"{5 * m / 60:.1f} h"
    return f"reproduce: {one} per seed on 2 idle cores; --seeds 0-4: about {five}"


def cmd_list_presets(args) -> int:
    width = max(len(name) for presets in C.PRESETS.values() for name in presets)
    for task, presets in C.PRESETS.items():
        for name, p in presets.items():
            print(f"{task:<11} {name:<{width}} {p.description}")
            print(f"{'':<11} {'':<{width}} {reproduce_time(p)}")
    print("\nerror bars over seeds: learning-law reproduce TASK --preset NAME --seeds 0-4 --out DIR "
          "(one reproduction per seed in DIR/seed-S; mean, sd and a 95% t interval in DIR/report.md)")
    return 0


COMMANDS = {"train": cmd_train, "optimize": cmd_optimize, "evaluate": cmd_evaluate,
            "reproduce": cmd_reproduce, "list-presets": cmd_list_presets}


def _join_processes() -> bool:
    """Join the multi-process run the environment describes (LEARNING_LAW_COORDINATOR, set by a cluster
    job or by ``learning-law launch``); jax is imported only then. Before any JAX computation."""
    import os

    from learning_law.distributed import ENV_COORDINATOR

    if not os.environ.get(ENV_COORDINATOR):
        return False
    from learning_law.distributed import initialize_from_env

    return initialize_from_env()


def _is_writer() -> bool:
    from learning_law.distributed import is_writer

    return is_writer()


def _runs_the_lm(args: argparse.Namespace) -> bool:
    """Whether the command runs the LM: ``--task lm``, ``reproduce lm``, or ``--policy`` an LM run's folder."""
    if getattr(args, "task", None) == "lm" or getattr(args, "experiment", None) == "lm":
        return True
    cfg = Path(str(getattr(args, "policy", None) or "")) / "config.json"
    try:
        return cfg.is_file() and json.loads(cfg.read_text()).get("task") == "lm"
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.perf_counter()
    try:
        if _runs_the_lm(args):  # before JAX's backend starts (it reads XLA_FLAGS once); see learning_law/xla_flags.py
            XF.apply()
        if args.command != "launch" and _join_processes() and hasattr(args, "quiet"):
            args.quiet = args.quiet or not _is_writer()  # one progress bar: process 0's
        with PR.matmul_precision(args.matmul_precision):
            code = COMMANDS[args.command](args)
    except UsageError as e:
        print(f"learning-law {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (NumericalError, FloatingPointError) as e:  # FloatingPointError: theory's non-finite curves
        print(f"learning-law {args.command}: numerical error: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"learning-law {args.command}: interrupted after {time.perf_counter() - t0:.0f} s; "
              "finished work is kept (optimize: continue with --resume)", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
