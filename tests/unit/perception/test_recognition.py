"""Whisper on a decoder thread: ``sense`` never waits behind a decode, and a result taken when
it is ready gives the same events as the inline decode."""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.perception.audio import AudioPerception, AudioPerceptionConfig
from seal_nodes.core.perception.recognition import FINAL, Recognition
from seal_nodes.core.perception.whisper import WhisperRecognizer
from tests.helpers.audio import RATE, frames, piper, silence, synth

pytestmark = pytest.mark.unit

OBJECTS = ["red cube", "green cube", "blue cube", "bin"]


class GatedWhisper(WhisperRecognizer):
    """Real Whisper that starts each decode only once the gate is open."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.started = threading.Event()

    def transcribe(self, *args, **kwargs):
        self.started.set()
        self.gate.wait(timeout=60.0)
        return super().transcribe(*args, **kwargs)


@pytest.fixture(scope="module")
def whisper():
    return GatedWhisper()


@pytest.fixture(scope="module")
def decoder():
    pool = ThreadPoolExecutor(max_workers=1)
    yield pool
    pool.shutdown(wait=True)


@pytest.fixture(scope="module")
def request_audio():
    return np.concatenate([silence(0.5), piper("pick up the red cube"), silence(1.5)])


def summary(events):
    return [(e.type, e.text) for e in events if e.type in (ev.SPEECH_START, ev.SPEECH_FRAGMENT, ev.SPEECH_END)]


def test_sense_goes_on_while_a_decode_is_held(whisper, decoder, request_audio):
    ready = threading.Event()
    ap = AudioPerception(AudioPerceptionConfig(bias_words=list(OBJECTS)), recognizer=whisper, decoder=decoder,
                         on_decoded=ready.set)
    whisper.gate.clear()
    whisper.started.clear()
    out = []
    for f in frames(request_audio, RATE):  # every frame sensed while the first decode cannot start
        out += ap.sense(f) + ap.decode()
    assert whisper.started.is_set() and ap.decoding
    assert [e.type for e in out] == [ev.SPEECH_START], out  # the onset, nothing that needs Whisper
    whisper.gate.set()
    for _ in range(10):  # the held partial, then the final it is judged on
        assert ready.wait(timeout=60.0), "the decoder never finished"
        ready.clear()
        out += ap.decode()
        if any(e.type == ev.SPEECH_END for e in out):
            break
    types = [e.type for e in out]
    assert types[0] == ev.SPEECH_START and types[-1] == ev.SPEECH_END, types
    assert "red cube" in out[-1].text.lower()
    assert not ap.decoding


def test_decoded_on_a_thread_gives_the_inline_events(whisper, decoder, request_audio):
    whisper.gate.set()
    inline = AudioPerception(AudioPerceptionConfig(bias_words=list(OBJECTS)), recognizer=whisper)
    ready = threading.Event()
    threaded = AudioPerception(AudioPerceptionConfig(bias_words=list(OBJECTS)), recognizer=whisper, decoder=decoder,
                               on_decoded=ready.set)
    a, b = [], []
    for f in frames(request_audio, RATE):
        a += inline.sense(f) + inline.decode()
        b += threaded.sense(f) + threaded.decode()
        while threaded.decoding:  # each result taken before the next frame: the inline schedule
            assert ready.wait(timeout=60.0)
            ready.clear()
            b += threaded.decode()
    a += inline.flush()
    b += threaded.flush()
    assert summary(a) == summary(b)
    assert summary(a)[-1][0] == ev.SPEECH_END


def test_flush_waits_for_the_decode_in_flight(whisper, decoder):
    whisper.gate.clear()
    ap = AudioPerception(AudioPerceptionConfig(), recognizer=whisper, decoder=decoder)
    pcm = np.concatenate([silence(0.5), piper("go home")])  # the stream ends mid-turn
    for f in frames(pcm, RATE):
        ap.sense(f)
        ap.decode()
    assert ap.decoding
    threading.Timer(0.2, whisper.gate.set).start()
    ends = [e for e in ap.flush() if e.type == ev.SPEECH_END]
    assert len(ends) == 1 and ends[0].payload["end_reason"] == "end_of_stream"
    assert "home" in ends[0].text.lower()


def test_a_reset_drops_the_decode_in_flight(whisper, decoder, request_audio):
    whisper.gate.clear()
    ready = threading.Event()
    ap = AudioPerception(AudioPerceptionConfig(), recognizer=whisper, decoder=decoder, on_decoded=ready.set)
    for f in frames(request_audio[: int(1.2 * RATE)], RATE):
        ap.sense(f)
        ap.decode()
    assert ap.decoding
    ap.reset()
    whisper.gate.set()
    assert ready.wait(timeout=60.0)
    assert not ap.decoding and ap.decode() == []


def test_one_decode_at_a_time_and_errors_come_back_to_the_caller():
    class Broken:
        def transcribe(self, *args, **kwargs):
            raise RuntimeError("model file unreadable")

    rec = Recognition(Broken())  # type: ignore[arg-type]
    rec.submit(FINAL, "utt", 0, np.zeros(1600, np.float32), [], False, 1)
    with pytest.raises(RuntimeError, match="in flight"):
        rec.submit(FINAL, "utt", 0, np.zeros(1600, np.float32), [], False, 1)
    job = rec.take()
    assert job is not None and not rec.busy
    with pytest.raises(RuntimeError, match="unreadable"):
        job.transcript()


def test_a_turn_too_long_ends_while_the_talk_goes_on(whisper, decoder, tmp_path):
    whisper.gate.set()
    ap = AudioPerception(AudioPerceptionConfig(max_utterance_ms=800), recognizer=whisper, decoder=decoder)
    speech = synth("pick up the red cube and put it in the bin please", tmp_path)
    out = []
    for f in frames(np.concatenate([silence(0.5), speech]), RATE):  # results taken whenever they are ready
        out += ap.sense(f) + ap.decode()
    ends = [e for e in out if e.type == ev.SPEECH_END]  # before the stream ends, not at flush
    assert ends and ends[0].payload["end_reason"] == "max_length"
