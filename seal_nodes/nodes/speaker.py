"""speaker: /audio/speaker AudioChunks → a real output device (PyAudio).

Chunks go into a jitter buffer the device's callback pulls from (``core.audio.playout``): on a
busy machine a late chunk plays late, not lost, and the device plays silence while none waits.
Without a usable device it reports an ``error`` event, drops audio, and tries the device
again every ``retry_s``; the rest of the graph works without a loudspeaker.
"""
from __future__ import annotations

import time

import numpy as np


from seal_nodes.nodes.common import SealNode, msg_to_frame, run, subscription

from seal_interfaces.msg import AudioChunk

from seal_nodes.core import topics
from seal_nodes.core.bounds import check_audio_chunk
from seal_nodes.core.audio.frames import AudioFormatError, StreamResampler
from seal_nodes.core.audio.playout import PlayoutBuffer
from seal_nodes.core.audio.devices import AudioDeviceError, find_device


class SpeakerNode(SealNode):
    def __init__(self) -> None:
        super().__init__("speaker")
        import pyaudio

        self.pyaudio = pyaudio
        self.pa = pyaudio.PyAudio()
        self.device = str(self.declare_parameter("device", "default").value)
        self.retry_s = float(self.declare_parameter("retry_s", 5.0).value)
        # loudspeaker volume (dB, ≤ 0): how loud the agent is in the room, and so in its own microphone
        gain_db = float(self.declare_parameter("gain_db", 0.0).value)
        if not -60.0 <= gain_db <= 0.0:
            self.report_error(f"speaker: gain_db {gain_db} out of -60..0 dB; using 0")
            gain_db = 0.0
        self.gain = 10 ** (gain_db / 20)
        self.stream = None
        self.dev_rate = 0
        self.buffer: PlayoutBuffer | None = None
        self.dropped_reported = 0
        self.resampler: StreamResampler | None = None
        subscription(self, topics.SPEAKER, self.on_chunk)
        self.next_try = 0.0
        self.create_timer(0.5, self.open_device)

    def open_device(self) -> None:
        if self.stream is not None or time.monotonic() < self.next_try:
            return
        self.next_try = time.monotonic() + self.retry_s
        try:
            dev = find_device(self.pa, self.device, "output")
            buffer = PlayoutBuffer(dev.default_sample_rate)
            paContinue = self.pyaudio.paContinue

            def pull(_in, frames: int, _time, _status):  # PortAudio's thread
                return buffer.pull(frames), paContinue
            self.stream = self.pa.open(format=self.pyaudio.paInt16, channels=1, rate=dev.default_sample_rate,
                                       output=True, output_device_index=dev.index, stream_callback=pull)
            self.buffer, self.dev_rate = buffer, dev.default_sample_rate
            self.get_logger().info(f"playing to {dev.name!r} at {self.dev_rate} Hz")
        except (AudioDeviceError, OSError) as exc:
            self.report_error(f"speaker: {exc}")
            self.pa.terminate()  # PortAudio rescans devices only on a fresh instance
            self.pa = self.pyaudio.PyAudio()

    def on_chunk(self, msg: AudioChunk) -> None:
        if self.stream is None or self.buffer is None:
            return
        if not self.stream.is_active():  # the device went away under the callback
            self.report_error("speaker: the output stream stopped; reopening the device")
            self._drop_stream()
            return
        reason = check_audio_chunk(len(msg.data), msg.sample_rate, msg.channels, msg.encoding, msg.trace_id)
        if reason:  # before the samples are copied or resampled
            self.refuse(topics.SPEAKER.name, reason)
            return
        try:
            frame = msg_to_frame(msg)
        except AudioFormatError as exc:
            self.report_error(f"bad AudioChunk on {topics.SPEAKER.name}: {exc}", msg.trace_id, throttle_key="chunk")
            return
        if self.resampler is None or self.resampler.src_rate != frame.sample_rate:
            self.resampler = StreamResampler(frame.sample_rate, self.dev_rate)
        pcm = self.resampler.process(frame.samples)
        if self.gain != 1.0:
            pcm = (pcm.astype(np.float32) * self.gain).astype(np.int16)
        self.buffer.push(pcm)
        if self.buffer.dropped > self.dropped_reported:
            self.dropped_reported = self.buffer.dropped
            self.report_error(f"speaker: the device took no audio for {self.buffer.max_samples / self.dev_rate:.0f} s; "
                              f"{self.buffer.dropped / self.dev_rate:.1f} s dropped so far", throttle_key="dropped")

    def _drop_stream(self) -> None:
        try:
            self.stream.close()
        except OSError:
            pass
        self.stream = self.buffer = self.resampler = None

    def close(self) -> None:
        if self.stream is not None:
            self._drop_stream()
        self.pa.terminate()


def main(args=None) -> None:
    run(SpeakerNode)


if __name__ == "__main__":
    main()
