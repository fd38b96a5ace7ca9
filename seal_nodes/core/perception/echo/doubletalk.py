"""Double-talk detection: is the voice in this window the user's, or the agent's own echo?

The echo canceller needs about a second of the agent's speech to converge, and a room can
change under it; until then its output still carries the agent's voice, which the VAD
scores as speech. This detector compares the level of the canceller's *output* with what
the agent played over the recent past (the echo path's delay and reverberation fit in there)
plus a learned residual-echo gain. Only a window louder than that predicted residual by
``margin_db`` can be the user (a Geigel-style test with an adaptive threshold).

The gain starts at ``initial_gain_db`` (+6 dB: "the residual may be louder than the
playback": deaf to quiet talk over the agent while the canceller converges, never fooled by
it) and is learned from windows where the agent plays and nothing louder than its residual
is heard: the 95th percentile of the last ~3 s of observed residual ratios, so it tracks the
canceller as it converges, stays an upper bound of what it leaves, and falls to the floor
where there is no echo path at all.
"""
from __future__ import annotations

from collections import deque
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
    # the user must be this much louder than the predicted residual; on the barge-in set a larger
    # margin missed more interruptions without fewer false ones
    margin_db: float = 3.0
    # echo path gain before anything was learned: a loud loudspeaker next to the microphone can
    # put the agent's voice above its digital level (a digital loop has none)
    initial_gain_db: float = 6.0
    min_gain_db: float = -40.0  # never trust the room to be quieter than this
    # The residual ratio swings widely (a canceller leaves more at each restart after a pause),
    # so the gain is a high percentile of recent observations, not an average.
    history: int = 100  # observations kept (~3 s of 32 ms windows)
    min_observations: int = 15  # before this many, the initial gain stands
    percentile: float = 95.0
    ref_active_db: float = -54.0  # playback below this is not an echo source
    # learn only from windows whose own playback is this close to the loudest recent one: in a
    # pause of the playback the microphone is quiet whatever the echo path (it would teach "no echo")
    learn_within_db: float = 10.0
    # A sound server's rate adaptation can time-warp the echo (PulseAudio does): the linear
    # canceller then takes out little, and its residual, most of the echo, swings with the
    # speech. The margin grows towards poor_margin_db as the reduction falls.
    good_erle_db: float = 15.0
    poor_margin_db: float = 9.0


class DoubleTalkDetector:
    def __init__(self, config: DoubleTalkConfig | None = None) -> None:
        self.config = config or DoubleTalkConfig()
        self.reset()

    def reset(self) -> None:
        """Forget the echo path (the canceller restarted, the alignment moved)."""
        self.gain_db = self.config.initial_gain_db
        self._observed: deque[float] = deque(maxlen=self.config.history)
        self._erle: deque[float] = deque(maxlen=self.config.history)
        self.erle_db: float | None = None  # median echo reduction of recent echo-only windows

    def _ref_db(self, ref_recent: np.ndarray, win: int) -> float:
        """Level of the loudest ``win``-long stretch of recent playback."""
        if len(ref_recent) < win:
            return level_db(ref_recent)
        n = len(ref_recent) // win
        blocks = ref_recent[len(ref_recent) - n * win:].reshape(n, win).astype(np.float64)
        loudest = float(np.max(np.mean(blocks**2, axis=1))) / 32768.0**2
        return max(SILENT_DB, 10.0 * np.log10(loudest + 1e-12))

    def predicted_echo_db(self, ref_recent: np.ndarray, win: int) -> float:
        """The loudest recent playback through the learned echo path (``SILENT_DB``: none)."""
        ref_db = self._ref_db(ref_recent, win)
        return ref_db + self.gain_db if ref_db > self.config.ref_active_db else SILENT_DB

    @property
    def margin_db(self) -> float:
        """The configured margin while the canceller works; up to ``poor_margin_db`` as its
        echo reduction (``erle_db``) falls below ``good_erle_db`` — a residual that is most of
        the echo swings with the agent's speech, and only a much louder voice is surely the user."""
        cfg = self.config
        if self.erle_db is None or self.erle_db >= cfg.good_erle_db:
            return cfg.margin_db
        short = (cfg.good_erle_db - max(self.erle_db, 0.0)) / cfg.good_erle_db
        return cfg.margin_db + short * (cfg.poor_margin_db - cfg.margin_db)

    def user_dominant(self, mic: np.ndarray, ref_recent: np.ndarray, extra_db: float = 0.0) -> bool:
        """Could this (echo-cancelled) microphone window hold the user's voice over the agent's echo?
        ``extra_db`` over the margin: for blocks shorter than the windows the gain was learned from."""
        echo_db = self.predicted_echo_db(ref_recent, len(mic))
        return echo_db <= SILENT_DB or level_db(mic) > echo_db + self.margin_db + extra_db

    def observe_erle(self, raw: np.ndarray, cleaned: np.ndarray, noise_db: float = SILENT_DB) -> None:
        """An echo-only window before and after cancelling: how much does the canceller take out?
        Room noise (``noise_db``, its background level) is in both and taken off first."""
        noise = 10 ** (noise_db / 10)
        p_raw = 10 ** (level_db(raw) / 10) - noise
        if p_raw < 10 * noise:  # the echo is not clearly (10 dB) above the room noise: not measurable
            return
        p_clean = max(10 ** (level_db(cleaned) / 10) - noise, p_raw * 1e-4)
        self._erle.append(10 * np.log10(p_raw / p_clean))
        self.erle_db = float(np.median(np.asarray(self._erle)))

    def learn(self, mic: np.ndarray, ref_recent: np.ndarray, ref_now: np.ndarray | None = None) -> None:
        """A window with the agent playing and the user (by the VAD) silent: all of it is echo.

        ``ref_now``: the playback lined up with this window; without it every window counts.
        """
        cfg = self.config
        ref_db = self._ref_db(ref_recent, len(mic))
        if ref_db <= cfg.ref_active_db:
            return
        if ref_now is not None and level_db(ref_now) < ref_db - cfg.learn_within_db:
            return
        self._observed.append(max(cfg.min_gain_db, level_db(mic) - ref_db))
        if len(self._observed) >= cfg.min_observations:
            self.gain_db = float(np.percentile(np.asarray(self._observed), cfg.percentile))
