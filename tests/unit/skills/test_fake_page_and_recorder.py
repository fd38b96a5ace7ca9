"""The in-memory app the skills tests run on behaves as a page does, and the recorder writes down what was done."""
from __future__ import annotations

import pytest

from seal_nodes.core.skills.model import Anchor, PageError
from seal_nodes.core.skills.record import Recorder
from tests.unit.skills.fake_page import BOOKING_VALUES, CITY, booking, teach_booking, teach_weather, weather

pytestmark = pytest.mark.unit


def test_a_wait_advances_the_fake_clock_to_the_moment_the_element_appears():
    app = weather(slow_s=1.5)
    app.click(Anchor("button", "Open search"), 5.0)
    assert app.location() == "home" and app.clock == 0.0  # the navigation lands later
    assert app.wait_for_location("search", 5.0) and app.clock == 1.5
    app.fill(CITY, "Pa", 5.0)
    assert [e.anchor.name for e in app.elements()] == ["City", "Search"]  # suggestions not yet shown
    found = app.wait_for(Anchor("option", "Parma"), 5.0)
    assert found is not None and found.text == "Parma" and app.clock == 3.0
    assert app.wait_for(Anchor("option", "Lima"), 2.0) is None and app.clock == 5.0  # the whole timeout spent
    assert not app.wait_for_location("results", 1.0)


def test_a_disabled_or_absent_element_cannot_be_clicked():
    app = weather()
    app.click(Anchor("button", "Open search"), 1.0)
    assert app.wait_for(Anchor("button", "Search"), 1.0) is None  # disabled until a city is chosen
    with pytest.raises(PageError, match="not actionable"):
        app.click(Anchor("button", "Search"), 1.0)
    with pytest.raises(PageError, match="not a text field"):
        weather().fill(Anchor("heading", "Weather"), "x", 0.0)
    assert app.effects == []


def test_a_click_at_a_point_hits_what_is_drawn_there_and_typing_goes_to_the_focus():
    app = weather("move_button")
    app.click_at(100, 60)  # where "Open search" was recorded: "Clear history" is there now
    assert app.effects == ["clear history"] and app.location() == "home"
    app.click_at(300, 60)
    app.click_at(100, 100)
    app.type_text("Lima")
    assert app.location() == "search" and app.value("City") == "Lima"
    app.click_at(500, 500)  # nothing there: the focus is lost and typing goes nowhere
    app.type_text("Tokyo")
    assert app.value("City") == "Lima"


def test_a_dialog_covers_the_page_under_it():
    app = booking("consent_dialog")
    app.go("extras")
    assert "Add insurance?" in [e.anchor.name for e in app.elements() if e.anchor.role == "dialog"]
    with pytest.raises(PageError, match="covered by a dialog"):
        app.click(Anchor("button", "Continue"), 1.0)
    app.click_at(100, 300)  # Continue's place: the dialog takes the click
    assert app.location() == "extras"
    app.click(Anchor("button", "No thanks", test_id="dialog-no thanks"), 1.0)
    app.click(Anchor("button", "Continue"), 1.0)
    assert app.location() == "review"


def test_the_recorder_writes_each_step_with_its_pages_and_place():
    app = weather(slow_s=0.5)
    recorder = Recorder(app)
    value = teach_weather(recorder, "Paris", "Wind")
    trace = recorder.trace()
    assert value == "10 km/h" and app.effects == ["search Paris", "tab Wind"]
    assert [(t.op, t.before, t.after) for t in trace] == [
        ("click", "home", "search"), ("fill", "search", "search"), ("click", "search", "search"),
        ("click", "search", "results"), ("click", "results", "results"), ("read", "results", "results")]
    assert (trace[0].x, trace[0].y) == (100, 60) and trace[1].value == "Paris" and trace[-1].value == "10 km/h"
    assert all(t.model_call and not t.error and not t.coordinate_only for t in trace)
    assert recorder.read(Anchor("status", "Value"), "wind", model_call=False) == "10 km/h"
    assert (recorder.trace()[-1].output, recorder.trace()[-1].model_call) == ("wind", False)


def test_the_recorder_writes_a_choice_and_a_failure():
    app = booking()
    recorder = Recorder(app)
    assert teach_booking(recorder, BOOKING_VALUES) == "REF-AF2"
    choice = recorder.trace()[4]
    assert (choice.op, choice.anchor) == ("choose", Anchor("list", "Flights"))
    assert choice.chosen == Anchor("button", "Select AF2")
    assert choice.question.endswith("is the cheapest?") and (choice.x, choice.y) == (100, 140)

    stuck = Recorder(weather(), timeout_s=1.0)
    with pytest.raises(PageError):
        stuck.click(Anchor("button", "Search"))
    assert stuck.trace()[0].error and stuck.trace()[0].before == "home"
    stuck.click_at(100, 60)
    assert stuck.trace()[1].coordinate_only and stuck.trace()[1].anchor is None
