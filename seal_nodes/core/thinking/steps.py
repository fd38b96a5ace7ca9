"""A request of several steps, split into them: "pick up the red cube, then go home", "push the
green cube right and point at the blue one", "which one is the blue cube? point at it".

Only a step boundary the words mark splits: a sentence end, "then" / "after that", or "and"
followed by a verb. "The red and the green cube" stays one step (the references resolve it).
"""
from __future__ import annotations

import re
from typing import Collection

_SENTENCE = re.compile(r"(?<=[.?!;])\s+")
_THEN = re.compile(r"\s*,?\s*\b(?:and then|and after that|and afterwards|after that|afterwards|then)\b\s*,?\s*")
_FIRST = re.compile(r"^(?:first(?: of all)?|firstly|to start|start by)\s*,?\s*")
_AND = re.compile(r"\s*,?\s*\band\b\s+")


def split_steps(text: str, verbs: Collection[str]) -> list[str]:
    """The steps of ``text`` in order, each lower case without punctuation; one step when the
    words mark no boundary. ``verbs``: the words that open a step after "and" ("and point …")."""
    steps: list[str] = []
    for sentence in _SENTENCE.split(text.strip()):
        for part in _THEN.split(_clean(sentence)):
            steps += _split_and(_FIRST.sub("", part.strip()), verbs)
    return [s for s in steps if s]


def _split_and(part: str, verbs: Collection[str]) -> list[str]:
    pieces = _AND.split(part)
    out = [pieces[0]]
    for piece in pieces[1:]:
        first = piece.split()[0] if piece.split() else ""
        if first in verbs:
            out.append(piece)
        else:
            out[-1] = f"{out[-1]} and {piece}"
    return out


def _clean(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9', ]+", " ", text.lower().replace("-", " ")).split())
