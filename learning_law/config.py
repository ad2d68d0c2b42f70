"""Configuration as frozen dataclasses with named presets (one CLI option maps to one field).

Every dataclass validates itself on construction, so a bad value fails before any computation with a
message naming the field, the value and the allowed range. ``asdict`` of the configs is what a run's
``config.json`` stores; :func:`from_dict` rebuilds them, so a record re-runs exactly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from learning_law.errors import UsageError, require

MEMORY_STRATEGIES = ("full", "theta", "block")
INNER_OPTIMIZERS = ("gd", "sgd", "momentum", "adam")
SEARCHES = ("auto", "fixed")  # learning_law.search


@dataclass(frozen=True)
class PerceptronConfig:
    """The perceptron task (paper Section 4.2, App. D): logistic regression without bias."""

    dim: int = 128  # input dimension d
    n_train: int = 4096  # N, the examples the policy weights
    n_dev: int = 512  # desired-loss split (the objective)
    n_test: int = 512  # second draw of the desired distribution; metrics are reported on it
    n_val: int = 2048  # third draw: the search selects its policy on it (0: none); synthetic data cost nothing,
    #                    and 512 is too few to rank policies whose AUCs differ by 1% (measured on the paper preset)
    train_mean: float = 0.0  # train inputs x ~ N(train_mean, train_std^2 I)
    train_std: float = 3.0
    eval_mean: float = 0.5  # dev/test inputs x ~ N(eval_mean, eval_std^2 I): a covariate shift
    eval_std: float = 1.0
    teacher_scale: float | None = None  # w* = teacher_scale * N(0, I); None -> sqrt(dim)
    label_noise: float = 0.0  # probability that a *train* label is flipped
    init_std: float = 0.0  # theta_0 = init_std * N(0, I); 0 -> zeros
    seed: int = 0  # every array of the task derives from jax.random.key(seed)

    def __post_init__(self):
        for name in ("dim", "n_train", "n_dev", "n_test"):
            v = getattr(self, name)
            require(isinstance(v, int) and v >= 1, name, v, "an integer >= 1")
        for name in ("train_std", "eval_std"):
            v = getattr(self, name)
            require(math.isfinite(v) and v > 0, name, v, "a finite number > 0")
        for name in ("train_mean", "eval_mean"):
            v = getattr(self, name)
            require(math.isfinite(v), name, v, "a finite number")
        if self.teacher_scale is not None:
            require(math.isfinite(self.teacher_scale) and self.teacher_scale > 0, "teacher_scale",
                    self.teacher_scale, "a finite number > 0")
        require(isinstance(self.n_val, int) and self.n_val >= 0, "n_val", self.n_val,
                "an integer >= 0 (0: no validation split)")
        require(0.0 <= self.label_noise <= 0.5, "label_noise", self.label_noise, "[0, 0.5]")
        require(math.isfinite(self.init_std) and self.init_std >= 0, "init_std", self.init_std,
                "a finite number >= 0")
        require(isinstance(self.seed, int) and self.seed >= 0, "seed", self.seed, "an integer >= 0")


@dataclass(frozen=True)
class InnerConfig:
    """The inner run: T steps of gamma-weighted full-batch gradient descent."""

    steps: int = 2000  # T
    lr: float = 0.1  # eta
    warmup_steps: int = 0  # eta rises linearly over these steps (0: constant eta)
    record_every: int = 10  # stride of the per-example records (train losses, contributions)
    optimizer: str = "gd"  # gd (the paper's) | sgd | momentum | adam; see optimizers.py
    batch_size: int = 0  # examples per step, drawn from a seeded schedule (0: full batch)
    batch_seed: int = 0  # seed of the mini-batch schedule
    momentum: float = 0.9  # for optimizer=momentum
    b1: float = 0.9  # Adam's first-moment decay
    b2: float = 0.999  # Adam's second-moment decay
    eps: float = 1e-8  # Adam's epsilon

    def __post_init__(self):
        require(isinstance(self.steps, int) and 1 <= self.steps <= 10_000_000, "steps", self.steps,
                "an integer in [1, 10000000]")
        require(math.isfinite(self.lr) and self.lr > 0, "lr", self.lr, "a finite number > 0")
        require(isinstance(self.warmup_steps, int) and 0 <= self.warmup_steps <= self.steps,
                "warmup_steps", self.warmup_steps, f"an integer in [0, steps={self.steps}]")
        require(isinstance(self.record_every, int) and 1 <= self.record_every <= self.steps,
                "record_every", self.record_every, f"an integer in [1, steps={self.steps}]")
        require(self.optimizer in INNER_OPTIMIZERS, "optimizer", self.optimizer, f"one of {INNER_OPTIMIZERS}")
        require(isinstance(self.batch_size, int) and self.batch_size >= 0, "batch_size", self.batch_size,
                "an integer >= 0 (0: full batch; at most n_train)")
        require(isinstance(self.batch_seed, int) and self.batch_seed >= 0, "batch_seed", self.batch_seed,
                "an integer >= 0")
        require(math.isfinite(self.momentum) and 0 <= self.momentum < 1, "momentum", self.momentum, "[0, 1)")
        for name in ("b1", "b2"):
            v = getattr(self, name)
            require(math.isfinite(v) and 0 <= v < 1, name, v, "[0, 1)")
        require(math.isfinite(self.eps) and self.eps > 0, "eps", self.eps, "a finite number > 0")


@dataclass(frozen=True)
class OuterConfig:
    """The policy search on gamma (paper Section 4.1); update rules in :mod:`learning_law.search`."""

    outer_steps: int = 500  # K, outer steps (at most: patience or a stationary point stop it earlier)
    search: str | None = None  # auto: step found by backtracking, nothing to tune | fixed: outer_lr + schedule
    #                            None: fixed when outer_lr is given, else auto (config.json stores the choice)
    outer_lr: float | None = None  # fixed search only: eps at outer step 0
    schedule: str = "linear"  # fixed search only: "linear" (decay to 0 over K) or "constant"
    select: str = "auc"  # gamma.npy = the policy with the best validation AUC | "speedup": validation speed-up
    patience: int = 100  # stop after this many outer steps without a better selected policy (0: never)
    frozen_steps: int = 0  # the first inner steps keep the constant policy (not optimised)
    memory: str = "theta"  # full | theta | block: what the backward pass stores (see optimize.py)
    block_size: int = 0  # for memory="block": steps per stored theta; 0 -> round(sqrt(T))
    save_every: int = 100  # save the policy gamma every k outer steps (plus the last)
    checkpoint_every: int = 10  # orbax checkpoint of the whole outer state every k outer steps
    eval_every: int = 10  # every k outer steps: validation AUC (selection), test AUC, dev/test speed-ups

    def __post_init__(self):
        require(isinstance(self.outer_steps, int) and self.outer_steps >= 1, "outer_steps",
                self.outer_steps, "an integer >= 1")
        if self.search is None:
            object.__setattr__(self, "search", "auto" if self.outer_lr is None else "fixed")
        require(self.search in SEARCHES, "search", self.search, f"one of {SEARCHES}")
        if self.search == "fixed":
            require(self.outer_lr is not None, "outer_lr", self.outer_lr,
                    "a finite number > 0 with search='fixed' (or search='auto', which needs none)")
        else:
            require(self.outer_lr is None, "outer_lr", self.outer_lr,
                    "None with search='auto' (it finds its own step; give search='fixed' for a fixed one)")
        if self.outer_lr is not None:
            require(math.isfinite(self.outer_lr) and self.outer_lr > 0, "outer_lr", self.outer_lr,
                    "a finite number > 0")
        require(self.schedule in ("linear", "constant"), "schedule", self.schedule,
                "'linear' or 'constant'")
        require(self.select in ("auc", "speedup"), "select", self.select, "'auc' or 'speedup'")
        require(isinstance(self.patience, int) and self.patience >= 0, "patience", self.patience,
                "an integer >= 0 (0: no early stop)")
        require(isinstance(self.frozen_steps, int) and self.frozen_steps >= 0, "frozen_steps",
                self.frozen_steps, "an integer >= 0 (and < steps)")
        require(self.memory in MEMORY_STRATEGIES, "memory", self.memory, f"one of {MEMORY_STRATEGIES}")
        require(isinstance(self.block_size, int) and self.block_size >= 0, "block_size",
                self.block_size, "an integer >= 0 (0: sqrt(T))")
        require(isinstance(self.save_every, int) and self.save_every >= 1, "save_every",
                self.save_every, "an integer >= 1")
        require(isinstance(self.checkpoint_every, int) and self.checkpoint_every >= 1,
                "checkpoint_every", self.checkpoint_every, "an integer >= 1")
        require(isinstance(self.eval_every, int) and self.eval_every >= 1, "eval_every", self.eval_every,
                "an integer >= 1")


@dataclass(frozen=True)
class Preset:
    """A named set of configs for one task."""

    name: str
    task: PerceptronConfig
    inner: InnerConfig
    outer: OuterConfig
    smooth_sigma: float = 0.0  # Gaussian smoothing (steps) for the second speed-up figure
    description: str = ""
    other_outer: OuterConfig | None = None  # reproduce: a second search run and reported beside `outer`


# The paper's perceptron as the authors ran it. theta_0 ~ N(0, I): their data generator draws
# theta_0 = randn(d) (development history, toy/linear_soft_cls); the released trainer loads a cached initial
# model from its data archive (contents not public) and falls back to PyTorch's near-zero init only without
# it. Outer step 1e-3 decaying linearly over 500 outer steps: the reference's opt_policy.sh. With both, the
# paper's numbers come out (test speed-up about 6x, the paper 5.50x; constant AUC about 0.2); with theta_0 = 0
# the same step barely moves the policy (1.04x), which is the `paper-init0` preset's reason to exist.
PAPER_TASK = PerceptronConfig(init_std=1.0)
# Every 25 outer steps (not 10) the validation / test evaluation and the checkpoint: with the authors' slowly
# decaying step the validation AUC improves to the last step, so a finer grid selects the same policy.
PAPER_OUTER = OuterConfig(search="fixed", outer_lr=1e-3, schedule="linear", eval_every=25, checkpoint_every=25)
# The default search beside it selects its policy within the first 25 outer steps (512 desired examples are
# over-fitted after that): patience 50 stops it there instead of 100 steps later.
PAPER_OTHER = OuterConfig(patience=50)

PRESETS: dict[str, dict[str, Preset]] = {
    "perceptron": {
        "paper": Preset(
            "paper", PAPER_TASK, InnerConfig(), PAPER_OUTER, smooth_sigma=20.0, other_outer=PAPER_OTHER,
            description="The paper's perceptron as the authors ran it: d=128, N=4096, dev/test 512, val 2048, T=2000, "
                        "eta=0.1, theta_0 ~ N(0, I) (their data generator), 500 outer steps of their fixed "
                        "outer lr 1e-3 decaying linearly (their opt_policy.sh); reproduce runs the default search "
                        "beside it (patience 50)."),
        "paper-init0": Preset(
            "paper-init0", PerceptronConfig(), InnerConfig(), OuterConfig(search="fixed", outer_lr=0.5),
            smooth_sigma=20.0, other_outer=OuterConfig(),
            description="As paper but theta_0 = 0 (PyTorch-like near-zero start), where the authors' outer lr "
                        "barely moves the policy; fixed outer lr 0.5 decaying linearly (about 4 minutes)."),
        # With 512 desired examples and theta_0 = 0 the search over-fits them (dev speed-up 9.8x, test 0.66x
        # after 500 steps); with 4096 the dev and test speed-ups agree, and a constant outer lr keeps improving
        # both to the end (measured: 6.6x test / 7.3x dev after 500 steps, vs 4.9x / 5.3x with the linear decay).
        "paper-dev4096": Preset(
            "paper-dev4096", PerceptronConfig(n_dev=4096), InnerConfig(),
            OuterConfig(search="fixed", outer_lr=0.5, schedule="constant"), smooth_sigma=20.0,
            description="paper-init0 with 4096 desired (dev) examples and a constant fixed outer lr 0.5: with 512 "
                        "the policy over-fits the dev set (about 6 minutes)."),
        # The default search (no step to set) measured against fixed steps 0.15 / 0.5 / 1.5 by
        # `python -m experiments.search_robustness --settings perceptron-cpu`; reproduce shows the fixed 0.5
        # (this preset's step before the default search existed) beside it.
        "cpu": Preset(
            "cpu", PerceptronConfig(n_train=1024, n_dev=2048), InnerConfig(steps=1000),
            OuterConfig(outer_steps=300, save_every=50), smooth_sigma=10.0,
            description="Quick: N=1024, dev 2048, val 2048, T=1000, 300 outer steps of the default search "
                        "(about 2 minutes on 2 cores; the fixed outer lr 0.5 runs beside it in reproduce).",
            other_outer=OuterConfig(outer_steps=300, search="fixed", outer_lr=0.5, save_every=300)),
        "tiny": Preset(
            "tiny", PerceptronConfig(dim=8, n_train=32, n_dev=64, n_test=64, n_val=64, init_std=1.0),
            InnerConfig(steps=40, record_every=2), OuterConfig(outer_steps=5, save_every=2, checkpoint_every=2,
                                                               eval_every=2),
            other_outer=OuterConfig(outer_steps=5, search="fixed", outer_lr=0.5, save_every=5, eval_every=2),
            description="Seconds; for tests and smoke runs."),
    },
}


# The digits task (learning_law/tasks/digits.py): noisy labels, a clean desired set. The paper has no such
# experiment, so there is no `paper` preset; `cpu` is the default. eta = 0.3 as in issue 15 (at 1.0 every
# fixed outer lr diverged at outer step 2); T = 500 as there. 40 outer steps of the default search with
# patience 20: on seed 0 the validation AUC stops improving within the first 10-20 (measured).
def _digits_presets() -> dict[str, Preset]:
    from learning_law.tasks.digits import DigitsConfig

    return {
        "cpu": Preset(
            "cpu", DigitsConfig(), InnerConfig(steps=500, lr=0.3, record_every=10),
            OuterConfig(outer_steps=40, patience=20, save_every=5, checkpoint_every=10, eval_every=5),
            smooth_sigma=5.0,
            description="Digits (no paper counterpart): N=1000 with 40% symmetric label noise, clean dev 200, val "
                        "200, test 397, MLP 64-32-10, T=500, eta=0.3, 40 outer steps of the default search "
                        "(`reproduce digits`: 1.8 minutes on 2 busy cores)."),
        "tiny": Preset(
            "tiny", DigitsConfig(n_train=48, n_dev=32, n_val=32, n_test=32, hidden=8),
            InnerConfig(steps=20, lr=0.5, record_every=4),
            OuterConfig(outer_steps=3, save_every=2, checkpoint_every=2, eval_every=2),
            description="Seconds; for tests and smoke runs."),
    }


def default_preset(task: str) -> str:
    """The preset a command uses when none is given: ``paper`` where the paper has the task, else ``cpu``."""
    task_config_classes()
    return "paper" if "paper" in PRESETS.get(task, {}) else "cpu"


def task_config_classes() -> dict[str, type]:
    """{task name: its config dataclass}; tasks with heavy imports are added when importable."""
    out: dict[str, type] = {"perceptron": PerceptronConfig}
    try:
        from learning_law.tasks.lm import LMConfig, LM_PRESETS

        out["lm"] = LMConfig
        PRESETS.setdefault("lm", LM_PRESETS)
    except ImportError:  # the LM task is optional until its module exists
        pass
    from learning_law.tasks.digits import DigitsConfig

    out["digits"] = DigitsConfig
    if "digits" not in PRESETS:
        PRESETS["digits"] = _digits_presets()
    return out


def get_preset(task: str, name: str) -> Preset:
    """The preset ``name`` of ``task``, or a UsageError listing the available ones."""
    if task not in PRESETS:
        task_config_classes()  # registers the presets of tasks with heavy imports (the LM)
    if task not in PRESETS:
        raise UsageError(f"task={task!r} is invalid: allowed {sorted(PRESETS)}")
    if name not in PRESETS[task]:
        raise UsageError(f"preset={name!r} is invalid for task {task!r}: allowed {sorted(PRESETS[task])}")
    return PRESETS[task][name]


def override(cfg, **changes):
    """``dataclasses.replace`` with the None values dropped (CLI options left at their default)."""
    changes = {k: v for k, v in changes.items() if v is not None}
    names = {f.name for f in dataclasses.fields(cfg)}
    unknown = set(changes) - names
    if unknown:
        raise UsageError(f"unknown setting(s) {sorted(unknown)} for {type(cfg).__name__}")
    return dataclasses.replace(cfg, **changes)


def from_dict(cls, data: dict):
    """Rebuild a config dataclass from its ``asdict`` form (ignores keys it does not know)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def asdict(cfg) -> dict:
    """A config as a dict for config.json: a dataclass's fields, or a dict as it is (the description a
    task from :func:`learning_law.api.make_task` carries; no dataclass needed); None -> {}."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return dataclasses.asdict(cfg)
    if isinstance(cfg, dict):
        return dict(cfg)
    if cfg is None:
        return {}
    raise UsageError(f"config={cfg!r} is invalid: allowed a dataclass instance, a dict or None")


__all__ = ["PerceptronConfig", "InnerConfig", "OuterConfig", "Preset", "PRESETS", "get_preset", "default_preset",
           "override", "from_dict", "asdict", "MEMORY_STRATEGIES", "SEARCHES", "field"]
