"""Non-verbal vocal sounds (breath, sigh, throat clearing, laughter, cough) for the TTS's control tags.

A source-filter voice: a Rosenberg glottal pulse train with jitter and shimmer plus aspiration
noise (pulsed by the glottal flow), shaped by a cascade of Klatt 2nd-order IIR formant
resonators. The resonators are applied in the frequency domain, block by block (their exact
transfer function on a zero-padded FFT grid), so formants can move over time without a Python
loop over samples. Every sound is seeded, float32 mono in [-1, 1], with short raised-cosine fades.
"""
from __future__ import annotations

import numpy as np

FADE_S = 0.005  # fade in/out: long enough to avoid a click, short enough to keep the attack
_SIZES = {"small": (2, 3), "medium": (4, 5), "big": (6, 8)}  # "ha" bursts per laugh size


class NonverbalError(ValueError):
    """Bad parameters for a non-verbal sound (rate, f0, size, intensity)."""


# ---- shared DSP helpers (also used by soundgen) ---------------------------------------------------
def check_rate(rate: int) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 8000 <= rate <= 192_000:
        raise NonverbalError(f"sample rate must be an integer in 8000..192000 Hz, got {rate!r}")
    return int(rate)


def _check_f0(f0_hz: float) -> float:
    if not isinstance(f0_hz, (int, float, np.floating)) or not np.isfinite(f0_hz) or not 50 <= f0_hz <= 500:
        raise NonverbalError(f"f0_hz must be a number in 50..500 Hz, got {f0_hz!r}")
    return float(f0_hz)


def fade(x: np.ndarray, rate: int, seconds: float = FADE_S) -> np.ndarray:
    """Raised-cosine fade in and out, in place; returns ``x``."""
    n = min(len(x) // 2, int(round(seconds * rate)))
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def resonate(x: np.ndarray, rate: int, freqs: np.ndarray, bws: np.ndarray, hop: int = 256) -> np.ndarray:
    """Filter ``x`` through a cascade of Klatt resonators (unity gain at DC).

    ``freqs``/``bws`` (Hz): shape (k,) for fixed formants, or (n_blocks, k) for one set per
    ``hop`` samples (n_blocks = ceil(len(x)/hop)). Each block is convolved with its filter's
    impulse response (FFT long enough for it to decay by 60 dB) and overlap-added, so the
    result equals the IIR cascade up to that truncation.
    """
    x = np.asarray(x, np.float64)
    n = len(x)
    nb = max(1, -(-n // hop))
    freqs, bws = np.atleast_2d(np.asarray(freqs, np.float64)), np.atleast_2d(np.asarray(bws, np.float64))
    if freqs.shape[0] != bws.shape[0]:  # one of them moves: a set per block for both
        freqs, bws = np.broadcast_arrays(freqs, bws)
    freqs = np.clip(freqs, 20.0, 0.45 * rate)  # a formant above Nyquist would alias
    tail = int(rate * 6.9 / (np.pi * max(float(bws.min()), 20.0)))  # -60 dB decay of the narrowest
    nfft = 1 << int(np.ceil(np.log2(hop + tail)))
    blocks = np.zeros((nb, hop))
    blocks.reshape(-1)[:n] = x
    spec = np.fft.rfft(blocks, nfft, axis=1)
    z1 = np.exp(-2j * np.pi * np.arange(nfft // 2 + 1) / nfft)
    z2 = z1 * z1
    r = np.exp(-np.pi * bws / rate)[..., None]
    a1 = (-2.0 * r * np.cos(2 * np.pi * freqs / rate)[..., None])
    a2 = r * r
    h = np.prod((1.0 + a1 + a2) / (1.0 + a1 * z1 + a2 * z2), axis=1)  # (1 or nb, bins): fixed or moving
    y = np.fft.irfft(spec * h, nfft, axis=1)  # (nb, nfft): each block's full response
    out = np.zeros((nb + nfft // hop, hop))
    parts = y.reshape(nb, nfft // hop, hop)
    for j in range(nfft // hop):  # overlap-add: part j of block i lands in output block i + j
        out[j:j + nb] += parts[:, j]
    return out.reshape(-1)[:n]


def _finish(x: np.ndarray, rate: int, peak: float) -> np.ndarray:
    x = x - np.mean(x)
    m = float(np.max(np.abs(x))) if len(x) else 0.0
    if m > 0:
        x = x * (peak / m)
    return np.clip(fade(x, rate), -1.0, 1.0).astype(np.float32)


# ---- the voice source ---------------------------------------------------------------------------------
def _glottal(f0: np.ndarray, rate: int, rng: np.random.Generator, jitter: float = 0.01,
             shimmer: float = 0.06, open_q: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Rosenberg pulse train following the f0 track (Hz per sample; 0 = unvoiced).

    Returns (excitation = flow derivative incl. lip radiation, normalised flow 0..1).
    """
    n = len(f0)
    starts, periods = [], []
    t = 0.0
    while t < n:  # one iteration per glottal period (~100-300 per second): cheap
        f = f0[int(t)]
        if f <= 0:
            t += rate * 0.005
            continue
        p = rate / f * (1.0 + jitter * rng.standard_normal())
        starts.append(t)
        periods.append(max(p, 2.0))
        t += periods[-1]
    flow = np.zeros(n)
    if starts:
        s, p = np.asarray(starts), np.asarray(periods)
        amp = np.clip(1.0 + shimmer * rng.standard_normal(len(s)), 0.3, 2.0)
        k = np.arange(n)
        i = np.clip(np.searchsorted(s, k, side="right") - 1, 0, len(s) - 1)
        ph = (k - s[i]) / p[i]
        tp, tn = 0.66 * open_q, 0.34 * open_q  # opening and closing phases of the open quotient
        rise = 0.5 - 0.5 * np.cos(np.pi * ph / tp)
        fall = np.cos(0.5 * np.pi * (ph - tp) / tn)
        flow = np.where(ph < tp, rise, np.where(ph < tp + tn, fall, 0.0)) * amp[i]
        flow[(ph < 0) | (f0 <= 0)] = 0.0
    return np.diff(flow, prepend=0.0) * (rate / 100.0), flow


def _voice(rate: int, f0: np.ndarray, voice_amp: np.ndarray, noise_amp: np.ndarray,
           formants: np.ndarray, bws: np.ndarray, rng: np.random.Generator,
           jitter: float = 0.01, shimmer: float = 0.06) -> np.ndarray:
    """Glottal source + aspiration noise (both per-sample envelopes) → formant cascade."""
    exc, flow = _glottal(f0, rate, rng, jitter, shimmer)
    exc = exc / (np.max(np.abs(exc)) + 1e-9)
    noise = rng.standard_normal(len(f0))
    noise = np.diff(noise, prepend=0.0) * 0.5  # aspiration is brighter than the voice
    pulsed = np.where(f0 > 0, 0.4 + 0.6 * flow / (flow.max() + 1e-9), 1.0)  # noise rides the flow
    src = voice_amp * exc + noise_amp * pulsed * noise * 0.3
    return resonate(src, rate, formants, bws)


def _track(rate: int, points: list[tuple[float, float]], n: int) -> np.ndarray:
    """Piecewise-linear contour from (seconds, value) points, one value per sample."""
    t = np.arange(n) / rate
    ts, vs = zip(*points)
    return np.interp(t, ts, vs)


def _blocks(rate: int, n: int, points: list[tuple[float, list[float]]], hop: int = 256) -> np.ndarray:
    """Formant frequencies per filter block, interpolated from (seconds, [F1, F2, ...]) points."""
    t = (np.arange(max(1, -(-n // hop))) + 0.5) * hop / rate
    ts = [p[0] for p in points]
    vals = np.asarray([p[1] for p in points])
    return np.stack([np.interp(t, ts, vals[:, j]) for j in range(vals.shape[1])], axis=1)


_A = [750.0, 1250.0, 2600.0, 3500.0]  # open /a/ as in "ha"
_SCHWA = [520.0, 1450.0, 2500.0, 3500.0]
_I = [300.0, 2200.0, 2950.0, 3700.0]
_M = [270.0, 1100.0, 2300.0, 3400.0]  # nasal murmur (mouth closed), approximated by low formants
_BW = [90.0, 110.0, 160.0, 250.0]
_BW_BREATHY = [250.0, 300.0, 400.0, 500.0]


# ---- the sounds ------------------------------------------------------------------------------------
def breath(rate: int, seed: int = 0, intensity: float = 1.0) -> np.ndarray:
    """An audible in-breath (~0.5-0.9 s of aspiration through an open, relaxed tract)."""
    rate = check_rate(rate)
    if not isinstance(intensity, (int, float, np.floating)) or not 0 < intensity <= 2:
        raise NonverbalError(f"intensity must be in (0, 2], got {intensity!r}")
    rng = np.random.default_rng(seed)
    dur = rng.uniform(0.45, 0.6) + 0.15 * float(intensity)
    n = int(dur * rate)
    env = np.sin(np.pi * np.linspace(0, 1, n)) ** 1.5 * (1.0 - 0.3 * np.linspace(0, 1, n))
    zeros = np.zeros(n)
    shift = rng.uniform(0.9, 1.1)
    x = _voice(rate, zeros, zeros, env, np.asarray(_SCHWA) * shift, _BW_BREATHY, rng)
    return _finish(x, rate, 0.12 * float(intensity))


def sigh(rate: int, seed: int = 0, f0_hz: float = 120.0) -> np.ndarray:
    """A sigh: a short in-breath, then a long breathy 'haaah' falling in pitch and loudness."""
    rate, f0_hz = check_rate(rate), _check_f0(f0_hz)
    rng = np.random.default_rng(seed)
    inhale = breath(rate, seed=seed + 1, intensity=0.6).astype(np.float64)[: int(0.35 * rate)]
    dur = rng.uniform(0.8, 1.1)
    n = int(dur * rate)
    f0 = _track(rate, [(0, 1.15 * f0_hz), (dur, 0.75 * f0_hz)], n)
    voice_amp = _track(rate, [(0, 0.0), (0.15 * dur, 0.5), (0.5 * dur, 0.45), (dur, 0.0)], n)
    noise_amp = _track(rate, [(0, 0.2), (0.1 * dur, 1.0), (0.6 * dur, 0.6), (dur, 0.0)], n)
    fm = _blocks(rate, n, [(0, _A), (dur, _SCHWA)])
    out = _voice(rate, f0, voice_amp, noise_amp, fm, _BW_BREATHY, rng, jitter=0.015, shimmer=0.08)
    out = out / (np.max(np.abs(out)) + 1e-9)
    gap = np.zeros(int(0.06 * rate))
    return _finish(np.concatenate([0.25 * inhale / (np.max(np.abs(inhale)) + 1e-9), gap, out]), rate, 0.3)


def clear_throat(rate: int, seed: int = 0, f0_hz: float = 120.0) -> np.ndarray:
    """'Ahem': a rough, creaky burst released from a glottal closure, then a short nasal 'hm'."""
    rate, f0_hz = check_rate(rate), _check_f0(f0_hz)
    rng = np.random.default_rng(seed)
    d1, d2, d_gap = rng.uniform(0.14, 0.2), rng.uniform(0.2, 0.28), rng.uniform(0.03, 0.06)
    n1, n2 = int(d1 * rate), int(d2 * rate)
    f0 = _track(rate, [(0, 0.55 * f0_hz), (d1, 0.45 * f0_hz)], n1)  # vocal fry: low and irregular
    env = _track(rate, [(0, 0.0), (0.01, 1.0), (0.5 * d1, 0.8), (d1, 0.0)], n1)
    part1 = _voice(rate, f0, env, 0.8 * env, np.asarray(_SCHWA), np.asarray(_BW) * 1.6, rng,
                   jitter=0.08, shimmer=0.3)
    f0b = _track(rate, [(0, 1.05 * f0_hz), (d2, 0.9 * f0_hz)], n2)
    env2 = _track(rate, [(0, 0.0), (0.03, 0.7), (0.7 * d2, 0.6), (d2, 0.0)], n2)
    part2 = _voice(rate, f0b, env2, 0.1 * env2, np.asarray(_M), [80.0, 300.0, 400.0, 500.0], rng)
    part1 /= np.max(np.abs(part1)) + 1e-9
    part2 /= np.max(np.abs(part2)) + 1e-9
    gap = np.zeros(int(d_gap * rate))
    return _finish(np.concatenate([part1, gap, 0.6 * part2]), rate, 0.4)


def laugh(rate: int, size: str = "medium", seed: int = 0, f0_hz: float = 120.0) -> np.ndarray:
    """A series of 'ha' bursts (aspirated onset, voiced /a/) at ~4-5 per second.

    ``size``: small (2-3 bursts), medium (4-5), big (6-8, ending with an in-breath). Pitch and
    loudness start high and fall across the series, as in spontaneous laughter.
    """
    rate, f0_hz = check_rate(rate), _check_f0(f0_hz)
    if size not in _SIZES:
        raise NonverbalError(f"laugh size must be one of {sorted(_SIZES)}, got {size!r}")
    rng = np.random.default_rng(seed)
    lo, hi = _SIZES[size]
    count = int(rng.integers(lo, hi + 1))
    interval = rng.uniform(0.19, 0.23)
    onsets, t = [], 0.0
    for i in range(count):
        onsets.append(t)
        t += interval * (1.0 + 0.06 * i) * rng.uniform(0.92, 1.08)  # laughter slows down
    dur = onsets[-1] + 0.2
    n = int(dur * rate)
    f0, v_amp, n_amp = np.zeros(n), np.zeros(n), np.zeros(n)
    for i, t0 in enumerate(onsets):
        h = rng.uniform(0.035, 0.05)  # /h/ aspiration before the vowel
        v = rng.uniform(0.07, 0.1)
        a = 1.0 - 0.5 * i / max(1, count - 1)
        pitch = f0_hz * (1.6 - 0.4 * i / max(1, count - 1)) * rng.uniform(0.96, 1.04)
        s0, s1, s2 = int(t0 * rate), int((t0 + h) * rate), min(n, int((t0 + h + v) * rate))
        seg = np.arange(s2 - s1) / max(1, s2 - s1)
        f0[s1:s2] = pitch * (1.0 - 0.12 * seg)
        v_amp[s1:s2] = a * np.sin(np.pi * np.minimum(1.0, 1.5 * seg + 0.15)) ** 0.7
        n_amp[s0:s1] = a * 0.8 * np.sin(np.pi * np.linspace(0.1, 0.85, s1 - s0))
        n_amp[s1:s2] = 0.35 * v_amp[s1:s2]
    n_amp = np.maximum(n_amp, 0.06 * np.sin(np.pi * np.arange(n) / n))  # the exhalation in between
    fm = np.asarray(_A) * rng.uniform(0.93, 1.07)
    x = _voice(rate, f0, v_amp, n_amp, fm, np.asarray(_BW) * 1.3, rng, jitter=0.02, shimmer=0.1)
    x /= np.max(np.abs(x)) + 1e-9
    if size == "big":
        x = np.concatenate([x, np.zeros(int(0.05 * rate)),
                            0.3 * breath(rate, seed=seed + 7, intensity=1.0).astype(np.float64) / 0.12])
    return _finish(x, rate, 0.6)


def cough(rate: int, seed: int = 0, f0_hz: float = 120.0) -> np.ndarray:
    """A cough: closure, an explosive broadband burst, then a noisy voiced decay."""
    rate, f0_hz = check_rate(rate), _check_f0(f0_hz)
    rng = np.random.default_rng(seed)
    d_burst, d_voice, d_pre = rng.uniform(0.06, 0.09), rng.uniform(0.12, 0.2), rng.uniform(0.02, 0.04)
    dur = d_burst + d_voice + 0.05
    n = int(dur * rate)
    t = np.arange(n) / rate
    attack = 1.0 - np.exp(-t / 0.002)  # the glottis opens suddenly: ~2 ms rise
    burst = attack * np.exp(-t / (0.4 * d_burst))
    # turbulence dominates; voicing (rough, irregular) joins only as the burst decays
    t_v = 0.7 * d_burst
    f0 = np.where(t > t_v, f0_hz * (0.9 - 0.2 * t / dur), 0.0)
    v_amp = np.where(t > t_v, 0.12 * np.exp(-(t - t_v) / (0.4 * d_voice)), 0.0)
    n_amp = 3.0 * burst + 1.2 * np.where(t > t_v, np.exp(-(t - t_v) / (0.5 * d_voice)), 0.0) * burst.max()
    fm = _blocks(rate, n, [(0, [650.0, 1700.0, 2700.0, 3800.0]), (dur, _SCHWA)])
    x = _voice(rate, f0, v_amp, n_amp, fm, np.asarray(_BW_BREATHY) * 1.5, rng, jitter=0.06, shimmer=0.25)
    pre = np.zeros(int(d_pre * rate))  # the closure: silence before the burst
    return _finish(np.concatenate([pre, x]), rate, 0.6)
