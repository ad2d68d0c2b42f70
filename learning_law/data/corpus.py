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
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from learning_law.errors import UsageError

# ---------------------------------------------------------------------------------------------- words
BOYS = "Tom Ben Sam Max Leo Jack Tim Bob Dan Finn Jake Luke Noah Owen Paul Ryan Theo Zack Eli Hugo".split()
GIRLS = ("Lily Mia Anna Sue Emma Lucy Amy Ella Zoe Rose Kate Jane Ruby Nora Ivy Grace Molly Daisy Sara "
         "Luna").split()
CATEGORIES: dict[str, list[str]] = {
    "NAME": BOYS + GIRLS,
    "ANIMAL": ("cat dog bird rabbit fox bear duck frog mouse pig lion horse puppy kitten bunny turtle cow "
               "goat sheep squirrel").split(),
    "ADJ": ("little big small happy kind brave shy funny silly tiny good gentle curious clever lazy "
            "friendly quiet busy proud cheerful").split(),
    "PLACE": "park forest garden beach lake river hill farm meadow field pond village town school zoo".split(),
    "HOME": "house tree nest barn cave hole hut".split(),
    "FAMILY": "mom dad mother father grandma grandpa sister brother".split(),
    "OBJECT": ("ball kite toy book hat box drum doll car boat train cup spoon sock shoe bell rock stick "
               "leaf flower").split(),
    "COLOR": "red blue green yellow pink purple brown black white gold".split(),
    "FOOD": "cake bread cookies pie soup candy carrots bananas cheese honey apples grapes".split(),
    "PLAY": "play run jump swim dance sing read draw climb dig hop explore".split(),
    "WEATHER": "sunny rainy windy cold warm snowy".split(),
    "SAD": "sad scared upset worried angry lonely".split(),
    "FEEL": "tired hungry brave calm sleepy hopeful".split(),
    "HAPPY": "happy glad excited thankful".split(),
    "SEARCH": "grass bushes box sand water kitchen garden barn".split(),
    "HIDE": "rock bed tree table chair leaf bush".split(),
    "SKY": "blue gray pink bright clear".split(),
}
# Words derived from a name slot (copies): gender is revealed by the name itself.
_GENDER = {n: 0 for n in BOYS} | {n: 1 for n in GIRLS}
MAPS: dict[str, tuple[str, str]] = {
    "Pron": ("He", "She"), "pron": ("he", "she"), "poss": ("his", "her"),
}

# --------------------------------------------------------------------------------------------- grammar
# A section is a list of (probability, template); templates are space-separated elements:
#   word             a fixed word
#   {CAT}            a uniform choice from category CAT
#   {slot=CAT}       the same, stored in `slot`;  {slot=CAT!other}: excluding the value of slot `other`
#   <slot> / <slot.map>   a copy of the slot's value, or a word derived from it (MAPS)
INTRO = [
    (0.5, "Once upon a time , there was a {ADJ} {animal=ANIMAL} named {hero=NAME} ."),
    (0.3, "There once was a {ADJ} {animal=ANIMAL} called {hero=NAME} ."),
    (0.2, "{hero=NAME} was a {ADJ} {animal=ANIMAL} ."),
]
HOME = [
    (0.6, "<hero.Pron> lived in a {HOME} near the {place=PLACE} ."),
    (0.4, "<hero.Pron> lived with <hero.poss> {FAMILY} in a {HOME} by the {place=PLACE} ."),
]
TREASURE = [
    (0.6, "<hero.Pron> loved <hero.poss> {COLOR} {obj=OBJECT} very much ."),
    (0.4, "<hero.Pron> had a {COLOR} {obj=OBJECT} that <hero.pron> liked to {PLAY} with ."),
]
MEET = [
    (0.5, "One day , <hero> went to the <place> and met a {ADJ} {fanimal=ANIMAL!animal} named "
          "{friend=NAME!hero} ."),
    (0.5, "One {WEATHER} morning , <hero> saw a {fanimal=ANIMAL!animal} named {friend=NAME!hero} at the "
          "<place> ."),
]
GREET = [
    (0.6, "<friend> said , \" Hello , <hero> ! Can we {PLAY} together ? \""),
    (0.4, "<friend> wanted to {PLAY} with <hero> and <hero.poss> <obj> ."),
]
FRIENDS = [(1.0, "<hero> said , \" Yes ! \" and they became good friends .")]
PROBLEM = [
    (0.4, "But then , <hero> lost <hero.poss> <obj> . <hero.Pron> felt very {SAD} ."),
    (0.3, "But then , a big wind came and the <obj> flew away . <hero> was {SAD} ."),
    (0.3, "But then , <friend> took the <obj> and ran away . <hero> was very {SAD} ."),
]
EVENTS = [
    (0.2, "<hero> looked for the <obj> in the {SEARCH} , but it was not there ."),
    (0.15, "<hero> felt {FEEL} , but <hero.pron> did not give up ."),
    (0.1, "<hero> and <friend> sang a song ."),
    (0.15, "<friend> said , \" Let us look by the {PLACE} . \""),
    (0.15, "They walked to the {PLACE} and ate some {FOOD} ."),
    (0.1, "They saw a {ANIMAL} near the {PLACE} ."),
    (0.15, "The sun was {WEATHER} and the sky was {SKY} ."),
]
RESOLUTION = [
    (0.5, "Finally , <hero> found the <obj> under a {HIDE} ."),
    (0.5, "At last , <friend> gave the <obj> back to <hero> ."),
]
JOY = [(1.0, "<hero> was so {HAPPY} .")]
MORAL = [
    (0.5, "<hero> and <friend> played together all day ."),
    (0.3, "From that day on , <hero> and <friend> were best friends ."),
    (0.2, "<hero.Pron> learned that friends always help each other ."),
]
THE_END = [(1.0, "The end .")]
P_EVENT = 0.6  # probability of one more event sentence before the resolution ...
MAX_EVENTS = 6  # ... at most this many (the loop is unrolled, so the skeleton stays finite)

_TOKEN_RE = re.compile(r"^(\w+|[^\w\s]+)$")

FIXED, CHOOSE, COPY = 0, 1, 2


@dataclass(frozen=True)
class Grammar:
    """The skeleton graph as arrays (S nodes, O options per node at most, C categories, W words).

    Attributes:
      words: the W word types; grammar word ids index this tuple.
      start: the node that emits token 0; end: the terminal node (emits nothing).
      opt_prob: [S, O] option probabilities (0 for padding options); rows of non-terminal nodes sum to 1.
      opt_next: [S, O] the node after the option.
      opt_kind: [S, O] FIXED, CHOOSE or COPY.
      opt_word: [S, O] the word of a FIXED option.
      opt_cat: [S, O] the category of a CHOOSE option; opt_store: [S, O] slot it stores to (-1: none);
        opt_excl: [S, O] slot whose value is excluded (-1: none).
      opt_slot: [S, O] the slot a COPY option reads; opt_map: [S, O] the map applied (0 = identity).
      opt_m: [S, O] the number of words the option could emit (1 for FIXED and COPY).
      opt_words: per node and option, the set of word ids it may emit (for window coverage).
      cat_words: [C, Mmax] word ids of each category (-1 padding); cat_size: [C].
      cat_pos: [C, W] position of a word in a category (-1: not in it).
      maps: [n_maps, W] word -> derived word (row 0 is the identity).
      slots: slot names (index = slot id).
    """

    words: tuple[str, ...]
    start: int
    end: int
    opt_prob: np.ndarray
    opt_next: np.ndarray
    opt_kind: np.ndarray
    opt_word: np.ndarray
    opt_cat: np.ndarray
    opt_store: np.ndarray
    opt_excl: np.ndarray
    opt_slot: np.ndarray
    opt_map: np.ndarray
    opt_m: np.ndarray
    opt_words: tuple
    cat_words: np.ndarray
    cat_size: np.ndarray
    cat_pos: np.ndarray
    maps: np.ndarray
    slots: tuple[str, ...]

    @property
    def n_nodes(self) -> int:
        return int(self.opt_prob.shape[0])

    def option_loss(self) -> np.ndarray:
        """[S, O] -log p(word | state) of any word the option emits: -log p(option) + log m."""
        with np.errstate(divide="ignore"):
            loss = -np.log(self.opt_prob) + np.log(np.maximum(self.opt_m, 1))
        return np.where(self.opt_prob > 0, loss, 0.0)

    def transition(self) -> np.ndarray:
        """[S, S] skeleton transition matrix (the terminal node's row is 0: the story stops)."""
        s, o = self.opt_prob.shape
        m = np.zeros((s, s))
        np.add.at(m, (np.repeat(np.arange(s), o), self.opt_next.ravel()), self.opt_prob.ravel())
        return m


def _parse(template: str) -> list[tuple]:
    """Template string -> elements ('w', word) | ('c', cat, store, excl) | ('p', slot, map)."""
    out = []
    for tok in template.split():
        if tok.startswith("{") and tok.endswith("}"):
            body = tok[1:-1]
            store, excl = None, None
            if "=" in body:
                store, body = body.split("=")
            if "!" in body:
                body, excl = body.split("!")
            if body not in CATEGORIES:
                raise ValueError(f"unknown category {body!r} in {template!r}")
            out.append(("c", body, store, excl))
        elif tok.startswith("<") and tok.endswith(">"):
            slot, _, mp = tok[1:-1].partition(".")
            if mp and mp not in MAPS:
                raise ValueError(f"unknown map {mp!r} in {template!r}")
            out.append(("p", slot, mp))
        else:
            if not _TOKEN_RE.match(tok):
                raise ValueError(f"word {tok!r} in {template!r} is not a single pre-token")
            out.append(("w", tok))
    return out


def build_grammar() -> Grammar:
    """Assemble the skeleton graph of the story grammar and check that it is unifilar."""
    sections = [INTRO, HOME, TREASURE, MEET, GREET, FRIENDS, PROBLEM]
    nodes: list[list[tuple[float, tuple, int]]] = []  # per node: (prob, element, next node)

    def new_node() -> int:
        nodes.append([])
        return len(nodes) - 1

    def add_trie(node: int, alts: list[tuple[float, list[tuple], int]]) -> None:
        """Add alternatives (prob, elements, exit node) at `node`, merging common prefixes."""
        total = sum(p for p, _, _ in alts)
        groups: dict[tuple, list] = {}
        for p, elems, exit_ in alts:
            groups.setdefault(elems[0], []).append((p, elems[1:], exit_))
        for elem, rest in groups.items():
            p_group = sum(p for p, _, _ in rest)
            done = [r for r in rest if not r[1]]
            if done:
                if len(rest) > 1:
                    raise ValueError(f"a template is a prefix of another at element {elem}")
                nodes[node].append((p_group / total, elem, done[0][2]))
            else:
                child = new_node()
                nodes[node].append((p_group / total, elem, child))
                add_trie(child, rest)

    start = new_node()
    cur = start
    for sec in sections:
        nxt = new_node()
        add_trie(cur, [(p, _parse(t), nxt) for p, t in sec])
        cur = nxt
    # Event loop, unrolled MAX_EVENTS times; the resolution may follow at any hub.
    after_res = new_node()
    hubs = [cur] + [new_node() for _ in range(MAX_EVENTS)]
    for k, hub in enumerate(hubs):
        alts = [((1 - P_EVENT) * p if k < MAX_EVENTS else p, _parse(t), after_res) for p, t in RESOLUTION]
        if k < MAX_EVENTS:
            alts += [(P_EVENT * p, _parse(t), hubs[k + 1]) for p, t in EVENTS]
        add_trie(hub, alts)
    cur = after_res
    for sec in [JOY, MORAL, THE_END]:
        nxt = new_node()
        add_trie(cur, [(p, _parse(t), nxt) for p, t in sec])
        cur = nxt
    end = cur
    return _compile(nodes, start, end)


def _compile(nodes, start: int, end: int) -> Grammar:
    """Turn the node lists into arrays; check disjointness of the options' word sets."""
    words: list[str] = []
    index: dict[str, int] = {}

    def wid(w: str) -> int:
        if w not in index:
            index[w] = len(words)
            words.append(w)
        return index[w]

    cat_names = list(CATEGORIES)
    for c in cat_names:
        for w in CATEGORIES[c]:
            wid(w)
    for pair in MAPS.values():
        for w in pair:
            wid(w)
    for opts in nodes:
        for _, e, _ in opts:
            if e[0] == "w":
                wid(e[1])
    slot_cat: dict[str, str] = {}
    slot_excl: dict[str, str] = {}
    for opts in nodes:
        for _, e, _ in opts:
            if e[0] == "c" and e[2]:
                if slot_cat.setdefault(e[2], e[1]) != e[1]:
                    raise ValueError(f"slot {e[2]} stored from two categories")
                if e[3]:
                    slot_excl[e[2]] = e[3]
    slots = sorted(slot_cat)
    slot_id = {s: i for i, s in enumerate(slots)}
    map_names = [""] + list(MAPS)
    W, C = len(words), len(cat_names)
    maps = np.tile(np.arange(W), (len(map_names), 1))
    for i, mp in enumerate(map_names[1:], start=1):
        for n in CATEGORIES["NAME"]:
            maps[i, index[n]] = index[MAPS[mp][_GENDER[n]]]
    mmax = max(len(v) for v in CATEGORIES.values())
    cat_words = -np.ones((C, mmax), np.int64)
    cat_pos = -np.ones((C, W), np.int64)
    for c, name in enumerate(cat_names):
        ids = [index[w] for w in CATEGORIES[name]]
        cat_words[c, : len(ids)] = ids
        cat_pos[c, ids] = np.arange(len(ids))
    cat_size = np.array([len(CATEGORIES[c]) for c in cat_names])

    S, O = len(nodes), max(len(o) for o in nodes)
    arr = {k: np.zeros((S, O), np.int64) for k in ("next", "kind", "word", "cat", "store", "excl", "slot",
                                                   "map", "m")}
    arr["store"][:] = -1
    arr["excl"][:] = -1
    arr["next"][:] = end
    prob = np.zeros((S, O))
    opt_words = []
    for s, opts in enumerate(nodes):
        sets = []
        for o, (p, e, nxt) in enumerate(opts):
            prob[s, o], arr["next"][s, o] = p, nxt
            if e[0] == "w":
                arr["kind"][s, o], arr["word"][s, o], arr["m"][s, o] = FIXED, index[e[1]], 1
                ws = {index[e[1]]}
            elif e[0] == "c":
                c = cat_names.index(e[1])
                arr["kind"][s, o], arr["cat"][s, o] = CHOOSE, c
                arr["store"][s, o] = slot_id[e[2]] if e[2] else -1
                if e[3]:
                    if slot_cat[e[3]] != e[1]:
                        raise ValueError(f"excluded slot {e[3]} is not from category {e[1]}")
                    arr["excl"][s, o] = slot_id[e[3]]
                arr["m"][s, o] = cat_size[c] - (1 if e[3] else 0)
                ws = {index[w] for w in CATEGORIES[e[1]]}
            else:
                if e[1] not in slot_cat:
                    raise ValueError(f"copy of slot {e[1]} that is never stored")
                mi = map_names.index(e[2])
                arr["kind"][s, o], arr["slot"][s, o], arr["map"][s, o], arr["m"][s, o] = COPY, slot_id[e[1]], mi, 1
                ws = {int(maps[mi, index[w]]) for w in CATEGORIES[slot_cat[e[1]]]}
            sets.append((e, ws))
        for i in range(len(sets)):
            for j in range(i):
                (ei, wi), (ej, wj) = sets[i], sets[j]
                exclusive = (ei[0] == ej[0] == "p" and ei[2] == ej[2] == ""
                             and (slot_excl.get(ei[1]) == ej[1] or slot_excl.get(ej[1]) == ei[1]))
                if wi & wj and not exclusive:
                    raise ValueError(f"grammar is not unifilar: options {ei} and {ej} share words "
                                     f"{sorted(words[w] for w in wi & wj)[:5]}")
        opt_words.append(tuple(frozenset(ws) for _, ws in sets))
    return Grammar(tuple(words), start, end, prob, arr["next"], arr["kind"], arr["word"], arr["cat"],
                   arr["store"], arr["excl"], arr["slot"], arr["map"], arr["m"], tuple(opt_words), cat_words,
                   cat_size, cat_pos, maps, tuple(slots))


_GRAMMAR: Grammar | None = None


def grammar() -> Grammar:
    """The story grammar (built once; immutable)."""
    global _GRAMMAR
    if _GRAMMAR is None:
        _GRAMMAR = build_grammar()
    return _GRAMMAR


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
