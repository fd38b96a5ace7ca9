"""The agent's own voice out of the microphone: reference, alignment, canceller, double talk.

``audio_perception`` feeds every microphone block through ``clean`` and asks ``audible``
for every VAD window while the agent talks (``loud_over_echo`` for the early pause's shorter
blocks). The parts:

- ``ReferenceBuffer`` (``echo``): what the loudspeaker played, by stamp;
- ``EchoDelayEstimator`` (``echo_delay``): where the echo sits relative to those stamps;
- ``EchoCanceller`` (``echo``): Speex MDF on the reference read at that shift;
- ``DoubleTalkDetector`` (``doubletalk``): is a window louder than what the agent leaves?
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seal_nodes.core.audio.frames import RATE
from seal_nodes.core.perception.echo.canceller import EchoCanceller, ReferenceBuffer
from seal_nodes.core.perception.echo.delay import EchoDelayEstimator
from seal_nodes.core.perception.echo.doubletalk import DoubleTalkDetector


@dataclass
class EchoConfig:
    enabled: bool = True  # cancel the agent's voice once a loudspeaker stream was seen
    # Speex residual suppressor + gate after the linear filter. Off: on the barge-in set it cut
    # the user too, and missed far more interruptions than the double-talk detector alone.
    residual_suppression: bool = False
    doubletalk: bool = True  # while the agent talks, only a voice louder than its residual counts
    agent_hold_ms: int = 300  # the agent counts as talking until this long after its audio
    lookback_ms: int = 300  # playback this far back can still be in the microphone (delay + reverb)
    lookahead_ms: int = 80  # ...and this far ahead of the stamps, until the echo delay is measured


def _ns(samples: int) -> int:
    return int(samples * 1_000_000_000 // RATE)


class EchoFrontEnd:
    def __init__(self, config: EchoConfig | None = None) -> None:
        self.config = config or EchoConfig()
        self.reset()

    def reset(self) -> None:
        self.reference = ReferenceBuffer(RATE)
        self.canceller: EchoCanceller | None = None
        self.doubletalk = DoubleTalkDetector()
        self.delay = EchoDelayEstimator()
        self._raw = np.zeros(0, np.int16)  # recent microphone audio before cancelling
        self._raw_end_ns = 0  # stamp just past its last sample

    # ---- the loudspeaker side -------------------------------------------------------------------
    def add_reference(self, pcm: np.ndarray, rate: int, stamp_ns: int) -> None:
        self.reference.add(pcm, rate, stamp_ns)
        if self.canceller is None and self.config.enabled:
            self.canceller = EchoCanceller(RATE, residual_suppression=self.config.residual_suppression)

    def ref_ns(self, mic_ns: int) -> int:
        """Stamp of the reference that lines up with microphone stamp ``mic_ns`` (measured shift)."""
        return max(0, mic_ns + int(self.delay.shift_ms * 1e6))

    def _ahead(self) -> int:
        """Samples of playback after the stamps to look at while the delay is unmeasured."""
        return int(self.config.lookahead_ms * RATE / 1000) if self.delay.lag_ms is None else 0

    def agent_speaking(self, stamp_ns: int) -> bool:
        """Can the agent's voice be in the microphone at ``stamp_ns``? It played up to
        ``agent_hold_ms`` before (alignment applied) or, while the delay is unmeasured, up to
        ``lookahead_ms`` after it."""
        hold = int(self.config.agent_hold_ms * RATE / 1000)
        return self.reference.active(max(0, self.ref_ns(stamp_ns) - _ns(hold)), hold + self._ahead())

    def played(self, stamp_ns: int, n: int) -> bool:
        """Did the loudspeaker play in the ``n`` samples before ``stamp_ns`` (no alignment)?"""
        return self.reference.active(max(0, stamp_ns - _ns(n)), n)

    def reference_missing_ns(self, stamp_ns: int, duration_ns: int) -> int:
        """How much of the playback a microphone block at ``stamp_ns`` needs has not arrived
        (0: all there, or the agent is not talking): the reference is read ahead of the stamps."""
        newest = self.reference.newest_ns
        if self.canceller is None or newest is None or not self.agent_speaking(stamp_ns):
            return 0
        return max(0, self.ref_ns(stamp_ns) + duration_ns - newest)

    # ---- the microphone side --------------------------------------------------------------------
    def clean(self, x: np.ndarray, stamp_ns: int) -> np.ndarray:
        """Cancel the echo from a 16 kHz microphone block whose first sample is at ``stamp_ns``."""
        if self.canceller is None or not len(x):
            return x
        self._track_delay(x, stamp_ns)
        return self.canceller.process(x, self.reference.take(self.ref_ns(stamp_ns), len(x)))

    def _track_delay(self, x: np.ndarray, stamp_ns: int) -> None:
        """Re-measure where the agent's voice sits in the microphone now and then."""
        keep = int(self.delay.config.window_s * RATE)
        self._raw = np.concatenate([self._raw, x])[-keep:]
        self._raw_end_ns = stamp_ns + _ns(len(x))
        if not self.delay.due(len(x)):
            return
        ref_ns, n = self.delay.reference_span(self._raw_end_ns - _ns(len(self._raw)), len(self._raw))
        if ref_ns < 0:
            return
        if self.delay.estimate(self._raw, self.reference.take(ref_ns, n)) is not None and self.canceller is not None:
            # the alignment moved (a device clock resync, a sound server hiccup): the canceller's
            # filter modelled the old one, and what the detector learned from it is void
            self.canceller.reset()
            self.doubletalk.reset()

    def audible(self, window: np.ndarray, start_ns: int, noise_db: float = -120.0) -> bool:
        """Can this echo-cancelled VAD window (first sample at ``start_ns``) be the user while
        the agent talks? A window that is not is echo: the detector learns from it.
        ``noise_db``: the room's background level (the canceller cannot take that out)."""
        if not self.config.doubletalk:
            return True
        back, ref = self._recent_reference(start_ns, len(window))
        if self.doubletalk.user_dominant(window, ref):
            return True
        # Silero still calls a residual 30 dB down a voice, so this (not the VAD) is what the
        # detector learns from. Also before the delay is measured: with no echo path at all (a
        # headset, a simulated microphone) it never will be, and the detector must learn that.
        self.doubletalk.learn(window, ref, ref[back:back + len(window)])
        if self.delay.lag_ms is not None:
            raw = self._raw_window(start_ns, len(window))
            if raw is not None:
                self.doubletalk.observe_erle(raw, window, noise_db)
        return False

    def loud_over_echo(self, block: np.ndarray, start_ns: int, extra_db: float) -> bool:
        """Is this short echo-cancelled block (first sample at ``start_ns``) louder than the
        double-talk test's predicted echo by its margin plus ``extra_db``? Read-only: the test
        learns only from whole VAD windows (``audible``)."""
        return not self.config.doubletalk or self.doubletalk.user_dominant(
            block, self._recent_reference(start_ns, len(block))[1], extra_db)

    def _recent_reference(self, start_ns: int, n: int) -> tuple[int, np.ndarray]:
        """(lookback samples, playback) that can be in ``n`` microphone samples from ``start_ns``:
        ``lookback_ms`` before them (delay and reverberation) up to their end."""
        back = int(self.config.lookback_ms * RATE / 1000)
        return back, self.reference.take(self.ref_ns(start_ns - _ns(back)), back + n + self._ahead())

    def _raw_window(self, start_ns: int, n: int) -> np.ndarray | None:
        first = len(self._raw) - int(round((self._raw_end_ns - start_ns) * RATE / 1e9))
        if first < 0 or first + n > len(self._raw):
            return None
        return self._raw[first:first + n]
