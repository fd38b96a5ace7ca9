import numpy as np
import pytest

from seal_nodes.core.perception.vad import WINDOW, SileroVad
from tests.helpers.audio import noise, silence, synth

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def vad():
    return SileroVad()


def test_speech_high_silence_and_noise_low(vad, tmp_path):
    speech = synth("pick up the red cube", tmp_path)
    vad.reset()
    p_sil = vad.process(silence(1.0))
    p_speech = vad.process(speech)
    vad.reset()
    p_noise = vad.process(np.concatenate([silence(0.3), noise(2.0, std=300)]))
    assert max(p_sil) < 0.1
    assert max(p_noise) < 0.2
    assert np.mean(np.array(p_speech) > 0.5) > 0.6 and max(p_speech) > 0.95


def test_arbitrary_chunking_matches_whole(vad, tmp_path):
    sig = np.concatenate([silence(0.3), synth("hello robot", tmp_path)])
    vad.reset()
    whole = vad.process(sig)
    vad.reset()
    parts = []
    for i in range(0, len(sig), 137):
        parts += vad.process(sig[i : i + 137])
    assert len(parts) == len(whole) == len(sig) // WINDOW
    np.testing.assert_allclose(parts, whole, atol=1e-5)
    assert vad.buffered == len(sig) % WINDOW


def test_reset_restores_initial_state(vad, tmp_path):
    sig = synth("stop", tmp_path)
    vad.reset()
    a = vad.process(sig)
    vad.reset()
    b = vad.process(sig)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_rejects_bad_input(vad):
    with pytest.raises(ValueError):
        vad.process(np.zeros((2, 512), np.int16))
    with pytest.raises(ValueError):
        vad.process(np.zeros(512, np.int32))
