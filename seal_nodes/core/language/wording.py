"""Seeded paraphrases of instruction templates: synonyms, politeness, fillers, word order.

A policy taught a few templates per task meets people's own wordings at run time; training it
on many paraphrases of each template widens what it has heard. A paraphrase only swaps a phrase
for one of the same meaning, moves the colour or a verb's particle, fronts the object, or adds
politeness and fillers, and it keeps the template's slots (``{color}``, ``{direction}``): the
task and the colour of its template stay its labels.
"""
from __future__ import annotations

import random
import re
from collections.abc import Collection
from dataclasses import dataclass

# Phrases that mean the same in an instruction; a phrase found in a template may become any
# member of its group. Matched on whole words, longest first.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("pick up", "grab", "lift", "take", "lift up", "grasp", "get", "pick", "collect", "fetch"),
    ("put", "place", "drop", "set", "toss", "stick", "deposit"),
    ("in the bin", "into the bin", "in the basket", "into the basket", "in the trash bin"),
    ("push", "shift", "bump", "sweep"),
    ("to the left", "left", "to the left side", "leftward", "to the left-hand side"),
    ("to the right", "right", "to the right side", "rightward", "to the right-hand side"),
    ("point at", "aim at", "point the gripper at", "hover over", "hover above"),
    ("go home", "go to home", "head home", "move home", "go to the home position", "move to the home position",
     "go to the home pose", "head to the home pose"),
    ("cube", "block", "brick", "piece", "object"),
)
PARTICLE_VERBS = ("pick up", "lift up")  # "pick up the cube" = "pick the cube up"
ARTICLES = ("the", "a", "that")
COLOUR_FORMS = ("{art} {color} {obj}", "{art} {obj} that is {color}", "{art} {obj} which is {color}",
                "{art} {color} coloured {obj}", "{art} {color} colored {obj}")
POLITE_PREFIXES = ("please", "could you", "would you", "could you please", "would you please", "kindly",
                   "i want you to", "i need you to", "go ahead and", "now", "robot,")
POLITE_SUFFIXES = ("please", ", please", "for me", "thanks", "thank you", "now", "for me please")
# No "right so": a filler must not sound like a direction.
FILLERS = ("um", "uh", "okay so", "okay", "so", "hmm", "well", "er", "ok um", "now then")
# Colour names a person may use: a known one names the object; an unknown one names an object
# the policy cannot know (and must not be mistaken for one it does).
COLOR_WORDS = ("red", "green", "blue", "yellow", "orange", "purple", "pink", "black", "white", "brown", "grey",
               "gray", "violet", "cyan", "magenta", "turquoise", "beige", "gold", "silver")


@dataclass(frozen=True)
class Mix:
    """How often each kind of change is drawn for one paraphrase (probabilities)."""

    synonym: float = 0.6  # per phrase found
    colour_form: float = 0.3
    article: float = 0.15
    particle: float = 0.35
    front: float = 0.1
    prefix: float = 0.35
    suffix: float = 0.2
    filler: float = 0.2
    infix: float = 0.05  # a filler after the verb


def _group_of(words: list[str], i: int) -> tuple[int, tuple[str, ...]] | None:
    """(length in words, group) of the longest synonym phrase starting at word ``i``."""
    best = None
    for group in SYNONYMS:
        for phrase in group:
            pw = phrase.split()
            if words[i:i + len(pw)] == pw and (best is None or len(pw) > best[0]):
                best = (len(pw), group)
    return best


def _swap_synonyms(text: str, rng: random.Random, p: float) -> str:
    words, out, i = text.split(), [], 0
    while i < len(words):
        found = _group_of(words, i)
        if found is None:
            out.append(words[i])
            i += 1
            continue
        n, group = found
        out.append(rng.choice(group) if rng.random() < p else " ".join(words[i:i + n]))
        i += n
    return " ".join(out)


_OBJECTS = next(g for g in SYNONYMS if "cube" in g)
_NP = re.compile(rf"\b(?P<art>the|a|that) (?P<color>\{{color\}}) (?P<obj>{'|'.join(_OBJECTS)})\b")


def _reshape(text: str, rng: random.Random, mix: Mix) -> tuple[str, bool]:
    """Word order: the object fronted, or the verb's particle after the object, or the colour
    moved; and whether the object now comes first."""
    m = _NP.search(text)
    if m is None:
        return text, False
    art = rng.choice(ARTICLES) if rng.random() < mix.article else m["art"]
    verb, rest = text[:m.start()].strip(), text[m.end():].strip()
    particle = verb in PARTICLE_VERBS
    if verb and rng.random() < mix.front:
        it = f"{verb.split()[0]} it up" if particle else f"{verb} it"
        return f"{art} {{color}} {m['obj']}, {it} {rest}".strip(), True
    if particle and rng.random() < mix.particle:
        return f"{verb.split()[0]} {art} {{color}} {m['obj']} up {rest}".strip(), False
    form = rng.choice(COLOUR_FORMS) if rng.random() < mix.colour_form else COLOUR_FORMS[0]
    np_ = form.format(art=art, color="{color}", obj=m["obj"])
    return " ".join(s for s in (verb, np_, rest) if s), False


def paraphrase(template: str, rng: random.Random, mix: Mix = Mix()) -> str:
    """One paraphrase of ``template`` (lower case; slots kept)."""
    text, fronted = _reshape(_swap_synonyms(" ".join(template.lower().split()), rng, mix.synonym), rng, mix)
    words = text.split()
    at = next((i for i, w in enumerate(words) if w in ARTICLES), 0)
    if at > 0 and rng.random() < mix.infix:  # "grab, um, the red cube"
        text = f"{' '.join(words[:at])}, {rng.choice(('um', 'uh', 'er'))}, {' '.join(words[at:])}"
    if not fronted and rng.random() < mix.prefix:  # "could you the red cube, ..." is no sentence
        prefix = rng.choice(POLITE_PREFIXES)
        text = f"{prefix} {text}" + ("?" if prefix.startswith(("could", "would")) and rng.random() < 0.5 else "")
    elif rng.random() < mix.suffix:
        suffix = rng.choice(POLITE_SUFFIXES)
        text = f"{text}{suffix}" if suffix.startswith(",") else f"{text} {suffix}"
    if rng.random() < mix.filler:
        text = f"{rng.choice(FILLERS)}{rng.choice((' ', ', '))}{text}"
    return text


def canonical(text: str) -> str:
    """The words that carry the meaning: lower case, no punctuation, no articles (to compare wordings)."""
    words = re.sub(r"[^a-z0-9{}' ]+", " ", text.lower()).split()
    return " ".join(w for w in words if w not in ("the", "a", "an"))


def paraphrases(template: str, n: int, seed: int = 0, exclude: Collection[str] = (), mix: Mix = Mix(),
                tries: int = 30) -> list[str]:
    """``template`` and then up to ``n - 1`` distinct paraphrases of it, the same for the same seed.

    ``exclude``: wordings never to produce (held-out test phrasings), compared by ``canonical``.
    Fewer than ``n`` come back when ``tries * n`` draws find no more new ones.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = random.Random(f"{seed}:{template}")  # str seeds are hashed stably across runs
    banned = {canonical(e) for e in exclude}
    seen = {canonical(template)}
    out = [" ".join(template.split())]
    for _ in range(tries * n):
        if len(out) >= n:
            break
        text = paraphrase(template, rng, mix)
        key = canonical(text)
        if key not in seen and key not in banned:
            seen.add(key)
            out.append(text)
    return out


def color_words(text: str) -> list[str]:
    """The colour names ``text`` uses, in order."""
    return [w for w in canonical(text).split() if w in COLOR_WORDS]


DIRECTION_WORDS = {"left": ("left", "leftward", "leftwards"), "right": ("right", "rightward", "rightwards")}


def directions(text: str) -> set[str]:
    """The sides (left, right) ``text`` names."""
    words = set(canonical(text).split())
    return {side for side, forms in DIRECTION_WORDS.items() if words & set(forms)}


_OPENERS = sorted({*FILLERS, *POLITE_PREFIXES, "um", "uh", "er", "hey"}, key=len, reverse=True)
_CLOSERS = sorted({s.strip(" ,") for s in POLITE_SUFFIXES}, key=len, reverse=True)


def plain(text: str) -> str:
    """The request without fillers, politeness and punctuation ("um, could you grab the red
    cube, please?" -> "grab the red cube"): what is left to compare with known wordings."""
    t = " ".join(re.sub(r"[^a-z0-9{}'\- ]+", " ", text.lower()).split())
    t = " ".join(w for w in t.split() if w not in ("um", "uh", "er", "hmm"))
    changed = True
    while changed:
        changed = False
        for o in _OPENERS:
            o = o.strip(" ,")
            if t.startswith(o + " "):
                t, changed = t[len(o) + 1:], True
        for c in _CLOSERS:
            if t.endswith(" " + c):
                t, changed = t[:-len(c) - 1], True
    return t
