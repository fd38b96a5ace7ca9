"""Early pause (``voice_maybe``): the agent's voice holds on the first window that may be the user,
becomes the barge-in when the VAD confirms it, and resumes from the same sample when it does not."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.audio.frames import AudioFrame
from seal_nodes.core.perception.audio import AudioPerception, AudioPerceptionConfig
from seal_nodes.core.perception.early_pause import END, START, EarlyPause, EarlyPauseConfig
from seal_nodes.core.thinking.commands import CancelSpeech, PauseSpeech, ResumeSpeech
from seal_nodes.core.thinking.thinker import Thinker, ThinkerConfig
from seal_nodes.core.voice.speech_tags import SpeechPart
from seal_nodes.core.voice.stream import SpeechStream, WordMark
from seal_nodes.tools.soundgen import cough
from tests.helpers.audio import RATE, frames, piper, silence, synth
from tests.unit.perception.test_audio_perception import T0, room

pytestmark = pytest.mark.unit

AGENT_TEXT = "I am going to pick up the red cube now and then I will put it in the bin for you"
CHUNK_NS = 20_000_000
CHUNK = RATE // 50


# ---- the decisions, window by window --------------------------------------------------------------
def feed(pause: EarlyPause, windows: list[tuple[bool, float, bool]]) -> list[str | None]:
    return [pause.window(agent, p, heard) for agent, p, heard in windows]


def test_a_maybe_opens_only_while_the_agent_talks_and_only_on_what_can_be_the_user():
    cfg = EarlyPauseConfig()
    assert feed(EarlyPause(cfg), [(False, 0.9, True)]) == [None]  # nobody to pause
    assert feed(EarlyPause(cfg), [(True, 0.99, False)]) == [None]  # the agent's own echo
    assert feed(EarlyPause(cfg), [(True, cfg.threshold - 0.01, True)]) == [None]
    assert feed(EarlyPause(cfg), [(True, cfg.threshold, True)]) == [START]


def test_an_unconfirmed_maybe_ends_after_the_release_and_a_steady_sound_pauses_once():
    cfg = EarlyPauseConfig(release_ms=64.0, max_ms=160.0)
    pause = EarlyPause(cfg, window_ms=32.0)
    # a burst: two maybe windows, then quiet for the release
    assert feed(pause, [(True, 0.4, True), (True, 0.3, True), (True, 0.0, True), (True, 0.0, True)]) == \
        [START, None, None, END]
    assert pause.held_ms == 96.0
    # a steady sound: it ends at max_ms, and pauses again only after a window that is no maybe
    steady = [(True, 0.3, True)] * 8
    assert feed(pause, steady) == [START, None, None, None, None, END, None, None]
    assert feed(pause, [(True, 0.0, True), (True, 0.3, True)]) == [None, START]


def test_a_confirmed_onset_closes_the_maybe_without_an_end():
    pause = EarlyPause(EarlyPauseConfig())
    assert feed(pause, [(True, 0.3, True)]) == [START]
    assert pause.close() and not pause.open
    assert feed(pause, [(True, 0.9, True)]) == [None]  # the same sound goes on: no new maybe
    assert not pause.close()


def test_the_agent_falling_silent_ends_an_open_maybe():
    pause = EarlyPause(EarlyPauseConfig())
    assert feed(pause, [(True, 0.3, True), (False, 0.3, True)]) == [START, END]


def test_a_loud_block_opens_a_maybe_ahead_of_the_window_and_a_steady_sound_pauses_once():
    pause = EarlyPause(EarlyPauseConfig(release_ms=64.0, max_ms=160.0), window_ms=32.0)
    assert pause.level(False, True) is None  # nobody to pause
    assert pause.level(True, False) is None  # not louder than the room and the agent's residual
    assert pause.level(True, True) == START and pause.by_level
    # the VAD hears no voice, but a loud block counts for the release: one sound, one pause
    assert [pause.window(True, 0.0, True), pause.level(True, True), pause.window(True, 0.0, True),
            pause.window(True, 0.0, True)] == [None, None, None, END]
    assert pause.level(True, True) is None  # the same sound goes on: no stutter
    assert [pause.level(True, False), pause.level(True, True)] == [None, START]  # a new one after a lull
    assert pause.close() and not pause.open  # the VAD confirmed it: the barge-in's pause now


def test_the_level_test_can_be_switched_off():
    assert EarlyPause(EarlyPauseConfig(by_level=False)).level(True, True) is None
    assert EarlyPause(EarlyPauseConfig(enabled=False)).level(True, True) is None


@pytest.mark.parametrize("kw", [{"level_ms": 0}, {"level_ms": 64}])
def test_bad_level_block_is_refused(kw):
    with pytest.raises(ValueError):
        EarlyPauseConfig(**kw)


@pytest.mark.parametrize("kw", [{"threshold": 0.0}, {"threshold": 1.5}, {"release_ms": 0.0},
                                {"release_ms": 500.0, "max_ms": 100.0}])
def test_bad_config_is_refused(kw):
    with pytest.raises(ValueError):
        EarlyPauseConfig(**kw)


# ---- perception: the events -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def ap():
    return AudioPerception(AudioPerceptionConfig())


@pytest.fixture(scope="module")
def agent_voice(tmp_path_factory):
    return np.concatenate([synth(AGENT_TEXT, tmp_path_factory.mktemp("agent"), voice="en-us+f3", speed=160),
                           silence(1.5)])


def at(sound: np.ndarray, seconds: float, length: int) -> np.ndarray:
    """``sound`` alone (a headset: no echo path) starting ``seconds`` into ``length`` samples."""
    mic = np.zeros(length)
    i = int(seconds * RATE)
    mic[i:i + len(sound)] += sound[: length - i]
    return np.clip(mic, -32768, 32767).astype(np.int16)


def sensed(ap: AudioPerception, mic: np.ndarray, reference: np.ndarray | None) -> list[tuple[int, ev.Event]]:
    """(microphone frame index, event) of every event, the agent's voice fed as the reference."""
    ap.reset()
    ref = frames(reference, RATE, T0) if reference is not None else []
    out = []
    for i, f in enumerate(frames(mic, RATE, T0)):
        if i < len(ref):
            ap.add_reference(ref[i])
        out += [(i, e) for e in ap.feed(f)]
    return out + [(-1, e) for e in ap.flush()]


def of(events: list[tuple[int, ev.Event]], type_: str) -> list[tuple[int, ev.Event]]:
    return [(i, e) for i, e in events if e.type == type_]


def test_speech_over_the_agent_pauses_a_window_before_the_onset_is_confirmed(ap, agent_voice):
    events = sensed(ap, at(piper("stop, wait"), 2.0, len(agent_voice)), agent_voice)
    maybe, start = of(events, ev.VOICE_MAYBE), of(events, ev.SPEECH_START)
    assert maybe and {e.payload["state"] for _, e in maybe} == {START}, [(e.type, e.payload) for _, e in events]
    assert start[0][1].payload["agent_speaking"]
    assert maybe[0][0] < start[0][0]  # heard on an earlier frame than the confirmation
    # each maybe is the first window of a user turn, confirmed (a word whose first window is
    # already sure enough starts its turn without one)
    assert {e.trace_id for _, e in maybe} <= {e.trace_id for _, e in start}
    assert ev.INTERRUPT in [e.type for _, e in events]


def test_a_loud_block_pauses_before_the_vad_window_it_starts_in_has_ended(ap, agent_voice):
    mic = at(piper("stop, wait"), 2.0, len(agent_voice))
    first = {}
    try:
        for by_level in (False, True):
            ap.config.early_pause = EarlyPauseConfig(by_level=by_level)
            events = sensed(ap, mic, agent_voice)
            first[by_level] = next((i, e) for i, e in events if e.type in (ev.VOICE_MAYBE, ev.SPEECH_START)
                                   and e.payload.get("state", START) == START)
    finally:
        ap.config.early_pause = EarlyPauseConfig()
    assert "level_db" in first[True][1].payload, first[True][1].payload
    assert first[True][0] < first[False][0]  # out on an earlier microphone frame
    assert of(events, ev.SPEECH_START) and ev.INTERRUPT in [e.type for _, e in events]  # then confirmed


def test_a_cough_over_the_agent_pauses_then_ends_unconfirmed(ap, agent_voice):
    events = sensed(ap, at(cough(RATE, seed=3) * 20000, 2.0, len(agent_voice)), agent_voice)
    maybe = of(events, ev.VOICE_MAYBE)
    assert [e.payload["state"] for _, e in maybe] == [START, END], [(e.type, e.payload) for _, e in events]
    assert maybe[0][1].trace_id == maybe[1][1].trace_id
    assert 0 < maybe[1][1].payload["held_ms"] <= ap.config.early_pause.max_ms
    assert not of(events, ev.SPEECH_START) and not of(events, ev.INTERRUPT)


@pytest.mark.parametrize("gain_db", [-2.0, -8.0, -20.0])
def test_the_agents_own_voice_through_the_microphone_never_pauses_it(ap, agent_voice, gain_db):
    events = sensed(ap, room(agent_voice, gain_db=gain_db).astype(np.int16), agent_voice)
    assert not of(events, ev.VOICE_MAYBE) and not of(events, ev.SPEECH_START), [e.type for _, e in events]


def test_with_the_agent_silent_there_is_nothing_to_pause(ap):
    mic = np.concatenate([silence(1.0), piper("stop, wait"), silence(1.5)])
    events = sensed(ap, mic, None)
    assert of(events, ev.SPEECH_START) and not of(events, ev.VOICE_MAYBE)


def test_a_maybe_open_when_the_stream_ends_is_ended(ap, agent_voice):
    pcm = at(piper("stop, wait"), 2.0, len(agent_voice))
    ap.reset()
    ref = frames(agent_voice, RATE, T0)
    out: list[ev.Event] = []
    for i, f in enumerate(frames(pcm, RATE, T0)):
        ap.add_reference(ref[i])
        out += ap.sense(f)
        if any(e.type == ev.VOICE_MAYBE for e in out):
            break
    ends = [e for e in ap.flush() if e.type == ev.VOICE_MAYBE]
    assert [e.payload["state"] for e in ends] == [END] and ends[0].trace_id == out[-1].trace_id


# ---- the loop: perception → thinker → the voice, on a simulated clock -------------------------------
class Recorded:
    """A synthesizer that says one recorded utterance (16 kHz), in 20 ms blocks."""

    sample_rate = RATE

    def __init__(self, pcm: np.ndarray) -> None:
        self.pcm = pcm

    def synthesize(self, part: SpeechPart) -> Iterator[tuple[np.ndarray, list[WordMark]]]:
        marks = [WordMark(w, 0) for w in part.text.split()[:1]]
        for i in range(0, len(self.pcm), CHUNK):
            yield self.pcm[i:i + CHUNK], marks if i == 0 else []


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def speaking_thinker() -> Thinker:
    th = Thinker(None, {"red_cube"}, config=ThinkerConfig(fast_path=False, think_while_listening=False))
    th.handle(ev.Event(ev.SPEECH_END, 0, text="hello", trace_id="greeting"))
    assert th.speaking  # the reply is out: the voice is the one to pause
    return th


def play_over(ap: AudioPerception, agent: np.ndarray, user: np.ndarray) -> tuple[list, list[AudioFrame], object]:
    """The agent says ``agent`` while the microphone hears ``user`` (a headset: no echo path); every
    event goes to a thinker, whose pause/resume/cancel drive the voice. (events, frames played, result)."""
    ap.reset()
    th, clock = speaking_thinker(), Clock()
    stream = SpeechStream("I am going to pick up the red cube", Recorded(agent))
    played: list[AudioFrame] = []
    events: list[ev.Event] = []
    heard = [0]  # microphone samples fed

    def sink(frame: AudioFrame) -> None:
        ap.add_reference(frame)
        played.append(frame)

    def listen() -> None:
        while T0 + (heard[0] + CHUNK) * 1_000_000_000 // RATE <= clock.now:
            block = user[heard[0]:heard[0] + CHUNK]
            block = np.concatenate([block, np.zeros(CHUNK - len(block), np.int16)])
            for e in ap.feed(AudioFrame(block, RATE, T0 + heard[0] * 1_000_000_000 // RATE)):
                events.append(e)
                for cmd in th.handle(e):
                    if isinstance(cmd, PauseSpeech):
                        stream.pause()
                    elif isinstance(cmd, ResumeSpeech):
                        stream.resume()
                    elif isinstance(cmd, CancelSpeech):
                        stream.cancel()
            heard[0] += CHUNK

    def sleep(seconds: float) -> None:
        clock.now += max(1, int(seconds * 1e9))
        listen()

    result = stream.run(sink, clock=clock, sleep=sleep, wall_clock=clock)
    sleep(1.0)  # what the microphone hears after the voice
    return events, played, result


def test_a_noise_burst_pauses_the_voice_then_it_resumes_with_no_audio_lost(ap, agent_voice):
    events, played, result = play_over(ap, agent_voice, at(cough(RATE, seed=3) * 20000, 2.0, len(agent_voice) * 2))
    assert [e.payload.get("state") for e in events if e.type == ev.VOICE_MAYBE] == [START, END], \
        [e.type for e in events]
    assert not [e for e in events if e.type in (ev.SPEECH_START, ev.INTERRUPT)]
    assert result.completed and not result.interrupted
    assert np.array_equal(np.concatenate([f.samples for f in played]), agent_voice)  # nothing lost or repeated
    gaps = [b.stamp_ns - a.stamp_ns - CHUNK_NS for a, b in zip(played, played[1:])]
    assert sum(g > 0 for g in gaps) == 1  # one pause, then the same sample went on


def test_speech_pauses_the_voice_then_becomes_the_barge_in(ap, agent_voice):
    events, played, result = play_over(ap, agent_voice, at(piper("stop, wait"), 2.0, len(agent_voice) * 2))
    types = [e.type for e in events]
    assert types.index(ev.VOICE_MAYBE) < types.index(ev.SPEECH_START) < types.index(ev.INTERRUPT), types
    assert [e.payload["state"] for e in events if e.type == ev.VOICE_MAYBE] == [START]  # never resumed
    assert result.interrupted and not result.completed
    maybe = next(e for e in events if e.type == ev.VOICE_MAYBE)
    # nothing played once the maybe was heard: the chunk already handed over at most
    assert played[-1].stamp_ns <= maybe.stamp_ns + 2 * 32_000_000 + CHUNK_NS
    assert np.array_equal(np.concatenate([f.samples for f in played]), agent_voice[:len(played) * CHUNK])
