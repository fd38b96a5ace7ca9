"""mic: a real microphone (PyAudio) → /audio/mic AudioChunks, resampled to ``sample_rate``.

Without a usable device it reports an ``error`` event and tries again every ``retry_s``
(a USB microphone plugged in later is picked up).
"""
from __future__ import annotations

import threading

from seal_nodes.nodes.common import SealNode, frame_to_msg, publisher, run

import numpy as np

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.audio.frames import AudioFrame, CaptureClock, StreamResampler
from seal_nodes.core.audio.devices import AudioDeviceError, find_device


class MicNode(SealNode):
    def __init__(self) -> None:
        super().__init__("mic")
        self.device = str(self.declare_parameter("device", "default").value)
        self.rate = int(self.declare_parameter("sample_rate", 16000).value)
        self.chunk_ms = int(self.declare_parameter("chunk_ms", 20).value)
        self.retry_s = float(self.declare_parameter("retry_s", 5.0).value)
        self.pub = publisher(self, topics.MIC)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import pyaudio

        while not self._stop.is_set():
            pa = pyaudio.PyAudio()
            try:
                self._capture(pa, pyaudio.paInt16)
            except (AudioDeviceError, OSError) as exc:
                self.report_error(f"mic: {exc}")
            except Exception as exc:  # never let the capture thread die silently
                self.report_error(f"mic: capture failed: {exc!r}")
            finally:
                pa.terminate()
            self._stop.wait(self.retry_s)

    def _capture(self, pa, sample_format: int) -> None:
        dev = find_device(pa, self.device, "input")
        dev_rate = dev.default_sample_rate
        frames = int(dev_rate * self.chunk_ms / 1000)
        stream = pa.open(format=sample_format, channels=1, rate=dev_rate, input=True,
                         input_device_index=dev.index, frames_per_buffer=frames)
        self.get_logger().info(f"capturing from {dev.name!r} at {dev_rate} Hz → {self.rate} Hz")
        resampler = StreamResampler(dev_rate, self.rate)
        clock = CaptureClock(dev_rate)  # capture time of each chunk's first sample, by sample count
        # samples reach us this long after the sound (PortAudio's estimate): echo cancelling
        # lines the microphone up with the loudspeaker stream by these stamps
        input_latency_ns = int(stream.get_input_latency() * 1e9)
        try:
            while not self._stop.is_set():
                data = stream.read(frames, exception_on_overflow=False)
                lost_before = clock.lost_ns
                stamp = clock.stamp(len(data) // 2, ev.now_ns()) - input_latency_ns
                if clock.lost_ns > lost_before:  # read too late: the device buffer overflowed
                    self.report_error(f"mic: {(clock.lost_ns - lost_before) / 1e6:.0f} ms of audio lost: the capture "
                                      "fell behind the device (a busy machine?)", throttle_key="lost",
                                      payload={"lost_ms_total": round(clock.lost_ns / 1e6)})
                pcm = resampler.process(np.frombuffer(data, "<i2"))
                self.pub.publish(frame_to_msg(AudioFrame(pcm, self.rate, stamp)))
        finally:
            stream.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)


def main(args=None) -> None:
    run(MicNode)


if __name__ == "__main__":
    main()
