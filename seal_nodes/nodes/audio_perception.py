"""audio_perception: /audio/mic AudioChunks → speech events on /seal/events.

Silero VAD + streaming pocketsphinx (command grammar) through ``AudioPerception``. A chunk that
cannot be decoded is reported as an ``error`` event and dropped; the stream carries on.
"""
from __future__ import annotations

from seal_nodes.nodes.common import AUDIO_QOS, SealNode, msg_to_frame, run

from seal_interfaces.msg import AudioChunk  # noqa: E402

from seal_nodes.core.asr import StreamingRecognizer, default_command_grammar  # noqa: E402
from seal_nodes.core.audio import AudioFormatError  # noqa: E402
from seal_nodes.core.audio_perception import (  # noqa: E402
    AudioPerception, AudioPerceptionConfig, SampleRateChanged,
)


class AudioPerceptionNode(SealNode):
    def __init__(self) -> None:
        super().__init__("audio_perception")
        d = AudioPerceptionConfig()
        cfg = AudioPerceptionConfig(
            vad_threshold=float(self.declare_parameter("vad_threshold", d.vad_threshold).value),
            vad_release=float(self.declare_parameter("vad_release", d.vad_release).value),
            end_silence_ms=int(self.declare_parameter("end_silence_ms", d.end_silence_ms).value),
            min_speech_ms=int(self.declare_parameter("min_speech_ms", d.min_speech_ms).value),
        )
        colors = list(self.declare_parameter("colors", ["red", "green", "blue", "yellow", "orange", "purple"]).value)
        self.core = AudioPerception(cfg, recognizer=StreamingRecognizer(default_command_grammar(colors)))
        self.create_subscription(AudioChunk, "/audio/mic", self.on_chunk, AUDIO_QOS)
        self.get_logger().info("audio perception ready (silero VAD + pocketsphinx grammar)")

    def on_chunk(self, msg: AudioChunk) -> None:
        try:
            frame = msg_to_frame(msg)
        except AudioFormatError as exc:
            self.report_error(f"bad AudioChunk on /audio/mic: {exc}", msg.trace_id, throttle_key=str(exc)[:20])
            return
        try:
            events = self.core.sense(frame)
        except SampleRateChanged as exc:
            # A new stream format (another microphone): close the open turn, start over with it.
            self.report_error(f"/audio/mic: {exc}; restarting perception", msg.trace_id)
            events = self.core.flush()
            self.core.reset()
            events += self.core.sense(frame)
        except AudioFormatError as exc:
            self.report_error(f"bad AudioChunk on /audio/mic: {exc}", msg.trace_id, throttle_key=str(exc)[:20])
            return
        # Turn events go out before recognition runs on this chunk: decoding must not delay them.
        for event in events:
            self.publish_event(event)
        for event in self.core.decode():
            self.publish_event(event)


def main(args=None) -> None:
    run(AudioPerceptionNode)


if __name__ == "__main__":
    main()
