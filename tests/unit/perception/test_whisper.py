import numpy as np
import pytest

from seal_nodes.core.audio.frames import AudioFormatError
from seal_nodes.core.perception.whisper import WhisperRecognizer
from seal_nodes.tools.wer import wer
from tests.helpers.audio import RATE, silence, synth

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def asr():
    return WhisperRecognizer()


def test_transcribes_a_command_with_short_and_full_context(asr, tmp_path):
    pcm = np.concatenate([silence(0.3), synth("please pick up the red cube", tmp_path, speed=175), silence(0.3)])
    short = asr.transcribe(pcm, RATE)
    asr.full_context = True
    try:
        full = asr.transcribe(pcm, RATE)
    finally:
        asr.full_context = False
    for tr in (short, full):
        assert wer(["please pick up the red cube"], [tr.text]) == 0.0, tr
        assert tr.confidence > 0.5 and tr.no_speech_prob < 0.5


def test_other_sample_rates_are_resampled(asr, tmp_path):
    from seal_nodes.core.audio.frames import resample

    pcm = synth("go home", tmp_path)
    tr = asr.transcribe(resample(pcm, RATE, 48_000), 48_000)
    assert wer(["go home"], [tr.text]) == 0.0, tr


def test_silence_and_noise_give_no_text(asr):
    assert asr.transcribe(silence(1.0), RATE).text == ""
    rng = np.random.default_rng(0)
    assert asr.transcribe(rng.normal(0, 0.05, RATE).astype(np.float32), RATE).text == ""


def test_prompt_biasing_helps_expected_words(asr, tmp_path):
    # tiny.en hears espeak's "teal cylinder" as the commoner "deal cylinder" unless told
    pcm = synth("please give the teal cylinder to me", tmp_path, speed=165)
    plain = asr.transcribe(pcm, RATE)
    biased = asr.transcribe(pcm, RATE, prompt="teal cylinder, ochre block")
    assert "teal cylinder" not in plain.text.lower()
    assert "teal cylinder" in biased.text.lower()


@pytest.mark.parametrize("bad, rate, msg", [
    (np.zeros(0, np.int16), RATE, "empty"),
    (np.zeros((2, 100), np.int16), RATE, "1-D"),
    (np.full(100, np.nan, np.float32), RATE, "NaN"),
    (np.zeros(100, np.int32), RATE, "int16 or float"),
    (np.zeros(100, np.int16), 100, "out of range"),
    (np.zeros(31 * RATE, np.int16), RATE, "30 s"),
])
def test_bad_input_is_refused(asr, bad, rate, msg):
    with pytest.raises(AudioFormatError, match=msg):
        asr.transcribe(bad, rate)


def test_short_words_do_not_loop(asr, tmp_path):
    # a too-short encoder context made tiny.en repeat itself ("Stop. Stop. Stop. ...")
    for word in ("stop", "thank you very much"):
        tr = asr.transcribe(np.concatenate([synth(word, tmp_path, speed=165), silence(0.2)]), RATE)
        assert wer([word], [tr.text]) == 0.0, tr


@pytest.mark.parametrize("text, out", [
    ("Stop. Stop. Stop.", "Stop."),
    ("Pick up the red cube. Pick up the red cube", "Pick up the red cube."),
    ("No, no, no.", "No, no, no."),
    ("Go home. Then stop.", "Go home. Then stop."),
    ("", ""),
])
def test_collapse_repeats(text, out):
    from seal_nodes.core.perception.whisper import collapse_repeats

    assert collapse_repeats(text) == out


@pytest.mark.parametrize("text, yes", [
    ("red cube, red cube, red cube, red cube, red cube,", True),
    ("Pick up the red cube.", False),
    ("no, no, no", False),  # single words repeated: a person can say that
    ("put the red cube next to the red cube on the red cube", False),
])
def test_looping(text, yes):
    from seal_nodes.core.perception.whisper import looping

    assert looping(text) is yes
