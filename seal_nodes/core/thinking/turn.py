"""The bookkeeping of one user turn, shared by the loop and the grounded dialogue: both decide
parts of its reply and record them here."""
from __future__ import annotations

from dataclasses import dataclass, field

from seal_nodes.core.thinking.context import Segment
from seal_nodes.core.thinking.frames import Frame
from seal_nodes.core.thinking.intent import Understanding


@dataclass
class Turn:
    """Timing of the reply to one user turn."""

    user_text: str
    trace_id: str
    end_ns: int  # when the user stopped
    filler_due_ns: int
    first_say_ns: int | None = None
    filler: bool = False
    tokens: int = 0
    think_tokens: int = 0  # since the last thing said
    said_anything: bool = False  # fillers included
    acted: bool = False
    said_real: bool = False  # words that were not a filler
    asked: bool = False  # a question back
    replied: bool = False  # the reply is decided (answered, or the generation for it ended or was replaced)
    done: bool = False  # its TurnDone went out
    answer_due_ns: int = 0
    alternatives: tuple[str, ...] = ()  # other transcripts of the same words (n-best, the last partial)
    reading: Understanding | None = None
    frame: Frame | None = None  # its slots, read once (grounded dialogue)
    social: str | None = None  # its small-talk act ("" for none), read once
    asked_by: str = ""  # the user line its actions answer (the request a "yes" confirms)
    outcome: str = ""  # set where it is decided; else from what happened
    understood: str = ""
    actions: list[str] = field(default_factory=list)
    success: list[bool | None] = field(default_factory=list)
    running: set[str] = field(default_factory=set)  # goal ids still out
    queue: list[tuple[Segment, int]] = field(default_factory=list)  # the rest of a compound request (act, index)
    revises: str = ""  # the trace of the turn whose first half this one completes
    introduced: str = ""  # the name the user gave in it ("I'm Ana")
