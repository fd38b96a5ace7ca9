"""Acoustic scene events beyond words: background noise, music and laughter, streaming at 16 kHz.

``AcousticEventDetector.process`` takes the microphone stream in blocks of any length together
with the VAD's verdict and returns detections:

- ``noise``: the background level (median level of the last second of non-speech audio) stays
  at or above ``noise_level_db`` for ``noise_min_s`` → start; below it minus the hysteresis for
  as long → end. Any loud background counts, music included (payload ``music`` says which).
- ``music``: every 0.5 s, over the last 3 s of non-speech frames, two independent cues:
  *tonal* — sustained spectral peaks (held ≥ 160 ms at one frequency) present in most frames,
  with new ones appearing (notes and chords changing), peaks at frequencies that have been
  occupied for seconds (mains hum, a fan's blade tone) excluded; *rhythm* — a periodic onset
  envelope whose autocorrelation peaks at a beat lag (0.26-1.2 s) and again at twice it.
  Speech fails both (its harmonics glide and break off between syllables; its syllable
  onsets are not periodic); stationary noise has neither new peaks nor onsets.
- ``laugh``: a loud segment (energy-gated against the background, 0.3-3 s) that
  ``segment_kind`` classifies as laughter: ≥ 3 bursts at 3-7 per second with regular spacing,
  voiced cores and breathy onsets.

Start and end states have hysteresis, and every kind emits at most one start and one end per
``hold_s`` (a change waiting on the hold is emitted when it expires, if still true).
A 64 ms analysis frame counts as speech if any of its samples came with ``speech=True``.
Cost: one 1024-point FFT per 32 ms of audio.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, fields

import numpy as np

from seal_nodes.core.audio.frames import RATE, check_pcm

FRAME = 1024  # analysis window (64 ms): 15.6 Hz bins separate the partials of low notes
HOP = 512  # 32 ms between frames
SUB = 128  # 8 ms sub-frames for the onset envelope (a beat's attack needs finer timing than HOP)
_LO, _HI = 6, 320  # peak search band: 94 Hz .. 5 kHz
_FLOOR_HALF = 12  # ±bins of the local spectral floor a peak must stand out of
_FULL_SCALE = FRAME / 4 * 32768.0  # |rfft| of a full-scale sine under a Hann window
_SUSTAIN = 5  # frames (~160 ms) at one frequency before a peak counts as a held tone
_SPS = HOP // SUB  # onset sub-frames per frame


class AcousticError(ValueError):
    """Bad input or configuration for acoustic event detection."""


@dataclass
class AcousticConfig:
    noise_level_db: float = -45.0  # background at/above this (dBFS) is "noise"
    noise_hysteresis_db: float = 3.0  # ...and it ends below level - hysteresis
    noise_min_s: float = 1.0  # a level change must last this long
    music_window_s: float = 3.0  # analysis window of the music cues
    music_on_s: float = 1.5  # consecutive positive decisions (every 0.5 s) needed to start
    music_off_s: float = 3.0  # ...and negative ones to end
    music_min_db: float = -60.0  # frames quieter than this never count as music
    min_nonspeech_s: float = 1.0  # fewer non-speech seconds in the window: no music decision
    tonal_coverage: float = 0.75  # share of frames holding a sustained, non-stationary peak
    tonal_births: int = 3  # new held tones (≥ 2 partials at once) in the window
    stationary_s: float = 4.0  # a frequency occupied this long (EMA ≥ 0.6) is a drone/hum line
    rhythm_pulse: float = 0.5  # onset autocorrelation at the beat lag
    rhythm_comb: float = 0.35  # ...and at twice the beat lag
    rhythm_onsets: int = 4  # salient onsets (≥ 3 dB rise) per window
    laugh: bool = True  # classify loud segments for laughter
    laugh_min_confidence: float = 0.6
    hold_s: float = 3.0  # at most one start and one end per kind per hold_s

    def validate(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool):
                continue
            if not isinstance(v, (int, float)) or not np.isfinite(v):
                raise AcousticError(f"AcousticConfig.{f.name} must be a finite number, got {v!r}")
            if f.name not in ("noise_level_db", "music_min_db", "noise_hysteresis_db") and v <= 0:
                raise AcousticError(f"AcousticConfig.{f.name} must be positive, got {v!r}")
        if self.noise_hysteresis_db < 0:
            raise AcousticError("AcousticConfig.noise_hysteresis_db must be >= 0")
        if not 1.0 <= self.music_window_s <= 6.0:
            raise AcousticError("AcousticConfig.music_window_s must be within 1..6 s")
        if not 0 < self.tonal_coverage <= 1 or not 0 < self.laugh_min_confidence <= 1:
            raise AcousticError("AcousticConfig.tonal_coverage and laugh_min_confidence must be in (0, 1]")


@dataclass
class AcousticDetection:
    kind: str  # "music" | "noise" | "laugh"
    sample: int  # 16 kHz stream sample index at which the decision was made
    confidence: float  # 0..1
    payload: dict = field(default_factory=dict)  # {"state": "start"|"end"|"detected", "level_db", "method", …}


def _db(power: float) -> float:
    return float(10.0 * np.log10(power + 1e-12))


class _Gate:
    """A boolean state with hysteresis in time and a hold: at most one change per ``hold`` samples."""

    def __init__(self, hold: int) -> None:
        self.hold, self.on, self.last = hold, False, -(10**18)

    def want(self, value: bool, now: int) -> bool:
        """Ask for ``value``; True if the state changed now."""
        if value != self.on and now - self.last >= self.hold:
            self.on, self.last = value, now
            return True
        return False


class AcousticEventDetector:
    """Streaming detector; one instance per 16 kHz stream (``reset`` between streams)."""

    def __init__(self, config: AcousticConfig | None = None) -> None:
        self.config = config or AcousticConfig()
        self.config.validate()
        self._win = np.hanning(FRAME)
        idx = np.arange(FRAME // 2 + 1)
        self._flo = np.clip(idx - _FLOOR_HALF, 0, None)
        self._fhi = np.clip(idx + _FLOOR_HALF + 1, None, len(idx))
        self._decide_every = int(round(0.5 * RATE / HOP))
        self._nwin = int(round(self.config.music_window_s * RATE / HOP))
        self._occ_alpha = HOP / RATE / self.config.stationary_s
        self.reset()

    # ---- public ------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the stream: buffers, estimates and states (no end events are emitted)."""
        c = self.config
        self._pending = np.zeros(0, np.float64)
        self._pending_speech = np.zeros(0, bool)
        self._frame_end = 0  # stream index one past the last analysed frame
        nbins = FRAME // 2 + 1
        self._age = np.zeros(nbins)
        self._occ = np.zeros(nbins)
        self._frames: deque[tuple[bool, bool, bool, bool]] = deque(maxlen=self._nwin)  # speech, held, birth, loud
        self._sub = deque(maxlen=self._nwin * _SPS)  # (raw dB, bright dB) per 8 ms
        self._levels: deque[float] = deque(maxlen=int(round(RATE / HOP)))  # non-speech frame levels, 1 s
        self._background = -120.0
        self._count = 0
        hold = int(round(c.hold_s * RATE))
        self._noise, self._music, self._laugh_gate = _Gate(hold), _Gate(hold), _Gate(hold)
        self._noise_run = 0  # samples the background has been on the other side of the noise threshold
        self._music_votes: deque[bool] = deque(maxlen=max(1, int(round(max(c.music_on_s, c.music_off_s) / 0.5))))
        self._features: dict = {}
        self._recent = deque(maxlen=int(3.5 * RATE / HOP))  # recent hops for laugh segments
        self._seg_start: int | None = None  # frame count where a loud segment began
        self._seg_quiet = 0

    @property
    def background_db(self) -> float:
        """Current background level estimate (dBFS; -120 before any non-speech audio)."""
        return self._background

    def process(self, x: np.ndarray, speech: bool) -> list[AcousticDetection]:
        """Feed a 16 kHz int16 block of any length; ``speech``: the VAD currently hears voice."""
        check_pcm(x, "audio", AcousticError)
        if not isinstance(speech, (bool, np.bool_)):
            raise AcousticError(f"speech must be a bool, got {speech!r}")
        self._pending = np.concatenate([self._pending, x / 32768.0])
        self._pending_speech = np.concatenate([self._pending_speech, np.full(len(x), bool(speech))])
        out: list[AcousticDetection] = []
        while len(self._pending) >= FRAME:
            out += self._frame(self._pending[:FRAME], bool(self._pending_speech[:FRAME].any()))
            self._pending = self._pending[HOP:]
            self._pending_speech = self._pending_speech[HOP:]
        return out

    # ---- per frame -----------------------------------------------------------------------------------
    def _frame(self, frame: np.ndarray, speech: bool) -> list[AcousticDetection]:
        c = self.config
        if self._frame_end == 0:
            self._frame_end = FRAME
        else:
            self._frame_end += HOP
        new = frame[HOP:]
        level = _db(float(np.mean(new * new)))
        # onset sub-frames: broadband and first-difference ("bright") energies
        sub = new.reshape(_SPS, SUB)
        bright = np.diff(frame[HOP - 1:]).reshape(_SPS, SUB)
        for a, b in zip(np.mean(sub * sub, axis=1), np.mean(bright * bright, axis=1)):
            self._sub.append((_db(float(a)), _db(float(b))))
        held, birth = self._peaks(frame)
        self._frames.append((speech, held, birth, level >= c.music_min_db))
        self._recent.append(new)
        out = self._update_noise(level, speech)
        self._count += 1
        if self._count % self._decide_every == 0:
            out += self._decide_music()
        if c.laugh:
            out += self._update_laugh(level)
        return out

    def _peaks(self, frame: np.ndarray) -> tuple[bool, bool]:
        """Track spectral peaks; (a held, non-stationary tone is present, ≥ 2 new ones were born)."""
        mag = np.abs(np.fft.rfft(frame * self._win)) * (32768.0 / _FULL_SCALE)
        spec = 20.0 * np.log10(mag + 1e-7)
        csum = np.concatenate(([0.0], np.cumsum(spec)))
        floor = (csum[self._fhi] - csum[self._flo]) / (self._fhi - self._flo)
        band = spec[_LO:_HI]
        peak = np.zeros(len(spec), bool)
        peak[_LO:_HI] = ((band >= spec[_LO - 1:_HI - 1]) & (band > spec[_LO + 1:_HI + 1])
                         & (band - floor[_LO:_HI] >= 10.0) & (band > max(float(band.max()) - 45.0, -80.0)))
        near = peak | np.roll(peak, 1) | np.roll(peak, -1)
        # running mean at first, then an EMA: whatever has been there since the stream began
        # (a hum, a fan) counts as stationary at once instead of after stationary_s
        self._occ += max(self._occ_alpha, 1.0 / (self._count + 1)) * (near - self._occ)
        prev = np.maximum(np.maximum(self._age, np.roll(self._age, 1)), np.roll(self._age, -1))
        self._age = np.where(peak, prev + 1, 0)
        moving = self._occ < 0.6  # frequencies held for seconds (hum, fan tone) are not music
        held = bool(np.any((self._age >= _SUSTAIN) & moving))
        birth = int(np.count_nonzero((self._age == _SUSTAIN) & moving)) >= 2
        return held, birth

    # ---- noise -------------------------------------------------------------------------------------
    def _update_noise(self, level: float, speech: bool) -> list[AcousticDetection]:
        c = self.config
        if speech:  # the background is what is there when nobody speaks
            return []
        self._levels.append(level)
        self._background = float(np.median(self._levels))
        above = self._background >= c.noise_level_db
        below = self._background < c.noise_level_db - c.noise_hysteresis_db
        flips = (above and not self._noise.on) or (below and self._noise.on)
        self._noise_run = self._noise_run + HOP if flips else 0
        if self._noise_run >= c.noise_min_s * RATE and self._noise.want(not self._noise.on, self._frame_end):
            self._noise_run = 0
            margin = abs(self._background - c.noise_level_db) / 10.0
            state = "start" if self._noise.on else "end"
            return [AcousticDetection("noise", self._frame_end, float(min(1.0, 0.5 + margin)), {
                "state": state, "level_db": round(self._background, 1), "threshold_db": c.noise_level_db,
                "music": self._music.on, "method": "median level of non-speech audio over 1 s"})]
        return []

    # ---- music -------------------------------------------------------------------------------------
    def _decide_music(self) -> list[AcousticDetection]:
        c = self.config
        frames = [f for f in self._frames if not f[0]]
        usable = len(frames) * HOP / RATE >= c.min_nonspeech_s and len(self._frames) == self._nwin
        if not usable:
            return []  # mostly speech (or too early): keep the current state
        loud = [f for f in frames if f[3]]
        coverage = sum(f[1] for f in loud) / len(frames)
        births = sum(f[2] for f in loud)
        pulse, comb, onsets = self._rhythm()
        tonal = coverage >= c.tonal_coverage and births >= c.tonal_births
        rhythm = pulse >= c.rhythm_pulse and comb >= c.rhythm_comb and onsets >= c.rhythm_onsets
        self._features = {"coverage": round(coverage, 3), "births": int(births), "pulse": round(pulse, 3),
                          "comb": round(comb, 3), "onsets": int(onsets)}
        self._music_votes.append(tonal or rhythm)
        votes = list(self._music_votes)
        need_on, need_off = int(round(c.music_on_s / 0.5)), int(round(c.music_off_s / 0.5))
        if not self._music.on and len(votes) >= need_on and all(votes[-need_on:]):
            want = True
        elif self._music.on and len(votes) >= need_off and not any(votes[-need_off:]):
            want = False
        else:
            return []
        if not self._music.want(want, self._frame_end):
            return []
        if want:
            conf = max(min(1.0, coverage / c.tonal_coverage) * min(1.0, births / (2 * c.tonal_births)),
                       min(1.0, pulse / c.rhythm_pulse) * min(1.0, comb / (1.5 * c.rhythm_comb)))
            method = "tonal" if tonal else "rhythm"
        else:
            conf, method = 1.0 - sum(votes) / len(votes), "none"
        level = _db(float(np.mean(np.concatenate(list(self._recent)[-self._nwin:]) ** 2)))
        return [AcousticDetection("music", self._frame_end, float(np.clip(conf, 0.0, 1.0)), {
            "state": "start" if want else "end", "level_db": round(level, 1), "method": method,
            **self._features})]

    def _rhythm(self) -> tuple[float, float, int]:
        """(autocorrelation at the best beat lag, at twice that lag, salient onsets) of the window."""
        sub = np.asarray(self._sub)
        if len(sub) < 8:
            return 0.0, 0.0, 0
        smooth = np.apply_along_axis(lambda e: np.convolve(e, np.ones(3) / 3, "same"), 0, sub)
        rise = np.maximum(0.0, smooth[3:] - smooth[:-3] - 3.0).sum(axis=1)  # rises beyond 3 dB in 24 ms
        env = rise[: len(rise) // 2 * 2].reshape(-1, 2).max(axis=1)  # 16 ms steps
        env = np.convolve(env, np.ones(3) / 3, "same")
        onsets = int(np.count_nonzero((env[1:-1] > env[:-2]) & (env[1:-1] >= env[2:]) & (env[1:-1] > 3.0)))
        e = env - env.mean()
        r = np.correlate(e, e, "full")[len(e) - 1:]
        if r[0] <= 1e-3 * len(e):  # a flat envelope: no onsets at all
            return 0.0, 0.0, onsets
        r = r / r[0]
        lo, hi = 16, min(76, (len(r) - 2) // 2)  # beat lags 0.26 .. 1.2 s (16 ms steps)
        if hi <= lo:
            return 0.0, 0.0, onsets
        lag = lo + int(np.argmax(r[lo:hi]))
        pulse = float(r[lag])
        comb = float(min(pulse, r[2 * lag - 1: 2 * lag + 2].max()))
        return pulse, comb, onsets

    # ---- laughter ------------------------------------------------------------------------------------
    def _update_laugh(self, level: float) -> list[AcousticDetection]:
        """Energy-gate loud segments against the background and classify them when they end."""
        loud = level > max(self._background + 10.0, -60.0)
        if self._seg_start is None:
            if loud and not self._music.on:
                self._seg_start, self._seg_quiet = self._count - 1, 0
            return []
        self._seg_quiet = 0 if loud else self._seg_quiet + 1
        length = self._count - self._seg_start
        if self._seg_quiet * HOP < 0.3 * RATE and length * HOP < 3.0 * RATE:
            return []
        n_frames = length - self._seg_quiet
        self._seg_start = None
        if not 0.3 * RATE <= n_frames * HOP <= 3.0 * RATE:
            return []
        hops = list(self._recent)[-length:]
        seg = np.concatenate(hops[: n_frames + 2])  # the segment plus 64 ms of its release
        kind, conf = segment_kind((seg * 32767.0).astype(np.int16))
        if kind != "laugh" or conf < self.config.laugh_min_confidence:
            return []
        if not self._laugh_gate.want(True, self._frame_end):
            return []
        self._laugh_gate.on = False  # laughter is an instant event: no end state
        start = self._frame_end - length * HOP
        return [AcousticDetection("laugh", self._frame_end, conf, {
            "state": "detected", "start_sample": int(start), "end_sample": int(start + n_frames * HOP),
            "level_db": round(_db(float(np.mean(seg * seg))), 1), "method": "segment_kind"})]


# ---- segment classification ----------------------------------------------------------------------------
def _seg_frames(x: np.ndarray, n: int, h: int) -> np.ndarray:
    if len(x) < n:
        x = np.pad(x, (0, n - len(x)))
    return np.lib.stride_tricks.sliding_window_view(x, n)[::h]


def _bursts(env: np.ndarray, min_dip: float = 8.0) -> list[int]:
    """Indices of envelope peaks separated from each other by dips of at least ``min_dip`` dB."""
    peaks = [i for i in range(1, len(env) - 1) if env[i] >= env[i - 1] and env[i] > env[i + 1]]
    kept: list[int] = []
    for p in peaks:
        if kept and env[kept[-1]:p + 1].min() > min(env[kept[-1]], env[p]) - min_dip:
            if env[p] > env[kept[-1]]:
                kept[-1] = p  # same burst: keep its highest point
            continue
        kept.append(p)
    return kept


def _regular_run(bursts: list[int], hop_s: float) -> list[int]:
    """The longest chain of bursts whose spacings are laughter-like (0.13-0.34 s)."""
    best: list[int] = bursts[:1]
    run: list[int] = bursts[:1]
    for a, b in zip(bursts, bursts[1:]):
        run = run + [b] if 0.13 <= (b - a) * hop_s <= 0.34 else [b]
        if len(run) > len(best):
            best = run
    return best


def _segment_samples(x: np.ndarray, rate: int) -> np.ndarray:
    """``x`` as float samples in [-1, 1]; AcousticError unless it is a usable segment."""
    if (not isinstance(x, np.ndarray) or x.ndim != 1
            or not (x.dtype == np.int16 or np.issubdtype(x.dtype, np.floating))):
        desc = f"{x.dtype} shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise AcousticError(f"segment must be a 1-D int16 or float array, got {desc}")
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 8000 <= rate <= 48000:
        raise AcousticError(f"rate must be an integer in 8000..48000 Hz, got {rate!r}")
    y = x.astype(np.float64) / 32768.0 if x.dtype == np.int16 else x.astype(np.float64)
    if not np.all(np.isfinite(y)):
        raise AcousticError("segment contains NaN or infinite samples")
    if not 0.02 * rate <= len(y) <= 10 * rate:
        raise AcousticError(f"segment must last 0.02..10 s, got {len(y) / rate:.3f} s")
    return y


def _voicing(power: np.ndarray, win: np.ndarray, rate: int, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: voiced (a steady pitch of 60..400 Hz), and the power above 400 Hz.

    Voicing is the periodicity of the band above 400 Hz: a door's or a desk's low thump is a
    periodic but single mode; a voice has a ladder of harmonics up there.
    """
    n = len(win)
    hp = int(400.0 / rate * 2 * n)
    bright = power.copy()
    bright[:, :hp] = 0.0
    ac = np.fft.irfft(bright, 2 * n, axis=1)[:, :n]
    lo, hi = int(rate / 400), int(rate / 60)
    wac = np.correlate(win, win, "full")[n - 1:]  # the window's own decay, divided out
    nacf = (ac[:, lo:hi] / (ac[:, :1] + 1e-18)) / (wac[lo:hi] / wac[0])
    lag = np.argmax(nacf, axis=1) + lo
    periodic = (nacf.max(axis=1) > 0.6) & active
    # a voice's pitch is continuous: the neighbouring frame has nearly the same period
    steady = np.zeros(len(lag), bool)
    close = np.abs(np.diff(lag)) <= 0.1 * lag[1:]
    steady[1:] |= close
    steady[:-1] |= close
    return periodic & steady, bright


def _run_features(run: list[int], hop_s: float, voiced: np.ndarray, level: np.ndarray, power: np.ndarray,
                  rate: int) -> dict[str, float]:
    """The laughter cues of a regular run of ≥ 3 bursts (frame indices ``run``)."""
    n = power.shape[1] - 1  # the spectra are rffts of 2n points
    top = float(level.max())
    iv = np.diff(run) * hop_s
    # the same vowel again and again: spectra of the bursts alike
    band = np.log(power[run][:, 2:int(4000 / rate * 2 * n)] + 1e-12)
    band -= band.mean(axis=1, keepdims=True)
    band /= np.linalg.norm(band, axis=1, keepdims=True) + 1e-12
    sim = band @ band.T
    return {
        "run_rate_hz": float(1.0 / np.median(iv)),
        "run_cv": float(np.std(iv) / np.mean(iv)),
        "run_voiced": float(np.mean([voiced[max(0, b - 3):b + 5].any() for b in run])),
        # breathy onsets: the 30-80 ms before a burst's peak carry sound but no voicing
        "run_breathy": float(np.mean([(level[max(0, b - 8):max(1, b - 3)] > top - 35).any()
                                      and voiced[max(0, b - 8):max(1, b - 3)].mean() < 0.5 for b in run])),
        "run_similarity": float(sim[np.triu_indices(len(run), 1)].mean()),
        # laughs: short vowels in long breathy cycles
        "run_voiced_share": float(voiced[run[0]:run[-1] + 1].mean()),
    }


def segment_features(x: np.ndarray, rate: int = RATE) -> dict[str, float]:
    """The acoustic features ``segment_kind`` decides on (exposed for tests and tuning)."""
    y = _segment_samples(x, rate)
    n, h = int(0.032 * rate), int(0.01 * rate)
    hop_s = h / rate
    frames = _seg_frames(y, n, h)
    win = np.hanning(n)
    spec = np.fft.rfft((frames - frames.mean(axis=1, keepdims=True)) * win, 2 * n, axis=1)
    power = np.abs(spec) ** 2
    level = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    top = float(level.max())
    active = level > top - 30.0
    voiced, bright = _voicing(power, win, rate, active)
    hf_share = bright.sum(axis=1) / (power.sum(axis=1) + 1e-18)
    env = np.convolve(level, np.ones(3) / 3, "same")
    bursts = [b for b in _bursts(env) if env[b] > top - 20.0]
    span = np.flatnonzero(active)
    peak = int(np.argmax(level))
    run = _regular_run(bursts, hop_s)
    f = {
        "duration_s": float((span[-1] - span[0] + 1) * hop_s),
        "level_db": top,
        "voiced_ratio": float(voiced.sum() / max(1, active.sum())),
        "bursts": float(len(bursts)),
        "rise_s": float((peak - span[0]) * hop_s),  # onset to the loudest frame
        "early_voiced": float(voiced[peak:peak + 6].mean()),  # voicing in the 60 ms from the loudest frame
        "hf_share": float(hf_share[peak:peak + 6].mean()),  # ...and its energy share above 400 Hz
        "run": float(len(run)),
        "run_rate_hz": 0.0, "run_cv": 1.0, "run_voiced": 0.0, "run_breathy": 0.0, "run_similarity": 0.0,
        "run_voiced_share": 0.0,
    }
    if len(run) >= 3:
        f.update(_run_features(run, hop_s, voiced, level, power, rate))
    return f


def segment_kind(x: np.ndarray, rate: int = RATE) -> tuple[str, float]:
    """Classify a short sound (typically 0.1-1.5 s) the VAD fired on.

    Returns ("voice" | "laugh" | "cough" | "noise", confidence 0..1) from the features of
    ``segment_features``: laughter is ≥ 3 regular bursts at 3-7 per second with voiced cores,
    breathy onsets and alike spectra; a cough a sudden (≤ 50 ms) attack into an unvoiced,
    broadband burst, 0.15-1 s long; a voice a steady pitch in ≥ 30 % of the active frames.
    """
    f = segment_features(x, rate)
    if f["level_db"] < -70.0:
        return "noise", 0.5  # too quiet to say anything
    if (f["run"] >= 3 and 3.0 <= f["run_rate_hz"] <= 7.0 and f["run_cv"] <= 0.16 and f["run_voiced"] >= 0.4
            and f["run_breathy"] >= 0.75 and f["run_voiced_share"] <= 0.4 and f["run_similarity"] >= 0.5):
        conf = (0.5 + 0.15 * min(1.0, (f["run"] - 2) / 3) + 0.15 * (1 - f["run_cv"] / 0.16)
                + 0.2 * f["run_breathy"])
        return "laugh", float(min(1.0, conf))
    if (0.15 <= f["duration_s"] <= 1.0 and f["rise_s"] <= 0.05 and f["early_voiced"] <= 0.34
            and f["hf_share"] >= 0.5 and f["bursts"] <= 2):
        return "cough", float(min(1.0, 0.5 + 0.3 * f["hf_share"] + 0.2 * (1 - f["early_voiced"])))
    if f["voiced_ratio"] >= 0.3 and f["duration_s"] >= 0.08:
        return "voice", float(min(1.0, 0.5 + f["voiced_ratio"]))
    return "noise", float(min(1.0, 0.5 + (0.3 - f["voiced_ratio"])))

