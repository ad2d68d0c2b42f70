"""Tasks: data splits + initial params + one pure per-example loss (DESIGN.md "Task")."""

from learning_law.tasks.base import Task
from learning_law.tasks.perceptron import make_perceptron, perceptron_loss

__all__ = ["Task", "make_perceptron", "perceptron_loss", "build_task"]

TASKS = ("perceptron", "lm")


def build_task(name: str, cfg) -> Task:
    """Build the task ``name`` from its config."""
    if name == "perceptron":
        return make_perceptron(cfg)
    if name == "lm":
        from learning_law.tasks.lm import make_lm  # imports flax: only when asked for

        return make_lm(cfg)
    from learning_law.errors import UsageError

    raise UsageError(f"task={name!r} is invalid: allowed {list(TASKS)}")
