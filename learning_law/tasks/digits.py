"""The digits task: scikit-learn's handwritten digits, a small MLP, noisy training labels, clean desired data.

The set-up of learning from noisy labels with a small clean set (Learning to Reweight Examples, Ren et al.
2018; Meta-Weight-Net, Shu et al. 2019), which is the paper's with the clean set as the desired data:

- data: the 1797 8x8 images of ``sklearn.datasets.load_digits`` (bundled with scikit-learn, no download),
  pixels scaled to [0, 1]; a seeded permutation splits them into train, dev (the desired data), val and test;
- noise: each *training* label is replaced, with probability ``label_noise``, by one of the 9 other classes
  drawn uniformly (symmetric noise, as Ren et al.'s "uniform flip"); dev, val and test stay clean, and which
  training examples are noisy is kept (:func:`noisy_mask`) so reports can say where a policy puts its weight;
- model: a Flax NNX MLP 64 -> hidden -> 10 (tanh), used functionally through
  :func:`learning_law.tasks.custom.split_params`; the per-example loss is the softmax cross-entropy (nats).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from learning_law.errors import require
from learning_law.tasks.base import Task

N_IMAGES = 1797  # load_digits().data.shape[0]
N_CLASSES = 10
N_PIXELS = 64


@dataclass(frozen=True)
class DigitsConfig:
    """The digits task: split sizes, label noise on the train split, the MLP's width, the seed."""

    n_train: int = 1000  # N, the (noisy) examples the policy weights
    n_dev: int = 200  # clean desired (dev) examples: the objective
    n_val: int = 200  # clean validation examples: the search selects its policy on them (0: none)
    n_test: int = 397  # clean test examples: metrics are reported on them (the 1797 images hold all four)
    label_noise: float = 0.4  # probability that a *train* label is replaced by another class, uniformly
    hidden: int = 32  # width of the MLP's hidden layer
    seed: int = 0  # the split, the noise and theta_0 derive from jax.random.key(seed)

    def __post_init__(self):
        for name in ("n_train", "n_dev", "n_test", "hidden"):
            v = getattr(self, name)
            require(isinstance(v, int) and v >= 1, name, v, "an integer >= 1")
        require(isinstance(self.n_val, int) and self.n_val >= 0, "n_val", self.n_val,
                "an integer >= 0 (0: no validation split)")
        total = self.n_train + self.n_dev + self.n_val + self.n_test
        require(total <= N_IMAGES, "n_train", self.n_train,
                f"at most {N_IMAGES} images in all: n_train + n_dev + n_val + n_test = {total}")
        require(isinstance(self.label_noise, (int, float)) and math.isfinite(self.label_noise)
                and 0.0 <= self.label_noise <= 0.9, "label_noise", self.label_noise,
                "[0, 0.9] (0.9: the labels carry no information)")
        require(isinstance(self.seed, int) and self.seed >= 0, "seed", self.seed, "an integer >= 0")


@functools.lru_cache(maxsize=1)
def _images() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int32)


def digits_splits(cfg: DigitsConfig) -> dict:
    """``{"train", "dev", "val", "test": {"x": [n, 64] float32, "y": [n] int32}, "noisy": [N] bool,
    "clean_y": [N] int32, "index": {split: [n] int}}`` of ``cfg`` (numpy; ``val`` is None when ``n_val = 0``;
    ``index``: the rows of ``load_digits()`` each split holds).

    The permutation, the noise draw and the replacement classes use three keys split from
    ``jax.random.key(seed)``; theta_0 uses a fourth (:func:`make_digits`).
    """
    x, y = _images()
    k_perm, k_flip, k_class, _ = jax.random.split(jax.random.key(cfg.seed), 4)
    perm = np.asarray(jax.random.permutation(k_perm, N_IMAGES))
    sizes = {"train": cfg.n_train, "dev": cfg.n_dev, "val": cfg.n_val, "test": cfg.n_test}
    out, start = {"index": {}}, 0
    for name, n in sizes.items():
        idx = perm[start:start + n]
        out[name] = {"x": x[idx], "y": y[idx]} if n else None
        out["index"][name] = idx
        start += n
    clean = out["train"]["y"]
    noisy = np.asarray(jax.random.bernoulli(k_flip, cfg.label_noise, (cfg.n_train,)))
    # another class, uniformly: clean + 1..9 (mod 10), so a noisy label is never the clean one
    shift = np.asarray(jax.random.randint(k_class, (cfg.n_train,), 1, N_CLASSES))
    out["train"] = {"x": out["train"]["x"], "y": np.where(noisy, (clean + shift) % N_CLASSES, clean).astype(np.int32)}
    out["noisy"], out["clean_y"] = noisy, clean
    return out


def noisy_mask(cfg: DigitsConfig) -> np.ndarray:
    """``[N]`` bool: which training labels the noise replaced."""
    return digits_splits(cfg)["noisy"]


@functools.lru_cache(maxsize=1)
def _mlp_class():
    """The NNX module class, made once (flax is imported only when a digits task is built)."""
    from flax import nnx

    class MLP(nnx.Module):
        """64 -> hidden (tanh) -> 10 logits."""

        def __init__(self, hidden: int, rngs: nnx.Rngs):
            self.l1 = nnx.Linear(N_PIXELS, hidden, rngs=rngs)
            self.l2 = nnx.Linear(hidden, N_CLASSES, rngs=rngs)

        def __call__(self, x):
            return self.l2(jnp.tanh(self.l1(x)))

    return MLP


def _mlp(hidden: int, key):
    from flax import nnx

    return _mlp_class()(hidden, nnx.Rngs(params=key))


@functools.lru_cache(maxsize=8)
def _functions(hidden: int) -> dict:
    """The loss, accuracy and coding functions of the MLP of width ``hidden``, made once per width: every
    seed's task shares them, so the jitted runs compile once for all seeds (a static argument is hashed by
    the identity of the module's structure, :class:`~learning_law.tasks.custom.PerExampleLossFn`)."""
    from learning_law.tasks.custom import PerExampleLossFn, split_params

    loss_fn, _ = split_params(digits_loss, _mlp(hidden, jax.random.key(0)), None)
    same = lambda fn: PerExampleLossFn(fn, "nnx", loss_fn.graphdef, loss_fn.rest)  # noqa: E731
    return {"loss": loss_fn, "correct": same(digits_correct), "symbols": same(digits_symbol_probs)}


def digits_loss(model, batch: dict) -> jax.Array:
    """Per-example softmax cross-entropy ``[n]`` (nats) of the model's logits against ``batch["y"]``."""
    logits = model(batch["x"])
    return jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, batch["y"][:, None], axis=-1)[:, 0]


def digits_correct(model, batch: dict) -> jax.Array:
    """``[n]`` float32: 1 where the model's most likely class is the label."""
    return (jnp.argmax(model(batch["x"]), axis=-1) == batch["y"]).astype(jnp.float32)


def digits_symbol_probs(model, batch: dict):
    """The coded symbol is the label (S = 1, V = 10): ``probs [n, 1, 10]``, ``symbols [n, 1]``, ``mask``."""
    probs = jax.nn.softmax(model(batch["x"]), axis=-1)[:, None, :]
    symbols = batch["y"][:, None]
    return probs, symbols, jnp.ones(symbols.shape, dtype=bool)


@functools.lru_cache(maxsize=8)
def make_digits(cfg: DigitsConfig) -> Task:
    """Build the digits task from ``cfg`` (cached: the same config gives the same Task, so its jitted
    runs compile once)."""
    from learning_law.tasks.custom import split_params

    s = digits_splits(cfg)
    k_init = jax.random.fold_in(jax.random.key(cfg.seed), 1)
    fns = _functions(cfg.hidden)
    _, params = split_params(digits_loss, _mlp(cfg.hidden, k_init), None)
    arrays = lambda split: None if split is None else {"x": jnp.asarray(split["x"]), "y": jnp.asarray(split["y"])}  # noqa: E731
    return Task(name="digits", train=arrays(s["train"]), dev=arrays(s["dev"]), test=arrays(s["test"]),
                init_params=jax.tree_util.tree_map(jnp.asarray, params), per_example_loss=fns["loss"],
                vocab_size=N_CLASSES, config=cfg, symbol_probs=fns["symbols"], val=arrays(s["val"]),
                correct=fns["correct"])
