"""Configuration as frozen dataclasses with named presets (one CLI option maps to one field).

The dataclasses (:class:`PerceptronConfig`, :class:`InnerConfig`, :class:`OuterConfig`, :class:`Preset`) and
``asdict`` / :func:`from_dict` / :func:`override` live in :mod:`learning_law.run_config` and are re-exported
here; this module holds the named presets of every task (``PRESETS``) and looks them up. Task modules
import :mod:`learning_law.run_config`, so the presets can import them without an import cycle.
"""

from __future__ import annotations

from dataclasses import field

from learning_law.errors import UsageError
from learning_law.run_config import (BACKTRACKING, INNER_OPTIMIZERS, MEMORY_STRATEGIES, SEARCHES, InnerConfig, OuterConfig,
                                     PerceptronConfig, Preset, asdict, from_dict, override)

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
                        "beside it (patience 50).", reproduce_minutes=4.8),
        # The authors' figure search (their perceptron figure scripts, ../shared/PAPER.md): 1000 outer epochs of
        # the same linearly decaying 1e-3 step (so a slower decay than `paper`'s 500), the figures drawn from
        # epoch 490's policy (cumulative step about 0.37, against 0.25 for `paper`). Saved every 70 outer steps
        # (490 = 7 x 70); patience 0: every epoch runs, as theirs did; no second search beside it.
        "paper-figures": Preset(
            "paper-figures", PAPER_TASK, InnerConfig(),
            OuterConfig(search="fixed", outer_lr=1e-3, schedule="linear", outer_steps=1000, patience=0, save_every=70,
                        eval_every=70, checkpoint_every=70),
            smooth_sigma=20.0, evaluate_outer_step=490,
            description="The authors' figure search: the paper preset's task and fixed outer lr 1e-3 decaying "
                        "linearly over 1000 outer steps (not 500); reproduce evaluates the policy of outer step 490, "
                        "the one their Figs. 7-10 show.", reproduce_minutes=10.1),
        "paper-init0": Preset(
            "paper-init0", PerceptronConfig(), InnerConfig(), OuterConfig(search="fixed", outer_lr=0.5),
            smooth_sigma=20.0, other_outer=OuterConfig(),
            description="As paper but theta_0 = 0 (PyTorch-like near-zero start), where the authors' outer lr "
                        "barely moves the policy; fixed outer lr 0.5 decaying linearly.", reproduce_minutes=3.5),
        # With 512 desired examples and theta_0 = 0 the search over-fits them (dev speed-up 9.8x, test 0.66x
        # after 500 steps); with 4096 the dev and test speed-ups agree, and a constant outer lr keeps improving
        # both to the end (measured: 6.6x test / 7.3x dev after 500 steps, vs 4.9x / 5.3x with the linear decay).
        "paper-dev4096": Preset(
            "paper-dev4096", PerceptronConfig(n_dev=4096), InnerConfig(),
            OuterConfig(search="fixed", outer_lr=0.5, schedule="constant"), smooth_sigma=20.0,
            description="paper-init0 with 4096 desired (dev) examples and a constant fixed outer lr 0.5: with 512 "
                        "the policy over-fits the dev set.", reproduce_minutes=5.3),
        # The default search (no step to set) measured against fixed steps 0.15 / 0.5 / 1.5 by
        # `python -m experiments.search_robustness --settings perceptron-cpu`; reproduce shows the fixed 0.5
        # (this preset's step before the default search existed) beside it.
        "cpu": Preset(
            "cpu", PerceptronConfig(n_train=1024, n_dev=2048), InnerConfig(steps=1000),
            OuterConfig(outer_steps=300, save_every=50), smooth_sigma=10.0,
            description="Quick: N=1024, dev 2048, val 2048, T=1000, 300 outer steps of the default search "
                        "(the fixed outer lr 0.5 runs beside it in reproduce).",
            other_outer=OuterConfig(outer_steps=300, search="fixed", outer_lr=0.5, save_every=300), reproduce_minutes=1.7),
        "tiny": Preset(
            "tiny", PerceptronConfig(dim=8, n_train=32, n_dev=64, n_test=64, n_val=64, init_std=1.0),
            InnerConfig(steps=40, record_every=2), OuterConfig(outer_steps=5, save_every=2, checkpoint_every=2,
                                                               eval_every=2),
            other_outer=OuterConfig(outer_steps=5, search="fixed", outer_lr=0.5, save_every=5, eval_every=2),
            description="Seconds; for tests and smoke runs.", reproduce_minutes=0.2),
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
                        "200, test 397, MLP 64-32-10, T=500, eta=0.3, 40 outer steps of the default search.", reproduce_minutes=0.6),
        "tiny": Preset(
            "tiny", DigitsConfig(n_train=48, n_dev=32, n_val=32, n_test=32, hidden=8),
            InnerConfig(steps=20, lr=0.5, record_every=4),
            OuterConfig(outer_steps=3, save_every=2, checkpoint_every=2, eval_every=2),
            description="Seconds; for tests and smoke runs.", reproduce_minutes=0.35),
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


__all__ = ["PerceptronConfig", "InnerConfig", "OuterConfig", "Preset", "PRESETS", "get_preset", "default_preset",
           "override", "from_dict", "asdict", "MEMORY_STRATEGIES", "INNER_OPTIMIZERS", "SEARCHES", "BACKTRACKING", "field"]
