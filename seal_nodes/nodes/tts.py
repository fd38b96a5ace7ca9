"""tts: the Speak action server. Text (with the talk's control tags) → /audio/speaker chunks.

Audio leaves in 20 ms AudioChunks at real-time pace, each stamped with its play-out time; the
last chunk of an utterance is as long as its audio (no padding), so utterances join exactly.

- Voices (``engine``): ``piper`` (default; the joe voice, natural) or ``espeak`` (libespeak-ng,
  the lowest latency; ``voice`` and ``rate_wpm`` apply to it). A piper that cannot load falls
  back to espeak-ng with an ``error`` event.
- Goals play one after another on one timeline. A goal accepted while another plays is queued
  and synthesised at once, so it starts on the sample where the previous one ends (the gap, in
  samples, is in the ``agent_speech_start`` payload). Cancelling a goal never cancels the ones
  queued behind it. With ``carry_prosody`` a queued goal continues the emotion/speed/style its
  predecessor's tags left.
- A cancelled goal stops before the next chunk; its result carries the words that were
  actually played (word timings, not a guess).
- ``/tts/control`` (std_msgs/String): ``pause`` holds the voice before the next chunk (the goal
  stays active), ``resume`` goes on from the same sample; a cancel while paused ends the goal
  truthfully; a pause nobody resolves ends after ``pause_timeout_s`` (resumed, with an ``error``).
- An ``interrupt`` event on /seal/events (``stop_on_interrupt``) stops the playing goal and the
  queued ones at once (aborted, ``interrupted``, truthful ``spoken_text``).

``agent_speech_start`` / ``agent_speech_end`` events go to /seal/events; bad goals (empty,
too long, not UTF-8, only tags) are aborted with the reason and reported as ``error`` events;
unknown tags are dropped and reported the same way.
"""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

from seal_nodes.nodes.common import AUDIO_QOS, EVENT_QOS, EVENTS_TOPIC, SealNode, frame_to_msg, run, stamp_to_ns

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.task import Future
from seal_interfaces.action import Speak
from seal_interfaces.msg import AudioChunk, Event
from std_msgs.msg import String

from seal_nodes.core import events as ev
from seal_nodes.core.voice.speech_tags import ProsodyState
from seal_nodes.core.voice.stream import SpeakResult, SpeechStream
from seal_nodes.core.voice.espeak import EspeakSynthesizer

CONTROL_TOPIC = "/tts/control"
CONTROL_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
ENGINES = ("piper", "espeak")
HEARTBEAT_S = 1.0


@dataclass
class _Entry:
    handle: object
    stream: SpeechStream
    future: Future
    queued_ns: int  # monotonic time it joined the queue
    reason: str = ""  # why it was stopped other than by a cancel request ("interrupt", "shutdown")
    payload: dict = field(default_factory=dict)
    said: str = ""  # spoken text last reported as feedback
    fed_at: float = 0.0  # monotonic time of the last feedback


class TtsNode(SealNode):
    def __init__(self) -> None:
        super().__init__("tts")
        engine = str(self.declare_parameter("engine", "piper").value).strip().lower()
        voice = str(self.declare_parameter("voice", "en-us").value)
        rate = int(self.declare_parameter("rate_wpm", 175).value)
        piper_model = str(self.declare_parameter("piper_model", "").value)
        threads = int(self.declare_parameter("threads", 1).value)
        self.carry_prosody = bool(self.declare_parameter("carry_prosody", True).value)
        self.stop_on_interrupt = bool(self.declare_parameter("stop_on_interrupt", True).value)
        self.pause_timeout_s = float(self.declare_parameter("pause_timeout_s", 10.0).value)
        # How early a chunk leaves before its play-out time (at most one chunk): what still plays
        # after a cancel is this lead plus the chunk already playing.
        self.lead_ms = min(max(float(self.declare_parameter("lead_ms", 10.0).value), 0.0), 20.0)
        if engine not in ENGINES:
            self.report_error(f"tts: unknown engine {engine!r} (known: {', '.join(ENGINES)}); using piper")
            engine = "piper"
        self.synth = None
        if engine == "piper":
            try:
                from seal_nodes.core.voice.piper import PiperSynthesizer

                self.synth = PiperSynthesizer(piper_model or None, threads=max(1, threads))
                desc = f"piper {self.synth.model_path.name} on {self.synth.provider}" + \
                    ("" if self.synth.has_durations else " (no duration output: piece-level word timing)")
            except Exception as exc:  # noqa: BLE001 - any load failure: the fallback voice, reported
                self.report_error(f"tts: piper voice failed to load ({exc}); falling back to espeak-ng")
                engine = "espeak"
        if self.synth is None:
            try:
                self.synth = EspeakSynthesizer(voice=voice, rate_wpm=rate)
            except ValueError as exc:
                self.report_error(f"tts: bad espeak-ng setting ({exc}); using en-us at 175 wpm")
                self.synth = EspeakSynthesizer()
            desc = f"espeak-ng voice={self.synth.voice} {self.synth.rate_wpm} wpm"
        self.engine = engine
        self.pub = self.create_publisher(AudioChunk, "/audio/speaker", AUDIO_QOS)
        self.lock = threading.Condition()
        self.queue: collections.deque[_Entry] = collections.deque()  # accepted, not yet playing
        self.current: _Entry | None = None
        self.entries: dict[bytes, _Entry] = {}
        self.cancelled: set[bytes] = set()  # cancel requests (possibly before the goal's entry exists)
        self.paused_since = 0.0  # monotonic; 0 = not paused
        self.closing = False
        self.last_state = ProsodyState()  # what the last accepted goal's tags left
        self.playing_since_ns = 0  # wall time the current goal started playing
        # Reentrant: the async execute callback holds its group while it awaits playback, and
        # cancel requests must still be served meanwhile (even by a single-threaded executor).
        group = ReentrantCallbackGroup()
        self.server = ActionServer(
            self, Speak, "speak", execute_callback=self.execute, goal_callback=lambda _: GoalResponse.ACCEPT,
            cancel_callback=self.on_cancel, callback_group=group)
        self.create_subscription(String, CONTROL_TOPIC, self.on_control, CONTROL_QOS)
        self.create_subscription(Event, EVENTS_TOPIC, self.on_event, EVENT_QOS)
        self.create_timer(0.5, self.check_pause)
        self.player = threading.Thread(target=self.play_loop, name="tts-player", daemon=True)
        self.player.start()
        self.get_logger().info(f"tts ready: {desc}, {self.synth.sample_rate} Hz")

    # --- goals in ---------------------------------------------------------------------------
    def on_cancel(self, handle) -> CancelResponse:
        goal_id = bytes(handle.goal_id.uuid)
        with self.lock:
            self.cancelled.add(goal_id)
            entry = self.entries.get(goal_id)
        if entry is not None:
            entry.stream.cancel()  # takes effect before the next 20 ms chunk
        return CancelResponse.ACCEPT

    async def execute(self, handle) -> Speak.Result:
        goal = handle.request
        goal_id = bytes(handle.goal_id.uuid)
        with self.lock:
            follow_on = self.current is not None or bool(self.queue)
            prosody = self.last_state if self.carry_prosody and follow_on else None
        try:
            stream = SpeechStream(goal.text, self.synth, trace_id=goal.trace_id, prosody=prosody,
                                  on_progress=lambda said: self.feedback(goal_id, said))
        except ValueError as exc:
            self.report_error(f"Speak goal rejected: {exc}", goal.trace_id, utterance_id=goal.utterance_id)
            with self.lock:
                self.cancelled.discard(goal_id)
            handle.abort()
            return Speak.Result(completed=False, interrupted=False, spoken_text="", message=str(exc))
        for warning in stream.warnings:
            self.report_error(f"speech tag: {warning}", goal.trace_id, severity="warning",
                              utterance_id=goal.utterance_id)
        future: Future = Future(executor=self.executor)
        entry = _Entry(handle, stream, future, time.monotonic_ns(), fed_at=time.monotonic())
        with self.lock:
            self.last_state = stream.parsed.final_state
            self.entries[goal_id] = entry
            if goal_id in self.cancelled:
                stream.cancel()  # the cancel came first: nothing plays
            if self.closing:
                entry.reason = "shutdown"
                stream.cancel()
            stream.start()  # synthesis begins now, while earlier goals still play
            self.queue.append(entry)
            self.lock.notify_all()
        return await future

    def feedback(self, goal_id: bytes, said: str) -> None:
        with self.lock:
            entry = self.entries.get(goal_id)
        if entry is None:
            return
        entry.said, entry.fed_at = said, time.monotonic()
        total = len(entry.stream.parsed.clean_text)
        progress = min(1.0, len(said) / total) if total else 1.0
        try:
            entry.handle.publish_feedback(Speak.Feedback(spoken_text=said, progress=progress))
        except Exception as exc:  # noqa: BLE001 - the goal ended meanwhile (heartbeat race)
            self.get_logger().debug(f"feedback not sent: {exc}")

    def heartbeat(self) -> None:
        """Goals that wait (queued, paused, or between words) repeat their feedback every second,
        so a client that watches for a silent server knows this one is alive."""
        now = time.monotonic()
        with self.lock:
            quiet = [(gid, e) for gid, e in self.entries.items() if now - e.fed_at > HEARTBEAT_S]
        for goal_id, entry in quiet:
            self.feedback(goal_id, entry.said)

    # --- control ----------------------------------------------------------------------------
    def on_control(self, msg: String) -> None:
        cmd = msg.data.strip().lower()
        if cmd == "pause":
            self.set_paused(True)
        elif cmd == "resume":
            self.set_paused(False)
        else:
            self.report_error(f"tts: unknown {CONTROL_TOPIC} command {msg.data[:40]!r} (pause | resume)")

    def set_paused(self, paused: bool) -> None:
        with self.lock:
            if paused and not self.paused_since:
                self.paused_since = time.monotonic()
            elif not paused:
                self.paused_since = 0.0
            current = self.current
            self.lock.notify_all()
        if current is not None:
            current.stream.pause() if paused else current.stream.resume()

    def check_pause(self) -> None:
        self.heartbeat()
        with self.lock:
            stale = self.paused_since and self.pause_timeout_s > 0 and \
                time.monotonic() - self.paused_since > self.pause_timeout_s
        if stale:
            self.report_error(f"tts: paused for {self.pause_timeout_s:.0f} s without resume or cancel; resuming")
            self.set_paused(False)

    def on_event(self, msg: Event) -> None:
        if msg.type != ev.INTERRUPT or not self.stop_on_interrupt or msg.source == self.get_name():
            return
        with self.lock:
            current = self.current
            # an interrupt that happened before this utterance started cannot be about it
            if current is None or stamp_to_ns(msg.header.stamp) < self.playing_since_ns - 50_000_000:
                entries = []
            else:
                entries = [current, *self.queue]
            for entry in entries:
                entry.reason = "interrupt"
                entry.stream.cancel()
            if entries:
                self.paused_since = 0.0
        if entries:
            self.get_logger().info(f"interrupt event: stopped {len(entries)} utterance(s)")

    # --- playback ---------------------------------------------------------------------------
    def play_loop(self) -> None:
        end_ns: int | None = None  # monotonic time at which the last played audio ends
        while True:
            with self.lock:
                while not self.queue and not self.closing:
                    self.lock.wait()
                if not self.queue:
                    return
                entry = self.queue.popleft()
                self.current = entry
                if self.paused_since:
                    entry.stream.pause()  # a pause holds the queue too
                self.playing_since_ns = ev.now_ns()
            follow_on = end_ns is not None and entry.queued_ns <= end_ns and end_ns > time.monotonic_ns() - 1_000_000
            try:
                result = self.play(entry, end_ns if follow_on else None)
            except Exception as exc:  # noqa: BLE001 - a failed utterance must not stop the voice
                self.report_error(f"tts: playback failed: {exc}", entry.stream.trace_id)
                result = SpeakResult(False, True, "", [], 0.0, None, error=str(exc))
            with self.lock:
                self.current = None
            if result.end_playout_ns is not None:
                end_ns = result.end_playout_ns
            self.finish(entry, result, follow_on)

    def play(self, entry: _Entry, start_at: int | None) -> SpeakResult:
        goal = entry.handle.request
        payload = {"utterance_id": goal.utterance_id, "engine": self.engine}
        self.publish_event(ev.Event(ev.AGENT_SPEECH_START, ev.now_ns(), text=goal.text, trace_id=goal.trace_id,
                                    payload={**payload, "follow_on": start_at is not None}))
        entry.payload = payload
        return entry.stream.run(lambda frame: self.pub.publish(frame_to_msg(frame)), start_at=start_at,
                                lead_ms=self.lead_ms)

    def finish(self, entry: _Entry, result: SpeakResult, follow_on: bool) -> None:
        handle, goal = entry.handle, entry.handle.request
        goal_id = bytes(handle.goal_id.uuid)
        entry.stream.close(timeout=0)
        if result.error:
            self.report_error(f"tts: synthesis failed mid-utterance: {result.error}", goal.trace_id)
        with self.lock:
            self.entries.pop(goal_id, None)
            was_cancelled = goal_id in self.cancelled
            self.cancelled.discard(goal_id)
        payload = {**entry.payload, "interrupted": result.interrupted, "completed": result.completed,
                   "audio_ms": round(result.audio_ms, 1), "paused_ms": round(result.paused_ms, 1)}
        if follow_on and result.gap_samples is not None:
            payload["gap_samples"] = result.gap_samples
        if entry.reason:
            payload["stopped_by"] = entry.reason
        self.publish_event(ev.Event(ev.AGENT_SPEECH_END, ev.now_ns(), text=result.spoken_text,
                                    trace_id=goal.trace_id, payload=payload))
        message = "; ".join(result.warnings + ([f"engine error: {result.error}"] if result.error else []) +
                            ([f"stopped by {entry.reason}"] if entry.reason else []))
        msg = Speak.Result(completed=result.completed, interrupted=result.interrupted,
                           spoken_text=result.spoken_text, message=message)
        if result.interrupted and was_cancelled:
            deadline = time.monotonic() + 1.0  # the goal state follows the cancel callback shortly
            while not handle.is_cancel_requested and time.monotonic() < deadline:
                time.sleep(0.005)
        try:
            if result.interrupted and handle.is_cancel_requested:
                handle.canceled()
            elif result.interrupted:
                handle.abort()  # interrupt event, engine error or shutdown
            else:
                handle.succeed()
        except Exception as exc:  # noqa: BLE001 - e.g. the context is going away at shutdown
            self.get_logger().warning(f"could not set the goal state: {exc}")
        entry.future.set_result(msg)
        executor = self.executor
        if executor is not None:
            executor.wake()

    def close(self) -> None:
        """Shutdown: stop every utterance before the next chunk."""
        with self.lock:
            self.closing = True
            entries = ([self.current] if self.current else []) + list(self.queue)
            for entry in entries:
                entry.reason = "shutdown"
                entry.stream.cancel()
            self.lock.notify_all()
        self.player.join(timeout=2.0)


def main(args=None) -> None:
    run(TtsNode)


if __name__ == "__main__":
    main()
