"""What the run commands share: the options of task, inner run and search (one option = one config field),
their help texts, and how a command's options and preset become the configs of its run."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from learning_law import config as C
from learning_law.errors import UsageError

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
    "search": "auto: exponentiated gradient (steps found by backtracking, never raises the AUC, nothing to tune) for "
              "20 outer steps, then qn; each row's step normalised (rows) when the constant run oscillates or a step "
              "stalls | eg | rows | qn: L-BFGS on the softmax logits | apg: projected gradient with momentum (exact "
              "zeros) | fixed: the reference's --outer-lr and --schedule (given either, fixed is implied)",
    "qn_memory": "qn/auto: (s, y) pairs L-BFGS keeps; memory and checkpoints hold 2m+3 arrays of the policy's shape",
    "until_kkt": "auto/eg/rows/qn/apg: stop once the policy's run-level KKT residual (1: the constant policy, 0: a "
                 "first-order optimum; logged every outer step) is below this",
    "policy_granularity": "example: one weight per train example and step | domain: one weight per source "
                          "(--train-corpus, make_task(groups=)) and step, w[t, d] / |d| for each of its examples",
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
    "corpus": "text source: default (embedded grammar corpus) | news (embedded news reports) | tinystories:PATH | "
              "text:PATH",
    "train_corpus": "lm: training mixture, SPEC[=SHARE],... with SPEC default | news | text:PATH | tinystories:PATH "
                    "(e.g. default=0.5,news=0.5; no shares: equal); empty: --corpus",
    "desired_corpus": "lm: source of dev/val/test (default: the first --train-corpus source)",
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
        elif f.name == "policy_granularity":
            choices = ("example", "domain")
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


def add_common(p: argparse.ArgumentParser, outer: bool) -> None:
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


def add_tensorboard(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="also write the metrics as TensorBoard event files into DIR (tensorboardX; the tags: "
                        "learning_law/tensorboard.py)")


def build(args, tcfg):
    """Build the task and place it on ``--devices`` devices (validated first)."""
    from learning_law.sharding import example_mesh, shard_task
    from learning_law.tasks import build_task

    mesh = example_mesh(args.devices)
    return shard_task(build_task(args.task, tcfg), mesh)


def configs(args, base: C.Preset | None = None):
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
    outer = C.override(_base_outer(preset, vals), **_search_choice(preset, vals))
    return preset, task, inner, outer


def _base_outer(preset: C.Preset, vals: dict) -> C.OuterConfig:
    """The search settings options apply to: the preset's default search (``auto``), or, for ``--search fixed``
    or ``--outer-lr``/``--schedule``, the preset's hand-set ``reference`` step when it has one."""
    fixed = vals.get("search") == "fixed" or (vals.get("search") is None and (
        vals.get("outer_lr") is not None or vals.get("schedule") is not None))
    if fixed and preset.reference is not None:
        return preset.reference
    if vals.get("search") not in (None, "fixed"):
        return dataclasses.replace(preset.outer, search=vals["search"], outer_lr=None)
    return preset.outer


def _search_choice(preset: C.Preset, vals: dict) -> dict:
    """The outer options given, with the search made consistent: --outer-lr/--schedule imply fixed;
    --search fixed without --outer-lr takes the preset's reference step (or fails without one)."""
    base = _base_outer(preset, vals)
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
        raise UsageError(f"--search fixed needs --outer-lr (a finite number > 0): preset {preset.name!r} has no "
                         "hand-set step")
    return given


def preset_from_run(folder: Path) -> C.Preset | None:
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


def add_policy_options(p: argparse.ArgumentParser, required: bool, help: str) -> None:
    """``--policy`` (alias ``--policy-from``) and ``--stretch``, shared by train and evaluate."""
    p.add_argument("--policy", "--policy-from", dest="policy", required=required,
                   **({} if required else {"default": "constant"}), help=help)
    p.add_argument("--stretch", action="store_true",
                   help="replay a policy found with another number of inner steps at this run's --steps by rescaling "
                        "time (row t of the new run takes the old row at the same fraction of training)")


def policy_array(spec: str, steps: int, task, stretch: bool = False):
    """``(gamma [steps, N], name)`` of a policy spec for ``task``.

    A per-domain policy ``w [T, D]`` (an optimize folder of ``--policy-granularity domain``) is expanded to
    ``gamma[t, n] = w[t, g(n)] / |g(n)|`` over the task's sources; with ``stretch``, a policy of another length
    is first rescaled in time to ``steps`` rows (:func:`learning_law.domains.stretch`).
    """
    from learning_law import policy as P

    if spec == "constant":
        return P.resolve(spec, steps, task.n_train)
    gamma = np.asarray(P.load(spec, mmap=False))
    name = str(Path(spec).resolve())
    if gamma.ndim == 2 and gamma.shape[0] != steps:
        if not stretch:
            raise UsageError(f"policy {spec!r} has {gamma.shape[0]} rows but the run has steps={steps}: give --stretch "
                             "to replay it at this length by rescaling time, or --steps "
                             f"{gamma.shape[0]}")
        from learning_law.domains import stretch as stretch_rows

        gamma = stretch_rows(gamma, steps)
    d = task.n_groups
    if d and gamma.ndim == 2 and gamma.shape[1] == d != task.n_train:
        from learning_law.domains import expand

        gamma = expand(P.validate(gamma, steps, d, name=f"per-domain policy {spec!r}"), task.groups)
    return P.validate(gamma, steps, task.n_train, name=f"policy {spec!r}"), name
