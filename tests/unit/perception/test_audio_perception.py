import numpy as np
import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.audio.frames import AudioFormatError, AudioFrame, resample
from seal_nodes.core.perception.audio import AudioPerception, AudioPerceptionConfig
from seal_nodes.tools.wer import wer
from tests.helpers.audio import RATE, frames, noise, piper, silence, synth, true_offset, true_onset

pytestmark = pytest.mark.unit

T0 = 10**18
OBJECTS = ["red cube", "green cube", "blue cube", "bin"]


@pytest.fixture(scope="module")
def ap():
    return AudioPerception(AudioPerceptionConfig(bias_words=list(OBJECTS)))


@pytest.fixture(autouse=True)
def default_config(ap):
    saved = vars(ap.config).copy()
    yield
    vars(ap.config).update(saved)


def run(ap, pcm, rate=RATE, chunk_ms=20, reference=None):
    """Feed contiguous frames (and the agent's voice as reference, frame by frame)."""
    ap.reset()
    out = []
    mic = frames(pcm, rate, T0, chunk_ms)
    ref = frames(reference, RATE, T0, chunk_ms) if reference is not None else []
    for i, f in enumerate(mic):
        if i < len(ref):
            ap.add_reference(ref[i])
        out += ap.feed(f)
    return out + ap.flush()


def types(events):
    return [e.type for e in events]


def turn(events):
    """The one user turn in ``events``: (speech_start, fragments, speech_end)."""
    speech = [e for e in events if e.type in (ev.SPEECH_START, ev.SPEECH_FRAGMENT, ev.SPEECH_END)]
    t = types(speech)
    assert t[0] == ev.SPEECH_START and t[-1] == ev.SPEECH_END, t
    assert t.count(ev.SPEECH_START) == 1 and t.count(ev.SPEECH_END) == 1, t
    assert len({e.trace_id for e in speech}) == 1
    return speech[0], speech[1:-1], speech[-1]


@pytest.mark.parametrize("phrase", ["pick up the red cube", "put the blue cube in the bin"])
def test_one_turn_with_accurate_onset_partials_and_final(ap, tmp_path, phrase):
    speech = piper(phrase)
    lead = silence(1.0)
    events = run(ap, np.concatenate([lead, speech, silence(1.5)]))
    start, fragments, end = turn(events)
    assert wer([phrase], [end.text]) == 0.0, end.text
    assert end.confidence > 0.5 and end.payload["end_reason"] == "complete"
    onset_true_ns = T0 + int((len(lead) + true_onset(speech)) * 1e9 / RATE)
    assert abs(start.stamp_ns - onset_true_ns) < 100e6
    offset_true_ns = T0 + int((len(lead) + true_offset(speech)) * 1e9 / RATE)
    assert abs(end.stamp_ns - offset_true_ns) < 100e6
    assert fragments and all(f.text for f in fragments)
    stamps = [f.stamp_ns for f in fragments]
    assert all(b - a >= 300e6 - 1 for a, b in zip(stamps, stamps[1:]))  # at most every 300 ms of audio


def test_free_form_speech_is_transcribed(ap, tmp_path):
    phrase = "the weather is nice today"
    _, _, end = turn(run(ap, np.concatenate([silence(0.5), piper(phrase), silence(1.5)])))
    assert wer([phrase], [end.text]) <= 0.2, end.text


def test_mid_sentence_pause_does_not_end_the_turn(ap, tmp_path):
    first = piper("put the green cube")
    second = piper("in the bin")
    events = run(ap, np.concatenate([silence(0.5), first, silence(0.6), second, silence(1.5)]))
    _, _, end = turn(events)
    assert wer(["put the green cube in the bin"], [end.text]) == 0.0, end.text


def test_a_sentence_resumed_after_a_pause_revises_the_turn(ap):
    # "Pick up the cube" reads complete, so the pause ends the turn; the rest revises it
    first, second = piper("pick up the cube"), piper("that is closest to you")
    events = run(ap, np.concatenate([silence(0.5), first, silence(0.6), second, silence(1.5)]))
    ends = [e for e in events if e.type == ev.SPEECH_END]
    starts = [e for e in events if e.type == ev.SPEECH_START]
    assert len(ends) == 2 and len(starts) == 2
    assert starts[1].payload["continues"] == ends[0].trace_id
    assert ends[1].payload["revises"] == ends[0].trace_id
    assert wer(["pick up the cube that is closest to you"], [ends[1].text]) == 0.0, ends[1].text


def test_a_new_sentence_after_a_real_gap_is_a_new_turn(ap):
    events = run(ap, np.concatenate([silence(0.5), piper("go home"), silence(2.0), piper("stop"), silence(1.5)]))
    ends = [e for e in events if e.type == ev.SPEECH_END]
    assert len(ends) == 2 and "revises" not in ends[1].payload


def test_long_silence_ends_an_unfinished_turn(ap, tmp_path):
    events = run(ap, np.concatenate([silence(0.5), synth("put the green cube in the", tmp_path), silence(2.0)]))
    _, _, end = turn(events)
    assert end.payload["end_reason"] == "silence"


def test_two_utterances_give_two_turns(ap, tmp_path):
    a, b = piper("go home"), piper("put the red cube in the bin")
    events = run(ap, np.concatenate([silence(0.5), a, silence(1.5), b, silence(1.5)]))
    ends = [e for e in events if e.type == ev.SPEECH_END]
    assert wer(["go home", "put the red cube in the bin"], [e.text for e in ends]) == 0.0, ends
    assert types(events).count(ev.SPEECH_START) == 2


def test_48k_noisy_input_is_resampled(ap, tmp_path):
    speech = piper("hello robot")
    sig = np.concatenate([silence(0.8), speech, silence(1.5)])
    sig = (sig.astype(np.int32) + noise(len(sig) / RATE, std=30)).clip(-32768, 32767).astype(np.int16)
    _, _, end = turn(run(ap, resample(sig, RATE, 48000), rate=48000, chunk_ms=10))
    assert wer(["hello robot"], [end.text]) == 0.0, end.text


def test_silence_and_low_noise_give_no_events(ap):
    assert run(ap, silence(3.0)) == []
    assert run(ap, noise(3.0, std=100)) == []


def test_silence_hint_after_configured_time(ap):
    ap.config.silence_hint_s = 1.0
    events = run(ap, silence(3.5))
    assert types(events) == [ev.SILENCE]  # once per quiet spell, not once a second
    assert events[0].payload["seconds"] >= 1.0


def test_max_utterance_forces_end(ap, tmp_path):
    ap.config.max_utterance_ms = 800
    speech = synth("pick up the red cube and put it in the bin please", tmp_path)
    events = run(ap, np.concatenate([silence(0.5), speech, silence(0.5)]))
    ends = [e for e in events if e.type == ev.SPEECH_END]
    assert ends and ends[0].payload["end_reason"] == "max_length"


def test_sense_gives_turn_events_and_decode_gives_transcripts(ap, tmp_path):
    pcm = np.concatenate([silence(0.5), piper("go home"), silence(1.5)])
    ap.reset()
    sensed, decoded = [], []
    for f in frames(pcm, RATE, T0):
        sensed += ap.sense(f)
        decoded += ap.decode()
    assert types(sensed) == [ev.SPEECH_START]
    assert set(types(decoded)) == {ev.SPEECH_FRAGMENT, ev.SPEECH_END}


# ---- the agent is talking: echo, interruptions, backchannels -------------------------------------
def room(agent: np.ndarray, delay_ms: float = 40.0, gain_db: float = -8.0) -> np.ndarray:
    """The agent's voice as the microphone hears it: delayed, reverberant, quieter."""
    rng = np.random.default_rng(1)
    n = int(0.12 * RATE)
    rir = rng.normal(0, 1, n) * np.exp(-np.arange(n) / (0.025 * RATE))
    rir[0] = 4.0
    rir /= np.sqrt(np.sum(rir**2))
    wet = np.convolve(agent.astype(np.float64), rir)[: len(agent)] * 10 ** (gain_db / 20)
    d = int(delay_ms * RATE / 1000)
    return np.concatenate([np.zeros(d), wet])[: len(agent)]


def overlap(agent, user, at_s, gain_db=-8.0):
    """The user's sound at ``at_s`` over the agent's voice as the microphone hears it."""
    mic = room(agent, gain_db=gain_db)
    i = int(at_s * RATE)
    mic[i:i + len(user)] += user[: len(mic) - i]
    return np.clip(mic, -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def agent_voice(tmp_path_factory):
    text = "I am going to pick up the red cube now and then I will put it in the bin for you"
    return np.concatenate([synth(text, tmp_path_factory.mktemp("agent"), voice="en-us+f3", speed=160), silence(1.5)])


def test_own_voice_through_the_microphone_never_starts_a_turn(ap, agent_voice):
    events = run(ap, room(agent_voice).astype(np.int16), reference=agent_voice)
    assert not [e for e in events if e.type in (ev.SPEECH_START, ev.INTERRUPT, ev.SPEECH_END)], types(events)


def test_real_interjection_interrupts(ap, agent_voice, tmp_path):
    user = piper("no wait, put it on the left")
    events = run(ap, overlap(agent_voice, user, 2.0), reference=agent_voice)
    t = types(events)
    assert ev.SPEECH_START in t and ev.INTERRUPT in t, t
    start = next(e for e in events if e.type == ev.SPEECH_START)
    assert start.payload["agent_speaking"] is True
    assert t.index(ev.SPEECH_START) < t.index(ev.INTERRUPT) < t.index(ev.SPEECH_END)


@pytest.mark.parametrize("word", ["yeah", "okay", "right"])
def test_backchannel_does_not_interrupt(ap, agent_voice, tmp_path, word):
    user = piper(word)
    events = run(ap, overlap(agent_voice, user, 2.0), reference=agent_voice)
    t = types(events)
    # heard as a backchannel, or not loud enough over the agent's echo to count at all
    assert ev.INTERRUPT not in t and ev.SPEECH_END not in t, [(e.type, e.text) for e in events]


@pytest.mark.parametrize("word", ["yeah", "okay"])
def test_a_clear_acknowledgement_over_a_quiet_echo_is_a_backchannel(ap, agent_voice, word):
    events = run(ap, overlap(agent_voice, piper(word), 2.5, gain_db=-24.0), reference=agent_voice)
    t = types(events)
    assert ev.BACKCHANNEL in t and ev.INTERRUPT not in t and ev.SPEECH_END not in t, [(e.type, e.text) for e in events]
    start = next(e for e in events if e.type == ev.SPEECH_START)
    assert start.payload["agent_speaking"] is True


def test_a_clap_over_the_agent_is_a_transient_noise(ap, agent_voice):
    from seal_nodes.tools.soundgen import clap

    c = clap(RATE, seed=1).astype(np.float64) * 25000
    events = run(ap, overlap(agent_voice, c, 2.5, gain_db=-24.0), reference=agent_voice)
    t = types(events)
    assert ev.INTERRUPT not in t and ev.SPEECH_END not in t, [(e.type, e.text) for e in events]
    if ev.SPEECH_START in t:  # the VAD took it for an onset: then it must be closed as a noise
        noise = [e for e in events if e.type == ev.NOISE and e.payload.get("source") == "transient"]
        assert noise, [(e.type, e.text) for e in events]


def test_cough_is_noise_not_an_interruption(ap, agent_voice):
    from seal_nodes.tools.soundgen import cough

    c = (cough(RATE, seed=3) * 20000).astype(np.float64)
    events = run(ap, overlap(agent_voice, c, 2.0), reference=agent_voice)
    t = types(events)
    assert ev.INTERRUPT not in t and ev.SPEECH_END not in t, [(e.type, e.text) for e in events]


def test_the_same_interjection_without_agent_speech_is_a_plain_turn(ap, tmp_path):
    events = run(ap, np.concatenate([silence(0.5), piper("yeah"), silence(1.5)]))
    _, _, end = turn(events)
    assert ev.BACKCHANNEL not in types(events) and "yeah" in end.text.lower()


# ---- scene -----------------------------------------------------------------------------------
def test_music_is_reported(ap):
    from seal_nodes.tools.soundgen import music

    pcm = (music(8.0, RATE, seed=2, style="piano") * 12000).astype(np.int16)
    events = run(ap, pcm)
    assert ev.MUSIC in types(events), types(events)


def test_loud_background_noise_is_reported(ap):
    events = run(ap, noise(4.0, std=3000, seed=4))
    noise_events = [e for e in events if e.type == ev.NOISE]
    assert noise_events and noise_events[0].payload.get("source") == "acoustic"


# ---- n-best ----------------------------------------------------------------------------------
def test_n_best_alternatives_go_with_the_final_only(ap, tmp_path):
    phrases = ["open the gripper", "put the blue cube in the bin"]
    pcms = [np.concatenate([silence(0.5), synth(p, tmp_path), silence(1.5)]) for p in phrases]
    ap.config.n_best = 1
    for pcm in pcms:  # greedy: no alternatives
        assert "alternatives" not in turn(run(ap, pcm))[2].payload
    ap.config.n_best = 5
    ends = []
    for pcm in pcms:
        _, fragments, end = turn(run(ap, pcm))
        assert all("alternatives" not in f.payload for f in fragments)  # partials stay greedy
        alts = end.payload.get("alternatives", [])
        assert all(isinstance(a, str) and a.strip() and a.lower() != end.text.lower() for a in alts), end
        ends.append(end)
    assert any(e.payload.get("alternatives") for e in ends), ends  # espeak's voice leaves room for doubt


@pytest.mark.parametrize("n_best", [0, 9, 1.5])
def test_bad_n_best_is_refused(n_best):
    with pytest.raises(ValueError, match="n_best"):
        AudioPerception(AudioPerceptionConfig(n_best=n_best))


# ---- bad input -------------------------------------------------------------------------------
def test_bad_input_raises_and_state_survives(ap, tmp_path):
    ap.reset()
    with pytest.raises(AudioFormatError, match="int16"):
        ap.sense(AudioFrame(np.zeros(320, np.float32), RATE, T0))
    with pytest.raises(AudioFormatError, match="empty"):
        ap.sense(AudioFrame(np.zeros(0, np.int16), RATE, T0))
    with pytest.raises(AudioFormatError, match="out of range"):
        ap.sense(AudioFrame(np.zeros(320, np.int16), 100, T0))
    with pytest.raises(AudioFormatError, match="int16"):
        ap.add_reference(AudioFrame(np.zeros((2, 160), np.int16), RATE, T0))
    ap.sense(AudioFrame(np.zeros(320, np.int16), RATE, T0))
    with pytest.raises(AudioFormatError, match="changed"):
        ap.sense(AudioFrame(np.zeros(960, np.int16), 48000, T0 + 20_000_000))
    # the stream still works afterwards
    pcm = np.concatenate([silence(0.5), piper("go home"), silence(1.5)])
    events = []
    for f in frames(pcm, RATE, T0 + 20_000_000):
        events += ap.feed(f)
    assert ev.SPEECH_END in types(events)
