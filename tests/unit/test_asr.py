import numpy as np
import pytest

from audio_helpers import silence, synth
from seal_nodes.core.asr import StreamingRecognizer, default_command_grammar

pytestmark = pytest.mark.unit

PHRASES = ["pick up the red cube", "hello robot", "put the blue cube in the bin"]


@pytest.fixture(scope="module")
def rec():
    return StreamingRecognizer()


def decode(rec, pcm, chunk=320):
    rec.start()
    partials = []
    for i in range(0, len(pcm), chunk):
        rec.feed(pcm[i : i + chunk])
        partials.append(rec.partial())
    text, conf = rec.finish()
    return text, conf, partials


@pytest.mark.parametrize("phrase", PHRASES)
def test_recognises_command_phrases(rec, tmp_path, phrase):
    pcm = np.concatenate([silence(0.3), synth(phrase, tmp_path), silence(0.3)])
    text, conf, partials = decode(rec, pcm)
    assert text == phrase
    assert 0.5 < conf <= 1.0
    assert partials[-1] == phrase and partials[0] == ""  # the hypothesis grows while streaming


def test_out_of_grammar_speech_is_rejected_or_low_confidence(rec, tmp_path):
    pcm = np.concatenate([silence(0.3), synth("the weather is nice today", tmp_path), silence(0.3)])
    text, conf, _ = decode(rec, pcm)
    assert text == "" or conf < 0.3


def test_lifecycle(rec, tmp_path):
    assert not rec.active and rec.partial() == "" and rec.finish() == ("", 0.0)
    rec.feed(silence(0.1))  # feed without start opens an utterance
    assert rec.active
    rec.start()  # restart discards it
    rec.feed(silence(0.3))
    assert rec.finish() == ("", 0.0)
    assert not rec.active


def test_rejects_bad_audio(rec):
    with pytest.raises(ValueError):
        rec.feed(np.zeros(100, np.float32))


def test_grammar_text_and_validation():
    g = default_command_grammar(colors=("red", "black"))
    assert "public <command>" in g and "red | black" in g and "push the <color> cube (left | right)" in g
    with pytest.raises(ValueError):
        default_command_grammar(colors=())


def test_custom_grammar(tmp_path):
    rec = StreamingRecognizer(jsgf="#JSGF V1.0;\ngrammar g;\npublic <x> = open the door | close the door;\n")
    pcm = np.concatenate([silence(0.3), synth("open the door", tmp_path), silence(0.3)])
    text, _, _ = decode(rec, pcm)
    assert text == "open the door"


def test_bad_grammar_raises():
    with pytest.raises(ValueError, match="JSGF"):
        StreamingRecognizer(jsgf="this is not jsgf")
