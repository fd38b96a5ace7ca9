"""Compiling a trace: the user's values become parameters, judgement stays a model call, each step gets a check."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from seal_nodes.core.skills.compile import compile_skill, output_names
from seal_nodes.core.skills.model import Anchor, Postcondition, Skill, TraceStep
from seal_nodes.core.skills.record import Recorder
from tests.unit.skills.fake_page import BOOKING_VALUES, CITY, booking, teach_booking, teach_weather, weather

pytestmark = pytest.mark.unit


def weather_trace(city: str = "Paris", tab: str = "Wind") -> list[TraceStep]:
    recorder = Recorder(weather(slow_s=0.4))
    teach_weather(recorder, city, tab)
    return recorder.trace()


def test_the_users_values_become_parameters_wherever_they_were_used():
    skill = compile_skill(weather_trace(), "what is the wind in Paris?", {"city": "PARIS", "tab": "wind"},
                          "weather-tab", "Look up a weather tab for a city", episode="ep-7")
    assert skill.params == {"city": "PARIS", "tab": "wind"} and skill.episode == "ep-7"
    assert skill.status == "provisional" and skill.version == 1 and skill.successes == 0
    fill, option, tab = skill.steps[1], skill.steps[2], skill.steps[4]
    assert (fill.op, fill.anchor, fill.value) == ("fill", CITY, "{city}")  # case-insensitive: "Paris" typed
    assert option.anchor == Anchor("option", "{city}") and tab.anchor == Anchor("tab", "{tab}")
    assert skill.steps[3].anchor == Anchor("button", "Search")  # what no value names stays fixed
    assert skill.outputs == ["value"] and skill.steps[5].op == "read"
    assert not any(s.op == "choose" for s in skill.steps)
    assert '"x"' not in json.dumps(skill.to_dict())  # anchored, never coordinates


def test_each_step_checks_the_page_it_lands_on_and_the_next_element():
    skill = compile_skill(weather_trace(), "wind in Paris", {"city": "Paris", "tab": "Wind"}, "w", "")
    assert skill.description == "wind in Paris"  # no description: the request
    assert [s.at for s in skill.steps] == ["home", "search", "search", "search", "results", "results"]
    assert skill.steps[0].post == Postcondition("search", CITY)
    assert skill.steps[1].post == Postcondition("search", Anchor("option", "{city}"), (CITY, "{city}"))
    assert skill.steps[3].post == Postcondition("results", Anchor("tab", "{tab}"))
    assert skill.steps[4].post.present == Anchor("status", "Value")
    assert skill.steps[-1].post == Postcondition("results")  # the last step: nothing comes next


def test_a_judgement_stays_a_model_call_with_its_question():
    recorder = Recorder(booking())
    teach_booking(recorder, BOOKING_VALUES)
    skill = compile_skill(recorder.trace(), "book me the cheapest flight from London to Paris", BOOKING_VALUES,
                          "book-cheapest", "Book the cheapest flight between two cities for a passenger")
    choose = skill.steps[4]
    assert choose.op == "choose" and choose.anchor == Anchor("list", "Flights") and choose.choice_role == "button"
    assert choose.question == "which flight from {origin} to {destination} is the cheapest?"
    assert "AF2" not in json.dumps(skill.to_dict())  # the recorded choice is not replayed
    assert skill.steps[3].post.present == Anchor("list", "Flights")  # the step before waits for the list
    assert [s.value for s in skill.steps[:3]] == ["{name}", "{origin}", "{destination}"]
    assert skill.outputs == ["reference"] and Skill.from_dict(json.loads(json.dumps(skill.to_dict()))) == skill


def test_a_longer_value_is_lifted_whole_and_only_whole_words():
    trace = [TraceStep("choose", None, chosen=Anchor("button", "Select X"), before="f", after="g",
                       question="the earliest to New York, not Yorkshire?")]
    with pytest.raises(ValueError, match=r"\['town'\] appear in no step"):
        compile_skill(trace, "", {"town": "York", "city": "new york"}, "s", "d")
    skill = compile_skill(trace, "", {"city": "new york"}, "s", "d")
    assert skill.steps[0].question == "the earliest to {city}, not Yorkshire?" and skill.steps[0].anchor is None


@pytest.mark.parametrize("broken,message", [
    (lambda t: t[:2] + [replace(t[2], error="option not actionable")] + t[3:], "failed at step 2 .click.: option"),
    (lambda t: t[:3] + [TraceStep("click", None, before="search", x=100, y=300)] + t[4:], "step 3 .click. was done at"),
    (lambda t: t + [TraceStep("choose", None, before="results", x=1, y=2, question="which?")], "step 6 .choose. was"),
    (lambda t: t + [TraceStep("choose", chosen=Anchor("tab", "Wind"), before="results")], "has no question"),
    (lambda t: [], "non-empty list of TraceStep"),
    (lambda t: [s.to_dict() for s in t], "non-empty list of TraceStep"),
])
def test_a_trace_that_cannot_be_replayed_safely_is_refused(broken, message):
    with pytest.raises(ValueError, match=message):
        compile_skill(broken(weather_trace()), "wind in Paris", {"city": "Paris", "tab": "Wind"}, "w", "d")


@pytest.mark.parametrize("values,message", [
    ({"city": "Paris", "date": "2026-05-01"}, r"\['date'\] appear in no step"),
    ({"the city": "Paris"}, "not an identifier"),
    ({"city": ""}, "has no text value"),
    ({"city": 3}, "has no text value"),
    (["Paris"], "values must map"),
])
def test_values_it_cannot_lift_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        compile_skill(weather_trace(), "wind in Paris", values, "w", "d")


def test_a_bad_name_is_the_skills_own_error():
    with pytest.raises(ValueError, match="name is empty"):
        compile_skill(weather_trace(), "r", {"city": "Paris", "tab": "Wind"}, " ", "d")


def test_read_outputs_are_named_by_the_model_or_after_their_element():
    assert output_names([("", Anchor("status", "Wind speed")), ("", Anchor("status", "Wind speed")), ("", None),
                         ("", Anchor("cell", label="{tab}")), ("", Anchor("status", "3 km")),
                         ("booking_reference", Anchor("status", "Reference")), ("not a name", Anchor("status"))]) == [
        "wind_speed", "wind_speed_2", "value", "tab", "value_3_km", "booking_reference", "status"]
    recorder = Recorder(weather())
    teach_weather(recorder, "Paris", "Wind")
    trace = recorder.trace()
    trace[-1] = replace(trace[-1], output="wind")
    assert compile_skill(trace, "r", {"city": "Paris", "tab": "Wind"}, "w", "d").outputs == ["wind"]


def test_a_value_inside_a_name_follows_the_parameter_and_a_test_id_that_cannot_is_left_out():
    trace = [TraceStep("click", Anchor("tab", "Humidity", test_id="tab-humidity"), before="r", after="r"),
             TraceStep("read", Anchor("status", "Humidity value", test_id="humidity-value"), before="r", after="r"),
             TraceStep("click", Anchor("button", "Step 2 of 5"), before="r", after="r"),
             TraceStep("click", Anchor("button", "HUMIDITY HELP", test_id="help"), before="r", after="r"),
             TraceStep("click", Anchor("row", test_id="row-humidity"), before="r", after="s")]
    with pytest.raises(ValueError, match="passengers"):  # "2" inside a name is not taken for the value
        compile_skill(trace, "r", {"tab": "Humidity", "passengers": "2"}, "w", "d")
    skill = compile_skill(trace, "r", {"tab": "Humidity"}, "w", "d")
    assert [s.anchor for s in skill.steps] == [
        Anchor("tab", "{tab}"),  # the name was lifted whole: the test id goes with it
        Anchor("status", "{tab} value"),  # written as the user wrote it
        Anchor("button", "Step 2 of 5"),
        Anchor("button", "HUMIDITY HELP", test_id="help"),  # another case: left as it was (a replay hands back)
        Anchor("row", test_id="row-humidity")]  # nothing else names it: kept whole
    assert skill.outputs == ["tab_value"]
    assert Anchor("status", "{tab} value").with_params({"tab": "Wind"}) == Anchor("status", "Wind value")
