"""The paper's causal Transformer language model (Section 4.2, App. D), Flax NNX used functionally.

2 layers, hidden 128, 8 heads, FFN 512 with ReLU, pre-norm blocks and a final norm, learned absolute
positions, untied input embedding and output head, no biases in linear layers, no dropout: about 1.7M
parameters at |V| = 5000 and length 64. Every size is a field of :class:`TransformerConfig`.

Norm: ``rms`` (default) is RMSNorm with a learned scale. The reference's norm was
``w * x / (rms(x) + 1e-8) + b``, an RMS norm with a bias; ``layer`` (LayerNorm with scale and bias) is
the other common choice. Attention logits are divided by sqrt(head size) (the reference divided by
sqrt(hidden size), a quirk we do not copy).

The module is built once to get its ``GraphDef``; parameters travel as a plain nested dict of float32
arrays (``nnx.to_pure_dict``) so the policy search can differentiate through ``lax.scan`` over them,
and :func:`nnx.merge` rebuilds the module inside the pure loss function.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx
from jax import Array

from learning_law.errors import require

NORMS = ("rms", "layer")
# Initialisation as the reference's (PyTorch defaults): embedding tables N(0, 1), linear kernels
# U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Tables of unit scale matter under pre-norm: with GPT-2's 0.02 the
# norm's Jacobian (~1/rms(x) = 50) makes full-batch GD at eta ~ 0.5 unstable and the meta-gradient of
# the early steps explode (measured: row std of dAUC/dgamma[0] ~ 3e3 against ~1e-1 mid-run).
EMBED_INIT = nnx.initializers.normal(1.0)
KERNEL_INIT = nnx.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of the model. Hashable: it is part of the static loss object (see :class:`TransformerLoss`)."""

    vocab_size: int  # |V|, including the special tokens
    max_len: int = 64  # rows of the learned position table: the longest input sequence
    d_model: int = 128
    n_heads: int = 8
    d_ff: int = 512
    n_layers: int = 2
    norm: str = "rms"  # rms | layer

    def __post_init__(self):
        require(isinstance(self.vocab_size, int) and self.vocab_size >= 2, "vocab_size", self.vocab_size,
                "an integer >= 2")
        for name in ("max_len", "d_model", "n_heads", "d_ff", "n_layers"):
            v = getattr(self, name)
            require(isinstance(v, int) and v >= 1, name, v, "an integer >= 1")
        require(self.d_model % self.n_heads == 0, "n_heads", self.n_heads,
                f"a divisor of d_model={self.d_model}")
        require(self.norm in NORMS, "norm", self.norm, f"one of {NORMS}")


def _norm(cfg: TransformerConfig, rngs: nnx.Rngs) -> nnx.Module:
    if cfg.norm == "rms":
        return nnx.RMSNorm(cfg.d_model, epsilon=1e-6, rngs=rngs)
    return nnx.LayerNorm(cfg.d_model, epsilon=1e-6, rngs=rngs)


class Block(nnx.Module):
    """x + Attn(Norm(x)), then x + FFN(Norm(x)) (pre-norm), causal multi-head self-attention."""

    def __init__(self, cfg: TransformerConfig, rngs: nnx.Rngs):
        d = cfg.d_model
        self.n_heads = cfg.n_heads
        self.norm1 = _norm(cfg, rngs)
        self.qkv = nnx.Linear(d, 3 * d, use_bias=False, kernel_init=KERNEL_INIT, rngs=rngs)
        self.proj = nnx.Linear(d, d, use_bias=False, kernel_init=KERNEL_INIT, rngs=rngs)
        self.norm2 = _norm(cfg, rngs)
        self.ff1 = nnx.Linear(d, cfg.d_ff, use_bias=False, kernel_init=KERNEL_INIT, rngs=rngs)
        self.ff2 = nnx.Linear(cfg.d_ff, d, use_bias=False, kernel_init=KERNEL_INIT, rngs=rngs)

    def __call__(self, x: Array) -> Array:
        """x: [n, L, d] -> [n, L, d]."""
        n, length, d = x.shape
        h = self.n_heads
        # The linear layers see [n L, d] (tokens as rows): the weight gradient of a dot over [n, L, d]
        # contracts two axes, which XLA's CPU backend runs ~4x slower than the same product in 2-D
        # (measured: benchmarks/README.md, "LM outer step").
        x = x.reshape(n * length, d)
        q, k, v = jnp.split(self.qkv(self.norm1(x)).reshape(n, length, 3, h, d // h), 3, axis=2)
        q, k, v = q[:, :, 0], k[:, :, 0], v[:, :, 0]  # [n, L, h, dh]
        scores = jnp.einsum("nqhd,nkhd->nhqk", q, k) / math.sqrt(d // h)
        causal = jnp.tril(jnp.ones((length, length), dtype=bool))
        # A finite fill keeps fully masked rows (none here: the diagonal is always visible) NaN-free.
        scores = jnp.where(causal, scores, jnp.asarray(-1e30, scores.dtype))
        att = jax.nn.softmax(scores, axis=-1)
        y = jnp.einsum("nhqk,nkhd->nqhd", att, v).reshape(n * length, d)
        x = x + self.proj(y)
        x = x + self.ff2(jax.nn.relu(self.ff1(self.norm2(x))))
        return x.reshape(n, length, d)


class Transformer(nnx.Module):
    """Token ids [n, L] -> next-token logits [n, L, |V|]."""

    def __init__(self, cfg: TransformerConfig, rngs: nnx.Rngs):
        # Plain tables rather than nnx.Embed, which casts to its param dtype (float32): the lookup then
        # keeps the tables' own dtype (float64 in the gradient checks).
        self.embed = nnx.Param(EMBED_INIT(rngs.params(), (cfg.vocab_size, cfg.d_model), jnp.float32))
        self.pos = nnx.Param(EMBED_INIT(rngs.params(), (cfg.max_len, cfg.d_model), jnp.float32))
        self.blocks = nnx.List([Block(cfg, rngs) for _ in range(cfg.n_layers)])
        self.norm = _norm(cfg, rngs)
        self.head = nnx.Linear(cfg.d_model, cfg.vocab_size, use_bias=False, kernel_init=KERNEL_INIT, rngs=rngs)

    def __call__(self, tokens: Array) -> Array:
        length = tokens.shape[1]
        x = jnp.take(self.embed[...], tokens, axis=0) + self.pos[...][None, :length]
        for block in self.blocks:
            x = block(x)
        n, _, d = x.shape
        return self.head(self.norm(x.reshape(n * length, d))).reshape(n, length, -1)  # 2-D: see Block


@functools.lru_cache(maxsize=32)
def graphdef(cfg: TransformerConfig) -> nnx.GraphDef:
    """The module's structure (no arrays are allocated)."""
    return nnx.split(nnx.eval_shape(lambda: Transformer(cfg, nnx.Rngs(0))))[0]


def init_params(cfg: TransformerConfig, key: Array) -> dict:
    """theta_0 as a plain nested dict of float32 arrays (a pytree)."""
    _, state = nnx.split(Transformer(cfg, nnx.Rngs(params=key)))
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), nnx.to_pure_dict(state))


def n_params(cfg: TransformerConfig) -> int:
    """Number of parameters (from shapes only)."""
    state = nnx.split(nnx.eval_shape(lambda: Transformer(cfg, nnx.Rngs(0))))[1]
    return int(sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(nnx.to_pure_dict(state))))


def logits(cfg: TransformerConfig, params: dict, tokens: Array) -> Array:
    """Next-token logits ``[n, L, |V|]`` for input ids ``tokens: [n, L]`` (L <= max_len)."""
    return nnx.merge(graphdef(cfg), params)(tokens)


def _token_nll(cfg: TransformerConfig, params: dict, seqs: Array, pad_id: int) -> tuple[Array, Array]:
    """-log p(target) per position and the target mask, both ``[n, L]``, for ``seqs: [n, L+1]``."""
    inputs, targets = seqs[:, :-1], seqs[:, 1:]
    z = logits(cfg, params, inputs)
    picked = jnp.take_along_axis(z, targets[..., None], axis=-1)[..., 0]
    return jax.nn.logsumexp(z, axis=-1) - picked, targets != pad_id


def sequence_losses(cfg: TransformerConfig, params: dict, seqs: Array, pad_id: int) -> Array:
    """Per-sequence loss ``[n]``: mean cross-entropy (nats) over the targets that are not padding.

    A sequence [L+1] gives inputs [:L] and targets [1:]; a target equal to ``pad_id`` is masked. A row
    with no target at all has loss 0 (and a zero, NaN-free gradient).
    """
    nll, mask = _token_nll(cfg, params, seqs, pad_id)
    count = jnp.sum(mask, axis=-1)
    return jnp.sum(jnp.where(mask, nll, 0.0), axis=-1) / jnp.maximum(count, 1).astype(nll.dtype)


def _micro_batched(fn, n: int, micro_batch: int, seqs: Array) -> Array:
    """``fn(seqs) -> [n]`` evaluated ``micro_batch`` rows at a time (lax.map of a checkpointed body), so
    the [n, L, |V|] logits and their derivatives never live for all n at once."""
    if micro_batch <= 0 or n <= micro_batch:
        return fn(seqs)
    full = n // micro_batch
    body = jax.checkpoint(fn)
    head = jax.lax.map(body, seqs[: full * micro_batch].reshape(full, micro_batch, seqs.shape[1]))
    parts = [head.reshape(full * micro_batch)]
    if n % micro_batch:
        parts.append(body(seqs[full * micro_batch:]))
    return jnp.concatenate(parts)


@dataclass(frozen=True)
class TransformerLoss:
    """The task's per-example loss ``(params, {"tokens": int32 [n, L+1]}) -> [n]`` (nats).

    A frozen dataclass of hashable fields: it is a static argument of the jitted runs, and two builds of
    the same configuration compare equal, so they share compiled code.
    """

    cfg: TransformerConfig
    pad_id: int
    micro_batch: int = 0  # rows per chunk of the forward pass (0: all at once)

    def __call__(self, params: dict, batch: dict) -> Array:
        seqs = batch["tokens"]
        fn = functools.partial(sequence_losses, self.cfg, params, pad_id=self.pad_id)
        return _micro_batched(fn, seqs.shape[0], self.micro_batch, seqs)


@dataclass(frozen=True)
class TransformerSymbolProbs:
    """``(params, batch) -> (probs [n, L, |V|], targets [n, L] int32, mask [n, L] bool)``: the model's
    next-token distribution at every position, the tokens there, and which are real targets."""

    cfg: TransformerConfig
    pad_id: int

    def __call__(self, params: dict, batch: dict) -> tuple[Array, Array, Array]:
        seqs = batch["tokens"]
        targets = seqs[:, 1:].astype(jnp.int32)
        probs = jax.nn.softmax(logits(self.cfg, params, seqs[:, :-1]), axis=-1)
        return probs, targets, targets != self.pad_id
