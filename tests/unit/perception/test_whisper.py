import numpy as np
import pytest

from seal_nodes.core.audio.frames import AudioFormatError
from seal_nodes.core.perception.whisper import WhisperRecognizer
from seal_nodes.tools.wer import normalize, wer
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


def test_n_best_gives_other_hypotheses_and_greedy_none(asr, tmp_path):
    phrases = ["please pick up the red cube", "open the gripper", "put the blue cube in the bin"]
    results = []
    for phrase in phrases:
        pcm = np.concatenate([silence(0.3), synth(phrase, tmp_path), silence(0.3)])
        assert asr.transcribe(pcm, RATE).alternatives == ()
        tr = asr.transcribe(pcm, RATE, n_best=5)
        assert tr.text and len(tr.alternatives) <= 4, tr
        keys = [" ".join(normalize(t)) for t in (tr.text, *tr.alternatives)]
        assert all(keys) and len(set(keys)) == len(keys), tr  # each says something else
        results.append(tr)
    assert any(tr.alternatives for tr in results), results  # espeak's voice leaves room for doubt


def test_n_best_on_silence_and_noise_gives_nothing(asr):
    for pcm in (silence(1.0), np.random.default_rng(0).normal(0, 0.05, RATE).astype(np.float32)):
        tr = asr.transcribe(pcm, RATE, n_best=5)
        assert tr.text == "" and tr.alternatives == (), tr


@pytest.mark.parametrize("n_best", [0, 9, True, 2.0, "3"])
def test_bad_n_best_is_refused(asr, n_best):
    with pytest.raises(ValueError, match="n_best"):
        asr.transcribe(silence(0.5), RATE, n_best=n_best)


def test_distinct_alternatives():
    from seal_nodes.core.perception.whisper import distinct_alternatives

    hyps = ["Open the river.", "open the reaper", "Open the river!", "", "Open the Reaper. Open the Reaper. Open the",
            "Open the reaper, red cube, bin.", "Open the ripper."]
    # the best again, repeats, empty, a run-on and the prompt recited are left out
    assert distinct_alternatives("Open the reaper.", hyps, "red cube, bin.") == ("Open the river.", "Open the ripper.")
    assert distinct_alternatives("Open the reaper.", ["Open the reaper in the bin."]) == ("Open the reaper in the bin.",)
