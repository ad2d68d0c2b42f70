"""The perceptron task (paper Section 4.2 and App. D).

Logistic regression without bias in d dimensions. A teacher w* = sqrt(d) * N(0, I) labels inputs by
y = 1[x . w* > 0]. Train inputs x ~ N(train_mean, train_std^2 I) (the paper: 0 and 3); dev and test
inputs x ~ N(eval_mean, eval_std^2 I) (0.5 and 1): a covariate shift, so the desired data differ from
the training data. Optional label noise flips train labels only. A validation split (``n_val``) is a
third draw of the desired distribution, used only to select among the policies of a search.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import Array

from learning_law.tasks.base import Task


def perceptron_loss(params: dict, batch: dict) -> Array:
    """Per-example log-loss of the sigmoid output: ``[n]`` in nats.

    l = -y log s(a) - (1 - y) log(1 - s(a)) = softplus(a) - y a, with a = x . w.
    """
    logits = batch["x"] @ params["w"]
    return jax.nn.softplus(logits) - batch["y"] * logits


def perceptron_symbol_probs(params: dict, batch: dict) -> tuple[Array, Array, Array]:
    """The coded symbol of an example is its label (S = 1, V = 2): ``p(y = 1) = sigmoid(x . w)``.

    Returns ``probs [n, 1, 2]``, ``symbols [n, 1]`` int32 and ``mask [n, 1]`` (all True). Both
    probabilities come from ``sigmoid(+-a)`` (not ``1 - sigmoid(a)``), so ``-log probs[y]`` equals
    :func:`perceptron_loss` to float32 precision even for confident predictions.
    """
    logits = batch["x"] @ params["w"]
    probs = jnp.stack([jax.nn.sigmoid(-logits), jax.nn.sigmoid(logits)], axis=-1)[:, None, :]
    symbols = batch["y"].astype(jnp.int32)[:, None]
    return probs, symbols, jnp.ones(symbols.shape, dtype=bool)


def perceptron_correct(params: dict, batch: dict) -> Array:
    """``[n]`` float32: 1 where the predicted label 1[x . w > 0] is the example's label."""
    return ((batch["x"] @ params["w"] > 0).astype(jnp.float32) == batch["y"]).astype(jnp.float32)


def _keys(cfg):
    # (teacher, train, dev, test, noise, init): the order every array of the task is drawn in
    return jax.random.split(jax.random.key(cfg.seed), 6)


def noisy_mask(cfg) -> Array:
    """``[N]`` bool: which train labels the label noise flipped (all False when ``label_noise = 0``)."""
    if cfg.label_noise <= 0:
        return jnp.zeros((cfg.n_train,), dtype=bool)
    return jax.random.bernoulli(_keys(cfg)[4], cfg.label_noise, (cfg.n_train,))


def make_perceptron(cfg) -> Task:
    """Generate the perceptron task from ``cfg`` (a :class:`~learning_law.config.PerceptronConfig`)."""
    k_teacher, k_train, k_dev, k_test, _, k_init = _keys(cfg)
    d = cfg.dim
    scale = math.sqrt(d) if cfg.teacher_scale is None else cfg.teacher_scale
    w_star = scale * jax.random.normal(k_teacher, (d,), jnp.float32)

    def split(key, n, mean, std):
        x = mean + std * jax.random.normal(key, (n, d), jnp.float32)
        y = (x @ w_star > 0).astype(jnp.float32)
        return {"x": x, "y": y}

    train = split(k_train, cfg.n_train, cfg.train_mean, cfg.train_std)
    if cfg.label_noise > 0:
        train["y"] = jnp.where(noisy_mask(cfg), 1.0 - train["y"], train["y"])
    dev = split(k_dev, cfg.n_dev, cfg.eval_mean, cfg.eval_std)
    test = split(k_test, cfg.n_test, cfg.eval_mean, cfg.eval_std)
    # The validation draw's key is folded from the seed, so adding it leaves every other array unchanged.
    val = split(jax.random.fold_in(jax.random.key(cfg.seed), 7), cfg.n_val, cfg.eval_mean, cfg.eval_std) \
        if cfg.n_val else None
    w0 = cfg.init_std * jax.random.normal(k_init, (d,), jnp.float32)
    return Task(
        name="perceptron",
        train=train,
        dev=dev,
        test=test,
        init_params={"w": w0},
        per_example_loss=perceptron_loss,
        vocab_size=2,
        config=cfg,
        symbol_probs=perceptron_symbol_probs,
        val=val,
        correct=perceptron_correct,
    )
