"""The exact irreducible loss of the embedded corpus: the expected loss of the true model (the grammar)
on a window of a story, by a forward recursion over the skeleton nodes (no sampling)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from learning_law.data.corpus.grammar import Grammar, grammar
from learning_law.errors import UsageError

# ------------------------------------------------------------------------------------- exact entropy
@dataclass(frozen=True)
class WindowEntropy:
    """The irreducible loss of a window of the first ``seq_len + 1`` tokens of a story.

    The LM sees a story as its first seq_len + 1 tokens (padded); the targets are positions
    1..min(length, seq_len + 1) - 1. "Irreducible loss" is the expected loss, in nats, of the true model
    (the grammar) on those targets: no model can do better in expectation.

    Attributes:
      per_token: E[sum of target losses] / E[number of targets] (the loss averaged over all target tokens
        of many sequences).
      per_sequence: E[(sum of target losses) / (number of targets)] (the mean over sequences of each
        sequence's mean-token loss). Equal to per_token when every story has more than seq_len tokens.
      expected_targets: E[number of targets].
      words: grammar words that can occur in the window (a tokenizer must cover them for exactness).
    """

    per_token: float
    per_sequence: float
    expected_targets: float
    words: frozenset


def window_entropy(seq_len: int, g: Grammar | None = None) -> WindowEntropy:
    """Exact expected loss of the true model on a (seq_len + 1)-token window, by a forward recursion.

    pi_t[s] = P(token t is emitted from node s); the loss of target t is ell(s, o) = -log p_o + log m_o
    when node s takes option o. A_t[s] = E[sum of losses of targets 1..t-1; node s at t]. A story that
    reaches the terminal node at time t has t tokens and t - 1 targets; at t = seq_len + 1 the window
    is full and the remaining mass is truncated with seq_len targets.
    """
    if seq_len < 1:
        raise UsageError(f"seq_len={seq_len!r} is invalid: allowed >= 1")
    g = g or grammar()
    S, O = g.opt_prob.shape
    ell = g.option_loss()
    nxt = g.opt_next
    pi = np.zeros(S)
    pi[g.start] = 1.0
    acc = np.zeros(S)
    total_loss = total_targets = per_seq = 0.0
    words: set[int] = set()
    for t in range(seq_len + 1):
        # token t is emitted from the nodes in pi (none from the terminal node).
        live = pi.copy()
        live[g.end] = 0.0
        for s in np.nonzero(live)[0]:
            for o, ws in enumerate(g.opt_words[s]):
                words |= ws
        if t >= 1:
            step = live[:, None] * g.opt_prob * ell  # [S, O] expected loss of target t by option
            total_loss += step.sum()
            total_targets += live.sum()
        else:
            step = np.zeros((S, O))
        new_pi, new_acc = np.zeros(S), np.zeros(S)
        np.add.at(new_pi, nxt.ravel(), (live[:, None] * g.opt_prob).ravel())
        np.add.at(new_acc, nxt.ravel(), (acc[:, None] * g.opt_prob + step).ravel())
        # stories ending now: t + 1 tokens, t targets
        if t >= 1 and new_pi[g.end] > 0:
            per_seq += new_acc[g.end] / t
        new_pi[g.end], new_acc[g.end] = 0.0, 0.0
        pi, acc = new_pi, new_acc
    per_seq += acc.sum() / seq_len  # truncated windows: seq_len targets
    per_token = total_loss / total_targets
    return WindowEntropy(float(per_token), float(per_seq), float(total_targets),
                         frozenset(g.words[w] for w in words))


def entropy_rate_bits(nats: float) -> float:
    """Nats -> bits."""
    return nats / math.log(2)
