"""The event-driven thinking loop (interactive ReAct), ROS-free.

``Thinker.handle(event)`` folds one event into the tagged context and returns the commands it
decided, in order: thoughts to publish, speech to say, actions to start, cancellations. The
node executes them; executor results come back as events (``agent_speech_end``,
``action_result``), so the loop is closed through the same door as perception.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Union

from seal_nodes.core import events as ev
from seal_nodes.core.actions import SYSTEM, Action, ActionError, instruction_for, validate
from seal_nodes.core.context import ACT, HINT, OBSERVE, SAY, THINK, USER, WAIT, Context, Segment
from seal_nodes.core.reasoning import ReasoningBackend, ReasoningInput, Trigger, parse_action


@dataclass
class Say:
    text: str
    utterance_id: str
    trace_id: str


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


Command = Union[Say, Act, CancelSpeech, PauseSpeech, ResumeSpeech, CancelActions, Publish, Report]


class Thinker:
    def __init__(
        self,
        backend: ReasoningBackend,
        known_objects: set[str],
        clock_ns: Callable[[], int] = ev.now_ns,
        keep_thought_turns: int = 2,
    ) -> None:
        self.backend = backend
        self.known_objects = set(known_objects)
        self.context = Context(keep_thought_turns=keep_thought_turns)
        self._clock = clock_ns
        self._t0 = clock_ns()
        self._ids = itertools.count(1)
        self.speaking: dict[str, Segment] = {}  # utterance_id → its <assistant> segment
        self.actions: dict[str, Segment] = {}  # goal_id → its <action> segment
        self.partial_text = ""
        self.held = False  # the voice is paused while perception decides: interruption or not?

    # --- the loop -------------------------------------------------------------------------
    def handle(self, event: ev.Event) -> list[Command]:
        """Fold one event in; never raises on bad events (they become Reports)."""
        if not isinstance(event.text, str) or not isinstance(event.payload, dict):
            return [Report(f"malformed {event.type} event: text must be a string, payload an object", event.trace_id)]
        handler = self._HANDLERS.get(event.type)
        if handler is None:
            if event.type in ev.KNOWN_TYPES:
                return []  # known but not acted on by this thinker (e.g. noise, scene_change)
            return [Report(f"unknown event type {event.type!r} ignored", event.trace_id)]
        try:
            return handler(self, event)
        except (KeyError, TypeError, ValueError) as exc:
            return [Report(f"bad {event.type} event: {exc}", event.trace_id)]

    def _on_speech_start(self, event: ev.Event) -> list[Command]:
        # The user starts talking over the agent: fall silent at once (the 100 ms barge-in
        # budget), but only *pause*: perception decides next whether it was a real
        # interruption (cancel) or an "uh-huh", a cough (resume where the voice stopped).
        if self.speaking and not self.held:
            self.held = True
            return [PauseSpeech("user onset")]
        return []

    def _on_interrupt(self, event: ev.Event) -> list[Command]:
        # A real interjection: stop the voice. What was really said comes back with
        # agent_speech_end and replaces what was meant.
        self.held = False
        if self.speaking:
            return [CancelSpeech("user interrupt")]
        return []

    def _on_not_a_turn(self, event: ev.Event) -> list[Command]:
        # backchannel, or a noise the VAD took for an onset: carry on speaking
        if self.held and (event.type == ev.BACKCHANNEL or event.payload.get("source") == "transient"):
            self.held = False
            return [ResumeSpeech(f"user {event.type}")]
        return []

    def _on_fragment(self, event: ev.Event) -> list[Command]:
        self.partial_text = event.text
        return []

    def _on_speech_end(self, event: ev.Event) -> list[Command]:
        self.partial_text = ""
        out: list[Command] = []
        if self.held:  # a turn perception did not flag as an interrupt still ends the voice
            out = self._on_interrupt(event)
        text = event.text.strip()
        if not text:
            return out + self._respond(Trigger("user", ""), event.trace_id, user_text=None)
        prev = self.context.last(USER)
        if prev is not None and prev.trace_id and prev.trace_id == event.payload.get("revises"):
            # the user only paused mid-sentence: the whole sentence replaces its first half
            prev.text = text
            out.append(Publish(prev, revised=True))
            return out + self._respond(Trigger("user", text), event.trace_id, user_text=None)
        return out + self._respond(Trigger("user", text), event.trace_id, user_text=text)

    def _on_silence(self, event: ev.Event) -> list[Command]:
        out = [self._append(Segment(HINT, event.text or "No voice for a while.", trace_id=event.trace_id))]
        return out

    def _on_object_seen(self, event: ev.Event) -> list[Command]:
        name = event.payload.get("name") or event.text
        if name:
            self.known_objects.add(str(name))
        return []

    def _on_agent_speech_end(self, event: ev.Event) -> list[Command]:
        p = event.payload
        seg = self.speaking.pop(str(p["utterance_id"]), None)
        if not self.speaking:
            self.held = False
        if seg is not None and p.get("interrupted"):
            # The talk: what the agent actually said before the barge-in replaces what it meant.
            seg.text = str(p.get("spoken_text", ""))
            seg.interrupted = True
            return [Publish(seg, revised=True)]
        return []

    def _on_action_feedback(self, event: ev.Event) -> list[Command]:
        return []  # progress is shown by the executor; the context only keeps outcomes

    def _on_action_result(self, event: ev.Event) -> list[Command]:
        p = event.payload
        goal_id = str(p["goal_id"])
        act = self.actions.pop(goal_id, None)
        action_text = act.text if act else str(p.get("action", ""))
        status = "succeeded" if p.get("success") else ("canceled" if p.get("canceled") else "failed")
        observed = Segment(OBSERVE, f"{action_text} {status}: {event.text}", trace_id=event.trace_id)
        out: list[Command] = [self._append(observed)]
        trig = Trigger("observation", event.text, {"action": action_text, "success": bool(p.get("success")),
                                                   "canceled": bool(p.get("canceled"))})
        return out + self._respond(trig, event.trace_id, user_text=None)

    _HANDLERS: dict[str, Callable[["Thinker", ev.Event], list[Command]]] = {
        ev.SPEECH_START: _on_speech_start,
        ev.INTERRUPT: _on_interrupt,
        ev.BACKCHANNEL: _on_not_a_turn,
        ev.NOISE: _on_not_a_turn,
        ev.SPEECH_FRAGMENT: _on_fragment,
        ev.SPEECH_END: _on_speech_end,
        ev.SILENCE: _on_silence,
        ev.OBJECT_SEEN: _on_object_seen,
        ev.AGENT_SPEECH_END: _on_agent_speech_end,
        ev.ACTION_FEEDBACK: _on_action_feedback,
        ev.ACTION_RESULT: _on_action_result,
    }

    # --- reasoning ------------------------------------------------------------------------
    def _respond(self, trigger: Trigger, trace_id: str, user_text: str | None) -> list[Command]:
        out: list[Command] = []
        if user_text is not None:
            out.append(self._append(Segment(USER, user_text, trace_id=trace_id)))
        request = ReasoningInput(self.context.render(), trigger, set(self.known_objects))
        try:
            for seg in self.backend.respond(request):
                out.extend(self._emit(seg, trace_id))
        except Exception as exc:  # a backend bug must not take the loop down
            out.append(Report(f"reasoning backend {self.backend.name!r} failed: {exc}", trace_id))
        return out

    def _emit(self, seg: Segment, trace_id: str) -> list[Command]:
        seg.trace_id = trace_id
        if seg.kind == SAY:
            if not seg.text.strip():
                return []
            uid = f"u{next(self._ids)}"
            self.speaking[uid] = seg
            return [self._append(seg), Say(seg.text, uid, trace_id)]
        if seg.kind == ACT:
            return self._act(seg, trace_id)
        if seg.kind in (THINK, WAIT):
            return [self._append(seg)]
        return [Report(f"backend emitted unsupported segment kind {seg.kind!r}", trace_id)]

    def _act(self, seg: Segment, trace_id: str) -> list[Command]:
        try:
            action = validate(parse_action(seg.text), self.known_objects)
        except (ActionError, ValueError) as exc:
            # Refused actions are never executed; the refusal goes into the context.
            refusal = self._append(Segment(OBSERVE, f"refused {seg.text}: {exc}", trace_id=trace_id))
            trig = Trigger("refusal", str(exc), {"reason_for_user": _user_reason(exc)})
            out: list[Command] = [refusal, Report(f"action refused: {exc}", trace_id, {"action": seg.text})]
            try:  # the backend explains the refusal; it may not act again in the same breath
                request = ReasoningInput(self.context.render(), trig, set(self.known_objects))
                for follow in self.backend.respond(request):
                    if follow.kind != ACT:
                        out.extend(self._emit(follow, trace_id))
            except Exception as backend_exc:
                out.append(Report(f"reasoning backend {self.backend.name!r} failed: {backend_exc}", trace_id))
            return out
        if action.executor == SYSTEM:  # stop
            self.actions.clear()
            return [self._append(seg), CancelActions("user asked to stop"), CancelSpeech("user asked to stop")]
        goal_id = f"g{next(self._ids)}"
        self.actions[goal_id] = seg
        return [self._append(seg), Act(action, instruction_for(action), goal_id, trace_id)]

    # --- helpers ----------------------------------------------------------------------------
    def _t_ms(self) -> float:
        return (self._clock() - self._t0) / 1e6

    def _append(self, seg: Segment) -> Publish:
        seg.t_ms = self._t_ms()
        self.context.append(seg)
        return Publish(seg)

    def transcript(self) -> str:
        return self.context.render()


def _user_reason(exc: Exception) -> str:
    msg = str(exc)
    if msg.startswith("unknown object"):
        name = msg.split("'")[1] if "'" in msg else "that"
        return f"I don't see {name.replace('_', ' ')} here."
    return ""
