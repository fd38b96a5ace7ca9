"""The GUI executor on the real weather app in headless Chromium (Playwright on the host's own
thread, as the gui node runs it): a lesson compiled into a skill, replayed on another seed with
another layout, and handed back before any side effect when the page has changed."""
from __future__ import annotations

import json

import pytest

from seal_nodes.core.skills.model import PageError
from seal_nodes.core.skills.operator import GuiOperator
from sim_worlds.gui.apps.host import AppHost
from sim_worlds.gui.apps.server import make_app

pytestmark = pytest.mark.browser

LESSON = ["begin lesson: check the wind in pairs", "click accept cookies", "click open search",
          "type 'paris' into the city field", "click paris", "click search", "click the wind tab",
          "read the wind value", "save skill: check the wind in pairs"]


@pytest.fixture(scope="module")
def host():
    try:
        h = AppHost("weather", 0)
    except PageError as exc:
        pytest.skip(f"Chromium cannot start here: {exc}")
    yield h
    h.close()


def test_a_lesson_becomes_a_skill_that_replays_on_a_new_layout_and_stops_at_a_change(host):
    op = GuiOperator(host.page)
    outcomes = [host.call(lambda _, i=i: op.do(i)) for i in LESSON]
    assert all(o.success for o in outcomes), [o.message for o in outcomes]
    assert outcomes[-2].message == f"Wind value: {make_app('weather', 0).truth['Paris']['Wind']}."
    skill = outcomes[-1].learned
    assert skill.description == "check the {tab} in {city}" and skill.params == {"city": "Paris", "tab": "Wind"}

    host.load("weather", 3)
    run = "run skill: " + json.dumps({"skill": skill.to_dict(), "params": {"city": "Oslo", "tab": "Forecast"}})
    done = host.call(lambda _: op.do(run))
    assert done.success, done.message
    assert done.message.endswith(f"The Forecast value is {make_app('weather', 3).truth['Oslo']['Forecast']}.")
    assert [e["kind"] for e in host.state()["events"]] == ["cookies_accepted", "searched", "tab_opened"]

    host.load("weather", 4, frozenset({"rename_button"}))
    stopped = host.call(lambda _: op.do(run))
    assert not stopped.success and "stopped before step 5 of 7" in stopped.message
    assert [e["kind"] for e in host.state()["events"]] == ["cookies_accepted"]  # no search was run
    assert host.screenshot().shape[2] == 3
