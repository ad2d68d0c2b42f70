r"""The objective of optimal learning: area under the desired-loss curve (Eq. 4 / Eq. 6).

One convention is used everywhere in this toolkit, both when a policy is optimised and when a run is
evaluated:

.. math::  \mathrm{AUC}(\gamma) = \frac{1}{T+1} \sum_{t=0}^{T} L(\theta_t),

the *mean* desired (dev) loss over the T+1 parameter vectors visited by a run of T steps, in nats.
``theta_0`` does not depend on the policy, so this has the same minimiser as the paper's
:math:`J = \sum_{t=1}^T L(\theta_t)`; the mean keeps the scale independent of T.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax import Array

LN2 = math.log(2.0)


def auc(loss_curve: Array) -> Array:
    """AUC of a loss curve ``loss_curve: [T+1]`` (nats) = its mean over t = 0..T."""
    return jnp.mean(loss_curve)


def code_length_bits(losses_nats: Array) -> Array:
    """Prequential code length in bits of a stream whose per-symbol losses are given in nats.

    Encoding each symbol with arithmetic coding under the model of that step costs
    ``-log2 p = loss / ln 2`` bits (paper App. A), so the total code length is ``sum(loss) / ln 2``.
    """
    return jnp.sum(losses_nats) / LN2


def compression_ratio_paper(loss_curve: Array, vocab_size: int) -> Array:
    r"""The paper's compression ratio (Section 4.3): :math:`CR = T \log_2|V| / \sum_{t=1}^T L(\theta_t)`.

    ``loss_curve: [T+1]`` in nats, as recorded by a run (t = 0..T); t = 0 is left out as in the paper.
    The paper divides bits by nats; we follow it under this name only, so the numbers compare with its
    figures (CR about 4 -> 7 on the perceptron).
    """
    losses = loss_curve[1:]
    return losses.shape[0] * math.log2(vocab_size) / jnp.sum(losses)


def compression_ratio_bits(loss_curve: Array, vocab_size: int) -> Array:
    r"""Compression ratio in bits: raw bits of the stream / bits of its prequential code.

    A stream of T symbols from an alphabet of size |V| costs :math:`T \log_2 |V|` bits raw; coded with
    the model of each step (t = 1..T) it costs :func:`code_length_bits` of the losses. Both in bits:
    this equals :func:`compression_ratio_paper` times ln 2.
    """
    losses = loss_curve[1:]
    return losses.shape[0] * math.log2(vocab_size) / code_length_bits(losses)
