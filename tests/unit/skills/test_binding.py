"""A lesson's values, the skill's name and description, and binding a new request to it."""
from __future__ import annotations

import pytest

from seal_nodes.core.skills.binding import bind, heard_task, lesson_values, skill_name, task_template
from seal_nodes.core.skills.model import Anchor, Skill, Step, TraceStep

pytestmark = pytest.mark.unit

CITY = Anchor("textbox", "City", "City")
TRACE = [
    TraceStep("click", Anchor("button", "Accept cookies")),
    TraceStep("click", Anchor("link", "Open search")),
    TraceStep("fill", CITY, value="rome"),  # Whisper wrote it in lower case
    TraceStep("click", Anchor("option", "Rome")),
    TraceStep("click", Anchor("button", "Search")),
    TraceStep("click", Anchor("tab", "Humidity")),
    TraceStep("read", Anchor("status", "Humidity value"), value="85 %"),
]
TASK = "check the humidity in Rome"


def test_values_are_what_the_task_names_typed_or_chosen_written_as_the_task_and_page_write_them():
    assert lesson_values(TRACE, TASK) == {"city": "Rome", "tab": "Humidity"}


def test_a_button_named_in_the_task_is_no_value_and_unnamed_typing_is_no_parameter():
    trace = [TraceStep("fill", CITY, value="Rome"), TraceStep("click", Anchor("button", "Search"))]
    assert lesson_values(trace, "search the weather") == {}
    assert lesson_values(trace, "search for Rome") == {"city": "Rome"}


def test_template_and_name():
    template = task_template(TASK + ".", {"city": "Rome", "tab": "Humidity"})
    assert template == "check the {tab} in {city}"
    assert skill_name(template) == "check_tab_city"
    assert skill_name("{city}") == "city"
    assert skill_name("") == "task_"


def skill(description: str = "check the {tab} in {city}", **params: str) -> Skill:
    return Skill("check_tab_city", description, params or {"tab": "Humidity", "city": "Rome"},
                 (Step("click", Anchor("tab", "{tab}")),))


@pytest.mark.parametrize("request_, expected", [
    ("Check the humidity in Paris.", {"tab": "Humidity", "city": "Paris"}),
    ("Could you check the wind in new york, please?", {"tab": "Wind", "city": "New York"}),
    ("check the Forecast in São Paulo thanks", {"tab": "Forecast", "city": "São Paulo"}),
])
def test_a_request_that_says_the_description_around_new_values_binds(request_, expected):
    assert bind(skill(), request_) == expected


@pytest.mark.parametrize("request_", ["What's the humidity in Paris?", "check the humidity", "", "in Paris"])
def test_other_wordings_do_not_bind(request_):
    assert bind(skill(), request_) is None


def test_a_description_that_does_not_show_every_parameter_never_binds():
    assert bind(skill("check the weather"), "check the weather") is None
    assert bind(skill("check the {tab}"), "check the wind") is None


def test_a_parameter_said_twice_must_be_the_same_both_times():
    twice = skill("what is the {tab} in {city}? then save {city} to my favourites")
    assert bind(twice, "What is the wind in Oslo? Then save Oslo to my favourites.") == {"tab": "Wind", "city": "Oslo"}
    assert bind(twice, "What is the wind in Oslo? Then save Bern to my favourites.") is None


def test_values_keep_the_case_they_were_said_in_and_follow_the_example_when_lower():
    s = skill(tab="WIND", city="paris")
    assert bind(s, "check the humidity in rome") == {"tab": "HUMIDITY", "city": "rome"}
    assert bind(s, "check the Humidity in ROME") == {"tab": "Humidity", "city": "ROME"}


def test_a_value_misheard_in_the_task_is_written_as_the_lesson_typed_or_chose_it():
    trace = [TraceStep("fill", CITY, value="paris"), TraceStep("click", Anchor("option", "Paris")),
             TraceStep("click", Anchor("tab", "Humidity"))]
    assert heard_task(trace, "check the humidity in pairs.") == "check the humidity in Paris."
    assert heard_task(trace, "check the humidity in Paris") == "check the humidity in Paris"
    assert heard_task(trace, "check the weather") == "check the weather"  # nothing sounds like a value
    assert heard_task([TraceStep("click", Anchor("button", "Search"))], "search the web") == "search the web"
