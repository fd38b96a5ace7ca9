import threading

import numpy as np
import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.perception.audio import AudioPerception
from seal_nodes.core.perception.speaker import SpeakerEncoder
from seal_nodes.core.perception.voice_events import VoiceEvents
from tests.helpers.audio import RATE, frames, piper, silence

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def encoder():
    return SpeakerEncoder(threads=1)


@pytest.fixture(scope="module")
def joe():
    return piper("put the green cube in the bin")


class Sink:
    def __init__(self):
        self.events, self.reports = [], []
        self.got = threading.Event()

    def emit(self, event):
        self.events.append(event)
        self.got.set()

    def report(self, text, trace_id):
        self.reports.append((text, trace_id))


def end(trace, stamp=123):
    return ev.Event(type=ev.SPEECH_END, stamp_ns=stamp, text="hi", source="audio_perception", trace_id=trace)


def test_voice_event_carries_the_turns_trace_and_embedding(encoder, joe):
    sink = Sink()
    voices = VoiceEvents(sink.emit, sink.report, encoder=encoder)
    voices.submit(end("t1", 42), joe)
    assert voices.process_one() and not voices.process_one()
    (e,) = sink.events
    assert (e.type, e.trace_id, e.stamp_ns, e.source) == (ev.VOICE, "t1", 42, "audio_perception")
    emb = np.array(e.payload["embedding"])
    assert emb.shape == (256,) and abs(np.linalg.norm(emb) - 1) < 1e-3
    assert all(round(v, 5) == v for v in e.payload["embedding"])
    assert e.payload["model"] == "resemblyzer-ge2e" and e.payload["seconds"] == round(len(joe) / RATE, 2)
    assert float(emb @ encoder.embed(joe)) > 0.9999
    assert e.payload_json() and not sink.reports


def test_backlog_drops_the_oldest_turn_and_reports_it(encoder, joe):
    sink = Sink()
    voices = VoiceEvents(sink.emit, sink.report, encoder=encoder, max_pending=2)
    for t in ("t1", "t2", "t3"):
        voices.submit(end(t), joe)
    assert len(sink.reports) == 1 and sink.reports[0][1] == "t1" and "behind" in sink.reports[0][0]
    while voices.process_one():
        pass
    assert [e.trace_id for e in sink.events] == ["t2", "t3"]


def test_too_short_or_silent_turns_get_no_event_and_no_report(encoder, joe):
    sink = Sink()
    voices = VoiceEvents(sink.emit, sink.report, encoder=encoder)
    voices.submit(end("short"), joe[: RATE // 10])
    voices.submit(end("quiet"), silence(1.0))
    while voices.process_one():
        pass
    assert sink.events == [] and sink.reports == [] and voices.enabled


def test_an_encoder_that_cannot_load_is_reported_once_and_switches_off(tmp_path, joe):
    sink = Sink()
    voices = VoiceEvents(sink.emit, sink.report, encoder=SpeakerEncoder(weights=tmp_path / "missing.pt"))
    voices.submit(end("t1"), joe)
    voices.submit(end("t2"), joe)
    while voices.process_one():
        pass
    voices.submit(end("t3"), joe)
    assert not voices.process_one()
    assert not voices.enabled and sink.events == []
    assert len(sink.reports) == 1 and "speaker embedding off" in sink.reports[0][0]


def test_bad_max_pending():
    with pytest.raises(ValueError, match="max_pending"):
        VoiceEvents(lambda e: None, lambda t, i: None, max_pending=0)


def test_each_speech_end_is_embedded_after_it_on_the_worker_thread(encoder, joe):
    """The core keeps the finished turn's voiced audio; the worker thread embeds it."""
    ap = AudioPerception()
    pcm = np.concatenate([silence(0.5), joe, silence(1.5)])
    out = []
    for f in frames(pcm, RATE):
        out += ap.feed(f)
    out += ap.flush()
    (speech_end,) = [e for e in out if e.type == ev.SPEECH_END]
    audio = ap.turn_audio(speech_end.trace_id)
    assert ap.turn_audio("another-turn") is None
    assert audio is not None and abs(len(audio) - len(joe)) < 0.4 * RATE
    sink = Sink()
    voices = VoiceEvents(sink.emit, sink.report, encoder=encoder)
    voices.start()
    try:
        voices.submit(speech_end, audio)
        assert sink.got.wait(120)
    finally:
        voices.close()
    (voice,) = sink.events
    assert voice.trace_id == speech_end.trace_id and voice.stamp_ns == speech_end.stamp_ns
    assert float(np.array(voice.payload["embedding"]) @ encoder.embed(joe)) > 0.9
    ap.reset()
    assert ap.turn_audio(speech_end.trace_id) is None
