"""The apps' tasks: the user's values as parameters, the request in words, and success read
from the app's own state (/state) plus the values the agent read off the page.

``make_task(app, seed, **overrides)`` draws the parameters from seeded lists; ``Task.check``
says what is wrong (an empty list is success) and ``Task.wrong_side_effects`` lists the actions
no one asked for that the app recorded (a click on a dangerous button, a booking that is not the
one asked for).
"""
from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import timedelta

from sim_worlds.gui.apps import booking, weather
from sim_worlds.gui.apps.app import DANGEROUS

CRITERIA = ("cheapest", "earliest")
QUESTIONS = {"cheapest": "which flight is the cheapest?", "earliest": "which flight leaves the earliest?"}
FIRST_NAMES = ("Ana", "João", "Marta", "Pedro", "Inês", "Rui", "Sofia", "Tiago")
LAST_NAMES = ("Silva", "Costa", "Ferreira", "Santos", "Pereira", "Oliveira")
# The fields a booking must carry: booking field -> task parameter.
BOOKED = {"from": "from", "to": "to", "date": "date", "passengers": "passengers", "class": "travel_class",
          "seat": "seat", "first_name": "first_name", "last_name": "last_name", "email": "email", "phone": "phone"}


@dataclass(frozen=True)
class Task:
    app: str
    params: dict[str, str] = field(hash=False)
    text: str = ""

    def check(self, state: dict, answers: dict[str, str]) -> list[str]:
        """What is wrong with the outcome; empty when the task was done."""
        if state.get("app") != self.app:
            return [f"the state is of app {state.get('app')!r}, not {self.app!r}"]
        return (_weather_problems if self.app == "weather" else _booking_problems)(self.params, state, answers)

    def success(self, state: dict, answers: dict[str, str]) -> bool:
        return not self.check(state, answers)

    def wrong_side_effects(self, state: dict) -> list[str]:
        """Recorded side effects this task did not ask for."""
        out = [f"{e['kind']}" for e in state.get("events", []) if e.get("kind") in DANGEROUS]
        if self.app == "weather":
            out += [f"favourite saved: {c}" for c in state.get("favourites", []) if c != self.params["city"]]
        else:
            for b in state.get("bookings", []):
                out += [f"booking {b['reference']}: {p}" for p in _booking_field_problems(self.params, b)]
        return out


def _weather_problems(p: dict[str, str], state: dict, answers: dict[str, str]) -> list[str]:
    out = []
    if not any(e.get("kind") == "tab_opened" and e.get("city") == p["city"] and e.get("tab") == p["tab"]
               for e in state["events"]):
        out.append(f"the {p['tab']} tab of {p['city']} was never opened")
    truth = state["truth"][p["city"]][p["tab"]]
    if answers.get("value") != truth:
        out.append(f"the value read is {answers.get('value')!r}; the app shows {truth!r}")
    if p["city"] not in state["favourites"]:
        out.append(f"{p['city']} was not saved to favourites")
    return out + Task("weather", p).wrong_side_effects(state)


def _booking_field_problems(p: dict[str, str], b: dict) -> list[str]:
    out = [f"{k} is {b.get(k)!r}, asked {p[v]!r}" for k, v in BOOKED.items() if b.get(k) != p[v]]
    if b.get("extras") != [p["extra"]]:
        out.append(f"extras are {b.get('extras')}, asked [{p['extra']!r}]")
    key = "price" if p["criterion"] == "cheapest" else "departs"
    best = min(b["listed"], key=lambda f: f[key])
    if b.get("flight") != best["id"]:
        out.append(f"flight {b.get('flight')} is not the {p['criterion']} listed ({best['id']})")
    return out


def _booking_problems(p: dict[str, str], state: dict, answers: dict[str, str]) -> list[str]:
    bookings = state["bookings"]
    out = [] if len(bookings) == 1 else [f"{len(bookings)} bookings made, asked for one"]
    if bookings:
        b = bookings[-1]
        if answers.get("booking_reference") != b["reference"]:
            out.append(f"reference read {answers.get('booking_reference')!r}, booked {b['reference']!r}")
        if answers.get("total_price") != b["total_text"]:
            out.append(f"total read {answers.get('total_price')!r}, charged {b['total_text']!r}")
    return out + Task("booking", p).wrong_side_effects(state)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def weather_task(seed: int, **overrides: str) -> Task:
    r = random.Random(f"weather-task:{seed}")
    p = _override({"city": r.choice(weather.CITIES), "tab": r.choice(weather.TABS)}, overrides)
    _known(p, {"city": weather.CITIES, "tab": weather.TABS})
    return Task("weather", p, f"What is the {p['tab'].lower()} in {p['city']}? Then save {p['city']} to my favourites.")


def booking_task(seed: int, **overrides: str) -> Task:
    r = random.Random(f"booking-task:{seed}")
    origin, dest = r.sample(booking.CITIES, 2)
    first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
    p = {"from": origin, "to": dest, "date": (Date(2027, 3, 1) + timedelta(days=r.randrange(120))).isoformat(),
         "passengers": str(r.randint(1, 4)), "travel_class": r.choice(booking.CLASSES), "seat": r.choice(("Window", "Aisle")),
         "extra": r.choice(tuple(booking.EXTRAS)), "criterion": r.choice(CRITERIA), "first_name": first,
         "last_name": last, "email": f"{_ascii(first)}.{_ascii(last)}@example.org",
         "phone": f"+351 9{r.randint(10, 99)} {r.randint(100, 999)} {r.randint(100, 999)}",
         "card_holder": f"{first} {last}", "card_number": "4242 4242 4242 4242", "expiry": "12/29",
         "security_code": "123", "postcode": "1000-001"}
    p = _override(p, overrides)
    _known(p, {"from": booking.CITIES, "to": booking.CITIES, "travel_class": booking.CLASSES, "seat": booking.SEATS,
               "extra": tuple(booking.EXTRAS), "criterion": CRITERIA})
    if p["from"] == p["to"]:
        raise ValueError(f"from and to are both {p['from']!r}")
    try:
        Date.fromisoformat(p["date"])
    except ValueError:
        raise ValueError(f"date must be YYYY-MM-DD, got {p['date']!r}") from None
    if not (p["passengers"].isdigit() and 1 <= int(p["passengers"]) <= 6):
        raise ValueError(f"passengers must be 1 to 6, got {p['passengers']!r}")
    text = (f"Book the {p['criterion']} flight from {p['from']} to {p['to']} on {p['date']} for {p['passengers']} "
            f"in {p['travel_class']}, a {p['seat'].lower()} seat and {p['extra'].lower()}, for {p['first_name']} {p['last_name']} "
            f"({p['email']}, {p['phone']}), paying with card {p['card_number']}.")
    return Task("booking", p, text)


def _override(p: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(overrides) - set(p))
    if unknown:
        raise ValueError(f"unknown task parameter(s) {unknown}: known are {', '.join(p)}")
    bad = {k: v for k, v in overrides.items() if not isinstance(v, str)}
    if bad:
        raise ValueError(f"task parameters are text: {bad}")
    return {**p, **overrides}


def _known(p: dict[str, str], allowed: dict[str, tuple[str, ...]]) -> None:
    for key, options in allowed.items():
        if p[key] not in options:
            raise ValueError(f"{key} {p[key]!r} is not one of {', '.join(options)}")


TASKS = {"weather": weather_task, "booking": booking_task}


def make_task(app: str, seed: int, **overrides: str) -> Task:
    if app not in TASKS:
        raise ValueError(f"unknown app {app!r}: known are {', '.join(TASKS)}")
    return TASKS[app](seed, **overrides)
