"""nonverbal: source-filter breath, sigh, throat clearing, laughter and cough for the TTS's tags."""
import numpy as np
import pytest

from seal_nodes.core.voice import nonverbal as nv

pytestmark = pytest.mark.unit

SOUNDS = {
    "breath": lambda rate, seed=0: nv.breath(rate, seed=seed),
    "sigh": lambda rate, seed=0: nv.sigh(rate, seed=seed),
    "clear_throat": lambda rate, seed=0: nv.clear_throat(rate, seed=seed),
    "laugh": lambda rate, seed=0: nv.laugh(rate, seed=seed),
    "cough": lambda rate, seed=0: nv.cough(rate, seed=seed),
}


def _envelope_db(x: np.ndarray, rate: int, ms: float = 10.0) -> np.ndarray:
    hop = int(rate * ms / 1000)
    e = np.mean(x[: len(x) // hop * hop].reshape(-1, hop).astype(np.float64) ** 2, axis=1)
    return 10 * np.log10(e + 1e-12)


def _pitches(x: np.ndarray, rate: int) -> np.ndarray:
    """f0 (Hz) of clearly periodic 40 ms frames (normalised autocorrelation > 0.7, 60-500 Hz)."""
    n, out = int(0.04 * rate), []
    lo, hi = rate // 500, rate // 60
    for i in range(0, len(x) - n, n // 2):
        f = x[i:i + n].astype(np.float64)
        f -= f.mean()
        if np.sum(f * f) < 1e-6:
            continue
        ac = np.correlate(f, f, "full")[n - 1:]
        r = ac[lo:hi] / ac[0] * n / (n - np.arange(lo, hi))
        k = int(np.argmax(r > 0.9 * r.max()))  # the shortest near-best lag: no octave errors
        if r[k] > 0.7:
            out.append(rate / (lo + k))
    return np.asarray(out)


@pytest.mark.parametrize("name", sorted(SOUNDS))
@pytest.mark.parametrize("rate", [16000, 22050, 48000])
def test_format_range_and_click_free_edges(name, rate):
    x = SOUNDS[name](rate)
    assert x.dtype == np.float32 and x.ndim == 1 and np.all(np.isfinite(x))
    assert 0.05 < np.max(np.abs(x)) <= 1.0
    assert 0.15 * rate < len(x) < 3.0 * rate
    fade = int(0.005 * rate)
    # the fades start and end at silence and rise smoothly: no step at either edge
    assert abs(x[0]) < 1e-3 and abs(x[-1]) < 1e-3
    assert np.max(np.abs(np.diff(x[:fade]))) < 0.1 and np.max(np.abs(np.diff(x[-fade:]))) < 0.1


@pytest.mark.parametrize("name", sorted(SOUNDS))
def test_seeded_and_rate_independent_timing(name):
    a, b = SOUNDS[name](22050, seed=5), SOUNDS[name](22050, seed=5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, SOUNDS[name](22050, seed=6))
    # the same seed lasts the same time at any rate
    assert len(SOUNDS[name](48000, seed=5)) / 48000 == pytest.approx(len(a) / 22050, abs=0.002)


def test_breath_is_unvoiced_and_intensity_scales_it():
    x = nv.breath(16000, seed=1)
    assert len(_pitches(x, 16000)) == 0  # aspiration only: no periodic frame
    assert np.max(np.abs(nv.breath(16000, seed=1, intensity=0.5))) == pytest.approx(0.5 * np.max(np.abs(x)), rel=0.05)
    assert len(nv.breath(16000, seed=1, intensity=2.0)) > len(x)


@pytest.mark.parametrize("fn,part", [(nv.sigh, 0.0), (nv.laugh, 0.0), (nv.clear_throat, 0.6)])
def test_voiced_sounds_follow_f0(fn, part):
    """The glottal source runs at the requested voice pitch: doubling f0 doubles the measured pitch.

    (clear_throat: its closing "hm" only; the vocal fry before it sits an octave lower.)"""
    def pitch(f0):
        x = fn(16000, seed=2, f0_hz=f0)
        return np.median(_pitches(x[int(part * len(x)):], 16000))

    low, high = pitch(100.0), pitch(200.0)
    assert high / low == pytest.approx(2.0, rel=0.15)


def test_sigh_falls_in_pitch():
    x = nv.sigh(16000, seed=3, f0_hz=150.0)
    half = len(x) // 2
    first, second = _pitches(x[:half], 16000), _pitches(x[half:], 16000)
    assert len(first) and len(second) and np.median(second) < np.median(first)


def test_laugh_size_sets_the_number_of_bursts():
    def bursts(x):
        env = np.convolve(_envelope_db(x, 16000), np.ones(3) / 3, "same")
        top = env.max()
        peaks = [i for i in range(1, len(env) - 1)
                 if env[i] >= env[i - 1] and env[i] > env[i + 1] and env[i] > top - 15]
        kept = []  # peaks separated by a dip of 6 dB or more are separate "ha"s
        for p in peaks:
            if kept and env[kept[-1]:p].min() > min(env[kept[-1]], env[p]) - 6:
                continue
            kept.append(p)
        return len(kept)

    counts = {size: [bursts(nv.laugh(16000, size=size, seed=s)) for s in range(6)]
              for size in ("small", "medium", "big")}
    assert all(2 <= c <= 3 for c in counts["small"]), counts
    assert all(4 <= c <= 5 for c in counts["medium"]), counts
    assert all(c >= 6 for c in counts["big"]), counts
    assert len(nv.laugh(16000, "big", seed=1)) > len(nv.laugh(16000, "small", seed=1))


def test_laugh_is_rhythmic_ha_with_formants():
    x = nv.laugh(16000, size="medium", seed=4, f0_hz=120.0).astype(np.float64)
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 16000)
    band = lambda a, b: spec[(f >= a) & (f < b)].sum()
    # /a/: a strong first formant region (600-1400 Hz) and little energy near 3-4 kHz relative to it
    assert band(600, 1400) > band(200, 500) and band(600, 1400) > 3 * band(3000, 4000)
    # the envelope pulses at 3.5-6 Hz
    env = _envelope_db(x, 16000)
    env = env - env.mean()
    r = np.correlate(env, env, "full")[len(env) - 1:]
    lag = 15 + int(np.argmax(r[15:40]))  # 150-400 ms
    assert 3.5 <= 100.0 / lag <= 6.0 and r[lag] / r[0] > 0.3


def test_cough_is_an_explosive_broadband_burst():
    for seed in range(5):
        x = nv.cough(16000, seed=seed)
        env = _envelope_db(x, 16000, 5.0)
        onset = int(np.argmax(env > env.max() - 30))
        assert int(np.argmax(env)) - onset <= 6  # loudest within 30 ms of the onset
        burst = x[onset * 80: onset * 80 + 800].astype(np.float64)
        spec = np.abs(np.fft.rfft(burst, 2048)) ** 2
        f = np.fft.rfftfreq(2048, 1 / 16000)
        assert spec[f > 1000].sum() > 0.3 * spec.sum()  # turbulence, not a low hum
        assert len(x) < 0.5 * 16000


@pytest.mark.parametrize("call", [
    lambda: nv.breath(0), lambda: nv.breath(16000.0), lambda: nv.breath(True), lambda: nv.breath(16000, intensity=0),
    lambda: nv.breath(16000, intensity=float("nan")), lambda: nv.breath(16000, intensity=3.0),
    lambda: nv.sigh(16000, f0_hz=20.0), lambda: nv.sigh(16000, f0_hz=float("nan")),
    lambda: nv.clear_throat(500), lambda: nv.laugh(16000, size="huge"), lambda: nv.laugh(16000, size=None),
    lambda: nv.laugh(16000, f0_hz="high"), lambda: nv.cough(16000, f0_hz=1000.0),
])
def test_bad_parameters_raise_a_clear_error(call):
    with pytest.raises(ValueError):
        call()
