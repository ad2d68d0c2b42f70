"""learning-law: optimal learning policies for language models, in JAX.

Train under a per-example, per-step policy gamma[T, N]; search the policy that minimises the area
under the desired-loss curve by differentiating the whole run; check the Learning Law; fit scaling laws.
"""

__version__ = "0.1.0"

from learning_law import config, policy, record  # noqa: E402
from learning_law.errors import NumericalError, UsageError  # noqa: E402
from learning_law.tasks import Task, build_task  # noqa: E402
from learning_law import api  # noqa: E402  (imports nothing heavy until a run starts)
from learning_law.api import load_params, make_task  # noqa: E402

# api.optimize / api.evaluate / api.train are not re-exported: learning_law.optimize, .evaluate and .train
# are the modules of those names, and importing one would replace a function of the same name here.
__all__ = ["api", "config", "policy", "record", "Task", "build_task", "make_task", "load_params", "UsageError",
           "NumericalError", "__version__"]
