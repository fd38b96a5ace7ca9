"""Perception and feedback events: the currency of the SEAL loop.

Mirrors ``seal_interfaces/msg/Event`` field for field so nodes convert 1:1.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# Event types the stack emits. Perception layer first, then execution feedback.
SPEECH_START = "speech_start"
# maybe the user, over the agent, before the VAD confirms (payload state: start | end; the voice pauses, resumes)
VOICE_MAYBE = "voice_maybe"
SPEECH_FRAGMENT = "speech_fragment"  # partial transcript while the user talks
SPEECH_END = "speech_end"  # final transcript of one user turn
INTERRUPT = "interrupt"
BACKCHANNEL = "backchannel"
SILENCE = "silence"
NOISE = "noise"
MUSIC = "music"
LAUGH = "laugh"
OBJECT_SEEN = "object_seen"
SCENE_CHANGE = "scene_change"
UI_CHANGE = "ui_change"
AGENT_SPEECH_START = "agent_speech_start"  # TTS started playing an utterance
AGENT_SPEECH_END = "agent_speech_end"  # TTS finished or was cut (text: what was said; payload: interrupted)
ACTION_FEEDBACK = "action_feedback"
ACTION_RESULT = "action_result"
ERROR = "error"  # a node rejected bad input; text says why
TURN_DONE = "turn_done"  # the thinker finished a user turn (payload: outcome, actions, success, understood)
FORGET = "forget"  # a user asked to be forgotten (payload: user); the memory node deletes their data
VOICE = "voice"  # the speaker embedding of a user turn (same trace as its speech_end; payload: embedding, seconds, model)
USER_IDENTIFIED = "user_identified"  # the memory node knows who spoke a turn (payload: user, how, score)
SKILL_LEARNED = "skill_learned"  # the GUI executor compiled a lesson (payload: skill, the Skill's dict)
SKILL_OUTCOME = "skill_outcome"  # a skill was replayed (payload: name, ok, steps_done, reason)
GENERATION = "generation"  # one model generation: what it was given and wrote (payload: model, force, prompt, …)

KNOWN_TYPES = frozenset(
    {
        SPEECH_START, VOICE_MAYBE, SPEECH_FRAGMENT, SPEECH_END, INTERRUPT, BACKCHANNEL, SILENCE, NOISE,
        MUSIC, LAUGH, OBJECT_SEEN, SCENE_CHANGE, UI_CHANGE, AGENT_SPEECH_START,
        AGENT_SPEECH_END, ACTION_FEEDBACK, ACTION_RESULT, ERROR, TURN_DONE, FORGET, VOICE, USER_IDENTIFIED,
        SKILL_LEARNED, SKILL_OUTCOME, GENERATION,
    }
)


def new_trace_id() -> str:
    """A short random id that follows one signal through every hop."""
    return uuid.uuid4().hex[:16]


def now_ns() -> int:
    """Wall-clock nanoseconds; the same clock ROS stamps use (system time)."""
    return time.time_ns()


@dataclass
class Event:
    """One discrete event. ``stamp_ns`` is when the originating signal happened."""

    type: str
    stamp_ns: int
    text: str = ""
    confidence: float = 1.0
    source: str = ""
    trace_id: str = field(default_factory=new_trace_id)
    payload: dict[str, Any] = field(default_factory=dict)

    def payload_json(self) -> str:
        return json.dumps(self.payload, separators=(",", ":")) if self.payload else ""

    @staticmethod
    def parse_payload(payload_json: str) -> dict[str, Any]:
        """Decode a message's payload_json; raises ValueError on malformed JSON."""
        if not payload_json:
            return {}
        try:
            value = json.loads(payload_json)
        except RecursionError as exc:  # absurdly nested input
            raise ValueError("payload_json is nested too deeply") from exc
        if not isinstance(value, dict):
            raise ValueError("payload_json must encode a JSON object")
        return value
