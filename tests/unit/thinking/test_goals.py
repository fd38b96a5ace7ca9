"""GoalTracker: the thinker's goals with the TTS, the arm and the GUI, ROS-free, driven through a fake
action client: executors that accept, reject, report, finish, crash mid-goal or never appear."""
from __future__ import annotations

import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.actions import ARM, GUI, Action
from seal_nodes.core.thinking.goals import (
    ACCEPTED, DONE, SENT, SPEECH, WAITING, Goal, GoalTracker, Notice,
)
from seal_nodes.core.thinking.commands import Act, Report, Say

pytestmark = pytest.mark.unit

SERVER_WAIT_S = 5.0
SILENCE_S = 3.0
RESEND_S = 1.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeActionClient:
    """One executor's action client and server in one, played by the test.

    A goal sent waits until the test accepts or rejects it; an accepted goal reports words or
    progress and finishes when the test says so. ``ready = False`` is a server that is down:
    nothing may be sent to it, and the goals it held are simply never answered.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.ready = True
        self.sent: list[Goal] = []
        self.canceled: list[Goal] = []
        self.tracker: GoalTracker | None = None

    # ActionPort
    def server_is_ready(self) -> bool:
        return self.ready

    def send(self, goal: Goal) -> None:
        if not self.ready:
            raise AssertionError(f"goal {goal.id} sent to a {self.name} server that is down")
        self.sent.append(goal)

    def cancel(self, goal: Goal) -> None:
        if goal.handle != ("handle", goal.id):
            raise AssertionError(f"cancel of goal {goal.id} that {self.name} never accepted")
        self.canceled.append(goal)

    # the server's answers
    def accept(self, goal: Goal) -> list:
        return self._tracker(goal).accepted(goal, ("handle", goal.id))

    def reject(self, goal: Goal) -> list:
        return self._tracker(goal).accepted(goal, None)

    def word(self, goal: Goal, spoken: str) -> None:
        self._tracker(goal).speech_feedback(goal, spoken)

    def progress(self, goal: Goal, phase: str, progress: float) -> list:
        return self._tracker(goal).action_feedback(goal, phase, progress=progress)

    def finish(self, goal: Goal, ok: bool = True, cut: bool = False, text: str = "") -> list:
        return self._tracker(goal).finished(goal, ok, cut, text)

    def _tracker(self, goal: Goal) -> GoalTracker:
        if goal not in self.sent:
            raise AssertionError(f"{self.name} answers goal {goal.id} it was never sent")
        assert self.tracker is not None
        return self.tracker


@pytest.fixture
def tracker(ports, clock) -> GoalTracker:
    t = GoalTracker(ports, SERVER_WAIT_S, SILENCE_S, clock=clock, resend_s=RESEND_S)
    for port in ports.values():
        port.tracker = t
    return t


def say(n: int) -> Say:
    return Say(f"clause {n}.", f"u{n}", f"trace-u{n}")


def act(n: int, name: str = "pick") -> Act:
    action = Action("pick", {"object": "red_cube"}) if name == "pick" else Action("click", {"target": "OK"})
    return Act(action, f"{name} it", f"g{n}", f"trace-g{n}")


def speech_end(out: list) -> dict:
    (notice,) = out
    assert isinstance(notice, Notice) and notice.feed and not notice.publish
    assert notice.event.type == ev.AGENT_SPEECH_END and notice.event.source == "tts"
    return {"text": notice.event.text, "trace": notice.event.trace_id, **notice.event.payload}


def action_result(out: list) -> dict:
    (notice,) = out
    assert isinstance(notice, Notice) and notice.feed and notice.publish
    assert notice.event.type == ev.ACTION_RESULT and notice.event.source == "thinker"
    return {"text": notice.event.text, "trace": notice.event.trace_id, **notice.event.payload}


# --- the fake itself -----------------------------------------------------------------------------

def test_the_fake_refuses_what_a_real_server_could_not_do(tracker, ports):
    tts = ports[SPEECH]
    tracker.say(say(1))
    (goal,) = tts.sent
    other = Goal(SPEECH, say(9))
    with pytest.raises(AssertionError, match="never sent"):
        tts.accept(other)
    with pytest.raises(AssertionError, match="never accepted"):
        tts.cancel(goal)
    tts.ready = False
    with pytest.raises(AssertionError, match="down"):
        tts.send(other)
    tts.ready = True
    tts.accept(goal)
    tts.cancel(goal)
    assert tts.canceled == [goal]


# --- speech --------------------------------------------------------------------------------------

def test_clauses_go_out_at_once_and_a_result_becomes_the_speech_end_event(tracker, ports, clock):
    tts = ports[SPEECH]
    for n in (1, 2, 3):
        assert tracker.say(say(n)) == []
    assert [g.id for g in tts.sent] == ["u1", "u2", "u3"]  # back to back, no waiting for the first
    first = tts.sent[0]
    assert first.state == SENT and tracker.speaking
    assert tts.accept(first) == [] and first.state == ACCEPTED
    tts.word(first, "clause")
    end = speech_end(tts.finish(first, ok=True, cut=False, text="clause 1."))
    assert end == {"text": "clause 1.", "trace": "trace-u1", "utterance_id": "u1", "completed": True,
                   "interrupted": False, "spoken_text": "clause 1."}
    assert first.state == DONE and [g.id for g in tracker.goals(SPEECH)] == ["u2", "u3"]


def test_speech_waits_for_a_tts_that_is_coming_up(tracker, ports, clock):
    tts = ports[SPEECH]
    tts.ready = False
    tracker.say(say(1))
    tracker.say(say(2))
    assert tts.sent == [] and not tracker.speaking
    assert [g.state for g in tracker.goals(SPEECH)] == [WAITING, WAITING]
    clock.now += SERVER_WAIT_S - 1
    assert tracker.tick() == []
    tts.ready = True
    assert tracker.tick() == []
    assert [g.id for g in tts.sent] == ["u1", "u2"]  # in the order they were decided


def test_a_tts_that_never_appears_is_given_up_after_server_wait_s(tracker, ports, clock):
    tts = ports[SPEECH]
    tts.ready = False
    tracker.say(say(1))
    tracker.say(say(2))
    clock.now += SERVER_WAIT_S - 0.5
    assert tracker.tick() == []  # first seen gone here
    clock.now += SERVER_WAIT_S - 0.1
    assert tracker.tick() == []
    clock.now += 0.2
    report, *ends = tracker.tick()
    assert isinstance(report, Report) and report.text == "Speak server gone for 5 s; utterances given up"
    assert [speech_end([e]) for e in ends] == [
        {"text": "", "trace": f"trace-u{n}", "utterance_id": f"u{n}", "completed": False, "interrupted": True,
         "spoken_text": ""} for n in (1, 2)]
    assert tracker.goals() == [] and tracker.tick() == []


def test_a_tts_that_crashes_mid_goal_is_given_up_keeping_what_it_had_said(tracker, ports, clock):
    tts = ports[SPEECH]
    tracker.say(say(1))
    tracker.say(say(2))
    first, second = tts.sent
    tts.accept(first)
    tts.accept(second)
    for words in ("clause", "clause 1."):  # reports keep them alive past speech_silence_s
        clock.now += SILENCE_S - 0.5
        tts.word(first, words)
        tts.word(second, "")  # the heartbeat of a clause queued behind the playing one
        assert tracker.tick() == []
    # the TTS dies: no more words, no result; the server stays listed for a while
    clock.now += SILENCE_S + 0.1
    report, *ends = tracker.tick()
    assert isinstance(report, Report) and report.text == "no word from the TTS for 3 s; utterances given up"
    assert [(e["utterance_id"], e["spoken_text"], e["interrupted"], e["completed"])
            for e in (speech_end([n]) for n in ends)] == [("u1", "clause 1.", True, False), ("u2", "", True, False)]
    assert first.state == DONE and second.state == DONE and not tracker.speaking


def test_a_result_after_the_give_up_is_ignored_not_reported_twice(tracker, ports, clock):
    tts = ports[SPEECH]
    tracker.say(say(1))
    tracker.say(say(2))
    first, second = tts.sent
    tts.accept(first)
    clock.now += SILENCE_S + 1
    assert len(tracker.tick()) == 3
    assert tts.finish(first, ok=True, text="clause 1.") == []
    assert tts.accept(second) == [] and second.state == DONE  # a late acceptance is not taken up either
    tts.word(first, "clause 1.")
    assert tracker.goals() == [] and tracker.tick() == []


def test_a_rejected_utterance_is_reported_and_counts_as_unsaid(tracker, ports):
    tts = ports[SPEECH]
    tracker.say(say(1))
    report, end = tts.reject(tts.sent[0])
    assert isinstance(report, Report) and report.text == "Speak goal rejected" and report.trace_id == "trace-u1"
    assert speech_end([end])["interrupted"] and not speech_end([end])["completed"]
    assert tracker.goals() == []


def test_a_barge_in_cancels_playing_speech_and_drops_what_waited(tracker, ports):
    tts = ports[SPEECH]
    tracker.say(say(1))
    playing = tts.sent[0]
    tts.accept(playing)
    tts.ready = False  # restarting: the next clause waits
    tracker.say(say(2))
    (dropped,) = tracker.cancel_speech()
    assert tts.canceled == [playing]
    end = speech_end([dropped])
    assert (end["utterance_id"], end["spoken_text"], end["interrupted"]) == ("u2", "", True)
    # the cut utterance reports what it really said
    end = speech_end(tts.finish(playing, ok=False, cut=True, text="clause"))
    assert (end["utterance_id"], end["spoken_text"], end["completed"]) == ("u1", "clause", False)


def test_the_voice_is_cancelling_until_every_cut_utterance_has_ended_not_while_a_new_reply_plays(
        tracker, ports):
    tts = ports[SPEECH]
    tracker.say(say(1))
    tracker.say(say(2))
    first, second = tts.sent
    tts.accept(first)
    assert not tracker.cancelling_speech
    tracker.cancel_speech()  # a barge-in: both clauses cut, one of them not accepted yet
    tracker.say(say(3))  # the reply to the interruption, sent before the TTS confirmed the cut
    reply = tts.sent[2]
    assert tracker.cancelling_speech and tracker.speaking
    tts.finish(first, ok=False, cut=True, text="clause")
    assert tracker.cancelling_speech  # the second clause may still play
    tts.accept(second)
    tts.finish(second, ok=False, cut=True, text="")
    assert not tracker.cancelling_speech and tracker.speaking and not reply.cancelled


def test_a_cancel_before_the_tts_accepted_is_applied_on_acceptance(tracker, ports):
    tts = ports[SPEECH]
    tracker.say(say(1))
    goal = tts.sent[0]
    assert tracker.cancel_speech() == []
    assert tts.canceled == [] and goal.cancel_requested  # nothing to cancel yet
    assert tts.accept(goal) == []
    assert tts.canceled == [goal] and not goal.cancel_requested
    assert speech_end(tts.finish(goal, ok=False, cut=True, text=""))["interrupted"]


def test_a_cancelled_goal_the_tts_rejects_is_reported_once(tracker, ports):
    tts = ports[SPEECH]
    tracker.say(say(1))
    goal = tts.sent[0]
    tracker.cancel_speech()
    assert len(tts.reject(goal)) == 2
    assert tts.canceled == [] and tts.accept(goal) == [] and tracker.goals() == []


def test_speech_whose_answer_is_lost_is_sent_again_and_the_first_answer_is_taken(tracker, ports, clock):
    tts = ports[SPEECH]
    tracker.say(say(1))
    (goal,) = tts.sent
    clock.now += RESEND_S - 0.1
    assert tracker.tick() == [] and tts.sent == [goal]  # an answer is not overdue yet
    clock.now += 0.1
    assert tracker.tick() == [] and tts.sent == [goal, goal]  # the TTS plays one utterance for both
    tts.word(goal, "clause")  # the first copy plays: its words arrive, its acceptance never does
    assert tts.accept(goal) == [] and goal.state == ACCEPTED  # the copy's answer
    first = goal.handle
    clock.now += RESEND_S
    assert tracker.tick() == [] and len(tts.sent) == 2  # accepted: nothing more to send
    assert tts.accept(goal) == [] and tts.reject(goal) == [] and goal.handle is first  # late answers
    assert tracker.cancel_speech() == [] and tts.canceled == [goal]  # the taken handle stops it
    assert speech_end(tts.finish(goal, ok=False, cut=True, text="clause"))["spoken_text"] == "clause"
    assert tts.finish(goal, ok=False, cut=True, text="clause") == []  # every copy reports it once


def test_speech_never_answered_is_sent_again_until_its_silence_budget_runs_out(tracker, ports, clock):
    tts = ports[SPEECH]
    tracker.say(say(1))
    (goal,) = tts.sent
    tts.ready = False  # a TTS that is not listed is not sent copies (the fake would raise)
    clock.now += RESEND_S
    assert tracker.tick() == [] and tts.sent == [goal]
    tts.ready = True
    ticks = []
    while goal.state == SENT:
        clock.now += RESEND_S / 2
        ticks.append(tracker.tick())
    report, end = ticks[-1]
    assert isinstance(report, Report) and report.text == "no word from the TTS for 3 s; utterances given up"
    assert speech_end([end])["interrupted"] and all(out == [] for out in ticks[:-1])
    copies = len(tts.sent)
    assert copies >= SILENCE_S / RESEND_S  # sent again all along its budget, no longer
    clock.now += RESEND_S
    assert tracker.tick() == [] and len(tts.sent) == copies


# --- actions -------------------------------------------------------------------------------------

def test_an_action_with_no_server_fails_at_once(tracker, ports):
    ports[ARM].ready = False
    res = action_result(tracker.act(act(1)))
    assert res == {"text": "no Manipulate action server is running", "trace": "trace-g1", "goal_id": "g1",
                   "action": "pick(object=red_cube)", "success": False, "canceled": False,
                   "instruction": "pick it"}
    assert ports[ARM].sent == [] and tracker.goals() == []


def test_an_action_runs_reports_progress_and_its_result(tracker, ports):
    arm = ports[ARM]
    assert tracker.act(act(1)) == []
    goal = arm.sent[0]
    assert arm.accept(goal) == []
    (fb,) = arm.progress(goal, "reaching", 0.25)
    assert isinstance(fb, Notice) and fb.publish and not fb.feed  # for observers; the Thinker keeps outcomes
    assert (fb.event.type, fb.event.text, fb.event.payload) == (ev.ACTION_FEEDBACK, "reaching",
                                                               {"goal_id": "g1", "progress": 0.25})
    res = action_result(arm.finish(goal, ok=True, text="picked the red cube"))
    assert (res["success"], res["canceled"], res["text"]) == (True, False, "picked the red cube")
    assert tracker.goals() == []


def test_a_stop_before_the_executor_accepted_is_applied_on_acceptance(tracker, ports):
    arm = ports[ARM]
    tracker.act(act(1))
    tracker.act(act(2))
    waiting, running = arm.sent
    arm.accept(running)
    assert tracker.cancel_actions() == []
    assert arm.canceled == [running] and waiting.cancel_requested
    arm.accept(waiting)
    assert arm.canceled == [running, waiting]
    res = action_result(arm.finish(waiting, ok=False, cut=True, text="canceled"))
    assert (res["goal_id"], res["success"], res["canceled"]) == ("g1", False, True)


def test_a_cancelled_action_the_executor_rejects_is_reported_not_cancelled(tracker, ports):
    arm = ports[ARM]
    tracker.act(act(1))
    goal = arm.sent[0]
    tracker.cancel_actions()
    res = action_result(arm.reject(goal))
    assert (res["text"], res["success"], res["canceled"]) == ("goal rejected by the executor", False, False)
    assert arm.canceled == [] and tracker.goals() == []


def test_an_executor_that_goes_away_mid_goal_is_given_up_after_server_wait_s(tracker, ports, clock):
    arm = ports[ARM]
    tracker.act(act(1))
    goal = arm.sent[0]
    arm.accept(goal)
    arm.ready = False
    assert tracker.tick() == []
    clock.now += SERVER_WAIT_S + 0.1
    res = action_result(tracker.tick())
    assert (res["goal_id"], res["text"], res["success"]) == ("g1", "Manipulate server gone for 5 s", False)
    assert arm.finish(goal, ok=True, text="picked") == []  # the late result is not reported twice
    assert tracker.tick() == []


def test_an_executor_back_within_server_wait_s_keeps_its_goal(tracker, ports, clock):
    arm = ports[ARM]
    tracker.act(act(1))
    goal = arm.sent[0]
    arm.accept(goal)
    arm.ready = False
    tracker.tick()
    clock.now += SERVER_WAIT_S - 1
    arm.ready = True
    assert tracker.tick() == []
    arm.ready = False
    clock.now += 2
    assert tracker.tick() == []  # gone again: the wait starts over
    clock.now += SERVER_WAIT_S + 0.1
    assert action_result(tracker.tick())["goal_id"] == "g1"


def test_an_executor_respawned_under_its_goal_loses_it_at_once(tracker, ports):
    arm = ports[ARM]
    tracker.servers_seen(ARM, frozenset({"old"}))
    tracker.act(act(1))
    arm.accept(arm.sent[0])
    assert tracker.servers_seen(ARM, frozenset({"old"})) == []
    # the respawned server joins while the dead one's discovery record lingers
    res = action_result(tracker.servers_seen(ARM, frozenset({"old", "new"})))
    assert (res["goal_id"], res["success"], res["canceled"], res["lost"]) == ("g1", False, False, True)
    assert res["text"] == "the Manipulate server restarted; the goal was lost"
    assert arm.finish(arm.sent[0], ok=True) == [] and tracker.goals() == []
    # a goal the new server accepted is its own; its vanishing loses it too
    tracker.act(act(2))
    arm.accept(arm.sent[1])
    assert tracker.servers_seen(ARM, frozenset({"new"})) == []
    assert action_result(tracker.servers_seen(ARM, frozenset()))["lost"]


def test_a_goal_accepted_before_its_server_was_seen_adopts_the_servers_seen_next(tracker, ports):
    arm = ports[ARM]
    tracker.act(act(1))
    arm.accept(arm.sent[0])
    assert tracker.servers_seen(ARM, frozenset({"s1"})) == []
    assert tracker.servers_seen(ARM, frozenset({"s1"})) == [] and tracker.goals()[0].state == ACCEPTED
    assert "lost" not in action_result(arm.finish(arm.sent[0], ok=True, text="picked"))


def test_a_goal_never_accepted_is_given_up_after_server_wait_s(tracker, ports, clock):
    arm = ports[ARM]
    tracker.act(act(1))
    clock.now += SERVER_WAIT_S - 0.1
    assert tracker.tick() == []
    clock.now += 0.2
    res = action_result(tracker.tick())
    assert res["text"] == "no answer from the Manipulate server in 5 s"
    assert len(arm.sent) == 1  # an action is never sent twice: a copy would run twice
    assert arm.accept(arm.sent[0]) == [] and arm.canceled == []


def test_goals_for_several_executors_are_kept_apart(tracker, ports, clock):
    tts, arm, gui = ports[SPEECH], ports[ARM], ports[GUI]
    tracker.say(say(1))
    tracker.act(act(1))
    tracker.act(act(2, "click"))
    for port in (tts, arm, gui):
        port.accept(port.sent[0])
    (fb,) = gui.progress(gui.sent[0], "moving", 0.5)
    assert fb.event.payload["goal_id"] == "g2"
    gui.ready = False  # the browser dies
    for _ in range(3):
        tts.word(tts.sent[0], "clause")
        clock.now += SERVER_WAIT_S / 2 + 0.1
        out = tracker.tick()
    res = action_result(out)
    assert (res["goal_id"], res["action"], res["text"]) == ("g2", "click(target=OK)", "GuiAct server gone for 5 s")
    assert [g.id for g in tracker.goals()] == ["u1", "g1"]
    # a stop reaches the arm only; the voice is left to the barge-in path
    tracker.cancel_actions()
    assert arm.canceled == arm.sent and tts.canceled == [] and gui.canceled == []
    assert action_result(arm.finish(arm.sent[0], ok=False, cut=True, text="stopped"))["canceled"]
    assert speech_end(tts.finish(tts.sent[0], text="clause 1."))["utterance_id"] == "u1"
    assert tracker.goals() == []


def test_the_tracker_needs_a_speech_port():
    with pytest.raises(ValueError, match="speech"):
        GoalTracker({ARM: FakeActionClient("Manipulate")}, SERVER_WAIT_S, SILENCE_S)
