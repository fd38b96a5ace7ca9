"""tts: the Speak action server. Text (with the talk's control tags) → /audio/speaker chunks.

Audio leaves in 20 ms AudioChunks at real-time pace, each stamped with its play-out time.
A cancelled goal stops before the next chunk and its result carries the words that were
actually played. ``agent_speech_start`` / ``agent_speech_end`` events go to /seal/events.
"""
from __future__ import annotations

import threading
import time

from seal_nodes.nodes.common import AUDIO_QOS, SealNode, frame_to_msg, in_thread, run

from rclpy.action import ActionServer, CancelResponse, GoalResponse  # noqa: E402
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from seal_interfaces.action import Speak  # noqa: E402
from seal_interfaces.msg import AudioChunk  # noqa: E402

from seal_nodes.core import events as ev  # noqa: E402
from seal_nodes.core.tts import SpeechStream  # noqa: E402
from seal_nodes.core.tts_espeak import EspeakSynthesizer  # noqa: E402


class TtsNode(SealNode):
    def __init__(self) -> None:
        super().__init__("tts")
        voice = str(self.declare_parameter("voice", "en-us").value)
        rate = int(self.declare_parameter("rate_wpm", 175).value)
        self.synth = EspeakSynthesizer(voice=voice, rate_wpm=rate)
        self.pub = self.create_publisher(AudioChunk, "/audio/speaker", AUDIO_QOS)
        self.voice_lock = threading.Lock()  # one voice: utterances play one after another
        # goal id → its stream, and the ids whose cancel arrived (possibly before the stream
        # existed: rclpy calls the cancel callback before the goal's state says so).
        self.streams: dict[bytes, SpeechStream] = {}
        self.cancelled: set[bytes] = set()
        self.streams_lock = threading.Lock()
        # Reentrant: the async execute callback holds its group while it awaits playback, and
        # cancel requests must still be served meanwhile (even by a single-threaded executor).
        group = ReentrantCallbackGroup()
        self.server = ActionServer(
            self, Speak, "speak", execute_callback=self.execute, goal_callback=lambda _: GoalResponse.ACCEPT,
            cancel_callback=self.on_cancel, callback_group=group)
        self.get_logger().info(f"tts ready: espeak-ng voice={voice} {rate} wpm, {self.synth.sample_rate} Hz")

    def on_cancel(self, handle) -> CancelResponse:
        goal_id = bytes(handle.goal_id.uuid)
        with self.streams_lock:
            self.cancelled.add(goal_id)
            stream = self.streams.get(goal_id)
        if stream is not None:
            stream.cancel()  # takes effect before the next 20 ms chunk
        return CancelResponse.ACCEPT

    async def execute(self, handle) -> Speak.Result:
        # Playback takes seconds: it runs on its own thread so cancels are served meanwhile.
        return await in_thread(self, self.speak, handle)

    def speak(self, handle) -> Speak.Result:
        goal = handle.request
        try:
            stream = SpeechStream(goal.text, self.synth, trace_id=goal.trace_id,
                                  on_progress=lambda said: handle.publish_feedback(Speak.Feedback(spoken_text=said)))
        except ValueError as exc:
            self.report_error(f"Speak goal rejected: {exc}", goal.trace_id)
            handle.abort()
            return Speak.Result(completed=False, interrupted=False, spoken_text="", message=str(exc))
        for warning in stream.warnings:
            self.report_error(f"speech tag: {warning}", goal.trace_id)
        goal_id = bytes(handle.goal_id.uuid)
        with self.streams_lock:
            self.streams[goal_id] = stream
            if goal_id in self.cancelled:
                stream.cancel()  # the cancel came first: run() returns at once, nothing played
        payload = {"utterance_id": goal.utterance_id}
        try:
            with self.voice_lock:
                self.publish_event(ev.Event(ev.AGENT_SPEECH_START, ev.now_ns(), text=goal.text,
                                            trace_id=goal.trace_id, payload=payload))
                result = stream.run(lambda frame: self.pub.publish(frame_to_msg(frame)))
        finally:
            with self.streams_lock:
                self.streams.pop(goal_id, None)
                was_cancelled = goal_id in self.cancelled
                self.cancelled.discard(goal_id)
        end_ns = ev.now_ns()
        self.publish_event(ev.Event(ev.AGENT_SPEECH_END, end_ns, text=result.spoken_text, trace_id=goal.trace_id,
                                    payload={**payload, "interrupted": result.interrupted,
                                             "completed": result.completed, "audio_ms": result.audio_ms}))
        msg = Speak.Result(completed=result.completed, interrupted=result.interrupted,
                           spoken_text=result.spoken_text, message="; ".join(result.warnings))
        if result.interrupted and was_cancelled:
            deadline = time.monotonic() + 1.0  # the goal state follows the cancel callback shortly
            while not handle.is_cancel_requested and time.monotonic() < deadline:
                time.sleep(0.005)
        if result.interrupted and handle.is_cancel_requested:
            handle.canceled()
        elif result.interrupted:
            handle.abort()  # stopped by shutdown
        else:
            handle.succeed()
        return msg

    def close(self) -> None:
        """Shutdown: stop every utterance before the next chunk."""
        with self.streams_lock:
            for stream in self.streams.values():
                stream.cancel()

def main(args=None) -> None:
    run(TtsNode)


if __name__ == "__main__":
    main()
