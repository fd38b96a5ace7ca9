"""Restarts under the agent, ROS-free: the voice (TTS) cut off and back, and a thinker respawned with
goals out (the goal journal, what the new thinker asks and says)."""
from __future__ import annotations

import json

import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.actions import ARM, GUI, Action
from seal_nodes.core.thinking.commands import Act, Publish, Report, Say
from seal_nodes.core.thinking.context import OBSERVE, SAY
from seal_nodes.core.thinking.fast_path import after_restart, voice_restarted
from seal_nodes.core.thinking.goals import SPEECH, GoalTracker
from seal_nodes.core.thinking.journal import (FAILED, INTERRUPTED, SUCCEEDED, UNKNOWN, Entry, GoalJournal, Recovery,
                                              outcome)
from seal_nodes.core.thinking.outages import VoiceBack, VoiceWatch
from seal_nodes.core.thinking.thinker import Thinker, ThinkerConfig

from tests.unit.thinking.test_goals import SERVER_WAIT_S, SILENCE_S, act, action_result

pytestmark = pytest.mark.unit

VOICE_WAIT_S = 60.0


def make_tracker(ports, clock, journal: GoalJournal | None = None) -> GoalTracker:
    t = GoalTracker(ports, SERVER_WAIT_S, SILENCE_S, clock=clock, voice_wait_s=VOICE_WAIT_S, journal=journal)
    for port in ports.values():
        port.tracker = t
    return t


def speaking(tracker, ports, *texts: str, filler: bool = False) -> None:
    """The TTS (instance "tts-1") takes the clauses and says the first word of the first."""
    tracker.servers_seen(SPEECH, frozenset({"tts-1"}))
    tts = ports[SPEECH]
    for n, text in enumerate(texts, 1):
        tracker.say(Say(text, f"u{n}", "trace-hello", filler=filler))
    for goal in list(tts.sent):
        tts.accept(goal)
    tts.word(tts.sent[0], texts[0].split()[0])


def silent_give_up(tracker, clock) -> list:
    clock.now += SILENCE_S + 0.1
    return tracker.tick()


def backs(out: list) -> list[VoiceBack]:
    return [o for o in out if isinstance(o, VoiceBack)]


# --- the voice cut off -------------------------------------------------------------------------

def test_a_tts_respawned_after_cutting_the_agent_off_is_told_once_with_what_was_cut(ports, clock):
    tracker = make_tracker(ports, clock)
    speaking(tracker, ports, "Hello there!", "How can I help?")
    out = silent_give_up(tracker, clock)
    assert [o.event.payload["spoken_text"] for o in out if hasattr(o, "event")] == ["Hello", ""]
    assert backs(out) == []  # the dead instance's record lingers: not back yet
    clock.now += 5
    assert tracker.servers_seen(SPEECH, frozenset({"tts-1", "tts-2"})) == []  # the respawn joins
    (back,) = backs(tracker.tick())
    assert back == VoiceBack("Hello there! How can I help?", "trace-hello")
    clock.now += VOICE_WAIT_S * 2
    assert tracker.tick() == []  # said once; nothing more to wait for


def test_a_tts_seen_down_and_up_again_is_back(ports, clock):
    tracker = make_tracker(ports, clock)
    speaking(tracker, ports, "Hello there!")
    ports[SPEECH].ready = False
    silent_give_up(tracker, clock)
    tracker.servers_seen(SPEECH, frozenset())
    assert backs(tracker.tick()) == []
    ports[SPEECH].ready = True
    clock.now += 1
    assert backs(tracker.tick()) == [VoiceBack("Hello there!", "trace-hello")]


def test_a_tts_that_was_only_slow_is_no_restart_and_the_wait_is_bounded(ports, clock):
    tracker = make_tracker(ports, clock)
    speaking(tracker, ports, "Hello there!")
    silent_give_up(tracker, clock)
    clock.now += VOICE_WAIT_S / 2
    assert backs(tracker.tick()) == []
    clock.now += VOICE_WAIT_S / 2 + 1
    out = tracker.tick()
    (report,) = [o for o in out if isinstance(o, Report)]
    assert "no restarted TTS within 60 s" in report.text and report.payload == {"cut": "Hello there!"}
    assert backs(out) == [] and not tracker.voice.waiting


def test_fillers_are_not_repeated_and_a_long_cut_is_shortened():
    watch = VoiceWatch(10.0)
    long = " ".join(f"w{i}" for i in range(30)) + "."
    watch.lost([Say("Let me think.", "u1", "t", filler=True), Say(long, "u2", "t")], frozenset({"a"}), 0.0)
    watch.lost([Say(long, "u2", "t")], frozenset({"a"}), 1.0)  # a second cut before it is back: no repeat
    (back,) = watch.check(True, frozenset({"a", "b"}), 2.0)
    assert back.cut == " ".join(f"w{i}" for i in range(20)) + " …"
    assert watch.check(True, frozenset({"b"}), 3.0) == []
    with pytest.raises(ValueError, match="positive"):
        VoiceWatch(0)


def test_with_its_instances_unknown_only_a_tts_seen_down_and_up_is_back():
    watch = VoiceWatch(10.0)
    watch.lost([Say("Hi.", "u1", "t")], frozenset(), 0.0)
    assert watch.check(True, frozenset({"x"}), 1.0) == []
    assert watch.check(False, frozenset(), 2.0) == []
    assert watch.check(True, frozenset({"y"}), 3.0) == [VoiceBack("Hi.", "t")]


def test_what_the_agent_says_when_its_voice_is_back():
    pick = Action("pick", {"object": "red_cube"})
    assert voice_restarted("", []) == "Sorry, my voice restarted."
    assert voice_restarted("Sure, picking up the red cube.", [pick]) == (
        "Sorry, my voice restarted. I was saying: Sure, picking up the red cube. "
        "The pick of the red cube is still going.")
    assert voice_restarted("Hello", []) == "Sorry, my voice restarted. I was saying: Hello."


def make_thinker() -> Thinker:
    return Thinker(None, {"red_cube", "green_cube"}, config=ThinkerConfig(fast_path=False, think_while_listening=False))


def says(out: list) -> list[str]:
    return [c.text for c in out if isinstance(c, Say)]


def test_the_thinker_says_its_voice_restarted_and_what_still_runs():
    th = make_thinker()
    out = th.handle(ev.Event(ev.SPEECH_END, 0, text="Pick up the red cube.", trace_id="t1"))
    (started,) = [c for c in out if isinstance(c, Act)]
    assert says(th.voice_back(VoiceBack("Sure, picking up the red cube.", "t1"))) == [
        "Sorry, my voice restarted. I was saying: Sure, picking up the red cube. "
        "The pick of the red cube is still going."]
    th.handle(ev.Event(ev.ACTION_RESULT, 0, text="picked", trace_id="t1",
                       payload={"goal_id": started.goal_id, "action": "pick(object=red_cube)", "success": True}))
    assert says(th.voice_back(VoiceBack("", "t1"))) == ["Sorry, my voice restarted."]


# --- the goal journal -----------------------------------------------------------------------------

def entry(n: int, sent: float = 1000.0, kind: str = ARM) -> Entry:
    return Entry(f"g{n}", f"{n:032x}", kind, "pick(object=red_cube)", f"trace-g{n}", sent)


def test_the_journal_survives_its_writer_and_clears_by_goal_uuid(tmp_path):
    path = tmp_path / "state" / "goals.json"
    journal = GoalJournal(path)
    assert journal.load() == ([], "")
    journal.record(entry(1))
    journal.record(entry(2))
    journal.clear(entry(1).uuid)
    # a kill -9 here: the next process reads what was written
    again = GoalJournal(path)
    assert again.load() == ([entry(2)], "")
    # a respawned thinker counts its goal ids afresh: g2 again, another goal
    again.record(Entry("g2", "f" * 32, ARM, "home()", "t", 2000.0))
    again.clear(entry(2).uuid)
    assert [e.action for e in GoalJournal(path).load()[0]] == ["home()"]
    assert journal.take_error() == "" and not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize("content", ["{not json", '[{"goal_id": "g1"}]', json.dumps([{
    "goal_id": 1, "uuid": "0" * 32, "kind": "arm", "action": "home()", "trace_id": "", "sent_unix": 1.0}]),
    json.dumps([{"goal_id": "g1", "uuid": "short", "kind": "arm", "action": "home()", "trace_id": "",
                 "sent_unix": 1.0}])])
def test_an_unreadable_journal_is_reported_and_set_aside(tmp_path, content):
    path = tmp_path / "goals.json"
    path.write_text(content)
    entries, problem = GoalJournal(path).load()
    assert entries == [] and problem.startswith(f"goal journal {path} unreadable, ignored:")
    assert GoalJournal(path).load() == ([], "")


def test_a_journal_that_cannot_be_written_reports_and_the_goal_goes_on(tmp_path, ports, clock):
    blocker = tmp_path / "file"
    blocker.write_text("")
    tracker = make_tracker(ports, clock, GoalJournal(blocker / "goals.json"))
    tracker.act(act(1))
    assert len(ports[ARM].sent) == 1
    (report,) = [o for o in tracker.tick() if isinstance(o, Report)]
    assert report.text.startswith("goal journal") and "not written" in report.text


def test_an_action_goal_is_journalled_from_sending_to_its_outcome(tmp_path, ports, clock):
    path = tmp_path / "goals.json"
    tracker = make_tracker(ports, clock, GoalJournal(path))
    arm = ports[ARM]
    tracker.act(act(1))
    tracker.act(act(2))
    (first, second) = arm.sent
    on_disk = GoalJournal(path).load()[0]
    assert [(e.goal_id, e.uuid, e.kind, e.action, e.trace_id) for e in on_disk] == [
        ("g1", first.uuid, ARM, "pick(object=red_cube)", "trace-g1"),
        ("g2", second.uuid, ARM, "pick(object=red_cube)", "trace-g2")]
    assert first.uuid != second.uuid and len(first.uuid) == 32
    arm.accept(first)
    action_result(arm.finish(first, ok=True, text="picked"))
    assert [e.goal_id for e in GoalJournal(path).load()[0]] == ["g2"]
    arm.accept(second)
    tracker.servers_seen(ARM, frozenset({"a"}))
    action_result(tracker.servers_seen(ARM, frozenset({"a", "b"})))  # lost to a respawn: cleared too
    assert GoalJournal(path).load() == ([], "")


def test_speech_is_not_journalled(tmp_path, ports, clock):
    path = tmp_path / "goals.json"
    tracker = make_tracker(ports, clock, GoalJournal(path))
    tracker.say(Say("Hello.", "u1", "t"))
    assert not path.exists()


# --- a respawned thinker --------------------------------------------------------------------------

def test_left_goals_are_asked_about_once_their_server_is_ready_and_settled_once():
    now = [1000.0]
    rec = Recovery([entry(1, sent=990.0), entry(2, sent=995.0, kind=GUI)], wait_s=30, max_age_s=600,
                   clock=lambda: now[0])
    ready = {ARM: True, GUI: False}
    assert rec.due(ready.__getitem__) == [entry(1, sent=990.0)]
    assert rec.due(ready.__getitem__) == []  # asked already
    now[0] += 2
    assert rec.due(ready.__getitem__) == [entry(1, sent=990.0)]  # no answer yet: asked again
    assert rec.resolved(entry(1).uuid) == entry(1, sent=990.0)
    assert rec.resolved(entry(1).uuid) is None
    assert rec.pending and rec.expired() == []
    now[0] += 29
    assert rec.expired() == [entry(2, sent=995.0, kind=GUI)] and not rec.pending


def test_a_goal_from_an_earlier_run_is_stale_not_recovered():
    rec = Recovery([entry(1, sent=0.0), entry(2, sent=900.0)], wait_s=30, max_age_s=600, clock=lambda: 1000.0)
    assert rec.stale == [entry(1, sent=0.0)]
    assert rec.due(lambda kind: True) == [entry(2, sent=900.0)]


@pytest.mark.parametrize("known, canceled, success, expected", [
    (True, True, False, INTERRUPTED),  # the cancel stopped it
    (False, False, False, INTERRUPTED),  # its server restarted too, or forgot it
    (True, False, True, SUCCEEDED),  # it had finished before the cancel landed
    (True, False, False, FAILED),
])
def test_the_servers_answer_decides_the_outcome(known, canceled, success, expected):
    assert outcome(known, canceled, success) == expected


def test_what_a_respawned_thinker_says_of_each_outcome():
    pick = Action("pick", {"object": "red_cube"})
    assert after_restart(pick, INTERRUPTED) == (
        "I restarted; the pick of the red cube was interrupted. Ask me again to retry.")
    assert after_restart(pick, SUCCEEDED) == "I restarted; the pick of the red cube had finished."
    assert after_restart(pick, FAILED) == "I restarted; the pick of the red cube did not succeed. Ask me again to retry."
    assert after_restart(pick, UNKNOWN) == (
        "I restarted; I could not learn how the pick of the red cube ended. Ask me again if it is not done.")
    with pytest.raises(ValueError, match="unknown outcome"):
        after_restart(pick, "exploded")


def test_the_respawned_thinker_observes_and_says_the_outcome():
    th = make_thinker()
    out = th.restarted("pick(object=red_cube)", INTERRUPTED, "t9")
    assert [c.segment.kind for c in out if isinstance(c, Publish)] == [OBSERVE, SAY]
    assert says(out) == ["I restarted; the pick of the red cube was interrupted. Ask me again to retry."]
    assert "pick(object=red_cube) interrupted" in th.context.render()
    (report,) = th.restarted("pick(", INTERRUPTED, "t9")
    assert isinstance(report, Report) and "unreadable" in report.text
