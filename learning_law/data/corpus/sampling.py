"""Stories sampled from the grammar (vectorised over stories), with their true log-probabilities: the
embedded corpus (:func:`generate_corpus`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from learning_law.data.corpus.grammar import CHOOSE, COPY, Grammar, grammar
from learning_law.errors import UsageError

# -------------------------------------------------------------------------------------------- sampling
@dataclass(frozen=True)
class Stories:
    """Sampled stories: grammar word ids, the true log-probabilities, lengths.

    Attributes:
      ids: [n, Lmax] int32 grammar word ids (-1 after the end).
      logp: [n, Lmax] float64 log p(token_t | tokens_<t) under the grammar (0 after the end); position 0
        holds log p of the first word.
      lengths: [n] number of tokens of each story.
    """

    ids: np.ndarray
    logp: np.ndarray
    lengths: np.ndarray

    def texts(self, g: Grammar | None = None) -> list[str]:
        g = g or grammar()
        return [" ".join(g.words[w] for w in row[:n]) for row, n in zip(self.ids, self.lengths)]


def sample_stories(n: int, rng: np.random.Generator, g: Grammar | None = None) -> Stories:
    """Sample ``n`` stories, all in lock-step over time (vectorised over stories)."""
    g = g or grammar()
    cum = np.cumsum(g.opt_prob, axis=1)
    cum[:, -1] = np.where(g.opt_prob.sum(1) > 0, 1.0, 0.0)  # guard against rounding at the last option
    node = np.full(n, g.start)
    slots = -np.ones((n, len(g.slots)), np.int64)
    ids_t, logp_t = [], []
    rows = np.arange(n)
    while True:
        alive = node != g.end
        if not alive.any():
            break
        u = rng.random(n)
        opt = np.minimum((u[:, None] >= cum[node]).sum(1), cum.shape[1] - 1)
        kind, m = g.opt_kind[node, opt], g.opt_m[node, opt]
        word = g.opt_word[node, opt].copy()
        # CHOOSE: uniform over the category, skipping the excluded slot's value.
        cat, excl = g.opt_cat[node, opt], g.opt_excl[node, opt]
        r = np.floor(rng.random(n) * m).astype(np.int64)
        ex_word = np.where(excl >= 0, slots[rows, np.maximum(excl, 0)], -1)
        ex_pos = np.where(excl >= 0, g.cat_pos[cat, np.maximum(ex_word, 0)], np.iinfo(np.int64).max)
        r = r + (r >= ex_pos)
        choose = kind == CHOOSE
        word = np.where(choose, g.cat_words[cat, np.minimum(r, g.cat_words.shape[1] - 1)], word)
        copy = kind == COPY
        src = slots[rows, g.opt_slot[node, opt]]
        if np.any(copy & alive & (src < 0)):
            raise RuntimeError("grammar copies a slot before it is stored")
        word = np.where(copy, g.maps[g.opt_map[node, opt], np.maximum(src, 0)], word)
        store = g.opt_store[node, opt]
        st = choose & alive & (store >= 0)
        slots[rows[st], store[st]] = word[st]
        ids_t.append(np.where(alive, word, -1))
        logp_t.append(np.where(alive, np.log(np.maximum(g.opt_prob[node, opt], 1e-300)) - np.log(np.maximum(m, 1)), 0.0))
        node = np.where(alive, g.opt_next[node, opt], node)
    ids = np.stack(ids_t, 1).astype(np.int32)
    return Stories(ids, np.stack(logp_t, 1), (ids >= 0).sum(1))


def generate_corpus(n_stories: int, seed: int) -> tuple[list[str], Stories]:
    """The embedded corpus: ``n_stories`` story texts generated from ``seed``, and their true log-probs."""
    if n_stories < 1:
        raise UsageError(f"corpus_stories={n_stories!r} is invalid: allowed >= 1")
    st = sample_stories(n_stories, np.random.default_rng([seed, 0x5707]))
    return st.texts(), st
