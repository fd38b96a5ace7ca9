"""The multi-step apps in a real headless Chromium through Playwright: the teacher does each task
end to end, late elements are waited for, every injected change shows, wrong side effects land
in /state. Skipped (with the reason) only where Chromium cannot start."""
from __future__ import annotations

import urllib.request

import pytest

from seal_nodes.core.skills.model import Anchor, PageError
from sim_worlds.gui.apps.markup import Style
from sim_worlds.gui.apps.page import PlaywrightPage, open_page
from sim_worlds.gui.apps.server import APPS, AppServer
from sim_worlds.gui.apps.tasks import make_task
from sim_worlds.gui.apps.teacher import Infeasible, TeacherStep, next_step, perform, run_task

pytestmark = pytest.mark.browser

ACTIONABLE = {"button", "link", "textbox", "spinbutton", "checkbox", "radio", "option", "tab"}
STEPS = {"weather": 8, "booking": 31}


@pytest.fixture(scope="module")
def tab():
    try:
        with open_page("about:blank") as page:
            yield page
    except PageError as exc:
        if "Chromium" not in str(exc):
            raise
        pytest.skip(f"Chromium cannot start here: {exc}")


def open_app(tab: PlaywrightPage, app: str, seed: int, changes: set[str] = frozenset()) -> AppServer:
    server = AppServer(app, seed, changes)
    tab.errors.clear()
    tab.goto(server.url)
    return server


def run_checked(task, tab: PlaywrightPage, check_anchors: bool) -> tuple[list[TeacherStep], dict[str, str], list[str]]:
    """The teacher's loop; with ``check_anchors`` every element of every page it sees must be
    found again by its anchor (exactly one when it can be acted on)."""
    steps, answers, pages = [], {}, []
    while (step := next_step(task, tab, steps)) is not None:
        pages.append(tab.location())
        if check_anchors:
            for e in tab.elements():
                n = tab.locator(e.anchor).count()
                assert n == 1 if e.anchor.role in ACTIONABLE else n >= 1, (pages[-1], e, n)
        text = perform(step, tab)
        if step.op == "read":
            answers[step.output] = text
        steps.append(step)
        assert len(steps) <= 60
    return steps, answers, pages


def fixed_anchors(task, steps: list[TeacherStep]) -> set[Anchor]:
    """The anchors of the steps that do not name one of the task's own values."""
    values = set(task.params.values())
    return {s.anchor for s in steps if not any(v in s.anchor.name for v in values)}


@pytest.mark.parametrize("app", ["weather", "booking"])
def test_the_teacher_does_each_app_on_three_seeds(tab, app):
    anchors = []
    for seed in (0, 1, 2):
        task = make_task(app, seed)
        with open_app(tab, app, seed) as server:
            steps, answers, pages = run_checked(task, tab, check_anchors=seed == 0)
            assert task.check(server.state(), answers) == [], (seed, task.text)
        assert len(steps) == STEPS[app] and tab.errors == []
        anchors.append(fixed_anchors(task, steps))
        if app == "booking":
            choose = next(s for s in steps if s.op == "choose")
            assert choose.anchor == Anchor("listbox", "Flights") and choose.chosen.role == "option"
            assert choose.question == {"cheapest": "which flight is the cheapest?",
                                       "earliest": "which flight leaves the earliest?"}[task.params["criterion"]]
    assert anchors[0] == anchors[1] == anchors[2]  # anchors are the app version's, not the seed's


def slow_seed(app: str, key: str) -> int:
    """A seed whose ``key`` element loads at least a second late."""
    return next(s for s in range(100) if Style.from_seed(app, s, APPS[app].slow_keys).slow[key] >= 1.0)


def test_late_elements_are_waited_for_not_slept(tab):
    seed = slow_seed("booking", "flights")
    task = make_task("booking", seed)
    with open_app(tab, "booking", seed) as server:
        steps = []
        while tab.location() != "results":
            steps.append(next_step(task, tab, steps))
            perform(steps[-1], tab)
        with urllib.request.urlopen(server.url + "results", timeout=5) as r:
            served = r.read().decode()
        assert f"data-reveal='{int(server.state()['slow']['flights'] * 1000)}' hidden" in served  # served hidden
        flights = tab.wait_for(Anchor("listbox", "Flights"), 5.0)
        assert flights is not None and flights.anchor.name == "Flights"
        assert any(e.anchor.role == "option" for e in tab.elements())
        assert tab.wait_for(Anchor("listbox", "Hotels"), 0.3) is None  # never there: None once the wait is over
    seed = slow_seed("weather", "Wind")
    with open_app(tab, "weather", seed) as server:
        tab.goto(server.url + "results?city=Oslo")
        tab.click(Anchor("tab", "Wind"), 5.0)
        assert tab.read(Anchor("status", "Wind value"), 5.0) == server.state()["truth"]["Oslo"]["Wind"]
        with pytest.raises(PageError, match='cannot click button "Nope": not actionable within 0.2 s'):
            tab.click(Anchor("button", "Nope"), 0.2)


def centre(tab: PlaywrightPage, role: str, name: str) -> tuple[float, float]:
    """Where it is drawn (enabled or not), once it is there."""
    tab.locator(Anchor(role, name)).wait_for(state="visible", timeout=5000)
    e = next(e for e in tab.elements() if e.anchor.role == role and e.anchor.name == name)
    return e.x, e.y


def test_a_moved_button_and_a_wrong_coordinate_click_show_in_the_state(tab):
    task = make_task("weather", 4)
    city = task.params["city"]
    seen = {}
    for changes in (set(), {"move_button"}):
        with open_app(tab, "weather", 4, changes) as server:
            tab.goto(server.url + "search")
            tab.fill(Anchor("textbox", "City"), city, 5.0)
            tab.click(Anchor("option", city), 5.0)
            seen[frozenset(changes)] = (centre(tab, "button", "Search"), centre(tab, "button", "Clear history"))
    (search, clear), (moved_search, moved_clear) = seen[frozenset()], seen[frozenset({"move_button"})]
    assert moved_search == clear and moved_clear == search
    with open_app(tab, "weather", 4, {"move_button"}) as server:
        tab.goto(server.url + "search")
        tab.click_at(*centre(tab, "textbox", "City"))  # the coordinate way: click, type, click where things were
        tab.type_text(city)
        tab.click_at(*centre(tab, "option", city))
        assert tab.wait_for(Anchor("status", "City choice"), 5.0).text == city
        tab.click_at(*search)
        assert tab.location() == "search" and task.wrong_side_effects(server.state()) == ["history_cleared"]


def test_renamed_reordered_and_dialog_changes_show_and_the_teacher_gets_past_them(tab):
    task = make_task("weather", 5)
    with open_app(tab, "weather", 5, {"rename_button", "reorder_steps", "confirm_dialog"}) as server:
        assert not any(e.anchor.role == "dialog" for e in tab.elements())  # the banner moved off home
        steps, answers, pages = run_checked(task, tab, check_anchors=False)
        assert task.check(server.state(), answers) == []
        names = [(s.op, s.anchor.name) for s in steps]
        assert names[:2] == [("click", "Open search"), ("click", "Accept cookies")]
        assert ("click", "Find") in names and ("click", "Search") not in names
        assert names[names.index(("click", "Save to favourites")) + 1] == ("click", "Confirm")
    task = make_task("booking", 5)
    with open_app(tab, "booking", 5, {"rename_button", "reorder_steps", "confirm_dialog"}) as server:
        steps, answers = [], {}
        while (step := next_step(task, tab, steps)) is not None:
            if step.anchor.name == "Confirm":  # the dialog is up and nothing is booked yet
                assert any(e.anchor == Anchor("dialog", "Are you sure?") for e in tab.elements())
                assert server.state()["bookings"] == []
            answers[step.output] = perform(step, tab)
            steps.append(step)
        assert task.check(server.state(), {k: v for k, v in answers.items() if k}) == []
        names = [s.anchor.name for s in steps]
        assert "Find flights" in names and "Search flights" not in names and len(steps) == STEPS["booking"] + 1
        assert names.index(task.params["extra"]) < names.index(task.params["seat"])  # extras came before seats


@pytest.mark.parametrize("app,option,neighbour,overrides", [
    ("weather", ("tab", "Wind"), None, {"tab": "Wind"}),
    ("booking", ("radio", "Economy"), ("radio", "Premium economy"), {"travel_class": "Economy"}),
])
def test_a_removed_option_is_missing_and_the_teacher_stops_before_any_side_effect(tab, app, option, neighbour, overrides):
    task = make_task(app, 6, **overrides)
    where = {"weather": "results?city=Rome", "booking": "trip"}[app]
    with open_app(tab, app, 6) as server:
        tab.goto(server.url + where)
        plain = {e.anchor.name: (e.x, e.y) for e in tab.elements() if e.anchor.role == option[0]}
    with open_app(tab, app, 6, {"remove_option"}) as server:
        tab.goto(server.url + where)
        shown = {e.anchor.name: (e.x, e.y) for e in tab.elements() if e.anchor.role == option[0]}
        assert option[1] in plain and option[1] not in shown
        if neighbour:
            assert shown[neighbour[1]] == plain[option[1]]  # the next option slid into its place
        tab.goto(server.url)
        with pytest.raises(Infeasible, match=f"no {option[0]} '{option[1]}'"):
            run_task(task, tab, timeout_s=2.0)  # longer than any late load
        assert task.wrong_side_effects(server.state()) == [] and server.state().get("bookings", []) == []
