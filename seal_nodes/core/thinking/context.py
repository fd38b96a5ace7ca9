"""The thinker's context in the talk's tagged format.

A conversation is a list of turns; each turn starts with what the other side said and holds
the agent's thoughts, speech, actions and observations in the order they happened. Only the
most recent turns keep their ``<think>`` segments (the talk: "only the most recent turns of
thought are kept"); older turns keep the user/assistant lines, so the context stays bounded.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

USER = "user"
THINK = "think"
SAY = "say"
ACT = "act"
OBSERVE = "observe"
WAIT = "wait"
HINT = "hint"
KINDS = (USER, THINK, SAY, ACT, OBSERVE, WAIT, HINT)


@dataclass
class Segment:
    kind: str
    text: str
    t_ms: float = 0.0
    interrupted: bool = False
    trace_id: str = ""

    def render(self) -> str:
        cut = "<interrupted/>" if self.interrupted else ""
        # Text is escaped so nobody (a user's words, an error message) can forge a tag.
        text = html.escape(self.text, quote=False)
        if self.kind == USER:
            return f"<user>{text}</user>"
        if self.kind == HINT:
            return f"<user>[SYSTEM HINT] {text}</user>"
        if self.kind == THINK:
            return f"<think>{text}{cut}</think>"
        if self.kind == SAY:
            return f"<assistant>{text}{cut}</assistant>"
        if self.kind == WAIT:
            return "<assistant><wait></assistant>"
        if self.kind == ACT:
            return f"<action>{text}</action>"
        if self.kind == OBSERVE:
            return f"<observation>{text}</observation>"
        raise ValueError(f"unknown segment kind {self.kind!r}")


@dataclass
class Turn:
    segments: list[Segment] = field(default_factory=list)


class Context:
    """Append-only tagged conversation with bounded thought history."""

    def __init__(self, keep_thought_turns: int = 2, max_turns: int = 200, max_chars: int = 8000) -> None:
        if keep_thought_turns < 1:
            raise ValueError("keep_thought_turns must be >= 1")
        self.keep_thought_turns = keep_thought_turns
        self.max_turns = max_turns
        self.max_chars = max_chars  # ~2000 tokens: what a small model's window holds with room to answer
        self.turns: list[Turn] = [Turn()]

    def append(self, segment: Segment) -> Segment:
        if segment.kind not in KINDS:
            raise ValueError(f"unknown segment kind {segment.kind!r}")
        if segment.kind in (USER, HINT) and self.turns[-1].segments:
            self.turns.append(Turn())
            self._compact()
        self.turns[-1].segments.append(segment)
        return segment

    def last(self, kind: str) -> Segment | None:
        for turn in reversed(self.turns):
            for seg in reversed(turn.segments):
                if seg.kind == kind:
                    return seg
        return None

    def _compact(self) -> None:
        # Drop thoughts of turns that fell out of the window, then whole turns past max_turns.
        cutoff = len(self.turns) - self.keep_thought_turns
        for turn in self.turns[:max(cutoff, 0)]:
            turn.segments = [s for s in turn.segments if s.kind != THINK]
        if len(self.turns) > self.max_turns:
            del self.turns[: len(self.turns) - self.max_turns]
        while len(self.turns) > 1 and len(self.render()) > self.max_chars:
            del self.turns[0]

    def remove(self, segment: Segment) -> None:
        for turn in self.turns:
            turn.segments = [s for s in turn.segments if s is not segment]

    def segments(self) -> list[Segment]:
        return [s for t in self.turns for s in t.segments]

    def render(self) -> str:
        return "\n".join(s.render() for s in self.segments())
