"""What the thinker decides: the commands ``Thinker.handle`` and ``Thinker.tick`` return, in order.

The node (or ``seal think``) executes them. They live apart from the loop so that executors, tools
and tests depend on this vocabulary, not on the thinker.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from seal_nodes.core import events as ev
from seal_nodes.core.actions import Action
from seal_nodes.core.thinking.context import Segment


@dataclass
class Say:
    text: str
    utterance_id: str
    trace_id: str
    filler: bool = False  # bought time for the model; not its answer


@dataclass
class Act:
    action: Action
    instruction: str
    goal_id: str
    trace_id: str


@dataclass
class CancelSpeech:
    reason: str


@dataclass
class PauseSpeech:
    """Hold the voice (the user started talking over it) until Resume or Cancel."""

    reason: str


@dataclass
class ResumeSpeech:
    reason: str


@dataclass
class CancelActions:
    reason: str


@dataclass
class Publish:
    """A segment appended to the context (or, ``revised``, changed in it) for /seal/thoughts."""

    segment: Segment
    revised: bool = False


@dataclass
class Report:
    """An error the thinker refused or met; the node publishes it as an ``error`` event."""

    text: str
    trace_id: str
    payload: dict = field(default_factory=dict)


@dataclass
class TurnDone:
    """A user turn is finished: answered, asked back, or acted on with every result in.
    The node publishes it as a ``turn_done`` event (the demo and the benchmarks wait for it)."""

    trace_id: str
    outcome: str  # "acted" | "asked" | "answered" | "apologized" | "refused"
    actions: list[str]  # "pick(object=red_cube)", in order (planned ones that never ran included)
    success: list[bool]  # per action
    understood: str = ""  # the reading's describe(), or ""

    def event(self, stamp_ns: int) -> ev.Event:
        return ev.Event(ev.TURN_DONE, stamp_ns, text=self.understood or self.outcome, trace_id=self.trace_id,
                        payload={"outcome": self.outcome, "actions": self.actions, "success": self.success,
                                 "understood": self.understood})


@dataclass
class Generated:
    """One model generation as the model was given it and wrote it (the parsed thoughts are on
    /seal/thoughts); the node publishes it as a ``generation`` event, which a trace shows in its turn."""

    trace_id: str
    model: str
    force: str  # the tag the generation was made to open with ("" for free)
    prompt: str  # the text the model was given (its chat form), the tail if it is long
    grammar: str  # the grammar it decoded under ("" for none)
    raw: str  # what it wrote, tags included
    tokens: int
    ms: float
    ended: str  # "done" | "stopped" | "failed"

    def event(self, stamp_ns: int) -> ev.Event:
        return ev.Event(ev.GENERATION, stamp_ns, text=f"{self.model}: {self.tokens} pieces, {self.ended}",
                        trace_id=self.trace_id,
                        payload={"model": self.model, "force": self.force, "prompt": self.prompt,
                                 "grammar": self.grammar, "raw": self.raw, "tokens": self.tokens,
                                 "ms": round(self.ms, 1), "ended": self.ended})


Command = (Say | Act | CancelSpeech | PauseSpeech | ResumeSpeech | CancelActions | Publish | Report | TurnDone
           | Generated)
