"""soundgen: seeded music, noise and transients with the properties their names promise."""
import numpy as np
import pytest

from seal_nodes.tools import soundgen as sg

pytestmark = pytest.mark.unit

RATE = 16_000


def _spectrum(x: np.ndarray, rate: int = RATE) -> tuple[np.ndarray, np.ndarray]:
    p = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    return np.fft.rfftfreq(len(x), 1.0 / rate), p


def _octave_slope_db(x: np.ndarray) -> float:
    """Least-squares slope of the power per Hz in octave bands 125 Hz .. 4 kHz, dB per octave."""
    f, p = _spectrum(x)
    centres = 125.0 * 2.0 ** np.arange(6)
    dens = [10 * np.log10(p[(f >= c / np.sqrt(2)) & (f < c * np.sqrt(2))].mean()) for c in centres]
    return float(np.polyfit(np.log2(centres), dens, 1)[0])


def _peak_freqs(x: np.ndarray, rate: int, n: int = 4096, hop: int = 2048) -> np.ndarray:
    """Frequencies of prominent spectral peaks (quadratic interpolation) in every frame, 80 Hz .. 4 kHz."""
    out = []
    win = np.hanning(n)
    for i in range(0, len(x) - n, hop):
        s = 20 * np.log10(np.abs(np.fft.rfft(x[i:i + n] * win)) + 1e-9)
        k = np.arange(2, len(s) - 2)
        is_peak = (s[k] > s[k - 1]) & (s[k] >= s[k + 1]) & (s[k] > s.max() - 30)
        for j in k[is_peak]:
            a, b, c = s[j - 1], s[j], s[j + 1]
            frac = 0.5 * (a - c) / (a - 2 * b + c)
            f = (j + frac) * rate / n
            if 80 < f < 4000:
                out.append(f)
    return np.asarray(out)


def _onset_period_s(x: np.ndarray, rate: int = RATE) -> tuple[float, float, float]:
    """Onset-envelope autocorrelation: (lag of its highest peak in 0.25-1.2 s, that height,
    the height at twice the lag)."""
    hop = rate // 100
    e = 10 * np.log10(np.mean(x[: len(x) // hop * hop].reshape(-1, hop) ** 2, axis=1) + 1e-10)
    o = np.maximum(0.0, np.diff(e))
    o -= o.mean()
    r = np.correlate(o, o, "full")[len(o) - 1:]
    r /= r[0]
    lags = np.arange(25, 120)
    best = lags[np.argmax(r[lags])]
    return best / 100.0, float(r[best]), float(r[2 * best - 1:2 * best + 2].max())


# ---- music ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("style", sg.STYLES)
def test_music_format_seeding_and_level(style):
    x = sg.music(4.0, seed=3, style=style)
    assert x.dtype == np.float32 and x.shape == (4 * RATE,)
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) == pytest.approx(0.89, abs=1e-3)
    assert np.array_equal(x, sg.music(4.0, seed=3, style=style))
    assert not np.allclose(x, sg.music(4.0, seed=4, style=style))
    y = sg.music(1.5, rate=44100, seed=3, style=style)
    assert y.shape == (round(1.5 * 44100),) and np.max(np.abs(y)) <= 1.0


@pytest.mark.parametrize("style", ["pop", "piano", "pad"])
def test_music_is_tuned_to_equal_temperament(style):
    """Tonal styles: spectral peaks sit on the A440 12-tone grid (harmonics 1, 2, 4 and the 3rd's
    2-cent offset included); broadband noise peaks do not."""
    def on_grid(x):
        f = _peak_freqs(x, RATE)
        cents = 1200 * np.log2(f / 440.0)
        dev = np.abs((cents + 50) % 100 - 50)
        return float(np.mean(dev < 20)), len(f)

    share, count = on_grid(sg.music(6.0, seed=1, style=style))
    noise_share, _ = on_grid(sg.noise("pink", 6.0, seed=1))
    assert count > 100
    assert share > 0.7, share
    assert noise_share < 0.55, noise_share


def test_drums_have_a_steady_beat_and_pad_has_none():
    for seed in range(3):
        period, strength, twice = _onset_period_s(sg.music(8.0, seed=seed, style="drums"))
        assert strength > 0.4 and twice > 0.3, (seed, period, strength, twice)  # periodic, not one echo
        _, pad_strength, _ = _onset_period_s(sg.music(8.0, seed=seed, style="pad"))
        assert pad_strength < strength / 2


def test_drums_are_percussion_only_and_pad_has_no_percussion():
    """Percussion is broadband and short; a pad is tonal: far fewer prominent peaks per frame."""
    drums = sg.music(6.0, seed=5, style="drums")
    pad = sg.music(6.0, seed=5, style="pad")
    hop = RATE // 100
    env = lambda x: np.sqrt(np.mean(x[: len(x) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    crest = lambda x: float(np.percentile(env(x), 99) / np.median(env(x)))
    assert crest(drums) > 4 * crest(pad)


# ---- noise ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sg.NOISE_KINDS)
def test_noise_level_format_and_seed(kind):
    x = sg.noise(kind, 3.0, seed=1)
    assert x.dtype == np.float32 and x.shape == (3 * RATE,)
    assert sg.rms_db(x) == pytest.approx(-20.0, abs=0.1)
    assert np.array_equal(x, sg.noise(kind, 3.0, seed=1))
    assert not np.allclose(x, sg.noise(kind, 3.0, seed=2))


@pytest.mark.parametrize("kind,slope", [("white", 0.0), ("pink", -3.0), ("brown", -6.0)])
def test_noise_colours_have_their_spectral_slope(kind, slope):
    assert _octave_slope_db(sg.noise(kind, 4.0, seed=7)) == pytest.approx(slope, abs=1.0)


def test_hum_is_mains_harmonics():
    for seed in range(4):
        x = sg.noise("hum", 4.0, seed=seed).astype(np.float64)
        f, p = _spectrum(x)
        shares = {}
        for mains in (50.0, 60.0):
            near = np.zeros(len(f), bool)
            for k in range(1, 12):
                near |= np.abs(f - k * mains) < 1.5
            shares[mains] = p[near].sum() / p.sum()
        assert max(shares.values()) > 0.95 and min(shares.values()) < 0.2, shares


def test_fan_is_low_passed_airflow_with_a_blade_tone():
    x = sg.noise("fan", 4.0, seed=3).astype(np.float64)
    f, p = _spectrum(x)
    assert p[(f > 50) & (f < 1000)].sum() > 10 * p[f > 3000].sum()
    low = (f > 30) & (f < 600)
    peak = np.argmax(np.where(low, p, 0))
    local = np.median(p[(np.abs(f - f[peak]) > 10) & (np.abs(f - f[peak]) < 60)])
    assert p[peak] > 100 * local  # a tone standing 20 dB out of the broadband floor


# ---- transients --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,max_s", [(sg.cough, 0.6), (sg.clap, 0.3), (sg.click, 0.05), (sg.door, 1.0)])
def test_transients_are_short_sharp_and_seeded(fn, max_s):
    x = fn(RATE, seed=1)
    assert x.dtype == np.float32 and len(x) <= max_s * RATE and np.max(np.abs(x)) <= 1.0
    assert np.array_equal(x, fn(RATE, seed=1)) and not np.array_equal(x, fn(RATE, seed=2))
    hop = RATE // 200  # 5 ms envelope
    env = np.sqrt(np.mean(x[: len(x) // hop * hop].reshape(-1, hop).astype(np.float64) ** 2, axis=1))
    onset = np.argmax(env > 0.05 * env.max())
    assert np.argmax(env) - onset <= 6  # loudest within 30 ms of the onset: an impulsive sound
    assert len(fn(48000, seed=1)) == pytest.approx(len(x) * 3, rel=0.02)


def test_keyboard_is_a_train_of_key_clicks():
    x = sg.keyboard(5.0, seed=4)
    assert len(x) == 5 * RATE
    hop = RATE // 200
    env = 10 * np.log10(np.mean(x.reshape(-1, hop).astype(np.float64) ** 2, axis=1) + 1e-12)
    rises = np.flatnonzero((env[1:] > env[:-1] + 15) & (env[1:] > env.max() - 25))
    keys = 1 + np.count_nonzero(np.diff(rises) > 8)  # rises more than 40 ms apart: separate clicks
    assert 15 <= keys <= 80  # presses and releases at ~6 keys per second


# ---- mixing and levels ---------------------------------------------------------------------------------------
def test_rms_db_reference_points():
    t = np.arange(RATE) / RATE
    assert sg.rms_db(np.sign(np.sin(2 * np.pi * 100 * t) + 1e-9)) == pytest.approx(0.0, abs=0.01)
    assert sg.rms_db(np.sin(2 * np.pi * 100 * t)) == pytest.approx(-3.01, abs=0.01)
    assert sg.rms_db(np.full(100, 16384, np.int16)) == pytest.approx(-6.02, abs=0.01)
    assert sg.rms_db(np.zeros(100)) == -120.0


def _speech_like(seconds: float = 2.0) -> np.ndarray:
    """400 ms tone bursts and 400 ms silences (whole 20 ms frames): active and inactive parts."""
    n = np.arange(int(seconds * RATE))
    x = 0.3 * np.sin(2 * np.pi * 150 * n / RATE) * ((n // (RATE * 2 // 5)) % 2 == 0)
    return x.astype(np.float32)


def _measured_snr(y: np.ndarray, s: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Decompose the mix as g·s + h·b (least squares, exact here) → (SNR over active speech, g)."""
    y, s = y.astype(np.float64), s.astype(np.float64)
    b = np.resize(b.astype(np.float64), len(s))
    (g, h), *_ = np.linalg.lstsq(np.stack([s, b], axis=1), y, rcond=None)
    assert np.max(np.abs(y - g * s - h * b)) < 1e-6  # nothing else in the mix
    active = np.abs(s) > 0
    return float(10 * np.log10(np.mean(s[active] ** 2) / np.mean((h / g * b[active]) ** 2))), float(g)


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 30.0])
def test_mix_at_snr_hits_the_target_over_active_speech(snr):
    s = _speech_like()
    b = sg.noise("pink", 0.7, seed=1)  # shorter than the speech: looped
    y = sg.mix_at_snr(s, b, snr)
    assert y.dtype == np.float32 and len(y) == len(s)
    measured, _ = _measured_snr(y, s, b)
    assert measured == pytest.approx(snr, abs=0.05)
    assert np.max(np.abs(y)) <= 0.99 + 1e-6


def test_mix_at_snr_limits_peaks_without_changing_the_snr():
    s = np.clip(_speech_like() * 3.0, -0.95, 0.95)
    b = sg.noise("white", 2.0, seed=2) * 4
    y = sg.mix_at_snr(s, b, -10.0)
    assert np.max(np.abs(y)) == pytest.approx(0.99, abs=1e-4)
    measured, gain = _measured_snr(y, s, b)
    assert gain < 0.5  # the whole mix was scaled down...
    assert measured == pytest.approx(-10.0, abs=0.05)  # ...so the SNR held
    # a long background is trimmed; int16 speech is accepted
    y16 = sg.mix_at_snr((s * 32767).astype(np.int16), sg.noise("white", 9.0), 20.0)
    assert len(y16) == len(s)


@pytest.mark.parametrize("call", [
    lambda: sg.music(0, style="pop"), lambda: sg.music(-1.0), lambda: sg.music(float("nan")),
    lambda: sg.music(1.0, style="jazz"), lambda: sg.music(1.0, rate=100), lambda: sg.music(1.0, rate=16000.5),
    lambda: sg.noise("babble", 1.0), lambda: sg.noise("white", 1e6), lambda: sg.keyboard(0.0),
    lambda: sg.clap(rate=True), lambda: sg.rms_db(np.zeros(0)), lambda: sg.rms_db(np.zeros((2, 2))),
    lambda: sg.rms_db(np.array([0.1, np.nan])), lambda: sg.rms_db(np.zeros(4, np.int32)),
    lambda: sg.mix_at_snr(np.zeros(0), np.ones(10), 0.0),
    lambda: sg.mix_at_snr(_speech_like(), np.zeros(0, np.float32), 0.0),
    lambda: sg.mix_at_snr(np.zeros(1000), np.ones(10), 0.0),  # silent speech
    lambda: sg.mix_at_snr(_speech_like(), np.zeros(100), 0.0),  # silent background
    lambda: sg.mix_at_snr(_speech_like(), np.ones(100), float("nan")),
    lambda: sg.mix_at_snr(_speech_like().reshape(2, -1), np.ones(100), 0.0),
    lambda: sg.mix_at_snr(_speech_like(), np.array([0.1, np.inf]), 0.0),
    lambda: sg.mix_at_snr(list(_speech_like()), np.ones(100), 0.0),
])
def test_bad_input_raises_a_clear_error(call):
    with pytest.raises(ValueError):
        call()
