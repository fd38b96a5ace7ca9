"""A ``seal think`` scenario run written as an MCAP recording, the way the stack records one.

What the world feeds the thinker goes to /seal/events, its published segments to
/seal/thoughts, its turn reports (``turn_done``) and notices to /seal/events, and each speech
goal as an ``agent_speech_start``: the same channels and messages as a recording of the running
stack, on the scenario's clock. The voice's ``agent_speech_start`` is written when the simulated
voice begins an utterance's audio, as the TTS node reports when it starts playing (a scenario's
``voice: first_audio_ms`` makes it late). So a thinking-layer fault met offline can be traced and
diagnosed with the same tools as one met on the robot.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from mcap_ros2._dynamic import serialize_dynamic

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.thinking.commands import Generated, Publish, Say, TurnDone
from seal_nodes.core.thinking.context import SAY
from seal_nodes.core.thinking.goals import Notice
from seal_nodes.core.thinking.thinker import Thinker
from seal_nodes.tools.recording import McapRecorder, message_definition
from seal_nodes.tools.scenario import Scenario, SimClock
from seal_nodes.tools.think import run_scenario


def _encoder(type_name: str) -> Callable[[dict], bytes]:
    """CDR bytes of a message given as a dict, from its .msg definition (no ROS needed)."""
    return serialize_dynamic(type_name, message_definition(type_name))[type_name]


def _header(ns: int) -> dict:
    return {"stamp": {"sec": ns // 1_000_000_000, "nanosec": ns % 1_000_000_000}, "frame_id": ""}


class RecordedThinker:
    """The thinker, with every event in and every published output written to ``recorder``."""

    def __init__(self, thinker: Thinker, recorder: McapRecorder, clock: Callable[[], int]) -> None:
        self._thinker, self._rec, self._clock = thinker, recorder, clock
        self._cdr_event, self._cdr_thought = _encoder(topics.EVENTS.type), _encoder(topics.THOUGHTS.type)
        self._says: dict[str, Say] = {}  # utterance id → its speech goal

    def __getattr__(self, name: str) -> Any:  # everything else the world reads is the thinker's own
        return getattr(self._thinker, name)

    def handle(self, event: ev.Event) -> list:
        self._event(event)
        return self._out(self._thinker.handle(event))

    def tick(self) -> list:
        return self._out(self._thinker.tick())

    def _event(self, event: ev.Event, log_ns: int | None = None) -> None:
        msg = {"header": _header(event.stamp_ns), "type": event.type, "text": event.text,
               "confidence": event.confidence, "source": event.source, "trace_id": event.trace_id,
               "payload_json": event.payload_json()}
        self._rec.write(topics.EVENTS.name, self._cdr_event(msg), self._clock() if log_ns is None else log_ns)

    def _out(self, commands: list) -> list:
        for cmd in commands:
            now = self._clock()
            if isinstance(cmd, Publish):
                kind = "interrupted" if cmd.revised and cmd.segment.kind == SAY else cmd.segment.kind
                thought = {"header": _header(now), "kind": kind, "text": cmd.segment.text,
                           "trace_id": cmd.segment.trace_id}
                self._rec.write(topics.THOUGHTS.name, self._cdr_thought(thought), now)
            elif isinstance(cmd, (TurnDone, Generated)):
                self._event(cmd.event(now))
            elif isinstance(cmd, Notice) and cmd.publish:
                self._event(cmd.event)
            elif isinstance(cmd, Say):
                self._says[cmd.utterance_id] = cmd
        return commands

    def voice_started(self, utterance_id: str, at_ns: int) -> None:
        """The voice began playing ``utterance_id`` at ``at_ns``: its ``agent_speech_start``."""
        say = self._says[utterance_id]
        self._event(ev.Event(ev.AGENT_SPEECH_START, at_ns, text=say.text, source="voice", trace_id=say.trace_id,
                             payload={"utterance_id": utterance_id}), at_ns)


def record_scenario(scenario: Scenario, path: str | Path, **run: Any) -> dict:
    """Play ``scenario`` (``run``: ``run_scenario``'s options) and record it to ``path``; its result."""
    clock = run.pop("clock", None) or SimClock()
    recorder = McapRecorder(path)
    try:
        recorder.add_channel(topics.EVENTS.name, topics.EVENTS.type)
        recorder.add_channel(topics.THOUGHTS.name, topics.THOUGHTS.type)
        made: list[RecordedThinker] = []

        def wrap(thinker: Thinker) -> RecordedThinker:
            made.append(RecordedThinker(thinker, recorder, clock))
            return made[-1]

        result = run_scenario(scenario, clock=clock, wrap=wrap, **run)
        for uid, at_ns in result["voice_started_ns"].items():  # when the simulated voice began each utterance
            made[0].voice_started(uid, at_ns)
        return result
    finally:
        recorder.close()
