"""The tts node as a process, checked only through its action, topics and events."""
from __future__ import annotations

import json
import time

import pytest
from action_msgs.msg import GoalStatus

from seal_nodes.core import events as ev
from seal_nodes.core.voice.speech_tags import MAX_TEXT_CHARS
from seal_nodes.bench.speech import TtsNodeHarness, _chunk_end_ns, _stamp_ns

pytestmark = pytest.mark.integration

LONG = "This sentence is long enough that cancelling it halfway leaves most words unspoken for sure, " \
       "and it goes on for a while longer."


@pytest.fixture(scope="module")
def tts(tmp_path_factory):
    log = tmp_path_factory.mktemp("tts") / "tts.log"
    with TtsNodeHarness("piper", log_path=log) as h:
        h.wait_ready(90)
        yield h
    print(log.read_text()[-3000:])


def chunks(h: TtsNodeHarness, trace: str) -> list:
    return [m for _, m in h.trace_chunks(trace)]


def result(h: TtsNodeHarness, handle, timeout_s: float = 30.0):
    return h.call(handle.get_result_async(), timeout_s)


def wait_chunks(h: TtsNodeHarness, trace: str, n: int, timeout_s: float = 15.0) -> None:
    h.wait(lambda: len(chunks(h, trace)) >= n, timeout_s, f"{n} chunks of {trace}")


def errors_since(h: TtsNodeHarness, since: int) -> list[str]:
    with h.lock:
        return [m.text for t, m in h.events if m.type == ev.ERROR and t >= since]


def test_goal_streams_10ms_chunks_and_completes_with_the_clean_text(tts):
    fb = []
    handle = tts.send("[THINKING] [EMO:happy] Okay, done. [BREATH] All good.", "full",
                      feedback=lambda m: fb.append(m.feedback.spoken_text))
    res = result(tts, handle)
    assert res.status == GoalStatus.STATUS_SUCCEEDED
    assert res.result.completed and not res.result.interrupted
    assert res.result.spoken_text == "Okay, done. All good."
    got = chunks(tts, "full")
    assert all(m.sample_rate == 22050 and m.encoding == "S16LE" for m in got)
    # the node's default chunk_ms: 10 ms, 220 samples of 2 bytes at 22.05 kHz
    assert all(len(m.data) == 440 for m in got[:-1]) and 0 < len(got[-1].data) <= 440
    # Stamps are play-out times: in order and never overlapping. They are sample-contiguous unless
    # synthesis fell behind real time (a loaded machine), when play-out slips and the stamps say so.
    assert all(_stamp_ns(b) - _chunk_end_ns(a) >= -1_000 for a, b in zip(got, got[1:]))
    assert fb and fb[-1] == res.result.spoken_text
    types = [m.type for m in tts.trace_events() if m.trace_id == "full"]
    assert ev.AGENT_SPEECH_START in types and ev.AGENT_SPEECH_END in types


def test_cancel_stops_at_once_and_reports_the_words_played(tts):
    handle = tts.send(LONG, "cancel")
    wait_chunks(tts, "cancel", 60)
    tts.call(handle.cancel_goal_async())
    res = result(tts, handle)
    assert res.status == GoalStatus.STATUS_CANCELED
    assert res.result.interrupted and not res.result.completed
    spoken = res.result.spoken_text.split()
    assert 0 < len(spoken) < len(LONG.split()) and LONG.split()[: len(spoken)] == spoken
    n = len(chunks(tts, "cancel"))
    time.sleep(0.3)
    assert len(chunks(tts, "cancel")) == n  # nothing after the result
    assert len(spoken) <= n * 0.02 * 4.0  # the words fit in the audio that was played


def _settled_count(tts, trace_id: str, quiet_s: float = 0.5, timeout_s: float = 10.0) -> int:
    """The chunk count once no chunk of ``trace_id`` has arrived for ``quiet_s``."""
    deadline = time.monotonic() + timeout_s
    count, since = len(chunks(tts, trace_id)), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = len(chunks(tts, trace_id))
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return count
    raise AssertionError(f"chunks of {trace_id!r} kept coming for {timeout_s} s after a pause")


def test_pause_holds_the_goal_and_resume_continues_from_the_same_sample(tts):
    handle = tts.send("One, two, three, four, five, six, seven, eight.", "pause")
    wait_chunks(tts, "pause", 30)
    tts.publish_control("pause")
    held = _settled_count(tts, "pause")  # chunks already on their way may still arrive
    time.sleep(0.5)
    assert len(chunks(tts, "pause")) == held  # nothing while paused
    assert not handle.get_result_async().done()  # the goal is still active
    tts.publish_control("resume")
    res = result(tts, handle)
    assert res.status == GoalStatus.STATUS_SUCCEEDED and res.result.completed
    got = chunks(tts, "pause")
    gaps = [_stamp_ns(b) - _chunk_end_ns(a) for a, b in zip(got, got[1:])]
    assert any(g > 400_000_000 for g in gaps)  # a hole in the timeline: the pause
    assert all(g >= -1_000 for g in gaps)  # never overlapping (an underrun under load may add a gap)
    end = [m for m in tts.trace_events(ev.AGENT_SPEECH_END) if m.trace_id == "pause"][-1]
    assert json.loads(end.payload_json)["paused_ms"] > 400


def test_cancel_while_paused_ends_the_goal_truthfully(tts):
    handle = tts.send(LONG, "pause-cancel")
    wait_chunks(tts, "pause-cancel", 80)
    tts.publish_control("pause")
    time.sleep(0.3)
    n = len(chunks(tts, "pause-cancel"))
    tts.call(handle.cancel_goal_async())
    res = result(tts, handle)
    tts.publish_control("resume")
    assert res.status == GoalStatus.STATUS_CANCELED and res.result.interrupted
    spoken = res.result.spoken_text.split()
    assert spoken and LONG.split()[: len(spoken)] == spoken
    time.sleep(0.2)
    assert len(chunks(tts, "pause-cancel")) == n


def test_follow_on_goal_starts_on_the_next_sample_and_survives_a_cancel_of_the_first(tts):
    a = tts.send("Here is the first sentence.", "follow-a")
    b = tts.send("And here is the second one.", "follow-b")
    ra, rb = result(tts, a), result(tts, b)
    assert ra.result.completed and rb.result.completed
    last_a, first_b = chunks(tts, "follow-a")[-1], chunks(tts, "follow-b")[0]
    assert abs(_stamp_ns(first_b) - _chunk_end_ns(last_a)) < 50_000  # < 1 sample (45 µs)
    start = [m for m in tts.trace_events(ev.AGENT_SPEECH_END) if m.trace_id == "follow-b"][-1]
    assert json.loads(start.payload_json)["gap_samples"] == 0
    # cancelling the playing goal leaves the queued one alone
    c = tts.send(LONG, "follow-c")
    d = tts.send("I am still here.", "follow-d")
    wait_chunks(tts, "follow-c", 30)
    tts.call(c.cancel_goal_async())
    rc, rd = result(tts, c), result(tts, d)
    assert rc.status == GoalStatus.STATUS_CANCELED
    assert rd.status == GoalStatus.STATUS_SUCCEEDED and rd.result.spoken_text == "I am still here."


def test_interrupt_event_stops_the_playing_and_the_queued_goals(tts):
    from seal_interfaces.msg import Event

    from seal_nodes.nodes.common import event_to_msg

    a = tts.send(LONG, "intr-a")
    b = tts.send("This one never plays.", "intr-b")
    wait_chunks(tts, "intr-a", 40)
    msg: Event = event_to_msg(ev.Event(ev.INTERRUPT, ev.now_ns(), text="user barged in", source="test"))
    tts.event_pub.publish(msg)
    ra, rb = result(tts, a), result(tts, b)
    assert ra.status == GoalStatus.STATUS_ABORTED and ra.result.interrupted
    assert ra.result.spoken_text and LONG.startswith(ra.result.spoken_text)
    assert rb.result.interrupted and rb.result.spoken_text == "" and not chunks(tts, "intr-b")


def test_a_copy_of_a_goal_is_answered_with_the_one_utterance(tts):
    """A client whose answer to a goal was lost sends it again: the copy shares the utterance
    (feedback, result, cancel) and nothing plays twice, also once it has ended."""
    fb_copy: list[str] = []
    first = tts.send(LONG, "copy")
    wait_chunks(tts, "copy", 20)
    copy = tts.send(LONG, "copy", feedback=lambda m: fb_copy.append(m.feedback.spoken_text))
    tts.wait(lambda: bool(fb_copy), 5, "the copy's feedback")
    tts.call(copy.cancel_goal_async())  # the copy's handle stops the utterance
    r_first, r_copy = result(tts, first), result(tts, copy)
    assert r_copy.status == GoalStatus.STATUS_CANCELED and r_first.status == GoalStatus.STATUS_ABORTED
    assert r_first.result.interrupted and r_first.result.spoken_text == r_copy.result.spoken_text
    got = chunks(tts, "copy")
    # one voice: no chunk overlaps the one before (a second stream would); an underrun's gap may
    assert all(_stamp_ns(b) - _chunk_end_ns(a) >= -1_000 for a, b in zip(got, got[1:]))
    # a copy of an utterance that has ended gets its result again
    done = result(tts, tts.send("Okay.", "copy-short"))
    n = _settled_count(tts, "copy-short")
    again = result(tts, tts.send("Okay.", "copy-short"))
    assert again.status == GoalStatus.STATUS_SUCCEEDED
    assert again.result.spoken_text == done.result.spoken_text == "Okay."
    time.sleep(0.3)
    assert len(chunks(tts, "copy-short")) == n
    starts = [m for m in tts.trace_events(ev.AGENT_SPEECH_START) if m.trace_id in ("copy", "copy-short")]
    assert len(starts) == 2


@pytest.mark.parametrize("text,why", [("", "empty"), ("   ", "empty"), ("[THINKING] [SIGH]", "no speakable"),
                                      ("x " * MAX_TEXT_CHARS, "limit"), ("caf\ufffd au lait", "UTF-8")])
def test_bad_goals_are_aborted_with_the_reason_and_the_node_carries_on(tts, text, why):
    since = time.time_ns()
    res = result(tts, tts.send(text, "bad"))
    assert res.status == GoalStatus.STATUS_ABORTED and why in res.result.message
    tts.wait(lambda: any(why in e for e in errors_since(tts, since)), 5, "the error event")
    ok = result(tts, tts.send("Still fine.", f"after-bad-{since}"))  # new each time: never a copy
    assert ok.result.completed


def test_unknown_tag_is_dropped_with_a_warning_event(tts):
    since = time.time_ns()
    res = result(tts, tts.send("Hello [WHISPER] there.", "unknown-tag"))
    assert res.result.completed and res.result.spoken_text == "Hello there."
    tts.wait(lambda: any("[WHISPER]" in e for e in errors_since(tts, since)), 5, "the warning event")


def test_unknown_control_command_is_reported(tts):
    since = time.time_ns()
    tts.publish_control("louder")
    tts.wait(lambda: any("louder" in e for e in errors_since(tts, since)), 5, "the error event")


def test_queued_and_paused_goals_keep_reporting(tts):
    """A goal that waits (queued behind another, or paused) repeats its feedback every second,
    so a client watching for a silent server knows the node is alive."""
    fb_b: list[float] = []
    a = tts.send("One, two, three, four.", "hb-a")
    b = tts.send("Five.", "hb-b", feedback=lambda m: fb_b.append(time.monotonic()))
    wait_chunks(tts, "hb-a", 5)
    tts.publish_control("pause")
    time.sleep(2.5)
    assert len(fb_b) >= 1  # b is queued behind a paused goal and still reports
    tts.publish_control("resume")
    assert result(tts, a).result.completed and result(tts, b).result.completed
