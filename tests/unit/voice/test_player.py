"""SpeechPlayer: the tts goal queue and player thread, driven through its callbacks with a
deterministic engine and unpaced playback (no ROS, no real-time waits)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.audio.frames import AudioFrame
from seal_nodes.core.voice.player import (GoalOutcome, PlayerCallbacks, QueuedGoal, SpeechPlayer, check_fault_delay,
                                         is_possible_onset)
from seal_nodes.core.voice.speech_tags import SpeechPart
from seal_nodes.core.voice.stream import WordMark
from seal_nodes.tools.waiting import wait_until

pytestmark = pytest.mark.unit

SR = 8000
TONE, GAP = 800, 400  # each word: 0.1 s of tone, then 0.05 s of silence
LONG = "one two three four five six seven eight"


class ToneSynth:
    """Deterministic engine: one tone per word, 500-sample blocks, each word's start as a mark."""

    sample_rate = SR

    def synthesize(self, part: SpeechPart) -> Iterator[tuple[np.ndarray, list[WordMark]]]:
        marks, pos = [], 0
        for k, w in enumerate(part.text.split()):
            start = part.text.index(w, pos)
            pos = start + len(w)
            marks.append(WordMark(w, k * (TONE + GAP), start, pos))
        pcm = np.tile(np.r_[np.full(TONE, 1000, np.int16), np.zeros(GAP, np.int16)], len(marks))
        for i in range(0, len(pcm), 500):
            yield pcm[i:i + 500], [m for m in marks if i <= m.start_sample < i + 500]


def tone_pcm(text: str) -> np.ndarray:
    return np.concatenate([b for b, _ in ToneSynth().synthesize(SpeechPart(text=text))])


class Host:
    """The player's host, recording everything it is handed; ``on_chunk(trace_id, n)`` runs on
    the player thread after the n-th chunk of a goal, before the next one."""

    def __init__(self, on_chunk: Callable[[str, int], None] | None = None) -> None:
        self.on_chunk = on_chunk
        self.cond = threading.Condition()
        self.frames: list[AudioFrame] = []
        self.feedback: list[tuple[str, str, float]] = []
        self.finished: dict[str, GoalOutcome] = {}
        self.order: list[str] = []
        self.events: list[ev.Event] = []
        self.errors: list[tuple[str, dict]] = []

    def callbacks(self) -> PlayerCallbacks:
        return PlayerCallbacks(chunk=self.chunk, feedback=self.fed, finish=self.finish, event=self.event,
                               error=self.error)

    def chunk(self, frame: AudioFrame) -> None:
        with self.cond:
            self.frames.append(frame)
            n = len(self.of(frame.trace_id))
        if self.on_chunk is not None:
            self.on_chunk(frame.trace_id, n)

    def fed(self, goal: QueuedGoal, said: str, progress: float) -> None:
        with self.cond:
            self.feedback.append((goal.trace_id, said, progress))

    def finish(self, goal: QueuedGoal, outcome: GoalOutcome) -> None:
        with self.cond:
            self.finished[goal.trace_id] = outcome
            self.order.append(goal.trace_id)
            self.cond.notify_all()

    def event(self, event: ev.Event) -> None:
        with self.cond:
            self.events.append(event)

    def error(self, text: str, trace_id: str = "", payload: dict | None = None) -> None:
        with self.cond:
            self.errors.append((text, dict(payload or {})))

    def of(self, trace_id: str) -> list[AudioFrame]:
        return [f for f in self.frames if f.trace_id == trace_id]

    def samples(self, trace_id: str) -> np.ndarray:
        return np.concatenate([f.samples for f in self.of(trace_id)])

    def end_event(self, trace_id: str) -> ev.Event:
        return next(e for e in self.events if e.type == ev.AGENT_SPEECH_END and e.trace_id == trace_id)

    def wait_finished(self, *trace_ids: str, timeout_s: float = 5.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: all(t in self.finished for t in trace_ids), timeout_s), \
                f"not finished: {[t for t in trace_ids if t not in self.finished]}"

    def wait_chunks(self, trace_id: str, n: int, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.of(trace_id)) < n:
            assert time.monotonic() < deadline, f"{n} chunks of {trace_id}"
            time.sleep(0.005)


@pytest.fixture
def new_player() -> Iterator[Callable[..., SpeechPlayer]]:
    """Makes players on a ``Host`` (unpaced, not started); closes them after the test."""
    made: list[SpeechPlayer] = []

    def make(host: Host, **kw: object) -> SpeechPlayer:
        player = SpeechPlayer(ToneSynth(), host.callbacks(), engine="tone", paced=False, **kw)  # type: ignore[arg-type]
        made.append(player)
        return player

    yield make
    for player in made:
        player.close()


def play(player: SpeechPlayer, *goals: tuple[str, str]) -> None:
    """Queue ``goals`` (trace_id, text; keyed by trace_id) before the player thread starts."""
    for trace_id, text in goals:
        player.submit(trace_id, text, trace_id=trace_id, utterance_id=f"u-{trace_id}")
    player.start()


def test_queued_goals_play_back_to_back_on_one_timeline(new_player: Callable[..., SpeechPlayer]) -> None:
    host = Host()
    play(new_player(host), ("a", "one two three"), ("b", "four five"))
    host.wait_finished("a", "b")
    assert host.order == ["a", "b"]
    assert all(o.result.completed and not o.cancel_requested for o in host.finished.values())
    assert np.array_equal(host.samples("a"), tone_pcm("one two three"))
    assert np.array_equal(host.samples("b"), tone_pcm("four five"))
    assert abs(host.of("b")[0].stamp_ns - host.of("a")[-1].end_ns) < 50_000  # < 1 sample
    assert host.end_event("b").payload["gap_samples"] == 0
    starts = [e for e in host.events if e.type == ev.AGENT_SPEECH_START]
    assert [e.payload["follow_on"] for e in starts] == [False, True]
    assert starts[0].payload["utterance_id"] == "u-a" and starts[0].payload["engine"] == "tone"
    assert host.feedback[-1] == ("b", "four five", 1.0)


def test_a_queued_goal_continues_its_predecessors_prosody(new_player: Callable[..., SpeechPlayer]) -> None:
    for carry in (True, False):
        player = new_player(Host(), carry_prosody=carry)
        player.submit("a", "[EMO:happy] Great.", trace_id="a")
        b = player.submit("b", "And more.", trace_id="b")
        assert (b.stream.parsed.parts[0].pitch_offset > 0) is carry
        player.start()  # plays them out, so closing the player releases their synthesis


def test_cancel_before_start_plays_nothing(new_player: Callable[..., SpeechPlayer]) -> None:
    host = Host()
    player = new_player(host)
    player.cancel("early")  # the cancel request arrives before the goal itself
    player.submit("early", LONG, trace_id="early")
    player.submit("queued", LONG, trace_id="queued")
    player.submit("after", "nine ten", trace_id="after")
    player.cancel("queued")  # accepted, not yet playing
    player.start()
    host.wait_finished("early", "queued", "after")
    for trace_id in ("early", "queued"):
        outcome = host.finished[trace_id]
        assert outcome.result.interrupted and outcome.cancel_requested
        assert outcome.result.spoken_text == "" and not host.of(trace_id)
    assert host.finished["after"].result.completed  # cancelling never cancels the goals behind


def test_cancel_mid_utterance_stops_before_the_next_chunk(new_player: Callable[..., SpeechPlayer]) -> None:
    def on_chunk(trace_id: str, n: int) -> None:
        if trace_id == "a" and n == 12:  # 1920 samples: "one" has ended, "two" has not
            player.cancel("a")

    host = Host(on_chunk)
    player = new_player(host)
    play(player, ("a", LONG), ("b", "nine ten"))
    host.wait_finished("a", "b")
    a = host.finished["a"]
    assert a.result.interrupted and a.cancel_requested and not a.result.completed
    assert a.result.spoken_text == "one" and len(host.of("a")) == 12
    assert host.finished["b"].result.completed


def test_pause_holds_and_resume_continues_from_the_same_sample(new_player: Callable[..., SpeechPlayer]) -> None:
    def on_chunk(trace_id: str, n: int) -> None:
        if n == 5:
            player.control("pause")

    host = Host(on_chunk)
    player = new_player(host)
    play(player, ("a", LONG))
    host.wait_chunks("a", 5)
    time.sleep(0.2)
    assert len(host.of("a")) == 5 and not host.finished and player.paused
    player.control("resume")
    host.wait_finished("a")
    assert host.finished["a"].result.completed
    assert np.array_equal(host.samples("a"), tone_pcm(LONG))  # no sample lost or repeated
    # the pause is reported; its length is wall-clock here (test_tts.py asserts it on a simulated clock)
    assert "paused_ms" in host.end_event("a").payload


def test_cancel_while_paused_ends_the_goal_and_the_pause_holds_the_queue(
        new_player: Callable[..., SpeechPlayer]) -> None:
    def on_chunk(trace_id: str, n: int) -> None:
        if trace_id == "a" and n == 12:
            player.control("pause")

    host = Host(on_chunk)
    player = new_player(host)
    play(player, ("a", LONG), ("b", "nine ten"))
    host.wait_chunks("a", 12)
    player.cancel("a")
    host.wait_finished("a")
    a = host.finished["a"]
    assert a.result.interrupted and a.cancel_requested and a.result.spoken_text == "one"
    time.sleep(0.1)
    assert len(host.of("a")) == 12 and not host.of("b") and "b" not in host.finished  # still paused
    player.control("resume")
    host.wait_finished("b")
    assert host.finished["b"].result.completed


def test_interrupt_stops_the_playing_and_the_queued_goals(new_player: Callable[..., SpeechPlayer]) -> None:
    stopped: list[int] = []

    def on_chunk(trace_id: str, n: int) -> None:
        if trace_id == "a" and n == 12:
            stopped.append(player.interrupt(ev.now_ns() - 1_000_000_000))  # from before it started
            stopped.append(player.interrupt(ev.now_ns()))

    host = Host(on_chunk)
    player = new_player(host)
    play(player, ("a", LONG), ("b", "never played"))
    host.wait_finished("a", "b")
    assert stopped == [0, 2]
    for trace_id, spoken in (("a", "one"), ("b", "")):
        outcome = host.finished[trace_id]
        assert outcome.result.interrupted and not outcome.cancel_requested  # an abort, not a cancel
        assert outcome.result.spoken_text == spoken and "stopped by interrupt" in outcome.message
        assert host.end_event(trace_id).payload["stopped_by"] == "interrupt"
    assert not host.of("b")
    assert player.interrupt(ev.now_ns()) == 0  # nothing playing


def test_a_failed_utterance_does_not_stop_the_voice(new_player: Callable[..., SpeechPlayer]) -> None:
    def on_chunk(trace_id: str, n: int) -> None:
        if trace_id == "a":
            raise OSError("sink gone")

    host = Host(on_chunk)
    play(new_player(host), ("a", LONG), ("b", "nine ten"))
    host.wait_finished("a", "b")
    assert host.finished["a"].result.interrupted and not host.finished["a"].cancel_requested
    assert any("playback failed: sink gone" in text for text, _ in host.errors)
    assert host.finished["b"].result.completed


def test_bad_text_is_rejected_and_reported_and_unknown_tags_warn(new_player: Callable[..., SpeechPlayer]) -> None:
    host = Host()
    player = new_player(host)
    with pytest.raises(ValueError, match="empty"):
        player.submit("bad", "   ", trace_id="bad", utterance_id="u-bad")
    assert host.errors[-1] == ("Speak goal rejected: text is empty", {"utterance_id": "u-bad"})
    player.submit("tag", "Hello [WHISPER] there.", trace_id="tag")
    assert "[WHISPER]" in host.errors[-1][0] and host.errors[-1][1]["severity"] == "warning"
    player.start()
    host.wait_finished("tag")
    assert host.order == ["tag"] and host.finished["tag"].result.spoken_text == "Hello there."


def test_control_commands(new_player: Callable[..., SpeechPlayer]) -> None:
    player = new_player(Host())
    assert not player.control("louder")
    assert player.control(" PAUSE ") and player.paused
    assert player.control("resume") and not player.paused


def test_tick_repeats_feedback_and_ends_a_stale_pause(new_player: Callable[..., SpeechPlayer]) -> None:
    host = Host()
    player = new_player(host, heartbeat_s=0.0, pause_timeout_s=0.01)
    player.submit("waiting", "one two", trace_id="waiting")  # queued: the thread is not started
    player.control("pause")
    time.sleep(0.03)
    player.tick()
    assert host.feedback == [("waiting", "", 0.0)]
    assert not player.paused and "paused for" in host.errors[-1][0]
    player.start()
    host.wait_finished("waiting")


def test_a_reflex_pause_holds_at_once_and_the_controllers_pause_takes_it_over(
        new_player: Callable[..., SpeechPlayer]) -> None:
    paused: list[bool] = []

    def on_chunk(trace_id: str, n: int) -> None:
        if n == 5:  # perception: maybe the user; a second word of it finds the voice held
            paused.extend((player.reflex_pause(), player.reflex_pause()))

    host = Host(on_chunk)
    player = new_player(host, reflex_hold_s=0.01)
    play(player, ("a", LONG))
    wait_until(lambda: len(paused) == 2, 5.0, "the reflex pauses")
    assert paused == [True, False]
    player.control("pause")  # the thinker's pause: the hold is its own now
    time.sleep(0.03)
    player.tick()  # past the reflex's wait: the controller's pause is not undone
    assert player.paused and len(host.of("a")) == 5 and not host.errors
    player.control("resume")
    host.wait_finished("a")
    assert np.array_equal(host.samples("a"), tone_pcm(LONG))  # no sample lost or repeated


def test_a_reflex_pause_nobody_takes_over_resumes_with_a_warning(new_player: Callable[..., SpeechPlayer]) -> None:
    def on_chunk(trace_id: str, n: int) -> None:
        if n == 3:
            player.reflex_pause()

    host = Host(on_chunk)
    player = new_player(host, reflex_hold_s=0.01)
    assert not player.reflex_pause()  # nothing playing: nothing to pause
    play(player, ("a", LONG))
    wait_until(lambda: player.paused, 5.0, "the reflex pause")
    time.sleep(0.03)
    player.tick()
    host.wait_finished("a")
    assert host.finished["a"].result.completed
    assert [p.get("severity") for text, p in host.errors if "reflex pause" in text] == ["warning"]


@pytest.mark.parametrize("type_,payload,onset", [
    (ev.SPEECH_START, "", True), (ev.VOICE_MAYBE, '{"state": "start", "vad_prob": 0.2}', True),
    (ev.VOICE_MAYBE, '{"state": "end"}', False), (ev.VOICE_MAYBE, "{not json", False),
    (ev.VOICE_MAYBE, '["start"]', False), (ev.VOICE_MAYBE, '{"state": "start", "x": "' + "y" * 2000 + '"}', False),
    (ev.SPEECH_END, "", False), (ev.INTERRUPT, "", False)])
def test_what_counts_as_a_possible_onset(type_: str, payload: str, onset: bool) -> None:
    assert is_possible_onset(type_, payload) is onset


def test_close_stops_every_goal(new_player: Callable[..., SpeechPlayer]) -> None:
    def on_chunk(trace_id: str, n: int) -> None:
        if n == 3:
            player.control("pause")

    host = Host(on_chunk)
    player = new_player(host)
    play(player, ("a", LONG), ("b", "nine ten"))
    host.wait_chunks("a", 3)
    player.close()
    assert host.order == ["a", "b"]
    assert all(o.result.interrupted and "stopped by shutdown" in o.message for o in host.finished.values())


def test_an_injected_delay_holds_each_utterance_before_its_first_chunk(new_player: Callable[..., SpeechPlayer]) -> None:
    """``fault_delay_ms`` (the slow voice diagnose is tested on): the utterance begins, its synthesis
    waits (its heartbeat goes on, so a client does not give it up); a cancel ends the wait at once;
    a short delay still plays the whole utterance."""
    host = Host()
    player = new_player(host, fault_delay_ms=10_000.0, heartbeat_s=0.0)
    play(player, ("a", LONG))
    with host.cond:
        assert host.cond.wait_for(lambda: any(e.type == ev.AGENT_SPEECH_START for e in host.events), 5.0)
    assert not host.of("a")  # begun, nothing synthesised yet
    player.tick()
    assert ("a", "", 0.0) in host.feedback
    player.cancel("a")
    host.wait_finished("a")  # well before the delay is over
    assert host.finished["a"].result.interrupted and host.finished["a"].result.spoken_text == ""
    host = Host()
    play(new_player(host, fault_delay_ms=30.0), ("b", "one two three"))
    host.wait_finished("b")
    assert host.finished["b"].result.completed and np.array_equal(host.samples("b"), tone_pcm("one two three"))


@pytest.mark.parametrize("value,expected,complaint", [
    (0, 0.0, ""), (1500, 1500.0, ""), ("250.5", 250.5, ""), (-5, 0.0, "outside 0..10000"),
    (60_000, 10_000.0, "outside 0..10000"), (float("nan"), 0.0, "outside"), ("slow", 0.0, "not a number")])
def test_the_injected_delay_is_bounded_and_bad_values_are_said(value: object, expected: float, complaint: str) -> None:
    ms, why = check_fault_delay(value)
    assert ms == expected and (complaint in why if complaint else why == "")


class SlowSynth(ToneSynth):
    """Each block takes a while, as a real engine's inference does."""

    def synthesize(self, part: SpeechPart) -> Iterator[tuple[np.ndarray, list[WordMark]]]:
        for block in super().synthesize(part):
            time.sleep(0.3)
            yield block


def test_close_waits_for_every_synthesis_thread_even_of_ended_goals() -> None:
    # A synthesis thread still inside the engine when the interpreter exits aborts the process
    # ("terminate called without an active exception"): close() leaves none running.
    host = Host()
    player = SpeechPlayer(SlowSynth(), host.callbacks(), engine="slow", paced=False)  # type: ignore[arg-type]
    ended = player.submit("a", LONG, trace_id="a", utterance_id="u-a")
    queued = player.submit("b", LONG, trace_id="b", utterance_id="u-b")
    player.start()
    host.wait_chunks("a", 1, timeout_s=30)
    player.cancel("a")
    host.wait_finished("a", timeout_s=30)
    player.close(timeout=30)
    assert not ended.stream.synthesizing and not queued.stream.synthesizing
