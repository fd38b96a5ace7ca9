"""Where is the agent's voice in the microphone, relative to the loudspeaker stream's stamps?

The echo canceller can only model an echo that comes *after* the reference it is given, by
less than its filter length. Stamps from two devices are not that honest: the loudspeaker
stream is stamped with the intended play-out time, the microphone with an estimate of the
capture time, and driver and sound-server buffers shift both by tens of milliseconds, in
either direction (through PulseAudio the echo can arrive before the reference stamp or after
it, differently from run to run). So the lag is measured: the
cross-correlation of the microphone with the reference over the last ``window_s``, while the
agent talks. The canceller is then given the reference shifted so that the echo follows it
by ``margin_ms``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seal_nodes.core.audio.frames import RATE


@dataclass
class DelayConfig:
    window_s: float = 1.0  # microphone audio correlated per estimate
    every_s: float = 0.25  # estimate this often while the agent is heard
    min_lag_ms: float = -200.0  # the echo may seem to come this long before the reference stamp…
    max_lag_ms: float = 250.0  # …or this long after it
    min_peak: float = 0.2  # normalised correlation a lag needs to count (reverberant rooms: low)
    agree_ms: float = 4.0  # two estimates this close in a row count
    move_ms: float = 15.0  # ...and move the shift if they are this far from the current lag
    margin_ms: float = 10.0  # the echo follows the reference given to the canceller by this much
    min_active: float = 0.4  # share of 20 ms blocks of the reference span where the agent plays
    active_power: float = (10 ** (-45 / 20) * 32768) ** 2  # a block above -45 dBFS plays


class EchoDelayEstimator:
    def __init__(self, config: DelayConfig | None = None) -> None:
        self.config = config or DelayConfig()
        self.reset()

    def reset(self) -> None:
        self.lag_ms: float | None = None  # accepted echo lag (echo time − reference stamp)
        self.shift_ms = 0.0  # how far ahead of the microphone stamp to read the reference
        self._candidate: float | None = None
        self._since = 0

    def due(self, samples: int) -> bool:
        """Count ``samples`` of microphone audio; True when an estimate is due."""
        self._since += samples
        if self._since >= self.config.every_s * RATE:
            self._since = 0
            return True
        return False

    def estimate(self, mic: np.ndarray, ref: np.ndarray) -> float | None:
        """Correlate the last microphone window with the reference around it.

        ``mic``: raw microphone samples; ``ref``: the reference over the span
        ``reference_span`` gives for that window. Returns the lag in ms (echo time minus
        reference stamp) when this estimate moved the shift, else None.
        """
        cfg = self.config
        span = int((cfg.max_lag_ms - cfg.min_lag_ms) * RATE / 1000)
        if len(mic) < RATE // 2 or len(ref) != len(mic) + span:
            return None
        r = ref.astype(np.float64)
        blocks = r[: len(r) // 320 * 320].reshape(-1, 320)  # 20 ms
        if np.mean(np.mean(blocks**2, axis=1) > cfg.active_power) < cfg.min_active:
            return None  # the agent hardly played: nothing to line up
        m = mic.astype(np.float64) - float(np.mean(mic))
        r -= r.mean()
        n = 1 << int(np.ceil(np.log2(len(r) + len(m))))
        # c[k] = sum_i m[i] r[i + k]: the echo in m[i] is r[i + k] for k = max_lag - lag
        c = np.fft.irfft(np.conj(np.fft.rfft(m, n)) * np.fft.rfft(r, n), n)[: span + 1]
        k = int(np.argmax(c))
        peak = c[k] / (np.sqrt(np.sum(m**2) * np.sum(r[k:k + len(m)] ** 2)) + 1e-9)
        lag_ms = cfg.max_lag_ms - k * 1000.0 / RATE
        if peak < cfg.min_peak:
            return None
        if self._candidate is None or abs(lag_ms - self._candidate) > cfg.agree_ms:
            self._candidate = lag_ms
            return None
        if self.lag_ms is not None and abs(lag_ms - self.lag_ms) <= cfg.move_ms:
            return None  # within the margin: re-aligning (and re-converging) would cost more
        self.lag_ms = lag_ms
        self.shift_ms = max(0.0, cfg.margin_ms - lag_ms)
        return lag_ms

    def reference_span(self, window_start_ns: int, n: int) -> tuple[int, int]:
        """(stamp, samples) of the reference an estimate over ``n`` microphone samples needs:
        from ``max_lag_ms`` before the window to ``-min_lag_ms`` after it."""
        cfg = self.config
        return window_start_ns - int(cfg.max_lag_ms * 1e6), n + int((cfg.max_lag_ms - cfg.min_lag_ms) * RATE / 1000)
