"""Speech streamed clause by clause, and what the agent really said.

The model's ``<assistant>`` text arrives piece by piece; each finished clause goes to the TTS
at once (speak while thinking: the TTS queues follow-on goals without a gap). A ``Spoken``
record joins the clauses of one segment again and, when the user barges in, rebuilds the
segment's text from what each clause actually played.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from seal_nodes.core.thinking.context import Segment

# A clause ends at . ! ? ; : (or a comma once it is long enough to be worth a goal of its own),
# followed by a space; "3.5" or "e.g." inside a word do not end it.
_END = re.compile(r"(?<=[.!?;:])\s+|(?<=,)\s+")
MIN_COMMA_WORDS = 4


class ClauseSplitter:
    def __init__(self) -> None:
        self.buffer = ""

    def feed(self, delta: str) -> list[str]:
        """Clauses completed by ``delta``."""
        self.buffer += delta
        out = []
        start = 0
        for m in _END.finditer(self.buffer):
            clause = self.buffer[start:m.start()].strip()
            if self.buffer[m.start() - 1] == "," and len(clause.split()) < MIN_COMMA_WORDS:
                continue
            if not _speakable(clause):
                continue  # "[THINKING]" alone waits for its words
            if clause:
                out.append(clause)
            start = m.end()
        self.buffer = self.buffer[start:]
        return out

    def flush(self) -> list[str]:
        rest, self.buffer = " ".join(self.buffer.split()), ""
        return [rest] if _speakable(rest) else []


def _speakable(text: str) -> bool:
    """Has words once the control tags are gone ("[THINKING]" or "..." alone has none)."""
    return any(ch.isalnum() for ch in re.sub(r"\[[^\]]*\]", "", text))


@dataclass
class Spoken:
    """One ``<assistant>`` segment and the utterances its clauses became."""

    segment: Segment
    clauses: list[str] = field(default_factory=list)  # utterance ids, in order
    results: dict[str, tuple[str, bool]] = field(default_factory=dict)  # uid → (spoken text, interrupted)
    closed: bool = False  # the model finished the segment (no more clauses)

    def resolve(self, uid: str, spoken: str, interrupted: bool) -> bool:
        """Record one clause's outcome; True when the segment's text changed (a barge-in)."""
        self.results[uid] = (spoken, interrupted)
        if not interrupted and not any(cut for _, cut in self.results.values()):
            return False  # (a clause may finish after a later one was cut: then rebuild too)
        # Everything from this clause on was not (fully) said: rebuild from what played.
        said = []
        for u in self.clauses:
            text, cut = self.results.get(u, ("", True))
            if text:
                said.append(text)
            if cut:
                break
        self.segment.text = " ".join(said)
        self.segment.interrupted = True
        return True

    @property
    def finished(self) -> bool:
        return self.closed and all(u in self.results for u in self.clauses)
