"""learning-law: optimal learning policies for language models, in JAX.

Train under a per-example, per-step policy gamma[T, N]; search the policy that minimises the area
under the desired-loss curve by differentiating the whole run; check the Learning Law; fit scaling laws.
"""

__version__ = "0.1.0"

from learning_law import config, policy, record  # noqa: E402
from learning_law.errors import NumericalError, UsageError  # noqa: E402
from learning_law.tasks import Task, build_task  # noqa: E402

__all__ = ["config", "policy", "record", "Task", "build_task", "UsageError", "NumericalError",
           "__version__"]
