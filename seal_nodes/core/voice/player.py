"""The voice's goal queue and player thread: goals play one after another on one timeline.

ROS-free: the tts node hands goals in (``submit``, ``cancel``, ``control``, ``interrupt``) and
answers them, publishes chunks and reports through ``PlayerCallbacks``.

- A goal submitted while another plays is queued and synthesised at once, so it starts on the
  sample where the previous one ends (``gap_samples`` in the ``agent_speech_end`` payload).
  With ``carry_prosody`` it continues the emotion/speed/style its predecessor's tags left.
- ``cancel`` stops one goal before its next chunk (or before it starts); the goals queued
  behind it still play. Its result carries the words that were actually played.
- ``pause`` holds the voice and the queue before the next chunk, ``resume`` goes on from the
  same sample; a pause nobody resolves ends after ``pause_timeout_s`` (checked by ``tick``).
- ``interrupt`` stops the playing goal and every queued one.
- ``reflex_pause``: perception heard what may be the user's onset; the voice pauses at once,
  ahead of the thinker's own ``pause`` (which owns the hold from then on: its ``resume`` or
  ``cancel`` ends it). A reflex pause no control follows within ``reflex_hold_s`` resumes
  (``tick``): the thinker did not take the voice as its own, or did not hear the onset.
- Goals that wait (queued, paused, or between words) repeat their feedback every
  ``heartbeat_s`` (``tick``), so a client watching for a silent server knows this one is alive.
- ``fault_delay_ms`` (a fault injected on purpose, default 0): each utterance's synthesis starts
  that late, so its first audio is late by as much (the slow voice ``seal diagnose`` is tested on).
"""
from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from seal_nodes.core import events as ev
from seal_nodes.core.audio.frames import AudioFrame
from seal_nodes.core.voice.speech_tags import ProsodyState
from seal_nodes.core.voice.stream import CHUNK_MS, SpeakResult, SpeechStream, SpeechSynthesizer

HEARTBEAT_S = 1.0
# A reflex pause waits this long for the thinker's pause or resume: well past a busy
# thinker's answer, short enough that a voice it does not own only hiccups.
REFLEX_HOLD_S = 1.0
# An interrupt stamped this long before the playing goal started cannot be about it.
INTERRUPT_SLACK_NS = 50_000_000
# A queued goal joins the previous one's timeline unless that audio ended longer ago than this.
JOIN_SLACK_NS = 1_000_000
# The injected slow voice (``fault_delay_ms``) is bounded: a fault to diagnose, never a way to mute the voice.
MAX_FAULT_DELAY_MS = 10_000.0


def check_fault_delay(value: object) -> tuple[float, str]:
    """The ``fault_delay_ms`` setting as milliseconds, and why it was changed ("" where it was not)."""
    try:
        ms = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0, f"fault_delay_ms {value!r} is not a number; using 0 (no delay)"
    if not 0.0 <= ms <= MAX_FAULT_DELAY_MS:  # NaN too
        bounded = min(max(ms, 0.0), MAX_FAULT_DELAY_MS) if ms == ms else 0.0
        return bounded, f"fault_delay_ms {value!r} is outside 0..{MAX_FAULT_DELAY_MS:.0f}; using {bounded:.0f}"
    return ms, ""


@dataclass
class QueuedGoal:
    """One accepted goal, from ``submit`` until the ``finish`` callback."""

    key: Hashable
    stream: SpeechStream
    text: str
    utterance_id: str
    handle: Any  # what the adapter needs to answer the goal (opaque here)
    queued_ns: int  # monotonic time it joined the queue
    reason: str = ""  # why it was stopped other than by a cancel request ("interrupt", "shutdown")
    payload: dict[str, Any] = field(default_factory=dict)  # common to its agent_speech events
    said: str = ""  # spoken text last sent as feedback
    fed_at: float = 0.0  # monotonic time of the last feedback

    @property
    def trace_id(self) -> str:
        return self.stream.trace_id


@dataclass(frozen=True)
class GoalOutcome:
    result: SpeakResult
    message: str  # warnings, engine error and what stopped it
    cancel_requested: bool  # a cancel request reached this goal (else an interruption is an abort)


@dataclass(frozen=True)
class PlayerCallbacks:
    """What the player needs from its host. ``chunk``, ``event`` and ``finish`` are called on the
    player thread, ``feedback`` there and from ``tick``, ``error`` from any of the player's methods."""

    chunk: Callable[[AudioFrame], None]  # publish one chunk (at most one chunk before its play-out)
    feedback: Callable[[QueuedGoal, str, float], None]  # spoken text so far, progress 0..1
    finish: Callable[[QueuedGoal, GoalOutcome], None]  # answer the goal; once per submitted goal
    event: Callable[[ev.Event], None]  # agent_speech_start / agent_speech_end
    error: Callable[..., None]  # error(text, trace_id="", payload=None): a bad input or failure report


# perception's voice_maybe payload is a few fields: anything longer is not one
MAX_ONSET_PAYLOAD_CHARS = 1024


def is_possible_onset(event_type: str, payload_json: str) -> bool:
    """Perception's word that the user may be starting to talk: a ``speech_start``, or a
    ``voice_maybe`` that opens (state ``start``). A malformed payload is no onset."""
    if event_type == ev.SPEECH_START:
        return True
    if event_type != ev.VOICE_MAYBE or len(payload_json) > MAX_ONSET_PAYLOAD_CHARS:
        return False
    try:
        return ev.Event.parse_payload(payload_json).get("state") == "start"
    except ValueError:
        return False


class SpeechPlayer:
    """The queue of accepted goals and the thread that plays them; ``start`` once, ``close`` at the end."""

    def __init__(self, synth: SpeechSynthesizer, callbacks: PlayerCallbacks, *, engine: str = "",
                 carry_prosody: bool = True, pause_timeout_s: float = 10.0, lead_ms: float = 10.0,
                 chunk_ms: int = CHUNK_MS,
                 heartbeat_s: float = HEARTBEAT_S, paced: bool = True, fault_delay_ms: float = 0.0,
                 reflex_hold_s: float = REFLEX_HOLD_S) -> None:
        """``fault_delay_ms``: each utterance's synthesis starts this late (an injected slow voice)."""
        self.synth = synth
        self.out = callbacks
        self.engine = engine
        self.carry_prosody = carry_prosody
        self.pause_timeout_s = pause_timeout_s
        self.reflex_hold_s = reflex_hold_s
        self.lead_ms = lead_ms  # how early a chunk leaves before its play-out time
        self.chunk_ms = chunk_ms
        self.heartbeat_s = heartbeat_s
        self.paced = paced  # False: chunks leave as fast as they are synthesised
        self.fault_delay_ms = fault_delay_ms
        self._lock = threading.Condition()
        self._queue: collections.deque[QueuedGoal] = collections.deque()  # accepted, not yet playing
        self._current: QueuedGoal | None = None
        self._goals: dict[Hashable, QueuedGoal] = {}
        self._cancelled: set[Hashable] = set()  # cancel requests (possibly before the goal is submitted)
        self._paused_since = 0.0  # monotonic; 0 = not paused
        self._reflex_since = 0.0  # monotonic; a reflex pause no control has taken over yet
        self._closing = False
        # Ended goals whose synthesis thread was still running: joined at close, so no thread is
        # inside the engine (native code) when the interpreter exits.
        self._draining: list[SpeechStream] = []
        self._last_state = ProsodyState()  # what the last submitted goal's tags left
        self._playing_since_ns = 0  # wall time the current goal started playing
        self._thread = threading.Thread(target=self._play_loop, name="tts-player", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def paused(self) -> bool:
        return bool(self._paused_since)

    # --- goals in ---------------------------------------------------------------------------
    def submit(self, key: Hashable, text: str, *, trace_id: str = "", utterance_id: str = "",
               handle: Any = None) -> QueuedGoal:
        """Queue a goal and start synthesising it; raises ValueError (reported, nothing queued)
        for text that cannot be spoken."""
        with self._lock:
            follow_on = self._current is not None or bool(self._queue)
            prosody = self._last_state if self.carry_prosody and follow_on else None
        try:
            stream = SpeechStream(text, self.synth, trace_id=trace_id, prosody=prosody, chunk_ms=self.chunk_ms,
                                  on_progress=lambda said: self._feedback(key, said), delay_ms=self.fault_delay_ms)
        except ValueError as exc:
            self.out.error(f"Speak goal rejected: {exc}", trace_id, payload={"utterance_id": utterance_id})
            with self._lock:
                self._cancelled.discard(key)
            raise
        for warning in stream.warnings:
            self.out.error(f"speech tag: {warning}", trace_id,
                           payload={"severity": "warning", "utterance_id": utterance_id})
        goal = QueuedGoal(key, stream, text, utterance_id, handle, time.monotonic_ns(), fed_at=time.monotonic())
        with self._lock:
            self._last_state = stream.parsed.final_state
            self._goals[key] = goal
            if key in self._cancelled:
                stream.cancel()  # the cancel came first: nothing plays
            if self._closing:
                goal.reason = "shutdown"
                stream.cancel()
            stream.start()  # synthesis begins now, while earlier goals still play
            self._queue.append(goal)
            self._lock.notify_all()
        return goal

    def cancel(self, key: Hashable) -> None:
        """A cancel request: the goal stops before its next chunk, or never starts."""
        with self._lock:
            self._cancelled.add(key)
            goal = self._goals.get(key)
        if goal is not None:
            goal.stream.cancel()

    # --- control ----------------------------------------------------------------------------
    def control(self, command: str) -> bool:
        """``pause`` or ``resume`` (any case, spaces ignored); False for anything else."""
        cmd = command.strip().lower()
        if cmd not in ("pause", "resume"):
            return False
        self.set_paused(cmd == "pause")  # a reflex pause is the controller's now
        return True

    def reflex_pause(self) -> bool:
        """Pause the playing goal now, before the controller's pause arrives (a user's possible
        onset); True if it paused. Nothing playing, or already paused: nothing to do."""
        return self.set_paused(True, reflex=True)

    def set_paused(self, paused: bool, *, reflex: bool = False) -> bool:
        """Pause or resume; True if this call started a pause. A controller's call (``reflex``
        false) makes any pause its own; a reflex starts one only on a goal that plays."""
        with self._lock:
            current = self._current
            started = paused and not self._paused_since and (current is not None or not reflex)
            if reflex and not started:
                return False
            self._reflex_since = 0.0
            if started:
                self._paused_since = time.monotonic()
                self._reflex_since = self._paused_since if reflex else 0.0
            elif not paused:
                self._paused_since = 0.0
            self._lock.notify_all()
        if current is not None:
            current.stream.pause() if paused else current.stream.resume()
        return started

    def interrupt(self, stamp_ns: int) -> int:
        """Stop the playing goal and the queued ones (a pause ends too); returns how many.

        ``stamp_ns``: wall time of the interruption; one from before the playing goal started
        cannot be about it and stops nothing.
        """
        with self._lock:
            current = self._current
            if current is None or stamp_ns < self._playing_since_ns - INTERRUPT_SLACK_NS:
                return 0
            goals = [current, *self._queue]
            for goal in goals:
                goal.reason = "interrupt"
                goal.stream.cancel()
            self._paused_since = self._reflex_since = 0.0
        return len(goals)

    def tick(self) -> None:
        """Call periodically (twice a second): heartbeat feedback, the pause timeout and the reflex
        pause's wait for a controller."""
        now = time.monotonic()
        with self._lock:
            quiet = [(key, g) for key, g in self._goals.items() if now - g.fed_at > self.heartbeat_s]
            stale = self._paused_since and self.pause_timeout_s > 0 and now - self._paused_since > self.pause_timeout_s
            unowned = self._reflex_since and now - self._reflex_since > self.reflex_hold_s
        for key, goal in quiet:
            self._feedback(key, goal.said)
        if unowned:
            self.out.error(f"tts: no pause or resume followed the reflex pause in {self.reflex_hold_s:.1f} s; "
                           "resuming", payload={"severity": "warning"})
            self.set_paused(False)
            return
        if stale:
            self.out.error(f"tts: paused for {self.pause_timeout_s:.0f} s without resume or cancel; resuming")
            self.set_paused(False)

    def close(self, timeout: float = 2.0) -> None:
        """Shutdown: stop every goal before the next chunk, then the player thread."""
        with self._lock:
            self._closing = True
            goals = ([self._current] if self._current else []) + list(self._queue)
            for goal in goals:
                goal.reason = "shutdown"
                goal.stream.cancel()
            self._lock.notify_all()
        deadline = time.monotonic() + timeout
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._lock:
            streams, self._draining = [g.stream for g in goals] + self._draining, []
        for stream in streams:  # cancelled above: each ends at its engine's next block
            stream.close(max(0.0, deadline - time.monotonic()))

    # --- playback ---------------------------------------------------------------------------
    def _feedback(self, key: Hashable, said: str) -> None:
        with self._lock:
            goal = self._goals.get(key)
        if goal is None:
            return
        goal.said, goal.fed_at = said, time.monotonic()
        total = len(goal.stream.parsed.clean_text)
        self.out.feedback(goal, said, min(1.0, len(said) / total) if total else 1.0)

    def _next(self) -> QueuedGoal | None:
        """Wait for the next goal and make it current; None once closing with nothing left."""
        with self._lock:
            while not self._queue and not self._closing:
                self._lock.wait()
            if not self._queue:
                return None
            goal = self._queue.popleft()
            self._current = goal
            if self._paused_since:
                goal.stream.pause()  # a pause holds the queue too
            self._playing_since_ns = ev.now_ns()
            return goal

    def _play_loop(self) -> None:
        end_ns: int | None = None  # monotonic time at which the last played audio ends
        while (goal := self._next()) is not None:
            follow_on = end_ns is not None and goal.queued_ns <= end_ns and end_ns > time.monotonic_ns() - JOIN_SLACK_NS
            try:
                result = self._play(goal, end_ns if follow_on else None)
            except Exception as exc:  # noqa: BLE001 - a failed utterance must not stop the voice
                self.out.error(f"tts: playback failed: {exc}", goal.trace_id)
                result = SpeakResult(False, True, "", [], 0.0, None, error=str(exc))
            with self._lock:
                self._current = None
            if result.end_playout_ns is not None:
                end_ns = result.end_playout_ns
            self._finish(goal, result, follow_on)

    def _play(self, goal: QueuedGoal, start_at: int | None) -> SpeakResult:
        goal.payload = {"utterance_id": goal.utterance_id, "engine": self.engine}
        self.out.event(ev.Event(ev.AGENT_SPEECH_START, ev.now_ns(), text=goal.text, trace_id=goal.trace_id,
                                payload={**goal.payload, "follow_on": start_at is not None}))
        return goal.stream.run(self.out.chunk, start_at=start_at, lead_ms=self.lead_ms, paced=self.paced)

    def _finish(self, goal: QueuedGoal, result: SpeakResult, follow_on: bool) -> None:
        released = goal.stream.close(timeout=0)
        with self._lock:
            self._draining = [s for s in self._draining if s.synthesizing] + ([] if released else [goal.stream])
        if result.error:
            self.out.error(f"tts: synthesis failed mid-utterance: {result.error}", goal.trace_id)
        with self._lock:
            self._goals.pop(goal.key, None)
            cancel_requested = goal.key in self._cancelled
            self._cancelled.discard(goal.key)
        payload = {**goal.payload, "interrupted": result.interrupted, "completed": result.completed,
                   "audio_ms": round(result.audio_ms, 1), "paused_ms": round(result.paused_ms, 1)}
        if follow_on and result.gap_samples is not None:
            payload["gap_samples"] = result.gap_samples
        if goal.reason:
            payload["stopped_by"] = goal.reason
        self.out.event(ev.Event(ev.AGENT_SPEECH_END, ev.now_ns(), text=result.spoken_text,
                                trace_id=goal.trace_id, payload=payload))
        message = "; ".join(result.warnings + ([f"engine error: {result.error}"] if result.error else []) +
                            ([f"stopped by {goal.reason}"] if goal.reason else []))
        self.out.finish(goal, GoalOutcome(result, message, cancel_requested))
