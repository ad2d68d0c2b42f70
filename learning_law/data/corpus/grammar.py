"""The story grammar as a unifilar skeleton graph: templates parsed and compiled into arrays
(:class:`Grammar`), with the check that the options leaving a node emit disjoint word sets."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from learning_law.data.corpus.templates import (_GENDER, CATEGORIES, EVENTS, FRIENDS, GREET, HOME, INTRO, JOY, MAPS,
                                                MAX_EVENTS, MEET, MORAL, P_EVENT, PROBLEM, RESOLUTION, THE_END,
                                                TREASURE)

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
