"""speaker: /audio/speaker AudioChunks → a real output device (PyAudio)."""
from __future__ import annotations

from seal_nodes.nodes.common import AUDIO_QOS, SealNode, msg_to_frame, run

from seal_interfaces.msg import AudioChunk  # noqa: E402

from seal_nodes.core.audio import AudioFormatError, resample  # noqa: E402
from seal_nodes.core.audio_devices import AudioDeviceError, find_device  # noqa: E402


class SpeakerNode(SealNode):
    def __init__(self) -> None:
        super().__init__("speaker")
        import pyaudio

        self.pa = pyaudio.PyAudio()
        self.stream = None
        try:
            self.dev = find_device(self.pa, str(self.declare_parameter("device", "default").value), "output")
            self.dev_rate = self.dev.default_sample_rate
            self.stream = self.pa.open(format=pyaudio.paInt16, channels=1, rate=self.dev_rate, output=True,
                                       output_device_index=self.dev.index)
            self.get_logger().info(f"playing to {self.dev.name!r} at {self.dev_rate} Hz")
        except (AudioDeviceError, OSError) as exc:
            # Stay up and report: the rest of the graph works without a loudspeaker.
            self.report_error(f"speaker: {exc}")
        self.create_subscription(AudioChunk, "/audio/speaker", self.on_chunk, AUDIO_QOS)

    def on_chunk(self, msg: AudioChunk) -> None:
        if self.stream is None:
            return
        try:
            frame = msg_to_frame(msg)
        except AudioFormatError as exc:
            self.report_error(f"bad AudioChunk on /audio/speaker: {exc}", msg.trace_id)
            return
        self.stream.write(resample(frame.samples, frame.sample_rate, self.dev_rate).tobytes())

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
        self.pa.terminate()


def main(args=None) -> None:
    run(SpeakerNode)


if __name__ == "__main__":
    main()
