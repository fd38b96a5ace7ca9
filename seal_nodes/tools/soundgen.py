"""Offline sound generation for tests and benchmarks: music, background noise, transients, mixing.

Everything is seeded and returns float32 mono in [-1, 1] at any sample rate (default 16 kHz).
Nothing is synthesised speech: speech comes from espeak-ng (``seal_nodes.tools.spoken``).

Levels: ``music`` peaks at -1 dBFS (0.89); every ``noise`` kind has an RMS of -20 dBFS;
transients peak at 0.8 (keyboard 0.6). Use ``mix_at_snr`` or plain gains to set the level you need.
"""
from __future__ import annotations

import numpy as np

from seal_nodes.core.audio.frames import RATE
from seal_nodes.core.voice import nonverbal
from seal_nodes.core.voice.nonverbal import check_rate, fade, resonate

STYLES = ("pop", "piano", "pad", "drums")
NOISE_KINDS = ("white", "pink", "brown", "hum", "fan")
_MAX_S = 600.0
_PROGRESSIONS = [[0, 7, 9, 5], [0, 5, 7, 5], [9, 5, 0, 7], [0, 9, 5, 7], [2, 7, 0, 0]]  # I-V-vi-IV …
_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_PENTA = np.array([0, 2, 4, 7, 9])


class SoundGenError(ValueError):
    """Bad parameters or input for sound generation or mixing."""


def _check(duration_s: float, rate: int) -> tuple[int, int]:
    rate = check_rate(rate)
    if not isinstance(duration_s, (int, float, np.floating)) or not 0 < duration_s <= _MAX_S:
        raise SoundGenError(f"duration_s must be in (0, {_MAX_S:g}] seconds, got {duration_s!r}")
    return int(round(duration_s * rate)), rate


def _midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69) / 12.0)


def _peak(x: np.ndarray, peak: float) -> np.ndarray:
    m = float(np.max(np.abs(x))) if len(x) else 0.0
    return (x * (peak / m) if m > 0 else x).astype(np.float32)


def _shaped_noise(n: int, rate: int, rng: np.random.Generator, gain) -> np.ndarray:
    """Gaussian noise whose amplitude spectrum is multiplied by ``gain(freqs_hz)``."""
    spec = np.fft.rfft(rng.standard_normal(n))
    spec *= gain(np.fft.rfftfreq(n, 1.0 / rate))
    return np.fft.irfft(spec, n)


def _add(buf: np.ndarray, start: int, x: np.ndarray) -> None:
    if start >= len(buf):
        return
    end = min(len(buf), start + len(x))
    buf[start:end] += x[: end - start]


# ---- instruments ----------------------------------------------------------------------------------
def _harmonic_sum(freq: float, t: np.ndarray, amps: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """Σ a_k sin(2π k f t + φ_k), with the k-th harmonic as the k-th power of one complex
    exponential (a multiply per harmonic instead of a sine)."""
    z = np.exp(2j * np.pi * freq * t)
    zk = np.ones_like(z)
    x = np.zeros(len(t))
    for a, ph in zip(amps, phases):
        zk *= z
        x += a * (zk * np.exp(1j * ph)).imag
    return x


def _tone(freq: float, dur: float, rate: int, amps: np.ndarray, attack: float, decay: float,
          release: float, sustain: float = 1.0, inharm: float = 0.0, detune: float = 0.0,
          rng: np.random.Generator | None = None) -> np.ndarray:
    """Additive harmonic tone with an attack/decay/sustain/release envelope.

    ``decay``: time constant of the fall to ``sustain`` (piano: sustain 0, upper partials decay
    faster). ``inharm``: string stiffness (f_k = k f sqrt(1 + B k²)). ``detune``: cents of a
    second, detuned voice (chorus, for pads).
    """
    n = int((dur + release) * rate)
    t = np.arange(n) / rate
    k = np.arange(1, len(amps) + 1)
    fk = freq * k * np.sqrt(1.0 + inharm * k * k)
    keep = fk < 0.45 * rate
    fk, ak = fk[keep], amps[keep]
    phase = (rng.uniform(0, 2 * np.pi, len(fk)) if rng is not None else np.zeros(len(fk)))[:, None]
    if inharm > 0:  # piano: each partial decays at its own rate
        env_k = np.exp(-t[None, :] / (decay / (1.0 + 0.3 * (k[keep, None] - 1))))
        x = np.sum(ak[:, None] * env_k * np.sin(2 * np.pi * fk[:, None] * t + phase), axis=0)
    else:
        x = _harmonic_sum(freq, t, ak, phase[:, 0])
        if detune:
            x = 0.5 * (x + _harmonic_sum(freq * 2 ** (detune / 1200), t, ak, 2 * phase[:, 0]))
    env = sustain + (1.0 - sustain) * np.exp(-t / decay) if inharm == 0 else np.ones(n)
    env *= np.minimum(1.0, t / max(attack, 1e-4))
    rel = t > dur
    env[rel] *= np.exp(-(t[rel] - dur) / max(release / 4.0, 1e-3))
    return fade(x * env, rate, 0.002)


def _kick(rate: int) -> np.ndarray:
    t = np.arange(int(0.35 * rate)) / rate
    f = 48.0 + 110.0 * np.exp(-t / 0.03)  # the pitch sweep that makes it a kick
    x = np.sin(2 * np.pi * np.cumsum(f) / rate) * np.exp(-t / 0.12)
    x[: int(0.003 * rate)] += 0.3  # beater click
    return fade(x, rate, 0.001)


def _snare(rate: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.25 * rate)
    t = np.arange(n) / rate
    rattle = _shaped_noise(n, rate, rng, lambda f: (f > 1200) * (1.0 / (1.0 + f / 8000)))
    rattle *= np.exp(-t / 0.06) / (np.std(rattle) + 1e-9) * 0.4
    body = np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.04)
    return fade(rattle + 0.6 * body, rate, 0.001)


def _hat(rate: int, rng: np.random.Generator, open_: bool = False) -> np.ndarray:
    n = int((0.3 if open_ else 0.06) * rate)
    t = np.arange(n) / rate
    x = _shaped_noise(n, rate, rng, lambda f: (f > min(6000, 0.3 * rate)).astype(float))
    return fade(x / (np.std(x) + 1e-9) * np.exp(-t / (0.1 if open_ else 0.015)) * 0.2, rate, 0.001)


def _drums(buf: np.ndarray, rate: int, beat_s: float, bars: int, rng: np.random.Generator,
           t0: int = 0) -> None:
    kick, snare = _kick(rate), _snare(rate, rng)
    hats = [_hat(rate, rng) for _ in range(4)]
    for bar in range(bars):
        fill = bar % 4 == 3
        for eighth in range(8):
            pos = t0 + int(((bar * 4) + eighth / 2) * beat_s * rate)
            vel = rng.uniform(0.85, 1.0)
            if eighth in (0, 4) or (eighth == 5 and rng.random() < 0.3):
                _add(buf, pos, 0.9 * vel * kick)
            if eighth in (2, 6) or (fill and eighth == 7):
                _add(buf, pos, 0.7 * vel * snare)
            _add(buf, pos, (0.6 if eighth % 2 else 0.9) * vel * hats[eighth % 4])
        if fill and rng.random() < 0.5:
            _add(buf, t0 + int((bar * 4 + 3.75) * beat_s * rate), 0.5 * snare)


# harmonic amplitudes of the instruments
_ORGAN = np.array([1.0, 0.6, 0.35, 0.25, 0.15, 0.1, 0.06])
_PIANO = 1.0 / np.arange(1, 11) ** 1.2
_SAW = 1.0 / np.arange(1, 9) ** 1.5


def _pad_bar(buf: np.ndarray, start: int, chord: list[int], bar: float, rate: int, rng: np.random.Generator) -> None:
    """One bar of slow, detuned saw chords over a sub-octave root."""
    root = chord[0]
    for m in chord + [root + 12]:
        _add(buf, start, 0.25 * _tone(_midi_hz(m), bar, rate, _SAW, attack=0.5 * bar, decay=1.0,
                                       release=0.6 * bar, detune=8.0, rng=rng))
    _add(buf, start, 0.3 * _tone(_midi_hz(root - 12), bar, rate, _SAW[:4], 0.4 * bar, 1.0, 0.6 * bar))


def _band_beat(buf: np.ndarray, pos: int, beat_i: int, chord: list[int], beat: float, rate: int, style: str,
               rng: np.random.Generator) -> None:
    """Bass and chords of one beat, piano or organ."""
    root = chord[0]
    # bass: root, fifth on beat 3, plucked
    bass = root - 12 + (7 if beat_i == 2 else 0)
    amps = _PIANO[:6] if style == "piano" else _ORGAN[:4]
    _add(buf, pos, 0.45 * _tone(_midi_hz(bass), 0.9 * beat, rate, amps, 0.005, 0.25, 0.08, sustain=0.3))
    if style == "piano" or beat_i in (0, 2):  # chords: struck each beat (piano) or twice a bar
        for m in chord:
            m += 12
            if style == "piano":
                tone = _tone(_midi_hz(m), 0.95 * beat, rate, _PIANO, 0.002, 0.8, 0.15, inharm=1e-4, rng=rng)
            else:
                tone = _tone(_midi_hz(m), 1.9 * beat, rate, _ORGAN, 0.02, 0.5, 0.1, sustain=0.7, rng=rng)
            _add(buf, pos, 0.22 * tone)


def _melody_beat(buf: np.ndarray, pos: int, note: int, key: int, beat: float, rate: int, style: str,
                 rng: np.random.Generator) -> int:
    """One beat of melody: a random walk on the pentatonic scale, eighths and rests; the last note."""
    for half in range(2):
        if rng.random() < 0.25:
            continue
        note = int(np.clip(note + rng.integers(-2, 3), 0, 9))
        m = key + 24 + _PENTA[note % 5] + 12 * (note // 5)
        length = beat * (0.5 if rng.random() < 0.6 else 1.0)
        p = pos + int(half * beat / 2 * rate)
        amps = _PIANO if style == "piano" else _ORGAN[:5]
        tone = _tone(_midi_hz(m), 0.9 * length, rate, amps, 0.005, 0.4, 0.1, sustain=0.6,
                     inharm=1e-4 if style == "piano" else 0.0)
        _add(buf, p, 0.3 * tone)
    return note


def music(duration_s: float, rate: int = RATE, seed: int = 0, style: str = "pop") -> np.ndarray:
    """Synthetic music: a chord progression, bass, melody and drums at a seeded key and tempo.

    Styles: ``pop`` (organ-like chords, bass, melody, drum kit), ``piano`` (piano chords,
    bass and melody, no drums), ``pad`` (slow sustained ambient chords, no drums), ``drums``
    (kit only). Peak -1 dBFS.
    """
    n, rate = _check(duration_s, rate)
    if style not in STYLES:
        raise SoundGenError(f"unknown music style {style!r}; choose from {STYLES}")
    rng = np.random.default_rng(seed)
    tempo = {"pop": (92, 128), "piano": (70, 110), "pad": (60, 80), "drums": (80, 140)}[style]
    beat = 60.0 / rng.uniform(*tempo)
    bar_beats = 4 if style != "pad" else int(rng.integers(2, 4))  # pads: a chord every 2-3 beats
    bar = beat * bar_beats
    bars = int(np.ceil(duration_s / bar)) + 1
    key = 48 + int(rng.integers(0, 12))
    prog = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    buf = np.zeros(n + int(2 * rate))
    if style == "drums":
        _drums(buf, rate, beat, bars, rng)
        return _peak(buf[:n], 0.89)
    melody_note = int(rng.integers(0, 5))
    for b in range(bars):
        root = key + prog[b % len(prog)]
        minor = prog[b % len(prog)] in (2, 4, 9)
        chord = [root, root + (3 if minor else 4), root + 7]
        start = int(b * bar * rate)
        if style == "pad":
            _pad_bar(buf, start, chord, bar, rate, rng)
            continue
        for beat_i in range(4):
            pos = start + int(beat_i * beat * rate)
            _band_beat(buf, pos, beat_i, chord, beat, rate, style, rng)
            melody_note = _melody_beat(buf, pos, melody_note, key, beat, rate, style, rng)
    if style == "pop":
        _drums(buf, rate, beat, bars, rng)
    return _peak(buf[:n], 0.89)


# ---- background noise -------------------------------------------------------------------------------
def noise(kind: str, duration_s: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Stationary background noise at -20 dBFS RMS.

    ``white``, ``pink`` (1/f power), ``brown`` (1/f² power, above 20 Hz), ``hum`` (50 or 60 Hz
    mains, seeded, with its harmonics: 2nd strongest, odd ones above even), ``fan`` (low-passed
    broadband airflow, modulated at the shaft rate, plus the blade-pass tone and its harmonics).
    """
    n, rate = _check(duration_s, rate)
    if kind not in NOISE_KINDS:
        raise SoundGenError(f"unknown noise kind {kind!r}; choose from {NOISE_KINDS}")
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _shaped_noise(n, rate, rng, lambda f: 1.0 / np.sqrt(np.maximum(f, 20.0)))
    elif kind == "brown":
        x = _shaped_noise(n, rate, rng, lambda f: (f >= 20.0) / np.maximum(f, 20.0))
    elif kind == "hum":
        mains = 50.0 if rng.random() < 0.5 else 60.0
        x = np.zeros(n)
        for k in range(1, 12):
            amp = (1.0 if k == 2 else 0.6 / k if k % 2 else 0.25 / k) * rng.uniform(0.7, 1.3)
            wobble = 1.0 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t + rng.uniform(0, 6))
            x += amp * wobble * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 2 * np.pi))
        x += 0.003 * rng.standard_normal(n)
    else:  # fan
        corner = rng.uniform(400, 1200)
        x = _shaped_noise(n, rate, rng, lambda f: (f > 30) / (1.0 + (f / corner) ** 1.5))
        shaft = rng.uniform(12, 25)  # rev/s
        blades = int(rng.integers(3, 8))
        x *= 1.0 + 0.15 * np.sin(2 * np.pi * shaft * t)
        x /= np.std(x) + 1e-12
        bpf = shaft * blades
        drift = np.cumsum(1.0 + 0.002 * np.sin(2 * np.pi * 0.2 * t)) / rate  # slight speed wobble
        for h, a in ((1, 0.5), (2, 0.2), (3, 0.08)):
            x += a * np.sin(2 * np.pi * bpf * h * drift + rng.uniform(0, 2 * np.pi))
    x = x / (np.sqrt(np.mean(x * x)) + 1e-12) * 0.1
    return np.clip(x, -1.0, 1.0).astype(np.float32)


# ---- transients --------------------------------------------------------------------------------------
def _ringing(rate: int, n: int, freqs: list[float], decays: list[float], rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / rate
    return sum(rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * min(f, 0.45 * rate) * t + rng.uniform(0, 6))
               * np.exp(-t / d) for f, d in zip(freqs, decays))


def cough(rate: int = RATE, seed: int = 0) -> np.ndarray:
    """A human cough (the source-filter model of ``nonverbal.cough``) at a seeded voice pitch."""
    rng = np.random.default_rng(seed)
    return _peak(nonverbal.cough(check_rate(rate), seed=seed, f0_hz=float(rng.uniform(95, 230))), 0.8)


def clap(rate: int = RATE, seed: int = 0) -> np.ndarray:
    """A hand clap: a few noise bursts within ~10 ms, band-limited around 1-2.5 kHz, with a short room tail."""
    rate = check_rate(rate)
    rng = np.random.default_rng(seed)
    n = int(0.25 * rate)
    t = np.arange(n) / rate
    env = np.zeros(n)
    for k, off in enumerate(np.sort(rng.uniform(0, 0.011, 4))):
        m = t >= off
        env[m] += (0.5 if k < 3 else 1.0) * np.exp(-(t[m] - off) / (0.002 if k < 3 else 0.012))
    centre = rng.uniform(1000, 2200)
    src = rng.standard_normal(n) * (env + 0.05 * np.exp(-t / 0.06))
    x = resonate(src, rate, [centre, 2.3 * centre], [0.6 * centre, 1.5 * centre])
    return _peak(fade(x, rate, 0.001), 0.8)


def click(rate: int = RATE, seed: int = 0) -> np.ndarray:
    """A mechanical click (pen, switch, mouse): ~3 ms of high, fast-decaying resonances."""
    rate = check_rate(rate)
    rng = np.random.default_rng(seed)
    x = _ringing(rate, int(0.02 * rate), list(rng.uniform(2500, 6500, 3)), [0.0008, 0.0012, 0.002], rng)
    return _peak(fade(x, rate, 0.0005), 0.8)


def keyboard(duration_s: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Typing: ~6 keys per second at irregular intervals, each a press and a softer release click."""
    n, rate = _check(duration_s, rate)
    rng = np.random.default_rng(seed)
    buf = np.zeros(n + int(0.3 * rate))
    t = rng.uniform(0.02, 0.1)
    while t < duration_s:
        space = rng.random() < 0.15
        hi = list(rng.uniform(1800, 4500, 3))
        press = _ringing(rate, int(0.03 * rate), hi, [0.001, 0.0015, 0.003], rng)
        thud = _ringing(rate, int(0.03 * rate), [rng.uniform(150, 400)], [0.006], rng)
        key = (0.6 * press + (0.8 if space else 0.3) * thud) * rng.uniform(0.5, 1.0)
        _add(buf, int(t * rate), fade(key, rate, 0.0005))
        release = _ringing(rate, int(0.02 * rate), list(rng.uniform(2500, 5000, 2)), [0.0008, 0.0015], rng)
        _add(buf, int((t + rng.uniform(0.07, 0.13)) * rate), 0.3 * fade(release, rate, 0.0005))
        t += max(0.06, rng.exponential(0.16))
    return _peak(buf[:n], 0.6)


def door(rate: int = RATE, seed: int = 0) -> np.ndarray:
    """A door slam: broadband crack, low panel thump (damped 60-130 Hz modes), latch rattle, room tail."""
    rate = check_rate(rate)
    rng = np.random.default_rng(seed)
    n = int(0.8 * rate)
    t = np.arange(n) / rate
    thump = _ringing(rate, n, list(rng.uniform(60, 130, 2)) + [rng.uniform(180, 260)], [0.12, 0.09, 0.05], rng)
    crack = rng.standard_normal(n) * np.exp(-t / 0.008)
    tail = _shaped_noise(n, rate, rng, lambda f: 1.0 / (1.0 + f / 1500)) * np.exp(-t / 0.15) * 0.08
    x = thump + 0.7 * crack + tail
    for k in range(int(rng.integers(2, 5))):  # the latch and the frame rattling
        pos = int(rng.uniform(0.03, 0.12) * rate)
        _add(x, pos, 0.3 * _ringing(rate, int(0.01 * rate), list(rng.uniform(1500, 4000, 2)), [0.001, 0.002], rng))
    return _peak(fade(x, rate, 0.001), 0.8)


# ---- levels and mixing ----------------------------------------------------------------------------
def _as_float(x: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.ndim != 1:
        raise SoundGenError(f"{name} must be a 1-D numpy array, got "
                            f"{getattr(x, 'shape', type(x).__name__)}")
    if x.dtype == np.int16:
        return x.astype(np.float64) / 32768.0
    if not np.issubdtype(x.dtype, np.floating):
        raise SoundGenError(f"{name} must be int16 or float samples, got {x.dtype}")
    if len(x) and not np.all(np.isfinite(x)):
        raise SoundGenError(f"{name} contains NaN or infinite samples")
    return x.astype(np.float64)


def rms_db(x: np.ndarray) -> float:
    """RMS level in dBFS (float in [-1, 1] or int16; full-scale square wave = 0 dB); -120 for silence."""
    x = _as_float(x, "x")
    if len(x) == 0:
        raise SoundGenError("rms_db of an empty signal")
    return float(max(-120.0, 10.0 * np.log10(np.mean(x * x) + 1e-30)))


def _active_mask(x: np.ndarray, rate: int = RATE, frame_ms: float = 20.0, range_db: float = 35.0) -> np.ndarray:
    """Samples in frames within ``range_db`` of the loudest frame (a simple active-speech level)."""
    f = max(1, int(rate * frame_ms / 1000))
    nf = -(-len(x) // f)
    pad = np.zeros(nf * f)
    pad[: len(x)] = x
    e = 10 * np.log10(np.mean(pad.reshape(nf, f) ** 2, axis=1) + 1e-30)
    return np.repeat(e > e.max() - range_db, f)[: len(x)]


def mix_at_snr(speech: np.ndarray, background: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` plus ``background`` scaled to ``snr_db``, as float32 in [-1, 1].

    The SNR is measured over the speech's active samples (20 ms frames within 35 dB of the
    loudest); the background is looped or trimmed to the speech's length. If the sum would clip,
    the whole mix is scaled down (both parts alike, so the SNR holds).
    """
    s, b = _as_float(speech, "speech"), _as_float(background, "background")
    if len(s) == 0 or len(b) == 0:
        raise SoundGenError("speech and background must not be empty")
    if not isinstance(snr_db, (int, float, np.floating)) or not np.isfinite(snr_db):
        raise SoundGenError(f"snr_db must be a finite number, got {snr_db!r}")
    b = np.resize(b, len(s))  # loops a short background
    active = _active_mask(s)
    ps = float(np.mean(s[active] ** 2))
    pb = float(np.mean(b[active] ** 2))
    if ps <= 1e-20:
        raise SoundGenError("speech is silent: no active samples to measure the SNR on")
    if pb <= 1e-20:
        raise SoundGenError("background is silent where the speech is active: SNR is undefined")
    y = s + b * np.sqrt(ps / pb / 10.0 ** (snr_db / 10.0))
    peak = float(np.max(np.abs(y)))
    if peak > 0.99:
        y *= 0.99 / peak
    return y.astype(np.float32)
