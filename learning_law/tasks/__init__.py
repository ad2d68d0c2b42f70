"""Tasks: data splits + initial params + one pure per-example loss (DESIGN.md "Task")."""

from learning_law.tasks.base import Task
from learning_law.tasks.perceptron import make_perceptron, perceptron_loss

__all__ = ["Task", "make_perceptron", "perceptron_loss", "build_task", "noisy_mask"]

TASKS = ("perceptron", "lm", "digits")


def build_task(name: str, cfg) -> Task:
    """Build the task ``name`` from its config."""
    if name == "perceptron":
        return make_perceptron(cfg)
    if name == "lm":
        from learning_law.tasks.lm import make_lm  # imports flax: only when asked for

        return make_lm(cfg)
    if name == "digits":
        from learning_law.tasks.digits import make_digits  # imports flax and scikit-learn: only when asked for

        return make_digits(cfg)
    from learning_law.errors import UsageError

    raise UsageError(f"task={name!r} is invalid: allowed {list(TASKS)}")


def noisy_mask(task: Task):
    """``[N]`` bool numpy array: which training labels the task's label noise corrupted, or None for a task
    without label noise (the LM's noise edits, a custom task)."""
    import numpy as np

    if task.name == "perceptron":
        from learning_law.tasks.perceptron import noisy_mask as mask
    elif task.name == "digits":
        from learning_law.tasks.digits import noisy_mask as mask
    else:
        return None
    return np.asarray(mask(task.config))
