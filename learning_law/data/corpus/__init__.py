"""The embedded default corpus: children's stories from a stochastic grammar with an exactly known entropy.

The grammar is a *unifilar* probabilistic finite-state process over word tokens: the distribution of the
next word is a function of a state, and the state is a deterministic function of the words emitted so
far. The state is (skeleton node, slot values). The skeleton is a finite graph whose nodes offer options
(a fixed word, a uniform choice from a word category, or a deterministic copy of a slot value, e.g. the
hero's name or "he"/"she" derived from it); story-level latent choices (hero, friend, animal, place,
object) are revealed by the word that chooses them and are reused later deterministically, which gives
long-range structure. Two rules make the exact entropy cheap:

* the options leaving a node emit disjoint word sets (checked when the grammar is built), so the word
  reveals the option and ``p(word | past) = p(option) / m`` with ``m`` the number of words the option
  could emit (the category size, minus one when a value is excluded, 1 for fixed words and copies);
* option probabilities and the effective category sizes never depend on the slot values, so the
  per-token loss process and the story length are functions of the skeleton Markov chain alone.

The expected loss of the true model is therefore a forward recursion over skeleton nodes
(:func:`window_entropy`), with no sampling. Stories end with the words "The end ." after which the
process stops; that end is itself coded by words, so no end-of-story token is needed.

Tokens are words and punctuation separated by single spaces, every token a single pre-token of a
whitespace/punctuation pre-tokenizer (``\\w+`` or ``[^\\w\\s]+``), so a word-level tokenizer whose
vocabulary covers the grammar's words loses nothing.

Modules, all re-exported here: :mod:`~learning_law.data.corpus.templates` (the words and sentence
templates), :mod:`~learning_law.data.corpus.grammar` (templates -> the skeleton graph as arrays),
:mod:`~learning_law.data.corpus.sampling` (stories and the corpus) and
:mod:`~learning_law.data.corpus.entropy` (the exact expected loss of a window).
"""

from learning_law.data.corpus.entropy import WindowEntropy, entropy_rate_bits, window_entropy
from learning_law.data.corpus.grammar import CHOOSE, COPY, FIXED, Grammar, build_grammar, grammar
from learning_law.data.corpus.sampling import Stories, generate_corpus, sample_stories
from learning_law.data.corpus.templates import (BOYS, CATEGORIES, EVENTS, FRIENDS, GIRLS, GREET, HOME, INTRO, JOY,
                                                MAPS, MAX_EVENTS, MEET, MORAL, P_EVENT, PROBLEM, RESOLUTION,
                                                THE_END, TREASURE)

__all__ = ["BOYS", "CATEGORIES", "CHOOSE", "COPY", "EVENTS", "FIXED", "FRIENDS", "GIRLS", "GREET", "Grammar", "HOME",
           "INTRO", "JOY", "MAPS", "MAX_EVENTS", "MEET", "MORAL", "P_EVENT", "PROBLEM", "RESOLUTION", "Stories",
           "THE_END", "TREASURE", "WindowEntropy", "build_grammar", "entropy_rate_bits", "generate_corpus", "grammar",
           "sample_stories", "window_entropy"]
