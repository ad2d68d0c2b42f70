"""A second embedded corpus, of another style: short news reports (markets, weather, the city council).

Generated offline from a seed by filling sentence templates from word lists, like the grammar corpus
(:mod:`learning_law.data.corpus`) but with a different register and topic vocabulary: a report names a
city and a day, then gives three to five sentences of one topic and a closing line (about 45-90 tokens).
Function words (the, a, and, was, of, in, on, to, by ...) are shared with the grammar corpus; names,
places, nouns and verbs are not, so a word-level tokenizer trained on a mixture of the two sees two
clearly different sources. Tokens are separated by single spaces, punctuation is a token of its own and
numbers are words, exactly as in the grammar corpus, so the whitespace/punctuation pre-tokenizer of
:mod:`learning_law.data.tokenizer` recovers every token.

Report ``j`` is a function of ``(seed, j)`` alone, so the corpus is prefix-stable:
``generate_news(n, s)[:k] == generate_news(k, s)``. The entropy of this source is not computed (unlike the
grammar corpus): mixtures that desire it report no irreducible loss.
"""

from __future__ import annotations

import re

import numpy as np

from learning_law.errors import UsageError

_TAG = 0x4E3B5  # separates the news generator's draws from every other use of the seed

WORDS: dict[str, list[str]] = {
    "CITY": ("Riverton Oakdale Westfield Brookside Millbrook Fairview Lakewood Stonebridge Ashford Kingsport "
             "Northgate Eastwood Redcliff Elmstead Pinecrest Harborview").split(),
    "DAY": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split(),
    "MONTH": "January March April June August October November December".split(),
    "GOOD": "wheat corn coffee copper steel cotton sugar rice silver timber wool fuel".split(),
    "NUM": "two three four five six seven eight nine ten twelve fifteen twenty".split(),
    "UP": "rose climbed gained advanced".split(),
    "DOWN": "fell dropped slipped declined".split(),
    "TRADERS": "traders dealers analysts brokers investors merchants".split(),
    "COMPANY": "Northern Atlas Summit Meridian Beacon Crown Harbor Pioneer".split(),
    "MOOD": "calm nervous steady cautious optimistic uncertain".split(),
    "REASON": ["strong demand from abroad", "a late harvest", "new export rules", "higher shipping costs",
               "a weaker currency", "a strike at the port", "lower interest rates", "a report on jobs"],
    "SKIES": "cloudy clear overcast stormy hazy foggy".split(),
    "STORM": ["storm", "cold front", "heat wave", "gale"],
    "DIR": "north south east west coast mountains".split(),
    "PRECIP": ["heavy rain", "light showers", "hail", "sleet", "strong gusts", "thunder"],
    "ROAD": "coastal northern mountain bridge highway".split(),
    "PROJECT": ["library", "bus station", "sports center", "water plant", "bridge", "housing plan", "budget"],
    "OFFICIAL": "mayor treasurer governor minister spokesman".split(),
}

INTROS = {
    "market": ["In the city of {city} , the market opened early on {day} .",
               "{city} , {day} : trading began slowly at the exchange ."],
    "weather": ["The weather service in {city} issued its report on {day} .",
                "Residents of {city} woke to a change in the weather on {day} ."],
    "council": ["The council of {city} met on {day} to discuss the city budget .",
                "{city} officials gathered at the town hall on {day} ."],
}
BODIES = {
    "market": ["The price of {GOOD} {UP} by {NUM} percent as {TRADERS} reacted to {REASON} .",
               "Shares of the {COMPANY} group {DOWN} by {NUM} percent in early trading .",
               "The {OFFICIAL} said the market was {MOOD} and that more changes were expected this week .",
               "The city index closed {NUM} points higher than the week before .",
               "Sales of {GOOD} and {GOOD} {DOWN} after {REASON} .",
               "Most {TRADERS} remained {MOOD} about the months ahead ."],
    "weather": ["Forecasters expect {SKIES} skies and a high of {NUM} degrees on {DAY} .",
                "A {STORM} is moving in from the {DIR} and may bring {PRECIP} by the evening .",
                "Officials asked drivers to take care on the {ROAD} road .",
                "Temperatures {DOWN} by {NUM} degrees overnight .",
                "The {OFFICIAL} warned of {PRECIP} near the {DIR} .",
                "Schools will open as usual unless the {STORM} turns east ."],
    "council": ["The council voted {NUM} to {NUM} to approve a new {PROJECT} .",
                "The {OFFICIAL} said the {PROJECT} would cost about {NUM} million dollars .",
                "Residents will be able to comment at a public meeting on {DAY} .",
                "Work on the {PROJECT} is expected to begin in {MONTH} .",
                "Critics said the plan was too costly and asked for a second vote .",
                "The {PROJECT} was first proposed in {MONTH} by the {OFFICIAL} ."],
}
CLOSINGS = ["More reports from {city} will follow on {DAY} .", "This report was filed in {city} .",
            "Readers can find the full figures in the {DAY} edition ."]
TOPICS = tuple(INTROS)
_SLOT = re.compile(r"\{(\w+)\}")
_DRAWS = 64  # uniforms per report, more than it reads (<= 4 + 6 for the order + 2 + 5 sentences x 5 slots + 1)


def _fill(template: str, draw, fixed: dict[str, str]) -> str:
    """Replace ``{city}``/``{day}`` by the story's own values and each ``{CAT}`` by a uniform draw."""
    return _SLOT.sub(lambda m: fixed.get(m.group(1)) or draw(WORDS[m.group(1)]), template)


def _story(u: np.ndarray) -> str:
    """One report from its own row of uniforms ``u`` [_DRAWS] (a report uses fewer than _DRAWS of them)."""
    it = iter(u)
    draw = lambda xs: xs[int(next(it) * len(xs))]  # noqa: E731
    topic = draw(TOPICS)
    fixed = {"city": draw(WORDS["CITY"]), "day": draw(WORDS["DAY"])}
    k = draw((3, 4, 5))  # body sentences, without repeats: the k first of a random order
    order = np.argsort([next(it) for _ in BODIES[topic]], kind="stable")[:k]
    sentences = [draw(INTROS[topic]), *(BODIES[topic][i] for i in order), draw(CLOSINGS)]
    return " ".join(_fill(s, draw, fixed) for s in sentences)


def generate_news(n: int, seed: int) -> list[str]:
    """``n`` news reports generated from ``seed`` (deterministic; report j depends only on (seed, j)).

    Args:
      n: number of reports, >= 1.
      seed: integer >= 0.

    Returns:
      list of n strings, tokens separated by single spaces.

    >>> a = generate_news(3, 0)
    >>> a == generate_news(3, 0) and a[:2] == generate_news(2, 0) and a != generate_news(3, 1)
    True
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise UsageError(f"corpus_stories={n!r} is invalid: allowed an integer >= 1 (news reports to generate)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"seed={seed!r} is invalid: allowed an integer >= 0")
    # One row of uniforms per report, drawn row after row from one generator: report j reads only row j,
    # so the first k reports are the same whatever n (prefix-stable).
    u = np.random.default_rng([int(seed), _TAG]).random((int(n), _DRAWS))
    return [_story(row) for row in u]


__all__ = ["generate_news", "WORDS", "TOPICS"]
