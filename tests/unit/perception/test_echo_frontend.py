import numpy as np
import pytest

from seal_nodes.core.perception.echo.doubletalk import level_db
from seal_nodes.core.perception.echo.frontend import EchoFrontEnd
from tests.helpers.audio import RATE, silence, synth

pytestmark = pytest.mark.unit
T0 = 10**18
CHUNK = 320  # 20 ms


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    text = "I am going to pick up the red cube now and then I will put it in the bin for you"
    return np.concatenate([synth(text, tmp_path_factory.mktemp("fe"), speed=160), silence(0.5)])


def stream(fe, agent, lag_ms):
    """Play ``agent`` (stamped from T0) and hear it at the microphone ``lag_ms`` later (negative:
    the stamps are late, as measured through PulseAudio). Returns (raw, cleaned) after 3 s."""
    shift = int(lag_ms * RATE / 1000)
    mic = np.zeros_like(agent, dtype=np.float64)
    if shift >= 0:
        mic[shift:] = agent[:len(agent) - shift] * 0.5
    else:
        mic[:shift] = agent[-shift:] * 0.5
    mic = mic.astype(np.int16)
    raw, out = [], []
    for i in range(0, len(agent) - CHUNK, CHUNK):
        stamp = T0 + i * 1_000_000_000 // RATE
        # the loudspeaker stream arrives ~100 ms ahead of the microphone, as it does live
        if i == 0:
            for k in range(0, 5 * CHUNK, CHUNK):
                fe.add_reference(agent[k:k + CHUNK], RATE, T0 + k * 1_000_000_000 // RATE)
        j = i + 5 * CHUNK
        if j < len(agent):
            fe.add_reference(agent[j:j + CHUNK], RATE, T0 + j * 1_000_000_000 // RATE)
        cleaned = fe.clean(mic[i:i + CHUNK], stamp)
        if i >= 3 * RATE:
            raw.append(mic[i:i + CHUNK])
            out.append(cleaned)
    return np.concatenate(raw), np.concatenate(out)


@pytest.mark.parametrize("lag_ms", [-50.0, 40.0])
def test_measures_the_echo_delay_either_side_of_the_stamps_and_cancels(agent, lag_ms):
    fe = EchoFrontEnd()
    raw, cleaned = stream(fe, agent, lag_ms)
    assert fe.delay.lag_ms == pytest.approx(lag_ms, abs=2.0)
    assert level_db(raw) - level_db(cleaned) > 8  # the canceller works on the shifted reference (still converging)


def test_agent_speaking_and_missing_reference():
    fe = EchoFrontEnd()
    assert not fe.agent_speaking(T0)
    assert fe.reference_missing_ns(T0, 20_000_000) == 0  # no canceller yet: nothing to wait for
    tone = (np.sin(np.arange(CHUNK) * 0.3) * 8000).astype(np.int16)
    fe.add_reference(tone, RATE, T0)
    assert fe.agent_speaking(T0 + 100_000_000)
    assert not fe.agent_speaking(T0 + 2_000_000_000)
    # a block that ends 30 ms after the newest played sample waits for 30 ms more of it
    assert fe.reference_missing_ns(T0 + 30_000_000, 20_000_000) == 30_000_000
