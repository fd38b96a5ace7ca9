"""Every event type's payload keys and how the trace says it in one line.

``SCHEMAS`` has an entry per type in ``events.KNOWN_TYPES`` (a unit test fails on a type with
none); the trace renders any other type as a generic row and names it as not understood.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from seal_nodes.core import events as ev
from seal_nodes.core.observe.trace.reader import EventRec

_UTTERANCE = ("onset_ns", "offset_ns", "end_reason", "no_speech_prob", "decode_ms", "agent_speaking",
              "alternatives", "revises", "duration_ms")
_ACOUSTIC = ("source", "state", "start_sample", "end_sample", "level_db", "method")
_REGIONS = ("regions", "changed_fraction", "settled", "image_size")


@dataclass(frozen=True)
class Schema:
    keys: tuple[str, ...]  # every payload key the type may carry
    required: tuple[str, ...]
    render: Callable[[EventRec], str]  # the event in one line
    open: bool = False  # free-form payload (an error's context): keys are not checked


def _quote(e: EventRec) -> str:
    return f"“{e.text}”" if e.text else "(no words)"


def _speech_end(e: EventRec) -> str:
    alts = e.payload.get("alternatives") or []
    also = f" (or: {', '.join(map(str, alts))})" if alts else ""
    return f"user said {_quote(e)}{also}"


def _agent_end(e: EventRec) -> str:
    how = "cut off after" if e.payload.get("interrupted") else "said"
    return f"agent {how} {_quote(e)}"


def _feedback(e: EventRec) -> str:
    p = e.payload.get("progress")
    return f"{e.payload.get('goal_id', '?')}: {e.text or 'working'}" + (f" (progress {p:.3g})" if isinstance(p, float)
                                                                        else "")


def _result(e: EventRec) -> str:
    p = e.payload
    verdict = "canceled" if p.get("canceled") else ("succeeded" if p.get("success") else "FAILED")
    return f"{p.get('action', p.get('goal_id', 'action'))} {verdict}: {e.text}"


def _turn_done(e: EventRec) -> str:
    p = e.payload
    acts = ", ".join(f"{a} ({'ok' if s else 'failed'})" for a, s in zip(p.get("actions", []), p.get("success", [])))
    return f"turn {p.get('outcome', '?')}" + (f": {acts}" if acts else "") + (
        f"; understood “{p['understood']}”" if p.get("understood") else "")


SCHEMAS: dict[str, Schema] = {
    ev.SPEECH_START: Schema(("onset_ns", "agent_speaking"), (), lambda e: "user started speaking"
                            + (" over the agent" if e.payload.get("agent_speaking") else "")),
    ev.VOICE_MAYBE: Schema(("state", "vad_prob", "held_ms"), ("state",),
                           lambda e: "maybe the user over the agent: voice paused" if e.payload.get("state") != "end"
                           else f"not the user: voice resumed after {e.payload.get('held_ms', '?')} ms"),
    ev.SPEECH_FRAGMENT: Schema(("partial", "decode_ms"), (), lambda e: f"heard so far {_quote(e)}"),
    ev.SPEECH_END: Schema(_UTTERANCE, (), _speech_end),
    ev.INTERRUPT: Schema(("reason", "onset_ns"), (), lambda e: f"user interrupts the agent {_quote(e)}"),
    ev.BACKCHANNEL: Schema(_UTTERANCE, (), lambda e: f"user backchannel {_quote(e)}"),
    ev.SILENCE: Schema(("seconds",), (), lambda e: f"silence for {e.payload.get('seconds', '?')} s"),
    ev.NOISE: Schema(_UTTERANCE + _ACOUSTIC, (), lambda e: f"noise {e.text or e.payload.get('state', '')}".strip()),
    ev.MUSIC: Schema(_ACOUSTIC, (), lambda e: f"music {e.payload.get('state', '')}".strip()),
    ev.LAUGH: Schema(_ACOUSTIC, (), lambda e: f"laughter {e.payload.get('state', '')}".strip()),
    ev.OBJECT_SEEN: Schema(("name", "color", "bbox", "centroid", "area", "mean_rgb", "image_size", "position", "frame",
                            "track_id", "reason", "moved_from"), ("name",),
                           lambda e: f"sees {e.payload.get('name', e.text)}"
                           + (f" ({e.payload['reason']})" if e.payload.get("reason") else "")),
    ev.SCENE_CHANGE: Schema(("kind", "objects") + _REGIONS, (), lambda e: f"scene: {e.text}"),
    ev.UI_CHANGE: Schema(_REGIONS, (), lambda e: f"screen: {e.text}"),
    ev.AGENT_SPEECH_START: Schema(("utterance_id", "engine", "follow_on"), (),
                                  lambda e: f"agent starts saying {_quote(e)}"),
    ev.AGENT_SPEECH_END: Schema(("utterance_id", "engine", "interrupted", "completed", "audio_ms", "paused_ms",
                                 "gap_samples", "spoken_text"), (), _agent_end),
    ev.ACTION_FEEDBACK: Schema(("goal_id", "progress", "pointer"), ("goal_id",), _feedback),
    ev.ACTION_RESULT: Schema(("goal_id", "action", "success", "canceled", "instruction"), ("goal_id", "success"),
                             _result),
    ev.ERROR: Schema((), (), lambda e: f"error: {e.text}", open=True),
    ev.TURN_DONE: Schema(("outcome", "actions", "success", "understood"), ("outcome",), _turn_done),
    ev.FORGET: Schema(("user",), ("user",), lambda e: f"forget {e.payload.get('user', '?')}"),
    ev.VOICE: Schema(("embedding", "seconds", "model"), (), lambda e: f"voice print ({e.payload.get('model', '?')}, "
                     f"{e.payload.get('seconds', '?')} s)"),
    ev.USER_IDENTIFIED: Schema(("user", "how", "score"), ("user",),
                               lambda e: f"this is {e.payload.get('user', '?')} (by {e.payload.get('how', '?')})"),
    ev.SKILL_LEARNED: Schema(("skill",), ("skill",), lambda e: f"learned a skill: {e.text}"),
    ev.SKILL_OUTCOME: Schema(("name", "ok", "steps_done", "model_calls", "reason"), ("name", "ok"),
                             lambda e: f"skill {e.payload.get('name', '?')} "
                             f"{'done' if e.payload.get('ok') else 'failed'}: {e.payload.get('reason', '')}".rstrip(": ")),
    ev.GENERATION: Schema(("model", "force", "prompt", "grammar", "raw", "tokens", "ms", "ended"),
                          ("model", "prompt", "raw", "ended"),
                          lambda e: f"generation by {e.payload.get('model', '?')}: {e.payload.get('tokens', '?')} pieces "
                          f"in {e.payload.get('ms', '?')} ms, {e.payload.get('ended', '?')}"),
}


def render(e: EventRec) -> str:
    """The event in one line; an unknown type as its type and text."""
    schema = SCHEMAS.get(e.type)
    if schema is None:
        return f"{e.type or '(no type)'}: {e.text}".rstrip(": ")
    try:
        return schema.render(e)
    except (TypeError, ValueError, KeyError, AttributeError):  # a payload of the wrong shape still shows
        return f"{e.type}: {e.text}".rstrip(": ")


def payload_problems(e: EventRec) -> list[str]:
    """Where ``e``'s payload departs from its type's schema (unknown types: none to check)."""
    schema = SCHEMAS.get(e.type)
    if schema is None:
        return []
    out = [e.payload_error] if e.payload_error else []
    out += [f"{e.type}: missing payload key {k!r}" for k in schema.required if k not in e.payload]
    if not schema.open:
        out += [f"{e.type}: payload key {k!r} not in its schema" for k in e.payload if k not in schema.keys]
    return out
