import numpy as np
import pytest

from audio_helpers import RATE, frames, noise, silence, synth, true_offset, true_onset
from seal_nodes.core.audio import AudioFormatError, AudioFrame, resample
from seal_nodes.core.audio_perception import AudioPerception, AudioPerceptionConfig
from seal_nodes.core.events import SPEECH_END, SPEECH_FRAGMENT, SPEECH_START

pytestmark = pytest.mark.unit

T0 = 10**18


@pytest.fixture(scope="module")
def ap():
    return AudioPerception()


def run(ap, pcm, rate=RATE, chunk_ms=20):
    ap.reset()
    events = []
    for f in frames(pcm, rate, T0, chunk_ms):
        events += ap.feed(f)
    return events + ap.flush()


def check_turn(events, text):
    types = [e.type for e in events]
    assert types[0] == SPEECH_START and types[-1] == SPEECH_END
    assert types.count(SPEECH_START) == 1 and types.count(SPEECH_END) == 1
    assert SPEECH_FRAGMENT in types
    assert len({e.trace_id for e in events}) == 1
    assert all(e.source == "audio_perception" for e in events)
    assert all(e.text for e in events if e.type == SPEECH_FRAGMENT)
    end = events[-1]
    assert end.text == text and end.confidence > 0.5
    assert end.payload["onset_ns"] == events[0].stamp_ns < end.payload["offset_ns"] == end.stamp_ns


@pytest.mark.parametrize("phrase", ["pick up the red cube", "put the blue cube in the bin"])
def test_one_turn_with_accurate_onset(ap, tmp_path, phrase):
    speech = synth(phrase, tmp_path)
    lead = silence(1.0)
    events = run(ap, np.concatenate([lead, speech, silence(1.0)]))
    check_turn(events, phrase)
    onset_true_ns = T0 + int((len(lead) + true_onset(speech)) * 1e9 / RATE)
    assert abs(events[0].stamp_ns - onset_true_ns) < 150e6
    offset_true_ns = T0 + int((len(lead) + true_offset(speech)) * 1e9 / RATE)
    assert abs(events[-1].stamp_ns - offset_true_ns) < 150e6
    frag_stamps = [e.stamp_ns for e in events if e.type == SPEECH_FRAGMENT]
    assert all(b - a >= 300e6 - 1 for a, b in zip(frag_stamps, frag_stamps[1:]))


def test_48k_noisy_input_is_resampled(ap, tmp_path):
    speech = synth("hello robot", tmp_path)
    sig = np.concatenate([silence(0.8), speech, silence(1.0)])
    sig = (sig.astype(np.int32) + noise(len(sig) / RATE, std=30)).clip(-32768, 32767).astype(np.int16)
    check_turn(run(ap, resample(sig, RATE, 48000), rate=48000, chunk_ms=10), "hello robot")


def test_two_utterances_give_two_turns(ap, tmp_path):
    a, b = synth("hello robot", tmp_path), synth("pick up the red cube", tmp_path)
    events = run(ap, np.concatenate([silence(0.5), a, silence(1.5), b, silence(1.0)]))
    ends = [e for e in events if e.type == SPEECH_END]
    assert [e.text for e in ends] == ["hello robot", "pick up the red cube"]
    starts = [i for i, e in enumerate(events) if e.type == SPEECH_START]
    check_turn(events[: starts[1]], "hello robot")
    check_turn(events[starts[1] :], "pick up the red cube")
    assert events[0].trace_id != events[starts[1]].trace_id


def test_silence_and_low_noise_give_no_events(ap):
    assert run(ap, silence(3.0)) == []
    assert run(ap, noise(3.0, std=100)) == []


def test_out_of_grammar_speech_ends_without_text(ap, tmp_path):
    events = run(ap, np.concatenate([silence(0.5), synth("the weather is nice today", tmp_path), silence(1.0)]))
    end = events[-1]
    assert end.type == SPEECH_END and end.text == "" and end.confidence == 0.0
    assert end.payload["reason"] in ("no_match", "low_confidence")


def test_max_utterance_forces_end(tmp_path):
    ap = AudioPerception(AudioPerceptionConfig(max_utterance_ms=1000))
    speech = synth("put the blue cube in the bin", tmp_path)  # ~2 s
    events = run(ap, np.concatenate([silence(0.5), speech, silence(1.0)]))
    ends = [e for e in events if e.type == SPEECH_END]
    assert ends and ends[0].payload["end_reason"] == "max_length"


def test_bad_input_raises_and_state_survives(ap):
    ap.reset()
    with pytest.raises(AudioFormatError, match="empty"):
        ap.feed(AudioFrame(np.zeros(0, np.int16), RATE, T0))
    with pytest.raises(AudioFormatError, match="int16"):
        ap.feed(AudioFrame(np.zeros(320, np.float32), RATE, T0))
    with pytest.raises(AudioFormatError, match="int16"):
        ap.feed(AudioFrame(np.zeros((2, 160), np.int16), RATE, T0))
    with pytest.raises(AudioFormatError, match="out of range"):
        ap.feed(AudioFrame(np.zeros(320, np.int16), 0, T0))
    assert ap.feed(AudioFrame(np.zeros(320, np.int16), RATE, T0)) == []
    with pytest.raises(AudioFormatError, match="changed mid-stream"):
        ap.feed(AudioFrame(np.zeros(960, np.int16), 48000, T0 + 20_000_000))
    ap.reset()
    assert ap.feed(AudioFrame(np.zeros(960, np.int16), 48000, T0)) == []


def test_short_and_non_speech_sounds_do_not_start_a_turn(ap):
    """One VAD window confirms an onset (for the latency budget); clicks, noise and tones must not."""
    rng = np.random.default_rng(1)
    t = np.arange(RATE) / RATE
    click = np.zeros(RATE // 10, np.int16)
    click[100:140] = 20000
    sounds = {
        "click": click,
        "loud noise": np.clip(rng.normal(0, 4000, RATE), -32768, 32767).astype(np.int16),
        "tone": (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16),
        "hum": (3000 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.int16),
    }
    for name, sound in sounds.items():
        ap.reset()
        events = run(ap, np.concatenate([silence(0.5), sound, silence(1.0)]))
        assert events == [], name


def test_sense_gives_turn_events_and_decode_gives_transcripts(tmp_path):
    """A node publishes sense()'s events before decode() runs the recogniser on the same chunk."""
    core = AudioPerception()
    pcm = np.concatenate([silence(0.5), synth("pick up the red cube", tmp_path), silence(1.0)])
    sensed, decoded = [], []
    for frame in frames(pcm):
        sensed += [e.type for e in core.sense(frame)]
        decoded += [e.type for e in core.decode()]
    assert sensed == [SPEECH_START, SPEECH_END]
    assert decoded and set(decoded) == {SPEECH_FRAGMENT}
