"""wav_source: publishes a WAV file on /audio/mic as AudioChunks at real-time pace.

A stand-in microphone for simulation and tests (select it instead of ``mic`` in the launch
file). Parameters: file, chunk_ms (20), start_delay_s (1.0), loop (false), pad_silence_s (1.0),
listener (``audio_perception``) and listener_wait_s (60): after the delay it waits until that node
subscribes to /audio/mic, since a file played before its listener has subscribed is lost (a
loaded machine can take longer than any fixed delay to load the recogniser), and other
subscribers (a recorder, a test) do not count; past the wait it plays anyway and says so. An
empty ``listener`` plays after the delay alone.
"""
from __future__ import annotations

import threading
import time

from seal_nodes.nodes.common import SealNode, frame_to_msg, publisher, run

import numpy as np

from seal_nodes.core import topics
from seal_nodes.core.audio.frames import AudioFormatError
from seal_nodes.core.audio.pacing import paced_frames
from seal_nodes.core.audio.wav import read_wav


class WavSource(SealNode):
    def __init__(self) -> None:
        super().__init__("wav_source")
        self.path = self.declare_parameter("file", "").value
        self.chunk_ms = int(self.declare_parameter("chunk_ms", 20).value)
        self.start_delay_s = float(self.declare_parameter("start_delay_s", 1.0).value)
        self.loop = bool(self.declare_parameter("loop", False).value)
        pad_s = float(self.declare_parameter("pad_silence_s", 1.0).value)
        self.listener = str(self.declare_parameter("listener", "audio_perception").value)
        self.listener_wait_s = float(self.declare_parameter("listener_wait_s", 60.0).value)
        self.pub = publisher(self, topics.MIC)
        self._stop = threading.Event()
        try:
            pcm, self.rate = read_wav(self.path)
        except AudioFormatError as exc:
            # A bad file is reported, not fatal: the graph keeps running without this source.
            self.report_error(f"wav_source cannot play {self.path!r}: {exc}")
            return
        self.pcm = np.concatenate([pcm, np.zeros(int(pad_s * self.rate), np.int16)])
        threading.Thread(target=self._play, daemon=True).start()

    def _play(self) -> None:
        if self._stop.wait(self.start_delay_s):
            return
        deadline = time.monotonic() + self.listener_wait_s
        while self.listener and not self._listening():
            if time.monotonic() > deadline:
                self.report_error(f"wav_source: {self.listener} has not subscribed to {topics.MIC.name} "
                                  f"after {self.listener_wait_s:.0f} s; playing anyway")
                break
            if self._stop.wait(0.1):
                return
        while not self._stop.is_set():
            self.get_logger().info(f"playing {self.path} ({len(self.pcm) / self.rate:.1f} s)")
            for frame in paced_frames(self.pcm, self.rate, self.chunk_ms):
                if self._stop.is_set():
                    return
                self.pub.publish(frame_to_msg(frame))
            if not self.loop:
                return
            time.sleep(0.2)

    def _listening(self) -> bool:
        return any(info.node_name == self.listener for info in self.get_subscriptions_info_by_topic(topics.MIC.name))

    def close(self) -> None:
        self._stop.set()


def main(args=None) -> None:
    run(WavSource)


if __name__ == "__main__":
    main()
