"""The multi-step apps without a browser: the server, seeded pages, injected changes, the forms'
checks, and task success read from /state."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from sim_worlds.gui.apps.server import AppServer, make_app
from sim_worlds.gui.apps.tasks import make_task

pytestmark = pytest.mark.unit


def get(server: AppServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def post(server: AppServer, path: str, fields: dict | list) -> tuple[int, str]:
    data = urlencode(fields, doseq=True).encode()
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, data=data, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def page_id(body: str) -> str:
    return re.search(r"data-page='([^']*)'", body).group(1)


def button_names(body: str) -> set[str]:
    return set(re.findall(r"<button[^>]*>([^<]+)</button>", body)) | set(re.findall(r"<a class='btn'[^>]*>([^<]+)</a>", body))


@pytest.mark.parametrize("args,message", [
    (("chess", 0), "unknown app 'chess'"), (("weather", -1), "non-negative integer"),
    (("booking", 0, {"rename_button", "melt"}), "unknown change(s) ['melt']"),
])
def test_bad_app_arguments_get_a_clear_error(args, message):
    with pytest.raises(ValueError) as err:
        make_app(*args)
    assert message in str(err.value)


def test_pages_state_and_bad_requests():
    with AppServer("weather", 3) as s:
        assert [page_id(get(s, p)[1]) for p in ("/", "/search", "/results?city=Oslo", "/favourites")] == \
            ["home", "search", "results", "favourites"]
        assert get(s, "/results?city=Atlantis")[1] == get(s, "/search")[1]  # an unknown city: back to search
        code, body = get(s, "/nowhere")
        assert code == 404 and page_id(body) == "not_found"
        req = urllib.request.Request(s.url + "api/event", data=b"[1]", headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 400 and b"a JSON object" in err.value.read()
        state = json.loads(get(s, "/state")[1])
        assert state == s.state() and state["app"] == "weather" and state["events"] == [
            {"kind": "searched", "city": "Oslo"}]


def test_seeds_vary_the_look_but_keep_the_anchors():
    pages = {}
    for seed in (0, 1, 2, 3):
        with AppServer("booking", seed) as s:
            pages[seed] = get(s, "/trip")[1]
            assert get(s, "/trip")[1] == pages[seed]  # the same page each time it is served
    assert len(set(pages.values())) == 4
    assert len({re.search(r"background:(#\w+)", p).group(1) for p in pages.values()}) > 1
    assert all(button_names(p) == {"Search flights", "Delete saved searches"} for p in pages.values())
    labels = [sorted(re.findall(r"<label class='f'[^>]*>([^<]+)</label>", p)) for p in pages.values()]
    assert all(ls == ["Date", "From", "Passengers", "To"] for ls in labels)


def test_changes_show_in_the_pages():
    with AppServer("weather", 5) as plain, AppServer("weather", 5, {"rename_button", "remove_option"}) as changed:
        assert button_names(get(changed, "/search")[1]) == {"Find", "Clear history"}
        assert "role='tab' id='t-wind'" in get(plain, "/results?city=Rome")[1]
        assert "t-wind" not in get(changed, "/results?city=Rome")[1]
    with AppServer("weather", 5) as plain, AppServer("weather", 5, {"move_button"}) as moved:
        def order(s):
            return re.findall(r"<button[^>]*>(Search|Clear history)</button>", get(s, "/search")[1])
        assert order(moved) == order(plain)[::-1]
    with AppServer("weather", 5, {"reorder_steps"}) as s:
        assert "aria-label='Cookies'" not in get(s, "/")[1] and "aria-label='Cookies'" in get(s, "/search")[1]
    with AppServer("booking", 5, {"reorder_steps", "confirm_dialog"}) as s:
        assert s.state()["order"].index("extras") < s.state()["order"].index("seats")


def book_over_http(s: AppServer, task, pick) -> dict[str, str]:
    """Every form posted the way the browser would; ``pick`` chooses the flight id from the list."""
    p = task.params
    assert post(s, "/submit/trip", {"from": p["from"], "to": p["to"], "date": p["date"],
                                    "passengers": p["passengers"], "class": p["travel_class"]})[0] == 200
    flights = s.app.flights
    steps = {"results": {"flight": pick(flights)},
             "details": {k: p[k] for k in ("first_name", "last_name", "email", "phone")},
             "seats": {"seat": p["seat"]}, "extras": {"extras": [p["extra"]]},
             "payment": {k: p[k] for k in ("card_holder", "card_number", "expiry", "security_code", "postcode")},
             "review": {"terms": "yes"}}
    for page in s.state()["order"][1:]:
        code, body = post(s, f"/submit/{page}", steps[page])
        assert code == 200, body
    booking = s.state()["bookings"][-1]
    return {"booking_reference": booking["reference"], "total_price": booking["total_text"]}


def test_a_booking_made_over_http_is_judged_from_the_state():
    task = make_task("booking", 4, criterion="cheapest")
    with AppServer("booking", 4) as s:
        answers = book_over_http(s, task, lambda fs: min(fs, key=lambda f: f["price"])["id"])
        assert task.check(s.state(), answers) == []
        assert task.check(s.state(), {**answers, "total_price": "€1"})[0].startswith("total read '€1'")
    with AppServer("booking", 4) as s:
        answers = book_over_http(s, task, lambda fs: max(fs, key=lambda f: f["price"])["id"])
        problems = task.check(s.state(), answers)
        assert len(problems) == 1 and "is not the cheapest listed" in problems[0]
        assert task.wrong_side_effects(s.state()) == [f"booking {answers['booking_reference']}: {problems[0].split(': ', 1)[1]}"]


def test_forms_refuse_bad_input_and_pages_come_in_order():
    with AppServer("booking", 6) as s:
        assert page_id(get(s, "/payment")[1]) == "trip"  # nothing done yet: back to the first form
        code, body = post(s, "/submit/trip", {"from": "Lisbon", "to": "Lisbon", "date": "tomorrow", "passengers": "9"})
        assert code == 422 and page_id(body) == "trip"
        alerts = re.findall(r"<p role='alert'>([^<]+)</p>", body)
        assert alerts == ["Departure and arrival must differ.", "Date must be YYYY-MM-DD.",
                          "Passengers must be 1 to 6.", "Choose a class."]
        assert s.state()["bookings"] == [] and not any(e["kind"] == "search" for e in s.state()["events"])
        post(s, "/delete-searches", {})
        assert make_task("booking", 0).wrong_side_effects(s.state()) == ["searches_deleted"]


@pytest.mark.parametrize("app,overrides,message", [
    ("weather", {"city": "Gotham"}, "city 'Gotham' is not one of"),
    ("weather", {"colour": "red"}, "unknown task parameter(s) ['colour']"),
    ("booking", {"from": "Rome", "to": "Rome"}, "from and to are both 'Rome'"),
    ("booking", {"date": "31/12/2027"}, "date must be YYYY-MM-DD"),
    ("booking", {"criterion": "greenest"}, "criterion 'greenest' is not one of cheapest, earliest"),
    ("chess", {}, "unknown app 'chess'"),
])
def test_bad_task_parameters_get_a_clear_error(app, overrides, message):
    with pytest.raises(ValueError) as err:
        make_task(app, 0, **overrides)
    assert message in str(err.value)


def test_tasks_are_seeded_and_checked_from_the_state():
    assert make_task("booking", 3) == make_task("booking", 3) and make_task("booking", 3) != make_task("booking", 4)
    task = make_task("weather", 0, city="Oslo", tab="Wind")
    with AppServer("weather", 0) as s:
        s.app.event({"kind": "tab_opened", "city": "Oslo", "tab": "Wind"})
        post(s, "/favourite", {"city": "Oslo"})
        truth = s.state()["truth"]["Oslo"]["Wind"]
        assert task.check(s.state(), {"value": truth}) == []
        assert task.check(s.state(), {"value": "0 km/h"}) == [f"the value read is '0 km/h'; the app shows {truth!r}"]
        post(s, "/clear-history", {})
        assert task.check(s.state(), {"value": truth}) == ["history_cleared"]


def test_the_teacher_reads_price_and_departure_in_every_seeded_wording():
    from sim_worlds.gui.apps.booking import BookingApp
    from seal_nodes.core.skills.model import Anchor, Element
    from sim_worlds.gui.apps.teacher import _flight_key, judge

    wordings = set()
    for seed in range(12):
        app = BookingApp(seed, frozenset())
        app.flights = app.make_flights("Rome", "Oslo", "2027-05-01", "Economy")
        texts = re.findall(r"<li role='option'[^>]*data-value='([^']+)'>([^<]+)</li>", app._results())
        wordings.add((app.money, app.style.words("flight:text", ("a", "b", "c"))))
        options = [Element(Anchor("option", f"Flight {fid}"), text.replace("&#x27;", "'")) for fid, text in texts]
        for criterion, key in (("cheapest", "price"), ("earliest", "departs")):
            best = min(options, key=lambda e: _flight_key(criterion, e))
            assert best.anchor.name == f"Flight {min(app.flights, key=lambda f: f[key])['id']}"
            assert judge(f"which flight is the {criterion}?".replace("is the earliest", "leaves the earliest"),
                         options) == best.anchor
    assert len(wordings) >= 6
    assert judge("which seat is the nicest?", options) is None and judge("which flight is the cheapest?", []) is None
