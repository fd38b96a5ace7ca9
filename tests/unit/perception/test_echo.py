"""echo: the agent's voice through a simulated room is cancelled; the user's voice is kept."""
import ctypes
import ctypes.util
import shutil

import numpy as np
import pytest

from seal_nodes.core.audio.frames import resample
from seal_nodes.core.perception.echo import canceller as echo
from seal_nodes.core.perception.echo.canceller import EchoCanceller, EchoInputError, EchoUnavailable, ReferenceBuffer

pytestmark = pytest.mark.unit

RATE = 16_000
T0 = 10**18  # stream clock of the simulated session (ns)
CONVERGED = 3 * RATE  # samples the adaptive filter is given before anything is measured


def room_impulse_response(delay_s: float, rt60_s: float = 0.2, seed: int = 0) -> np.ndarray:
    """Acoustic delay, a direct path, a few early reflections and an exponentially decaying tail."""
    rng = np.random.default_rng(seed)
    n = int(0.25 * RATE)
    t = np.arange(n) / RATE
    h = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s) * 0.3
    h[0] = 1.0
    for _ in range(5):
        h[int(rng.uniform(0.002, 0.02) * RATE)] += rng.uniform(-0.6, 0.6)
    return np.concatenate([np.zeros(int(delay_s * RATE)), h])


def to16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def voices() -> tuple[np.ndarray, np.ndarray]:
    """(the agent's speech ≈ 11 s, the user's interjection), espeak at 16 kHz, float int16-scaled."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng CLI not installed")
    from seal_nodes.tools.spoken import synthesize

    texts = ["Hello, I am your robot assistant. I can pick up objects on the table.",
             "The red cube is on the left, and the blue ball is next to it.",
             "Please tell me what you would like me to do next."]
    agent = np.concatenate([np.concatenate([synthesize(t).pcm, np.zeros(4000, np.int16)]) for t in texts])
    user = synthesize("Stop, put it down please.", "en-us+f3", 160).pcm
    return agent.astype(np.float64), user.astype(np.float64)


@pytest.fixture(scope="module")
def vad():
    from seal_nodes.core.perception.vad import SileroVad

    return SileroVad()


def simulate(agent: np.ndarray, delay_s: float, seed: int = 0) -> np.ndarray:
    """The agent's voice as the microphone hears it: through the room, ~6 dB down, plus a noise floor."""
    e = np.convolve(agent, room_impulse_response(delay_s, seed=seed))[: len(agent)]
    e *= 0.5 * np.abs(agent).max() / np.abs(e).max()
    return e + np.random.default_rng(seed + 1).standard_normal(len(e)) * 10.0  # -70 dBFS floor


def cancel(mic: np.ndarray, ref: np.ndarray, block: int = 320, **kw) -> tuple[np.ndarray, EchoCanceller]:
    """Run the canceller block by block; return its output re-aligned with the input."""
    ec = EchoCanceller(**kw)
    m, r = to16(mic), to16(ref)
    out = [ec.process(m[:block], r[:block])]
    delay = ec.delay  # the last block may be a part of one, and add lead-in from there on
    out += [ec.process(m[i:i + block], r[i:i + block]) for i in range(block, len(m), block)]
    out = np.concatenate(out)
    assert len(out) == len(m)
    return np.concatenate([out[delay:], np.zeros(delay, np.int16)]).astype(np.float64), ec


def db(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(np.square(a)) / np.sum(np.square(b))))


# ---- the canceller -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("delay_s", [0.02, 0.05, 0.08])
def test_echo_is_cancelled_and_the_vad_no_longer_hears_it(voices, vad, delay_s):
    agent, _ = voices
    mic = simulate(agent, delay_s, seed=int(delay_s * 100))
    linear, _ = cancel(mic, agent, residual_suppression=False)
    clean, ec = cancel(mic, agent)
    s = slice(CONVERGED, None)
    assert db(mic[s], linear[s]) >= 15.0  # the adaptive filter alone (measured ~20-23 dB)
    assert db(mic[s], clean[s]) >= 25.0  # with residual suppression (measured ~36-39 dB)
    assert ec.echo_return_loss_db >= 25.0
    w = CONVERGED // 512
    vad.reset()
    raw = np.asarray(vad.process(to16(mic)))[w:]
    vad.reset()
    after = np.asarray(vad.process(to16(clean)))[w:]
    assert np.mean(raw >= 0.5) >= 0.6  # the echo alone would start a user turn
    assert np.mean(after >= 0.3) <= 0.02 and after.max() < 0.5  # ...the cleaned signal does not


def test_the_user_talking_over_the_agent_is_kept(voices, vad):
    agent, user = voices
    mic = simulate(agent, 0.05)
    at = int(5.5 * RATE)
    mic[at:at + len(user)] += 0.7 * user  # about as loud as the echo
    clean, _ = cancel(mic, agent)
    got, want = clean[at:at + len(user)], 0.7 * user
    corr = float(np.dot(got, want) / np.sqrt(np.dot(got, got) * np.dot(want, want)))
    assert corr >= 0.9
    assert abs(db(got, want)) <= 3.0
    vad.reset()
    probs = np.asarray(vad.process(to16(clean[at:at + len(user)])))
    assert np.mean(probs >= 0.5) >= 0.5  # and it still sounds like a user to the VAD


@pytest.mark.parametrize("kind", ["pink", "brown", "hum", "fan"])
def test_without_the_agent_the_room_passes_through(kind):
    """No reference: background noise (hum and rumble included) keeps its level above 100 Hz
    within 4 dB (speex's DC notch takes what is below ~50 Hz)."""
    from seal_nodes.tools import soundgen as sg

    def above_100hz(a):
        spec = np.fft.rfft(a)
        spec[np.fft.rfftfreq(len(a), 1 / RATE) < 100] = 0
        return np.fft.irfft(spec, len(a))

    x = sg.noise(kind, 5.0, seed=1).astype(np.float64) * 32767 * 0.1  # -40 dBFS
    clean, _ = cancel(x, np.zeros(len(x)))
    assert abs(db(above_100hz(clean[RATE:-RATE]), above_100hz(x[RATE:-RATE]))) <= 4.0


def test_the_user_alone_is_untouched(voices):
    _, user = voices
    mic = np.concatenate([np.zeros(RATE), user, np.zeros(RATE)])
    clean, _ = cancel(mic, np.zeros(len(mic)))
    corr = float(np.dot(clean, mic) / np.sqrt(np.dot(clean, clean) * np.dot(mic, mic)))
    assert corr >= 0.95 and abs(db(clean, mic)) <= 1.0


def test_output_length_delay_and_block_independence(voices):
    agent, _ = voices
    mic = simulate(agent[: 4 * RATE], 0.03)
    a, whole = cancel(mic, agent[: 4 * RATE], block=320)
    b, ragged = cancel(mic, agent[: 4 * RATE], block=137)  # blocks that are not whole frames
    assert np.array_equal(a[:-2 * 160], b[:-2 * 160])  # the same output, realigned (b's tail is lead-in)
    # whole frames pass straight through; ragged blocks cost one frame of buffering
    assert whole.delay == 160 and ragged.delay == 2 * 160
    assert EchoCanceller(residual_suppression=False).delay == 0
    # with nothing played the output is the microphone: as it came in 20 ms chunks, one frame
    # late in ragged blocks
    noise = to16(np.random.default_rng(3).standard_normal(RATE) * 3000)
    x = noise.astype(np.float64)
    for block, lag in ((320, 0), (333, 160)):
        ec = EchoCanceller(residual_suppression=False)
        out = np.concatenate([ec.process(noise[i:i + block], np.zeros(len(noise[i:i + block]), np.int16))
                              for i in range(0, RATE, block)]).astype(np.float64)
        best = max(range(400), key=lambda k: np.dot(out[k:], x[: len(x) - k]))
        assert best == lag == ec.delay
        assert abs(db(out[lag:], x[:len(x) - lag])) < 1.0


def test_reset_and_echo_return_loss_before_any_reference(voices):
    agent, _ = voices
    ec = EchoCanceller()
    assert ec.echo_return_loss_db == 0.0
    ec.process(to16(np.random.default_rng(0).standard_normal(1600) * 300), np.zeros(1600, np.int16))
    assert ec.echo_return_loss_db == 0.0  # the agent was silent: nothing to measure
    mic = to16(simulate(agent[: 5 * RATE], 0.04))
    ec.process(mic, to16(agent[: 5 * RATE]))
    assert ec.echo_return_loss_db > 10.0
    ec.reset()
    assert ec.echo_return_loss_db == 0.0


def test_missing_library_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(echo, "_lib", None)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)

    def no_lib(name, *a, **k):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_lib)
    with pytest.raises(EchoUnavailable, match="libspeexdsp1"):
        EchoCanceller()


@pytest.mark.parametrize("call", [
    lambda ec: ec.process(np.zeros(160, np.float32), np.zeros(160, np.int16)),
    lambda ec: ec.process(np.zeros(160, np.int16), np.zeros(160, np.int32)),
    lambda ec: ec.process(np.zeros((2, 80), np.int16), np.zeros((2, 80), np.int16)),
    lambda ec: ec.process(np.zeros(160, np.int16), np.zeros(161, np.int16)),
    lambda ec: ec.process(np.zeros(0, np.int16), np.zeros(0, np.int16)),
    lambda ec: ec.process([0] * 160, np.zeros(160, np.int16)),
    lambda ec: EchoCanceller(rate=12345),
    lambda ec: EchoCanceller(rate=16000.0),
    lambda ec: EchoCanceller(frame_ms=0),
    lambda ec: EchoCanceller(rate=22050, frame_ms=10),  # 220.5 samples
    lambda ec: EchoCanceller(filter_ms=5),
])
def test_canceller_rejects_bad_input(call):
    ec = EchoCanceller()
    with pytest.raises(EchoInputError):
        call(ec)
    assert issubclass(EchoInputError, ValueError)


def test_reference_buffer_with_the_canceller_end_to_end(voices, vad):
    """The TTS publishes 20 ms chunks at 22.05 kHz stamped with play-out time; the microphone
    side takes the reference for each of its blocks by stamp and cancels with it."""
    agent, _ = voices
    played = resample(to16(agent), RATE, 22050)
    start_ns = T0 + 500_000_000  # the agent starts talking 0.5 s into the session
    buf = ReferenceBuffer(keep_s=5.0)
    mic = np.zeros(len(agent) + RATE // 2)
    mic[RATE // 2:] = simulate(agent, 0.04)
    mic[: RATE // 2] = np.random.default_rng(5).standard_normal(RATE // 2) * 10.0
    mic16 = to16(mic)
    ec, out, fed = EchoCanceller(), [], 0
    chunk = 441
    for i in range(0, len(mic16), 320):
        stamp = T0 + i * 62_500  # ns per 16 kHz sample
        while fed < len(played) and start_ns + fed * 1e9 / 22050 < stamp + 0.04e9:  # play-out runs ahead
            buf.add(played[fed:fed + chunk], 22050, start_ns + int(round(fed * 1e9 / 22050)))
            fed += chunk
        block = mic16[i:i + 320]
        out.append(ec.process(block, buf.take(stamp, len(block))))
    clean = np.concatenate(out).astype(np.float64)[ec.delay:]
    s = slice(CONVERGED + RATE // 2, None)
    assert db(mic[s], clean[s]) >= 20.0
    vad.reset()
    probs = np.asarray(vad.process(to16(clean)))[(CONVERGED + RATE // 2) // 512:]
    assert np.mean(probs >= 0.3) <= 0.03


# ---- the reference buffer -----------------------------------------------------------------------------------
def test_take_returns_what_was_played_at_that_time():
    buf = ReferenceBuffer()
    x = np.arange(1, 3201, dtype=np.int16)  # 200 ms in ten 20 ms chunks
    for k in range(10):
        buf.add(x[k * 320:(k + 1) * 320], RATE, T0 + k * 20_000_000)
    assert np.array_equal(buf.take(T0, 3200), x)
    assert np.array_equal(buf.take(T0 + 1_000_000, 100), x[16:116])  # 1 ms = 16 samples in
    before = buf.take(T0 - 10_000_000, 320)  # 10 ms before the first sample
    assert np.all(before[:160] == 0) and np.array_equal(before[160:], x[:160])
    assert buf.active(T0 + 50_000_000, 160) and not buf.active(T0 + 300_000_000, 160)
    assert buf.take(T0, 0).shape == (0,)


def test_gaps_silence_and_overlap():
    buf = ReferenceBuffer()
    a, b = np.full(1600, 1000, np.int16), np.full(1600, -2000, np.int16)
    buf.add(a, RATE, T0)  # 0-100 ms
    buf.add(b, RATE, T0 + 300_000_000)  # 300-400 ms: a gap in between
    got = buf.take(T0, 6400)
    assert np.all(got[:1600] == 1000) and np.all(got[1600:4800] == 0) and np.all(got[4800:] == -2000)
    assert not buf.active(T0 + 150_000_000, 800)
    buf.add(np.zeros(1600, np.int16), RATE, T0 + 500_000_000)  # played silence is not audible
    assert not buf.active(T0 + 500_000_000, 1600)
    buf.add(np.full(800, 7, np.int16), RATE, T0 + 25_000_000)  # a later chunk over older audio wins
    got = buf.take(T0, 1600)
    assert np.all(got[:400] == 1000) and np.all(got[400:1200] == 7) and np.all(got[1200:] == 1000)


def test_out_of_order_chunks_land_at_their_stamps():
    buf = ReferenceBuffer()
    x = (np.arange(4800) % 300).astype(np.int16) + 1
    order = [2, 0, 1]  # 100 ms chunks arriving out of order
    for k in order:
        buf.add(x[k * 1600:(k + 1) * 1600], RATE, T0 + k * 100_000_000)
    assert np.array_equal(buf.take(T0, 4800), x)


@pytest.mark.parametrize("rate,chunk", [(22050, 441), (48000, 960), (8000, 160), (24000, 480)])
def test_any_rate_is_resampled_seamlessly(rate, chunk):
    buf = ReferenceBuffer()
    t = np.arange(rate) / rate
    x = to16(10000 * np.sin(2 * np.pi * 300 * t))
    for i in range(0, rate, chunk):
        buf.add(x[i:i + chunk], rate, T0 + int(round(i * 1e9 / rate)))
    got = buf.take(T0, RATE - 16).astype(np.float64)  # the last output may wait for input
    want = 10000 * np.sin(2 * np.pi * 300 * np.arange(RATE - 16) / RATE)
    assert np.max(np.abs(got - want)) < 0.02 * 10000  # in place, no seams, no drift


def test_old_audio_is_dropped():
    buf = ReferenceBuffer(keep_s=1.0)
    for k in range(30):  # 3 s of 100 ms chunks
        buf.add(np.full(1600, k + 1, np.int16), RATE, T0 + k * 100_000_000)
    assert np.all(buf.take(T0, 1600) == 0)  # more than keep_s before the newest audio
    assert np.all(buf.take(T0 + 2_900_000_000, 1600) == 30)
    assert np.all(buf.take(T0 + 2_100_000_000, 1600) == 22)


@pytest.mark.parametrize("call", [
    lambda b: b.add(np.zeros(160, np.float32), RATE, T0),
    lambda b: b.add(np.zeros((2, 160), np.int16), RATE, T0),
    lambda b: b.add(np.zeros(0, np.int16), RATE, T0),
    lambda b: b.add(np.zeros(160, np.int16), 0, T0),
    lambda b: b.add(np.zeros(160, np.int16), 16000.0, T0),
    lambda b: b.add(np.zeros(160, np.int16), True, T0),
    lambda b: b.add(np.zeros(160, np.int16), RATE, -1),
    lambda b: b.add(np.zeros(160, np.int16), RATE, 1.5e18),
    lambda b: b.take(T0, -1),
    lambda b: b.take(T0, 1.5),
    lambda b: b.take(-5, 10),
    lambda b: b.active(T0, -3),
    lambda b: ReferenceBuffer(keep_s=0),
    lambda b: ReferenceBuffer(rate=1000),
])
def test_reference_buffer_rejects_bad_input(call):
    buf = ReferenceBuffer()
    with pytest.raises(EchoInputError):
        call(buf)
