"""Context biasing after recognition: snap near-misses onto the words the agent expects.

Whisper's prompt biases the decoder, but tiny.en often still writes the common word it
heard ("deal cylinder" for "teal cylinder"). This pass compares every run of as many words as
an expected phrase with that phrase, letter by letter (normalised edit distance), and replaces
a close run with the expected spelling. Only runs at least ``min_similarity`` alike change, and
a run already equal to another word the agent expects is left alone. Phrases shorter than five
letters are never snapped to: one edit in four letters turns too many ordinary words into them.
"""
from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9']+")


def _distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def similarity(a: str, b: str) -> float:
    """1 - edit distance / length of the longer string, on lower-case letters without spaces."""
    a, b = a.lower().replace(" ", ""), b.lower().replace(" ", "")
    if not a or not b:
        return 0.0
    return 1.0 - _distance(a, b) / max(len(a), len(b))


def correct(text: str, phrases: list[str], min_similarity: float = 0.75) -> str:
    """Replace word runs of ``text`` that nearly match an expected phrase by that phrase."""
    expected = [p.strip() for p in phrases if p and len(p.strip().replace(" ", "")) >= 5]
    if not text or not expected:
        return text
    known = {p.lower() for p in expected}
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    edits: list[tuple[int, int, str]] = []  # (start char, end char, replacement)
    taken = [False] * len(spans)
    for phrase in sorted(expected, key=lambda p: -len(p)):  # longest first: "red cube" before "red"
        n = len(phrase.split())
        best: tuple[float, int] | None = None
        for i in range(len(spans) - n + 1):
            if any(taken[i:i + n]):
                continue
            run = text[spans[i][0]:spans[i + n - 1][1]]
            if run.lower() in known:
                continue
            score = similarity(run, phrase)
            if score >= min_similarity and (best is None or score > best[0]):
                best = (score, i)
        if best is not None:
            i = best[1]
            taken[i:i + n] = [True] * n
            edits.append((spans[i][0], spans[i + n - 1][1], phrase))
    for start, end, phrase in sorted(edits, reverse=True):
        text = text[:start] + phrase + text[end:]
    return text
