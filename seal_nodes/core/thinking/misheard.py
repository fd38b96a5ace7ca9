"""Words a recogniser may have misheard in a request, and what they may have been.

A request has slots: its verb comes first ("could you *ramp* the blue cube"), a colour stands
before the noun ("the *read* cube"), the noun after the colour, a direction or the bin after
"to the" / "in the" or right after the object ("nudge the cube *lift*"). A word in a slot that is not a word for that slot is replaced by the
vocabulary words that sound like it; an unknown word in the verb's place by the verbs, and one
anywhere else by any vocabulary word. Known everyday words outside the object slots stay.
Each correction carries its cost, the sum of (1 - similarity) over the words replaced.
"""
from __future__ import annotations

from seal_nodes.core.language.phonetic import similarity

ACTION_VERBS = ("pick", "grab", "take", "lift", "grasp", "get", "fetch", "hold", "raise", "put", "place", "drop",
                "throw", "toss", "move", "bin", "push", "slide", "shove", "nudge", "shift", "point", "show",
                "indicate", "go", "return", "reset", "park", "stop", "halt", "freeze", "abort")
# A stop is acted on at once, so it must be said, not guessed from a sound-alike ("hat" → "halt").
SOUND_VERBS = tuple(v for v in ACTION_VERBS if v not in ("stop", "halt", "freeze", "abort")) + ("pick up",)
NOUNS = ("cube", "cubes", "block", "blocks", "one", "ones")
PLACES = ("left", "right", "bin", "box")
# Words that open a request before its verb ("could you please …", "i'd like you to …").
FRAME = set("""please could can would will you i i'd want like to ahead and kindly just now um uh er so okay ok
hey robot then also mind if for me let's let don't dont do not never the a an it them that this""".split())
_NOT_COLOR = set("""the a an that this these those which each every other one two three four all both any some little
big small large tiny first second last next same whole other another coloured colored left right middle center centre
leftmost rightmost closest nearest farthest furthest and or""".split())

SLOT_MIN = 0.4       # a word in a slot: the least similarity of a correction
UNKNOWN_MIN = 0.55   # a word the agent does not know, anywhere
MAX_VARIANTS = 4


def _options(words: list[str], i: int, known: set[str], colors: tuple[str, ...]) -> tuple[tuple[str, ...], float]:
    """The vocabulary words ``words[i]`` may stand for, and the least similarity a correction needs."""
    w = words[i]
    prev = words[i - 1] if i else ""
    nxt = words[i + 1] if i + 1 < len(words) else ""
    if len(w) < 3 or w in FRAME:
        return (), 1.0
    if nxt in NOUNS and prev not in colors and w not in _NOT_COLOR:
        return (() if w in colors else colors), SLOT_MIN
    if in_place_slot(words, i):
        return (() if w in PLACES else PLACES), SLOT_MIN
    if prev in colors and w not in _NOT_COLOR:
        return (() if w in NOUNS else ("cube", "block")), SLOT_MIN
    if w in colors or w in NOUNS or w in ACTION_VERBS or w in PLACES:
        return (), 1.0
    if w in known:
        return (), 1.0  # an everyday word where a verb goes ("thank you") is what was said
    opening = next((j for j, x in enumerate(words) if x not in FRAME), -1)
    if opening == i:
        return SOUND_VERBS, SLOT_MIN
    return SOUND_VERBS + colors + ("cube", "block") + PLACES, UNKNOWN_MIN


def in_place_slot(words: list[str], i: int) -> bool:
    """Whether ``words[i]`` is where a direction or the bin goes: "to the _", "into the _", or
    right after the object ("push the cube _")."""
    return (i > 1 and words[i - 1] == "the" and words[i - 2] in ("to", "towards", "in", "into")) or \
        (i > 0 and words[i - 1] in NOUNS and words[i] in ACTION_VERBS)


def corrections(text: str, known: set[str], colors: tuple[str, ...]) -> list[tuple[str, float]]:
    """``text`` with its likely misheard words replaced, and what each version cost; the first
    takes every word's closest sound-alike, the others swap one word for its second closest."""
    words = text.split()
    found: list[tuple[int, list[tuple[str, float]]]] = []
    for i, w in enumerate(words):
        pool, least = _options(words, i, known, colors)
        scored = sorted(((t, similarity(w, t)) for t in pool if t != w), key=lambda s: -s[1])
        scored = [s for s in scored if s[1] >= least][:2]
        if scored:
            found.append((i, scored))
    if not found:
        return []
    picks = [[0] * len(found)]
    for j, (_, scored) in enumerate(found):
        if len(scored) > 1:
            picks.append([1 if k == j else 0 for k in range(len(found))])
    out = []
    for pick in picks[:MAX_VARIANTS]:
        new = list(words)
        cost = 0.0
        for (i, scored), k in zip(found, pick):
            new[i], s = scored[k]
            cost += 1.0 - s
        out.append((" ".join(new), round(cost, 4)))
    return out
