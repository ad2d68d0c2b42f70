"""The configs of one run as frozen dataclasses (one CLI option maps to one field): the perceptron task,
the inner run, the policy search, and a :class:`Preset` bundling them; ``asdict`` / :func:`from_dict` /
:func:`override` for config.json and the command line.

Every dataclass validates itself on construction, so a bad value fails before any computation with a
message naming the field, the value and the allowed range. ``asdict`` of the configs is what a run's
``config.json`` stores; :func:`from_dict` rebuilds them, so a record re-runs exactly. The named presets of
each task are in :mod:`learning_law.config`, which re-exports everything here; task modules import this
module (not :mod:`learning_law.config`, which imports them to collect their presets).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from learning_law.errors import UsageError, require

MEMORY_STRATEGIES = ("full", "theta", "block")
INNER_OPTIMIZERS = ("gd", "sgd", "momentum", "adam")
SEARCHES = ("auto", "eg", "rows", "apg", "qn", "fixed")  # learning_law.search
BACKTRACKING = ("auto", "eg", "rows", "apg", "qn")  # the searches that find their own step


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


GRANULARITIES = ("example", "domain")


@dataclass(frozen=True)
class OuterConfig:
    """The policy search on gamma (paper Section 4.1); update rules in :mod:`learning_law.search`."""

    outer_steps: int = 500  # K, outer steps (at most: patience or a stationary point stop it earlier)
    search: str | None = None  # auto / apg: step found by backtracking, nothing to tune | fixed: outer_lr + schedule
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
    until_kkt: float | None = None  # auto / eg / rows / qn / apg: stop once the run-level KKT residual is below this
    qn_memory: int = 10  # qn / auto: pairs L-BFGS keeps (memory and checkpoints hold 2m + 3 arrays of gamma's shape)
    # "example": gamma[t, n], one weight per train example | "domain": w[t, d] on the simplex over the task's D
    # sources, gamma[t, n] = w[t, g(n)] / |g(n)| (learning_law.domains); T x D parameters instead of T x N
    policy_granularity: str = "example"

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
                    f"None with search={self.search!r} (it finds its own step; give search='fixed' for a fixed one)")
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
        require(isinstance(self.qn_memory, int) and 1 <= self.qn_memory <= 100, "qn_memory", self.qn_memory,
                "an integer in [1, 100] (pairs of L-BFGS; each costs two arrays of gamma's shape)")
        require(self.policy_granularity in GRANULARITIES, "policy_granularity", self.policy_granularity,
                f"one of {GRANULARITIES}")
        if self.until_kkt is not None:
            require(isinstance(self.until_kkt, (int, float)) and math.isfinite(self.until_kkt)
                    and self.until_kkt > 0, "until_kkt", self.until_kkt,
                    "a finite number > 0 (the run-level KKT residual: 1 for the constant policy, 0 at a "
                    "first-order optimum), or None")
            require(self.search in BACKTRACKING, "until_kkt", self.until_kkt,
                    f"None with search={self.search!r} (only {BACKTRACKING} measure the residual as they go)")


@dataclass(frozen=True)
class Preset:
    """A named set of configs for one task."""

    name: str
    task: PerceptronConfig
    inner: InnerConfig
    outer: OuterConfig  # the search every command runs by default: `auto` (a backtracking rule, nothing to tune)
    smooth_sigma: float = 0.0  # Gaussian smoothing (steps) for the second speed-up figure
    description: str = ""
    other_outer: OuterConfig | None = None  # reproduce: a second search run and reported beside its main one
    # A hand-set search (the authors' fixed step, or a fixed step the results were first measured with): what
    # `reproduce` runs as its main search, explicitly, since it is a reproduction; `optimize --search fixed`
    # without --outer-lr runs it too. None: reproduce's main search is `outer`.
    reference: OuterConfig | None = None
    # Measured wall minutes of `learning-law reproduce TASK --preset NAME` (one seed, fresh --out) on the
    # 2 idle cores of the project's machine; `--seeds` takes that per seed. None: not measured.
    reproduce_minutes: float | None = None
    # reproduce evaluates the search's saved policy of this outer step (policies/gamma_KKKKK.npy) instead of the
    # selected gamma.npy: the authors' figures show their epoch 490 of a 1000-epoch search. None: the selected one.
    evaluate_outer_step: int | None = None

    def __post_init__(self):
        if self.outer.search == "fixed":
            raise UsageError(f"preset {self.name!r}: outer.search='fixed' is invalid: a preset's default search finds "
                             "its own step (auto); give a hand-set step as `reference`")
        if self.reference is not None and self.reference.search != "fixed":
            raise UsageError(f"preset {self.name!r}: reference.search={self.reference.search!r} is invalid: "
                             "allowed 'fixed' (the hand-set step reproduce runs)")
        k, main = self.evaluate_outer_step, self.reproduce_outer
        if k is not None and not (0 < k <= main.outer_steps and k % main.save_every == 0):
            raise UsageError(f"evaluate_outer_step={k!r} is invalid: allowed a multiple of save_every "
                             f"({main.save_every}) in [1, outer_steps={main.outer_steps}]")

    @property
    def reproduce_outer(self) -> OuterConfig:
        """The main search of ``reproduce``: the hand-set ``reference`` when the preset has one, else ``outer``."""
        return self.reference if self.reference is not None else self.outer

    def search_summary(self) -> str:
        """Which searches the commands run with this preset (for ``list-presets`` and the reports)."""
        def name(o: OuterConfig) -> str:
            return o.search if o.search != "fixed" else f"fixed outer lr {o.outer_lr:g} ({o.schedule})"

        text = f"search: {name(self.outer)} (optimize's default)"
        if self.reference is not None:
            text += f"; reproduce runs {name(self.reference)}"
        else:
            text += "; reproduce runs it"
        if self.other_outer is not None:
            text += f", with {name(self.other_outer)} beside it"
        return text


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
