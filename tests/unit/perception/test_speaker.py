import numpy as np
import pytest

from seal_nodes.core.audio.frames import resample
from seal_nodes.core.perception.speaker import (
    EMBED_DIM, HOP, N_MELS, PARTIAL_FRAMES, SpeakerEncoder, mel_spectrogram, partial_slices, weights_path,
)
from tests.helpers.audio import RATE, piper, silence, synth

pytestmark = pytest.mark.unit

SENTENCES = ("pick up the red cube and put it in the bin", "what is the weather like today")


@pytest.fixture(scope="module")
def encoder():
    return SpeakerEncoder(threads=1)


@pytest.fixture(scope="module")
def joe():
    return piper(SENTENCES[0])


def test_embedding_is_a_unit_vector_of_256(encoder, joe):
    e = encoder.embed(joe, RATE)
    assert e.shape == (EMBED_DIM,) and e.dtype == np.float32
    assert abs(float(np.linalg.norm(e)) - 1.0) < 1e-5
    assert (e >= 0).all()  # ReLU'd partials: cosines lie in [0, 1]


def test_int16_float_and_volume_give_the_same_embedding(encoder, joe):
    e = encoder.embed(joe, RATE)
    assert float(e @ encoder.embed(joe / 32768.0, RATE)) > 0.9999
    # quiet recordings are raised to the same level (-30 dBFS); louder ones are left alone
    quiet = joe.astype(np.float32) / 32768.0 * 0.02
    assert float(encoder.embed(quiet, RATE) @ encoder.embed(quiet * 0.1, RATE)) > 0.9999


def test_other_sample_rates_are_resampled(encoder, joe):
    e48 = encoder.embed(resample(joe, RATE, 48_000), 48_000)
    assert float(encoder.embed(joe, RATE) @ e48) > 0.99


def test_same_voice_is_closer_than_another_voice(encoder):
    # piper's joe, espeak's default male voice and its f3 female variant: distinct timbres
    voices = {"joe": [piper(s) for s in SENTENCES],
              "espeak-m": [synth(s, None, "en-us", 160) for s in SENTENCES],
              "espeak-f3": [synth(s, None, "en-us+f3", 160) for s in SENTENCES]}
    emb = {v: [encoder.embed(x, RATE) for x in xs] for v, xs in voices.items()}
    same = {v: float(a @ b) for v, (a, b) in emb.items()}
    for v, (a, b) in emb.items():
        other = max(float(x @ y) for w in emb if w != v for x in (a, b) for y in emb[w])
        assert same[v] > other + 0.1, (v, same[v], other)


def test_partials_follow_resemblyzer(joe):
    assert [(s.start, s.stop) for s in partial_slices(25_600)] == [(0, 160)]  # 1.6 s: one partial
    assert [(s.start, s.stop) for s in partial_slices(32_000)] == [(0, 160), (77, 237)]
    assert [(s.start, s.stop) for s in partial_slices(40_000)] == [(0, 160), (77, 237)]  # last one < 75 %: dropped
    assert len(partial_slices(80_000)) == 5 and len(partial_slices(4_800)) == 1
    assert partial_slices(80_000)[-1].stop == 468 and PARTIAL_FRAMES == 160


def test_mel_spectrogram_frames_and_bands():
    t = np.arange(RATE) / RATE
    low, high = (np.sin(2 * np.pi * f * t).astype(np.float32) for f in (300.0, 4000.0))
    m_low, m_high = mel_spectrogram(low), mel_spectrogram(high)
    assert m_low.shape == (RATE // HOP + 1, N_MELS) and m_low.dtype == np.float32
    assert int(m_low[50].argmax()) < int(m_high[50].argmax())  # a higher tone, a higher band


def test_weights_ship_with_the_package():
    assert weights_path().name == "pretrained.pt" and weights_path().stat().st_size > 1_000_000


@pytest.mark.parametrize("bad, rate, why", [
    (np.zeros(0, dtype=np.int16), RATE, "too short"),
    (np.ones(RATE // 5, dtype=np.int16) * 1000, RATE, "too short"),
    (np.full(RATE, np.nan, dtype=np.float32), RATE, "NaN"),
    (np.zeros((RATE, 2), dtype=np.int16), RATE, "1-D"),
    (np.ones(RATE, dtype=np.int32), RATE, "int16 or float"),
    ([0.1] * RATE, RATE, "1-D array"),
    (silence(1.0), RATE, "silent"),
    (np.ones(RATE, dtype=np.int16), 0, "sample rate"),
    (np.ones(RATE, dtype=np.int16), True, "sample rate"),
])
def test_bad_audio_is_a_clear_value_error(encoder, bad, rate, why):
    with pytest.raises(ValueError, match=why):
        encoder.embed(bad, rate)


def test_bad_threads_and_missing_weights(tmp_path, joe):
    with pytest.raises(ValueError, match="threads"):
        SpeakerEncoder(threads=0)
    with pytest.raises(FileNotFoundError):
        SpeakerEncoder(weights=tmp_path / "missing.pt").embed(joe, RATE)
