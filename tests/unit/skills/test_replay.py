"""Replaying a skill: event-driven, checked before every step, handed back before any wrong side effect;
the coordinate baseline beside it."""
from __future__ import annotations

import time

import pytest

from seal_nodes.core.skills.compile import compile_skill
from seal_nodes.core.skills.model import Anchor, Element, Skill, Step
from seal_nodes.core.skills.record import Recorder
from seal_nodes.core.skills.replay import CoordinateReplayer, ReplayResult, Replayer
from tests.unit.skills.fake_page import (BOOKING_VALUES, WEATHER, booking, cheapest_or_earliest, teach_booking,
                                         teach_weather, weather)

pytestmark = pytest.mark.unit

RECORDED_WEATHER = {"city": "Paris", "tab": "Wind"}
CHEAP_BA1 = (("BA1", "09:40", 100), ("AF2", "07:15", 120), ("LH3", "12:05", 150))
NEW_BOOKING = {"name": "Bo Berg", "origin": "Rome", "destination": "Oslo"}


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch):
    def refuse(seconds: float) -> None:
        raise AssertionError("a replay slept: every wait must be the page's")
    monkeypatch.setattr(time, "sleep", refuse)


@pytest.fixture(scope="module")
def weather_run() -> tuple[Skill, list]:
    recorder = Recorder(weather())
    teach_weather(recorder, **RECORDED_WEATHER)
    trace = recorder.trace()
    return compile_skill(trace, "wind in Paris", RECORDED_WEATHER, "weather-tab", "a weather tab for a city"), trace


@pytest.fixture(scope="module")
def booking_run() -> tuple[Skill, list]:
    recorder = Recorder(booking())
    teach_booking(recorder, BOOKING_VALUES)
    trace = recorder.trace()
    return compile_skill(trace, "cheapest flight", BOOKING_VALUES, "book-cheapest", "book the cheapest flight"), trace


class CountingJudge:
    def __init__(self, answer=cheapest_or_earliest) -> None:
        self.answer = answer
        self.asked: list[tuple[str, list[Element]]] = []

    def __call__(self, question: str, options: list[Element]) -> Anchor | None:
        self.asked.append((question, options))
        return self.answer(question, options)


# --- success ------------------------------------------------------------------------------------
def test_a_skill_replays_with_new_values_through_slow_loads(weather_run):
    skill, _ = weather_run
    app = weather(slow_s=1.2)  # every page and list shows 1.2 s late: waits, not sleeps
    judge = CountingJudge()
    result = Replayer(app, judge, timeout_s=5.0).run(skill, {"city": "Tokyo", "tab": "Humidity"})
    assert result.ok and result.steps_done == 6 and result.handed_back_at is None and result.reason == ""
    assert result.outputs == {"value": WEATHER["Tokyo"]["Humidity"]} and result.model_calls == 0 and not judge.asked
    assert app.effects == ["search Tokyo", "tab Humidity"]
    assert result.done[1] == 'fill textbox "City" labelled "City" with "Tokyo"'
    assert result.summary().endswith("Done.")


def test_a_judgement_step_asks_the_model_anew(booking_run):
    skill, _ = booking_run
    app = booking(flights=CHEAP_BA1)  # another flight is the cheapest now
    judge = CountingJudge()
    result = Replayer(app, judge).run(skill, NEW_BOOKING)
    assert result.ok and result.model_calls == 1 and result.outputs == {"reference": "REF-BA1"}
    question, options = judge.asked[0]
    assert question == "which flight from Rome to Oslo is the cheapest?"
    assert [o.anchor.name for o in options] == ["Select BA1", "Select AF2", "Select LH3"]
    assert app.effects == ["book BA1 for Bo Berg Rome-Oslo"]
    assert 'Select BA1' in result.done[4]


# --- stale skills: handed back before any wrong side effect ------------------------------------
@pytest.mark.parametrize("change,reason,done", [
    ("rename_button", 'postcondition failed after step 3: button "Search" is not there', 3),
    ("remove_option", 'postcondition failed after step 2: option "Paris" is not there', 2),
    ("duplicate_button", 'ambiguous: 2 elements match button "Search"', 3),
    ("never_enabled", 'timeout: button "Search" not enabled within 2 s after step 3', 3),
])
def test_a_changed_weather_app_is_handed_back_before_a_wrong_click(weather_run, change, reason, done):
    skill, _ = weather_run
    app = weather(change)
    result = Replayer(app, CountingJudge(), timeout_s=2.0).run(skill, RECORDED_WEATHER)
    assert not result.ok and result.reason == reason
    assert result.steps_done == result.handed_back_at == done
    assert app.effects == []  # no search, no tab, nothing deleted
    assert result.summary().endswith(f"Stopped before step {done + 1}: {reason}")


@pytest.mark.parametrize("change,reason,done", [
    ("reorder_steps", "postcondition failed after step 5: on 'review', expected 'extras'", 5),
    ("confirm_dialog", "postcondition failed after step 7: on 'review', expected 'done'", 7),
    ("consent_dialog", "unexpected page: a dialog 'Add insurance?' is open", 5),
    ("stuck", "postcondition failed after step 4: on 'form', expected 'flights'", 4),
])
def test_a_changed_booking_app_is_handed_back_before_a_wrong_booking(booking_run, change, reason, done):
    skill, _ = booking_run
    app = booking(change, flights=CHEAP_BA1)
    result = Replayer(app, CountingJudge(), timeout_s=2.0).run(skill, NEW_BOOKING)
    assert not result.ok and result.reason == reason and result.steps_done == done
    assert app.effects == []  # nothing booked; a confirmation dialog is left unanswered


def test_a_moved_button_misleads_the_coordinate_baseline_and_not_the_anchored_replay(weather_run):
    skill, trace = weather_run
    anchored = weather("move_button")
    result = Replayer(anchored, CountingJudge()).run(skill, RECORDED_WEATHER)
    assert result.ok and anchored.effects == ["search Paris", "tab Wind"]

    naive = weather("move_button")
    baseline = CoordinateReplayer(naive, timeout_s=1.0).run(trace, RECORDED_WEATHER, RECORDED_WEATHER)
    assert naive.effects[0] == "clear history"  # the wrong click, recorded by the app
    assert naive.clicked[0] == 'button "Clear history"' and baseline.ok  # and it noticed nothing


def test_the_coordinate_baseline_replays_an_unchanged_app_and_types_new_values(weather_run, booking_run):
    _, trace = weather_run
    app = weather(slow_s=0.5)
    result = CoordinateReplayer(app).run(trace, RECORDED_WEATHER, {"city": "Paris", "tab": "Wind"})
    assert result.ok and result.outputs == {"value": WEATHER["Paris"]["Wind"]} and result.model_calls == 0
    assert app.effects == ["search Paris", "tab Wind"] and result.done[0] == "click at (100, 60)"

    _, trace = booking_run
    app = booking(flights=CHEAP_BA1)
    CoordinateReplayer(app).run(trace, BOOKING_VALUES, NEW_BOOKING)
    assert app.effects == ["book AF2 for Bo Berg Rome-Oslo"]  # the recorded row, no longer the cheapest


# --- judgement, parameters, timeouts ----------------------------------------------------------
def _fails(question: str, options: list[Element]) -> Anchor | None:
    raise TimeoutError("the model did not answer")


def test_a_judgement_without_an_answer_or_off_the_list_is_handed_back(booking_run):
    skill, _ = booking_run
    for answer, reason in ((lambda q, o: None, "judgement gave no answer to: which flight from Rome"),
                           (lambda q, o: Anchor("button", "Book"), 'judgement chose button "Book", not one of the 3'),
                           (lambda q, o: Anchor("button"), 'ambiguous: 3 elements match button'),
                           (lambda q, o: "Select BA1", "judgement answered no element (not an anchor"),
                           (_fails, "judgement failed (the model did not answer) for: which flight")):
        app = booking()
        result = Replayer(app, CountingJudge(answer)).run(skill, NEW_BOOKING)
        assert not result.ok and result.reason.startswith(reason) and result.model_calls == 1
        assert result.steps_done == 4 and app.effects == [] and app.clicked[-1] == 'button "Find flights"'


def test_a_missing_parameter_is_handed_back_before_the_first_step(weather_run):
    skill, _ = weather_run
    app = weather()
    result = Replayer(app, CountingJudge()).run(skill, {"city": "Paris"})
    assert (result.ok, result.handed_back_at, result.reason) == (False, 0, "missing parameter(s): tab")
    assert app.clicked == []
    with pytest.raises(ValueError, match="params must map"):
        Replayer(app, CountingJudge()).run(skill, ["Paris", "Wind"])


def test_an_element_later_than_the_timeout_is_missing(weather_run):
    skill, _ = weather_run
    app = weather(slow_s=3.0)
    result = Replayer(app, CountingJudge(), timeout_s=2.0).run(skill, RECORDED_WEATHER)
    assert result.reason == "postcondition failed after step 1: on 'home', expected 'search'"
    assert app.clock == pytest.approx(2.0)  # waited the timeout on the fake clock, then stopped


def test_a_page_that_starts_elsewhere_or_a_step_with_no_element_is_handed_back():
    skill = Skill("s", "d", {}, (Step("click", Anchor("button", "Open search"), at="search"),))
    app = weather()
    result = Replayer(app, CountingJudge(), timeout_s=1.0).run(skill, {})
    assert result.reason == "unexpected page: on 'home', expected 'search'" and app.clicked == []
    gone = Skill("s", "d", {}, (Step("click", Anchor("button", "Log in")),))
    assert Replayer(weather(), CountingJudge()).run(gone, {}).reason == 'missing element: button "Log in"'


def test_a_page_error_while_acting_is_handed_back(booking_run):
    skill, _ = booking_run
    app = booking("detached")
    result = Replayer(app, CountingJudge()).run(skill, NEW_BOOKING)
    assert result.reason == 'timeout: click on button "Book" failed: the element was detached'
    assert result.steps_done == 6 and app.effects == []


def test_the_replayer_refuses_a_timeout_that_is_not_positive():
    with pytest.raises(ValueError, match="timeout_s must be positive"):
        Replayer(weather(), CountingJudge(), timeout_s=0)
    with pytest.raises(ValueError, match="timeout_s must be positive"):
        CoordinateReplayer(weather(), timeout_s=-1)


def test_a_result_summary_says_what_was_done_and_why_it_stopped():
    result = ReplayResult(False, 1, {}, 0, 1, "missing element: button \"Find\"", ("click button \"Open\"",))
    assert result.summary() == '1. click button "Open"\nStopped before step 2: missing element: button "Find"'
