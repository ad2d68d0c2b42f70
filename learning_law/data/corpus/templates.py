"""The story grammar's text: word categories, the words derived from a name, and the sentence templates
of each section of a story (compiled into a graph by :mod:`learning_law.data.corpus.grammar`)."""

from __future__ import annotations

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
