"""tts: the Speak action server. Text (with the talk's control tags) → /audio/speaker chunks.

Audio leaves in ``chunk_ms`` (10 ms) AudioChunks at real-time pace, ``lead_ms`` (10 ms) ahead,
each stamped with its play-out time; the last chunk of an utterance is as long as its audio (no
padding), so utterances join exactly.

- Voices (``engine``): ``piper`` (default; the joe voice, natural) or ``espeak`` (libespeak-ng,
  the lowest latency; ``voice`` and ``rate_wpm`` apply to it). A piper that cannot load falls
  back to espeak-ng with an ``error`` event.
- Goals play one after another on one timeline. A goal accepted while another plays is queued
  and synthesised at once, so it starts on the sample where the previous one ends (the gap, in
  samples, is in the ``agent_speech_end`` payload). Cancelling a goal never cancels the ones
  queued behind it. With ``carry_prosody`` a queued goal continues the emotion/speed/style its
  predecessor's tags left.
- A cancelled goal stops before the next chunk; its result carries the words that were
  actually played (word timings, not a guess).
- A goal that repeats another's utterance_id, trace_id and text is a copy, sent again by a client
  whose answer to the first was lost (see ``seal_nodes.core.thinking.goals``): it is answered
  with that utterance (its feedback and result; a cancel of either stops it) and never plays
  twice, also when it comes up to ``RECENT_S`` after the utterance ended.
- ``/tts/control`` (std_msgs/String): ``pause`` holds the voice before the next chunk (the goal
  stays active), ``resume`` goes on from the same sample; a cancel while paused ends the goal
  truthfully; a pause nobody resolves ends after ``pause_timeout_s`` (resumed, with an ``error``).
- An ``interrupt`` event on /seal/events (``stop_on_interrupt``) stops the playing goal and the
  queued ones at once (aborted, ``interrupted``, truthful ``spoken_text``).
- A ``voice_maybe`` (state ``start``) or ``speech_start`` event (``pause_reflex``) pauses the
  playing goal at once, ahead of the thinker's ``pause`` on /tts/control, which then owns the
  hold; one no control follows within ``REFLEX_HOLD_S`` resumes (``SpeechPlayer.reflex_pause``).
- ``fault_delay_ms`` (default 0, at most 10000): a fault injected on purpose, every utterance's
  synthesis starts that late (a slow voice for ``seal diagnose``; launch argument
  ``fault_tts_delay_ms`` of ``launch/sim.launch.yaml``).

``agent_speech_start`` / ``agent_speech_end`` events go to /seal/events; bad goals (empty,
too long, not UTF-8, only tags) are aborted with the reason and reported as ``error`` events;
unknown tags are dropped and reported the same way.

The queue, the player thread and the pause/cancel/interrupt semantics live in
``seal_nodes.core.voice.player``; this node is their rclpy plumbing.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from seal_nodes.nodes.common import SealNode, frame_to_msg, publisher, run, stamp_to_ns, subscription

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.task import Future
from rcl_interfaces.msg import ParameterDescriptor
from seal_interfaces.action import Speak
from seal_interfaces.msg import Event
from std_msgs.msg import String

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.bounds import MAX_CONTROL_CHARS, MAX_SPEAK_CHARS, check_goal_text, check_ids, check_text
from seal_nodes.core.voice.espeak import EspeakSynthesizer
from seal_nodes.core.voice.piper import OPENERS
from seal_nodes.core.voice.player import (GoalOutcome, PlayerCallbacks, QueuedGoal, SpeechPlayer, check_fault_delay,
                                         is_possible_onset)
from seal_nodes.core.voice.stream import SpeechSynthesizer

ENGINES = ("piper", "espeak")
# Finished utterances remembered to answer a late copy of their goal: longer than a client
# goes on sending copies (its silence budget), and bounded in number.
RECENT_UTTERANCES = 64
RECENT_S = 10.0


@dataclass
class Utterance:
    """The Speak goals one utterance answers: the one that plays it, and its copies."""

    key: bytes  # the player's key: the first goal's id
    same: tuple[str, str, str] | None  # what its copies repeat (copy_key)
    goals: list[tuple[Any, Future]]  # (ServerGoalHandle, the result its execute callback awaits)


def copy_key(goal: Speak.Goal) -> tuple[str, str, str] | None:
    """What a copy of ``goal`` repeats; None for a goal without an utterance_id (never a copy)."""
    return (goal.utterance_id, goal.trace_id, goal.text) if goal.utterance_id else None


class TtsNode(SealNode):
    def __init__(self) -> None:
        super().__init__("tts")
        engine = str(self.declare_parameter("engine", "piper").value).strip().lower()
        voice = str(self.declare_parameter("voice", "en-us").value)
        rate = int(self.declare_parameter("rate_wpm", 175).value)
        piper_model = str(self.declare_parameter("piper_model", "").value)
        threads = int(self.declare_parameter("threads", 1).value)
        # Short pieces kept once synthesized (0: none), and the openers synthesized at start.
        cache = min(max(int(self.declare_parameter("piece_cache", 64).value), 0), 4096)
        warm = [w.strip() for w in str(self.declare_parameter("warm_phrases", "|".join(OPENERS)).value).split("|")
                if w.strip()]
        carry_prosody = bool(self.declare_parameter("carry_prosody", True).value)
        self.stop_on_interrupt = bool(self.declare_parameter("stop_on_interrupt", True).value)
        self.pause_reflex = bool(self.declare_parameter("pause_reflex", True).value)
        pause_timeout_s = float(self.declare_parameter("pause_timeout_s", 10.0).value)
        # What still plays after a pause or a cancel is the lead (how early a chunk leaves before
        # its play-out time, at most one chunk) plus the chunk already playing: 10 ms chunks halve
        # the second. A shorter lead stutters on a busy machine (docs/benchmarks.md).
        chunk_ms = min(max(int(self.declare_parameter("chunk_ms", 10).value), 5), 40)
        lead_ms = min(max(float(self.declare_parameter("lead_ms", 10.0).value), 0.0), float(chunk_ms))
        # An injected fault (a slow voice): each utterance's synthesis starts this late. Any number type.
        delay_ms, why = check_fault_delay(self.declare_parameter(
            "fault_delay_ms", 0.0, ParameterDescriptor(dynamic_typing=True)).value)
        if why:
            self.report_error(f"tts: {why}")
        if engine not in ENGINES:
            self.report_error(f"tts: unknown engine {engine!r} (known: {', '.join(ENGINES)}); using piper")
            engine = "piper"
        self.engine, self.synth, desc = self.load_voice(engine, voice, rate, piper_model, threads,
                                                         cache, warm if cache else [])
        self.pub = publisher(self, topics.SPEAKER)
        self.player = SpeechPlayer(
            self.synth, PlayerCallbacks(chunk=lambda frame: self.pub.publish(frame_to_msg(frame)),
                                        feedback=self.feedback, finish=self.finish, event=self.publish_event,
                                        error=self.report_error),
            engine=self.engine, carry_prosody=carry_prosody, pause_timeout_s=pause_timeout_s, lead_ms=lead_ms,
            chunk_ms=chunk_ms,
            fault_delay_ms=delay_ms)
        self.lock = threading.Lock()  # the utterances are answered from the player thread
        self.utterances: dict[tuple[str, str, str], Utterance] = {}  # copy key → queued or playing
        self.copies: dict[bytes, bytes] = {}  # a copy's goal id → its utterance's player key
        self.recent: OrderedDict[tuple[str, str, str], tuple[float, Speak.Result]] = OrderedDict()
        # Reentrant: the async execute callback holds its group while it awaits playback, and
        # cancel requests must still be served meanwhile (even by a single-threaded executor).
        group = ReentrantCallbackGroup()
        self.server = ActionServer(
            self, Speak, topics.SPEAK.name, execute_callback=self.execute, goal_callback=self.on_goal,
            cancel_callback=self.on_cancel, callback_group=group)
        subscription(self, topics.TTS_CONTROL, self.on_control)
        subscription(self, topics.EVENTS, self.on_event)
        self.create_timer(0.5, self.player.tick)
        self.player.start()
        self.get_logger().info(f"tts ready: {desc}, {self.synth.sample_rate} Hz")
        if delay_ms:
            self.get_logger().warning(f"fault injected: every utterance's synthesis starts {delay_ms:.0f} ms late")

    def load_voice(self, engine: str, voice: str, rate: int, piper_model: str, threads: int,
                   cache: int = 0, warm: list[str] | None = None) -> tuple[str, SpeechSynthesizer, str]:
        """(engine, synthesizer, description); a piper that cannot load falls back to espeak-ng.
        ``cache``/``warm``: piper's kept pieces and the phrases it synthesizes at start."""
        if engine == "piper":
            try:
                from seal_nodes.core.voice.piper import PiperSynthesizer

                piper = PiperSynthesizer(piper_model or None, threads=max(1, threads), cache_pieces=cache,
                                         warm_phrases=warm or ())
                desc = f"piper {piper.model_path.name} on {piper.provider}" + \
                    ("" if piper.has_durations else " (no duration output: piece-level word timing)")
                return engine, piper, desc
            except Exception as exc:  # noqa: BLE001 - any load failure: the fallback voice, reported
                self.report_error(f"tts: piper voice failed to load ({exc}); falling back to espeak-ng")
        try:
            espeak = EspeakSynthesizer(voice=voice, rate_wpm=rate)
        except ValueError as exc:
            self.report_error(f"tts: bad espeak-ng setting ({exc}); using en-us at 175 wpm")
            espeak = EspeakSynthesizer()
        return "espeak", espeak, f"espeak-ng voice={espeak.voice} {espeak.rate_wpm} wpm"

    # --- goals in ---------------------------------------------------------------------------
    def on_cancel(self, handle) -> CancelResponse:
        key = bytes(handle.goal_id.uuid)
        with self.lock:
            key = self.copies.get(key, key)
        self.player.cancel(key)  # takes effect before the next 20 ms chunk
        return CancelResponse.ACCEPT

    async def execute(self, handle) -> Speak.Result:
        goal, key = handle.request, bytes(handle.goal_id.uuid)
        future: Future = Future(executor=self.executor)
        same = copy_key(goal)
        mine = Utterance(key, same, [(handle, future)])
        with self.lock:
            playing = self.utterances.get(same) if same else None
            ended = self.recent.get(same) if same else None
            if ended is not None and time.monotonic() - ended[0] > RECENT_S:
                ended = None
            if playing is not None:  # a copy of a queued or playing goal: answered with it
                playing.goals.append((handle, future))
                self.copies[key] = playing.key
            elif same and ended is None:
                self.utterances[same] = mine
        if ended is not None:  # a copy of a goal that has ended: its result again
            result = ended[1]
            if result.completed:
                handle.succeed()
            else:
                handle.abort()
            return result
        if playing is not None:
            if handle.is_cancel_requested:  # its cancel came before it joined the utterance
                self.player.cancel(playing.key)
            return await future
        try:
            self.player.submit(key, goal.text, trace_id=goal.trace_id, utterance_id=goal.utterance_id, handle=mine)
        except ValueError as exc:
            with self.lock:
                self.utterances.pop(same, None)
            handle.abort()
            return Speak.Result(completed=False, interrupted=False, spoken_text="", message=str(exc))
        return await future

    def on_goal(self, goal: Speak.Goal) -> GoalResponse:
        reason = check_goal_text("text", goal.text, MAX_SPEAK_CHARS, goal.trace_id) or \
            check_ids(utterance_id=goal.utterance_id)
        if reason:
            self.refuse(f"{topics.SPEAK.name} goal", reason)
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    # --- control ----------------------------------------------------------------------------
    def on_control(self, msg: String) -> None:
        reason = check_text("data", msg.data, MAX_CONTROL_CHARS)
        if reason or not self.player.control(msg.data):
            self.refuse(topics.TTS_CONTROL.name, reason or f"unknown command {msg.data!r} (pause | resume)")

    def on_event(self, msg: Event) -> None:
        if msg.source == self.get_name():
            return
        if self.pause_reflex and is_possible_onset(msg.type, msg.payload_json):
            # the barge-in's first hop: the thinker's pause follows one hop and a decision later
            self.player.reflex_pause()
            return
        if msg.type != ev.INTERRUPT or not self.stop_on_interrupt:
            return
        stopped = self.player.interrupt(stamp_to_ns(msg.header.stamp))
        if stopped:
            self.get_logger().info(f"interrupt event: stopped {stopped} utterance(s)")

    # --- goals out (player thread) ----------------------------------------------------------
    def feedback(self, goal: QueuedGoal, spoken_text: str, progress: float) -> None:
        utterance: Utterance = goal.handle
        with self.lock:
            handles = [handle for handle, _ in utterance.goals]
        for handle in handles:
            try:
                handle.publish_feedback(Speak.Feedback(spoken_text=spoken_text, progress=progress))
            except Exception as exc:  # noqa: BLE001 - the goal ended meanwhile (heartbeat race)
                self.get_logger().debug(f"feedback not sent: {exc}")

    def finish(self, goal: QueuedGoal, outcome: GoalOutcome) -> None:
        utterance: Utterance = goal.handle
        result = outcome.result
        answer = Speak.Result(completed=result.completed, interrupted=result.interrupted,
                              spoken_text=result.spoken_text, message=outcome.message)
        same, now = utterance.same, time.monotonic()
        with self.lock:  # from here on a copy gets the recorded answer
            if same and self.utterances.get(same) is utterance:
                del self.utterances[same]
                self.recent[same] = (now, answer)
                while self.recent and (len(self.recent) > RECENT_UTTERANCES
                                       or now - next(iter(self.recent.values()))[0] > RECENT_S):
                    self.recent.popitem(last=False)
            goals = list(utterance.goals)
            for handle, _ in goals[1:]:
                self.copies.pop(bytes(handle.goal_id.uuid), None)
        if result.interrupted and outcome.cancel_requested:
            deadline = time.monotonic() + 1.0  # the goal state follows the cancel callback shortly
            while not any(h.is_cancel_requested for h, _ in goals) and time.monotonic() < deadline:
                time.sleep(0.005)
        for handle, future in goals:
            try:
                if result.interrupted and handle.is_cancel_requested:
                    handle.canceled()
                elif result.interrupted:
                    handle.abort()  # interrupt event, engine error, shutdown, or a copy's cancel
                else:
                    handle.succeed()
            except Exception as exc:  # noqa: BLE001 - e.g. the context is going away at shutdown
                self.get_logger().warning(f"could not set the goal state: {exc}")
            future.set_result(answer)
        executor = self.executor
        if executor is not None:
            executor.wake()

    def close(self) -> None:
        """Shutdown: stop every utterance before the next chunk."""
        self.player.close(timeout=2.0)


def main(args=None) -> None:
    run(TtsNode)


if __name__ == "__main__":
    main()
