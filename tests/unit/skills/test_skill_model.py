"""The skill records: anchors match as the contract says, JSON round trips, malformed data is a clear ValueError."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from seal_nodes.core.skills.model import (Anchor, Postcondition, Skill, Step, TraceStep, fill_params,
                                          placeholders)

pytestmark = pytest.mark.unit

CITY = Anchor("textbox", "City", label="City")


def _skill() -> Skill:
    return Skill("weather", "The wind in a city", {"city": "Paris"}, (
        Step("fill", CITY, value="{city}", at="search",
             post=Postcondition("search", Anchor("option", "{city}"), (CITY, "{city}"))),
        Step("choose", Anchor("list", "Flights"), question="which is {city}?", choice_role="option", at="search"),
        Step("read", Anchor("status", "Value"), output="value", post=Postcondition("results"))),
        episode="ep1", status="trusted", successes=2, failures=1, failing=0, version=3)


def test_an_anchor_finds_what_it_names_and_nothing_else():
    found = Anchor("button", "Search", test_id="go")
    assert Anchor("button", "Search").matches(found) and Anchor("button").matches(found)
    assert Anchor("button", test_id="go").matches(found)
    assert not Anchor("button", "search").matches(found)  # exact, case-sensitive
    assert not Anchor("link", "Search").matches(found) and not Anchor("button", "Search", label="x").matches(found)
    assert Anchor("textbox", label="City").describe() == 'textbox labelled "City"'


def test_a_page_adapters_own_anchor_type_is_taken_field_for_field():
    @dataclass(frozen=True)
    class TheirAnchor:
        role: str
        name: str = ""
        label: str = ""
        test_id: str = ""

    assert Anchor.of(TheirAnchor("button", "Search", test_id="go")) == Anchor("button", "Search", test_id="go")
    assert Anchor("button", "Search").matches(TheirAnchor("button", "Search"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an anchor"):
        Anchor.of("button")


def test_parameters_fill_only_the_placeholders_they_name():
    assert placeholders("from {origin} to {destination}") == ["origin", "destination"]
    assert fill_params("{city}, {country} {}", {"city": "Paris"}) == "Paris, {country} {}"
    assert Anchor("option", "{city}").with_params({"city": "Lima"}) == Anchor("option", "Lima")


def test_a_skill_and_a_trace_survive_json():
    skill = _skill()
    assert Skill.from_dict(json.loads(json.dumps(skill.to_dict()))) == skill
    assert skill.outputs == ["value"]
    step = TraceStep("choose", Anchor("list", "Flights"), chosen=Anchor("button", "Select AF2"), before="flights",
                     after="extras", x=100, y=140.5, model_call=True, question="the cheapest?", dialog="")
    assert TraceStep.from_dict(json.loads(json.dumps(step.to_dict()))) == step
    assert not step.coordinate_only and TraceStep("click", x=3, y=4).coordinate_only


def test_a_stored_skill_holds_no_coordinates():
    assert '"x"' not in json.dumps(_skill().to_dict()) and '"y"' not in json.dumps(_skill().to_dict())


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.pop("steps"), r"skill: missing field\(s\) \['steps'\]"),
    (lambda d: d.update(colour="red"), r"unknown field\(s\) \['colour'\]"),
    (lambda d: d.update(status="beloved"), "status 'beloved' is not one of"),
    (lambda d: d.update(successes=-1), "successes must be an integer >= 0"),
    (lambda d: d.update(version=0), "version must be an integer >= 1"),
    (lambda d: d.update(failing=True), "failing must be an integer"),
    (lambda d: d.update(params={"the city": "Paris"}), "is not an identifier"),
    (lambda d: d.update(params=["city"]), "params is not a mapping"),
    (lambda d: d.update(steps=[]), "non-empty tuple of Step"),
    (lambda d: d.update(steps={"op": "click"}), r"skill.steps: expected a list"),
    (lambda d: d["steps"][0].update(op="tap"), r"skill.steps\[0\]: step: op 'tap' is not one of"),
    (lambda d: d["steps"][0].pop("anchor"), r"steps\[0\]: step: a fill step needs an anchor"),
    (lambda d: d["steps"][0]["anchor"].pop("role"), r"steps\[0\].anchor: missing field"),
    (lambda d: d["steps"][0]["anchor"].update(role=" "), "anchor: role is empty"),
    (lambda d: d["steps"][0]["post"].update(value={"anchor": {"role": "textbox"}}), r"post.value: missing field"),
    (lambda d: d["steps"][0].update(value=7), "value is not text"),
    (lambda d: d["steps"][1].update(question=""), "a choose step needs the question"),
    (lambda d: d["steps"][2].update(output="the value"), "a read step needs an output name"),
    (lambda d: d["steps"].append(dict(d["steps"][2])), "output names repeat"),
    (lambda d: d.update(name=None), "name is not text"),
])
def test_malformed_skills_are_refused_saying_where(mutate, message):
    data = json.loads(json.dumps(_skill().to_dict()))
    mutate(data)
    with pytest.raises(ValueError, match=message):
        Skill.from_dict(data)


@pytest.mark.parametrize("data,message", [
    ("click", "trace step: expected an object, got str"),
    ({"op": "click", "x": "12"}, "x is not a finite number"),
    ({"op": "click", "y": float("nan")}, "y is not a finite number"),
    ({"op": "click", "model_call": "yes"}, "model_call is not a boolean"),
    ({"op": "click", "chosen": "Search"}, "chosen: expected an object"),
    ({"op": "scroll"}, "op 'scroll' is not one of"),
])
def test_malformed_trace_steps_are_refused(data, message):
    with pytest.raises(ValueError, match=message):
        TraceStep.from_dict(data)


def test_a_postcondition_value_must_be_an_anchor_and_a_text():
    with pytest.raises(ValueError, match=r"expected \(Anchor, text\)"):
        Postcondition(value=("City", "Paris"))  # type: ignore[arg-type]
