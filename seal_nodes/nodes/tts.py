"""tts: the Speak action server. Text (with the talk's control tags) → /audio/speaker chunks.

Audio leaves in 20 ms AudioChunks at real-time pace, each stamped with its play-out time.
A cancelled goal stops before the next chunk and its result carries the words that were
actually played. ``agent_speech_start`` / ``agent_speech_end`` events go to /seal/events.
"""
from __future__ import annotations

import threading

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
        self.lock = threading.Lock()  # one voice: utterances play one after another
        self.current: tuple[bytes, SpeechStream] | None = None  # (goal id, stream) playing now
        group = ReentrantCallbackGroup()
        self.server = ActionServer(
            self, Speak, "speak", execute_callback=self.execute, goal_callback=lambda _: GoalResponse.ACCEPT,
            cancel_callback=self.on_cancel, callback_group=group)
        self.get_logger().info(f"tts ready: espeak-ng voice={voice} {rate} wpm, {self.synth.sample_rate} Hz")

    def on_cancel(self, handle) -> CancelResponse:
        current = self.current
        if current is not None and current[0] == bytes(handle.goal_id.uuid):
            current[1].cancel()  # takes effect before the next 20 ms chunk
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
        with self.lock:
            if handle.is_cancel_requested:
                handle.canceled()
                return Speak.Result(completed=False, interrupted=True, spoken_text="", message="canceled before start")
            self.current = (bytes(handle.goal_id.uuid), stream)
            payload = {"utterance_id": goal.utterance_id}
            self.publish_event(ev.Event(ev.AGENT_SPEECH_START, ev.now_ns(), text=goal.text, trace_id=goal.trace_id,
                                        payload=payload))
            try:
                result = stream.run(lambda frame: self.pub.publish(frame_to_msg(frame)))
            finally:
                self.current = None
        end_ns = ev.now_ns()
        self.publish_event(ev.Event(ev.AGENT_SPEECH_END, end_ns, text=result.spoken_text, trace_id=goal.trace_id,
                                    payload={**payload, "interrupted": result.interrupted,
                                             "completed": result.completed, "audio_ms": result.audio_ms}))
        msg = Speak.Result(completed=result.completed, interrupted=result.interrupted,
                           spoken_text=result.spoken_text, message="; ".join(result.warnings))
        if result.interrupted and handle.is_cancel_requested:
            handle.canceled()
        else:
            handle.succeed()
        return msg


def main(args=None) -> None:
    run(TtsNode)


if __name__ == "__main__":
    main()
