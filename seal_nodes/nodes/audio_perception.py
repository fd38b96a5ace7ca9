"""audio_perception: /audio/mic (+ /audio/speaker as echo reference) → events on /seal/events.

Silero VAD, Whisper tiny.en partials and finals, echo cancelling, acoustic scene events, all
in ``AudioPerception``. Subscriptions only enqueue; one worker thread owns the core, so the
executor never blocks and no audio drops. Whisper decodes on a thread of its own (the core's
``decoder``): the worker goes on with echo cancelling, VAD, onsets and the barge-in pause while
a ~100 ms decode runs, and takes its result when the decoder wakes it. A chunk that cannot be
decoded is reported as an ``error`` event and dropped; the stream carries on. After each
``speech_end`` a ``voice`` event (the turn's speaker embedding, same trace id) follows from a
thread of its own (``VoiceEvents``; parameter ``speaker_embedding``, default on).

Topics: /audio/mic (in), /audio/speaker (in: the agent's voice), /perception/bias_words
(in, std_msgs/String, comma-separated words to expect), /seal/events (out).
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from seal_nodes.nodes.common import SealNode, msg_to_frame, run, subscription

from seal_nodes.core import topics
from seal_nodes.core.audio.frames import AudioFormatError, AudioFrame
from seal_nodes.core.audio.realtime import raise_thread_priority
from seal_nodes.core.bounds import MAX_BIAS_WORDS_CHARS, AudioBudget, check_audio_chunk, check_text
from seal_nodes.core.events import SPEECH_END, Event
from seal_nodes.core.perception.audio import (
    AudioPerception, AudioPerceptionConfig, SampleRateChanged,
)
from seal_nodes.core.perception.early_pause import EarlyPauseConfig
from seal_nodes.core.perception.echo.frontend import EchoConfig
from seal_nodes.core.perception.voice_events import VoiceEvents

# ~20 s of 20 ms chunks: a backlog this deep means the machine cannot keep up at all.
MAX_BACKLOG = 1000
# how long a microphone frame may wait for the loudspeaker audio its echo comes from
MAX_REF_WAIT_S = 0.05


class AudioPerceptionNode(SealNode):
    def __init__(self) -> None:
        super().__init__("audio_perception")
        d = AudioPerceptionConfig()
        p = self.declare_parameter
        cfg = AudioPerceptionConfig(
            vad_threshold=float(p("vad_threshold", d.vad_threshold).value),
            vad_release=float(p("vad_release", d.vad_release).value),
            min_speech_ms=int(p("min_speech_ms", d.min_speech_ms).value),
            eot_probe_ms=int(p("eot_probe_ms", d.eot_probe_ms).value),
            end_silence_ms=int(p("end_silence_ms", d.end_silence_ms).value),
            interrupt_after_ms=int(p("interrupt_after_ms", d.interrupt_after_ms).value),
            silence_hint_s=float(p("silence_hint_s", d.silence_hint_s).value),
            echo=EchoConfig(enabled=bool(p("echo_cancel", True).value), doubletalk=bool(p("doubletalk", True).value)),
            # voice_maybe: the agent's voice pauses on the first window that may be the user
            early_pause=EarlyPauseConfig(enabled=bool(p("early_pause", True).value),
                                         threshold=float(p("early_pause_threshold", EarlyPauseConfig.threshold).value),
                                         by_level=bool(p("early_pause_level", True).value)),
            bias_words=[w for w in p("bias_words", ["red cube", "green cube", "blue cube", "bin"]).value if w],
            n_best=int(p("n_best", d.n_best).value),
        )
        self._inbox: queue.Queue[tuple[str, object]] = queue.Queue()
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        self.core = AudioPerception(cfg, decoder=self._decoder, on_decoded=lambda: self._inbox.put(("decoded", None)))
        # Each turn's speaker embedding (a voice event) on a thread of its own.
        self._voices: VoiceEvents | None = None
        if bool(p("speaker_embedding", True).value):
            self._voices = VoiceEvents(self.publish_event,
                                       lambda text, trace: self.report_error(text, trace, throttle_key=text[:24]))
            self._voices.start()
        self._held: deque[tuple[str, object]] = deque()
        self._worker = threading.Thread(target=self._work, name="perception", daemon=True)
        self._stop = threading.Event()
        # Each stream gets at most a little over real time of audio; beyond it chunks drop on arrival.
        self._budgets = {"mic": AudioBudget(), "ref": AudioBudget()}
        subscription(self, topics.MIC, lambda m: self._enqueue("mic", m))
        subscription(self, topics.SPEAKER, lambda m: self._enqueue("ref", m))
        subscription(self, topics.BIAS_WORDS, lambda m: self._enqueue("bias", m))
        self._worker.start()
        self.get_logger().info(f"audio perception ready (silero VAD + Whisper tiny.en); bias: {cfg.bias_words}")

    def backlog(self) -> int:
        return self._inbox.qsize()

    def _enqueue(self, kind: str, msg) -> None:
        reason = self._out_of_bounds(kind, msg)
        if reason:  # refused here, before it is queued or decoded
            self.refuse({"mic": topics.MIC.name, "ref": topics.SPEAKER.name}.get(kind, topics.BIAS_WORDS.name), reason)
            return
        if self._inbox.qsize() >= MAX_BACKLOG:
            self.report_error(f"audio perception is {MAX_BACKLOG} chunks behind; dropping input",
                              throttle_key="backlog")
            return
        self._inbox.put((kind, msg))

    def _out_of_bounds(self, kind: str, msg) -> str:
        if kind == "bias":
            return check_text("data", msg.data, MAX_BIAS_WORDS_CHARS)
        reason = check_audio_chunk(len(msg.data), msg.sample_rate, msg.channels, msg.encoding, msg.trace_id)
        if reason:
            return reason
        seconds = len(msg.data) / (2 * msg.channels * msg.sample_rate)
        return "" if self._budgets[kind].take(seconds) else "audio arrives faster than real time; chunk dropped"

    def _work(self) -> None:
        # VAD and turn taking judge each chunk as it comes: ahead of the rest of a busy machine.
        self.get_logger().info(f"perception thread scheduling: {raise_thread_priority()}")
        while not self._stop.is_set():
            try:  # messages set aside while a frame waited for its reference come first
                kind, msg = self._held.popleft() if self._held else self._inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                if kind == "bias":
                    self.core.set_bias_words(str(msg.data).split(","))  # type: ignore[attr-defined]
                    continue
                if kind == "decoded":  # the decoder has a result: out it goes
                    self._publish(self.core.decode())
                    continue
                frame = self._frame(msg)
                if frame is None:
                    continue
                if kind == "ref":
                    self.core.add_reference(frame)
                else:
                    self._on_mic(frame, msg.trace_id)  # type: ignore[attr-defined]
            except Exception as exc:  # never let one bad chunk kill perception
                self.report_error(f"audio perception failed on a {kind} chunk: {type(exc).__name__}: {exc}",
                                  throttle_key=f"crash:{type(exc).__name__}")

    def _frame(self, msg) -> AudioFrame | None:
        try:
            return msg_to_frame(msg)
        except AudioFormatError as exc:
            self.report_error(f"bad AudioChunk: {exc}", msg.trace_id, throttle_key=str(exc)[:20])
            return None

    def _await_reference(self, frame: AudioFrame) -> None:
        """Let the loudspeaker chunk this frame's echo comes from arrive (at most MAX_REF_WAIT_S);
        stamps that disagree more than that are left to the delay estimator."""
        deadline = time.monotonic() + MAX_REF_WAIT_S
        while self.core.reference_missing_ns(frame) > 0 and time.monotonic() < deadline:
            try:  # a reference chunk may already be queued behind this frame
                kind, msg = self._inbox.get(timeout=0.005)
            except queue.Empty:
                continue
            if kind == "ref" and (ref := self._frame(msg)) is not None:
                self.core.add_reference(ref)
            else:
                self._held.append((kind, msg))

    def _on_mic(self, frame: AudioFrame, trace_id: str) -> None:
        self._await_reference(frame)
        try:
            events = self.core.sense(frame)
        except SampleRateChanged as exc:
            # A new stream format (another microphone): close the open turn, start over with it.
            self.report_error(f"{topics.MIC.name}: {exc}; restarting perception", trace_id)
            self._publish(self.core.flush())
            self.core.reset()
            events = self.core.sense(frame)
        except AudioFormatError as exc:
            self.report_error(f"bad AudioChunk on {topics.MIC.name}: {exc}", trace_id, throttle_key=str(exc)[:20])
            return
        self._publish(events)  # turn events first: recognition must not delay them
        if self._inbox.qsize() > 5:  # behind: catch up on VAD before spending time on Whisper
            return
        self._publish(self.core.decode())

    def _publish(self, events: list[Event]) -> None:
        """Publish in order, then queue each speech_end's speaker embedding (after, never ahead)."""
        for event in events:
            self.publish_event(event)
        for event in events:
            if self._voices is not None and event.type == SPEECH_END:
                audio = self.core.turn_audio(event.trace_id)
                if audio is not None:
                    self._voices.submit(event, audio)

    def close(self) -> None:
        self._stop.set()
        self._worker.join(timeout=2.0)
        self._decoder.shutdown(wait=False, cancel_futures=True)
        if self._voices is not None:
            self._voices.close()


def main(args=None) -> None:
    run(AudioPerceptionNode)


if __name__ == "__main__":
    main()
