"""Contributions CT_n = grad L_dev . grad l_n for all N examples (paper Section 3): one JVP vs per-example gradients.

- **jvp** (ours): :func:`learning_law.inner.contributions`: the dev gradient, then one ``jax.jvp`` of
  the vector of N losses along it. Memory O(|theta| + activations); no [N, |theta|] array.
- **per-example**: ``vmap(grad)`` of each example's loss gives ``[N, |theta|]`` (N x |theta| x 4 bytes),
  then a dot product with the dev gradient.

Both jitted; the time is the median of ``--repeats`` runs after a warm-up. Memory: the per-example
gradients' size computed analytically, and XLA's compiled temporaries of each program.

Models are listed in ``CASES`` (a name and a builder returning a Task or raising ``Skip``); to add one,
append a builder. The Transformer LM (``learning_law.tasks.lm.make_lm`` / ``LMConfig``) is picked up
when it exists, at a small size.

    python benchmarks/contributions.py [--quick] [--repeats R] [--out FILE]
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

import _common
from learning_law import config as C
from learning_law.inner import contributions
from learning_law.memory import analysis_bytes
from learning_law.tasks import make_perceptron
from learning_law.tasks.base import Task

MiB = 1024**2


class Skip(Exception):
    """A case that cannot run here (e.g. its model is not in the library yet)."""


def per_example_contributions(loss_fn, params, train, dev):
    """Per-example losses ``[N]`` and CT ``[N]`` from the explicit per-example gradients ``[N, |theta|]``."""
    g_dev = jax.grad(lambda p: jnp.mean(loss_fn(p, dev)))(params)

    def one(example):  # value and gradient of one example's loss (a batch of size 1)
        return jax.value_and_grad(lambda p: loss_fn(p, jax.tree_util.tree_map(lambda a: a[None], example))[0])(params)

    losses, grads = jax.vmap(one)(train)  # grads: the params pytree with a leading axis N
    n = losses.shape[0]
    ct = sum(g.reshape(n, -1) @ d.reshape(-1) for g, d in zip(jax.tree_util.tree_leaves(grads),
                                                               jax.tree_util.tree_leaves(g_dev)))
    return losses, ct


# ---------------------------------------------------------------------------------------------------
# Cases: name -> builder(quick) -> Task.
# ---------------------------------------------------------------------------------------------------

def perceptron_paper(quick: bool) -> Task:
    return make_perceptron(C.PerceptronConfig(dim=64, n_train=1024) if quick else C.PerceptronConfig())


def perceptron_wide(quick: bool) -> Task:
    """A perceptron with many parameters, where the [N, |theta|] array starts to matter."""
    return make_perceptron(C.PerceptronConfig(dim=512, n_train=1024) if quick else
                           C.PerceptronConfig(dim=2048, n_train=4096))


# A small LM: the names below are tried against LMConfig's fields (those it lacks are left at their
# defaults), so the hook survives small naming differences. Adjust once the LM module settles.
LM_SMALL = {"n_train": 64, "n_dev": 32, "n_test": 32, "seq_len": 32, "vocab_size": 256, "d_model": 64,
            "n_layers": 2, "num_layers": 2, "n_heads": 4, "num_heads": 4, "d_ff": 256, "mlp_dim": 256}
LM_QUICK = {**LM_SMALL, "n_train": 16, "seq_len": 16, "vocab_size": 128, "d_model": 32, "d_ff": 128,
            "mlp_dim": 128}


def transformer_lm(quick: bool) -> Task:
    try:
        from learning_law.tasks.lm import LMConfig, make_lm
    except ImportError as e:
        raise Skip(f"learning_law.tasks.lm not available yet ({e})") from e
    wanted = LM_QUICK if quick else LM_SMALL
    names = {f.name for f in dataclasses.fields(LMConfig)}
    return make_lm(LMConfig(**{k: v for k, v in wanted.items() if k in names}))


CASES: list[tuple[str, Callable[[bool], Task]]] = [
    ("perceptron (paper size)", perceptron_paper),
    ("perceptron (wide)", perceptron_wide),
    ("transformer LM (small)", transformer_lm),
]


def measure(name: str, task: Task, repeats: int) -> dict:
    loss_fn = task.per_example_loss
    f_jvp = jax.jit(partial(contributions, loss_fn))
    f_pex = jax.jit(partial(per_example_contributions, loss_fn))
    # At theta_0 = 0 the perceptron's gradients are degenerate (all logits 0); move off it first.
    leaves, tree = jax.tree_util.tree_flatten(task.init_params)
    keys = jax.random.split(jax.random.key(0), len(leaves))
    params = jax.tree_util.tree_unflatten(tree, [p + 0.02 * jax.random.normal(k, p.shape, p.dtype)
                                                 for p, k in zip(leaves, keys)])
    args = (params, task.train, task.dev)
    mem_jvp = analysis_bytes(f_jvp.lower(*args).compile())
    mem_pex = analysis_bytes(f_pex.lower(*args).compile())
    t_jvp = _common.time_call(lambda: f_jvp(*args), repeats=repeats)
    t_pex = _common.time_call(lambda: f_pex(*args), repeats=repeats)
    (l1, c1), (l2, c2) = f_jvp(*args), f_pex(*args)
    c1, c2 = np.asarray(c1), np.asarray(c2)
    n, n_params = task.n_train, task.n_params
    return {"model": name, "N": n, "n_params": n_params,
            "jvp_s": t_jvp["median_s"], "per_example_s": t_pex["median_s"],
            "time_ratio": t_pex["median_s"] / t_jvp["median_s"],
            "per_example_grads_MiB": n * n_params * 4 / MiB,
            "jvp_temp_MiB": mem_jvp["temporaries"] / MiB, "per_example_temp_MiB": mem_pex["temporaries"] / MiB,
            "temp_ratio": mem_pex["temporaries"] / max(mem_jvp["temporaries"], 1),
            "ct_max_abs_diff": float(np.max(np.abs(c1 - c2))), "ct_max_abs": float(np.max(np.abs(c2))),
            "loss_max_abs_diff": float(np.max(np.abs(np.asarray(l1) - np.asarray(l2))))}


def main() -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=0, help="timed runs per implementation (0: 7, quick: 3)")
    args = p.parse_args()
    repeats = args.repeats or (3 if args.quick else 7)
    rows, skipped = [], {}
    for name, build in CASES:
        try:
            task = build(args.quick)
        except Skip as e:
            skipped[name] = str(e)
            print(f"skipped {name}: {e}")
            continue
        rows.append(measure(name, task, repeats))
    _common.print_table(rows, ["model", "N", "n_params", "jvp_s", "per_example_s", "time_ratio",
                               "per_example_grads_MiB", "jvp_temp_MiB", "per_example_temp_MiB", "temp_ratio",
                               "ct_max_abs_diff"],
                        title=f"contributions of all N examples, float32, jitted, median of {repeats} "
                              "(ratios = per-example / jvp; 2-core shared CPU)")
    _common.write_result("contributions", args, {"repeats": repeats, "rows": rows, "skipped": skipped})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
