"""Double-talk detection: is the voice in this window the user's, or the agent's own echo?

The echo canceller needs about a second of the agent's speech to converge, and a room can
change under it; until then its output still carries the agent's voice, which the VAD
scores as speech. This detector compares the raw microphone level with what the agent
played over the last ``lookback_ms`` (the echo path's delay and reverberation fit in
there) plus a learned echo path gain. Only a window louder than that predicted echo by
``margin_db`` can be the user (a Geigel-style test with an adaptive threshold).

The gain starts at ``initial_gain_db`` (0 dB: "the echo may be as loud as the playback",
deaf to quiet talk over the agent but never fooled by it) and is learned from windows where
the agent plays and the user is not talking: it follows louder echo at once and forgets
slowly, so it stays an upper bound of the echo path.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SILENT_DB = -120.0


def level_db(x: np.ndarray) -> float:
    """RMS level of int16 samples in dBFS (``SILENT_DB`` for silence or nothing)."""
    if len(x) == 0:
        return SILENT_DB
    power = float(np.mean(np.square(x, dtype=np.float64))) / 32768.0**2
    return max(SILENT_DB, 10.0 * np.log10(power + 1e-12))


@dataclass
class DoubleTalkConfig:
    margin_db: float = 6.0  # the user must be this much louder than the predicted echo
    initial_gain_db: float = 0.0  # echo path gain before anything was learned
    min_gain_db: float = -40.0  # never trust the room to be quieter than this
    attack: float = 0.5  # share of a louder observed echo taken at once
    release: float = 0.02  # share of a quieter observed echo taken per window
    ref_active_db: float = -54.0  # playback below this is not an echo source


class DoubleTalkDetector:
    def __init__(self, config: DoubleTalkConfig | None = None) -> None:
        self.config = config or DoubleTalkConfig()
        self.reset()

    def reset(self) -> None:
        self.gain_db = self.config.initial_gain_db

    def predicted_echo_db(self, ref_recent: np.ndarray, win: int) -> float:
        """Loudest ``win``-long stretch of recent playback, through the learned echo path."""
        if len(ref_recent) < win:
            return level_db(ref_recent) + self.gain_db
        n = len(ref_recent) // win
        blocks = ref_recent[len(ref_recent) - n * win:].reshape(n, win).astype(np.float64)
        loudest = float(np.max(np.mean(blocks**2, axis=1))) / 32768.0**2
        ref_db = max(SILENT_DB, 10.0 * np.log10(loudest + 1e-12))
        return ref_db + self.gain_db if ref_db > self.config.ref_active_db else SILENT_DB

    def user_dominant(self, mic_raw: np.ndarray, ref_recent: np.ndarray) -> bool:
        """Could this microphone window hold the user's voice over the agent's echo?"""
        echo_db = self.predicted_echo_db(ref_recent, len(mic_raw))
        return echo_db <= SILENT_DB or level_db(mic_raw) > echo_db + self.config.margin_db

    def learn(self, mic_raw: np.ndarray, ref_recent: np.ndarray) -> None:
        """A window with the agent playing and the user (by the VAD) silent: all of it is echo."""
        cfg = self.config
        echo_db = self.predicted_echo_db(ref_recent, len(mic_raw))
        if echo_db <= SILENT_DB:
            return
        observed = level_db(mic_raw) - (echo_db - self.gain_db)
        rate = cfg.attack if observed > self.gain_db else cfg.release
        self.gain_db = max(cfg.min_gain_db, self.gain_db + rate * (observed - self.gain_db))
