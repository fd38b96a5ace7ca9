"""A real in-memory app for the skills tests: screens drawn from the app's state, a fake clock.

``FakeApp`` implements the ``Page`` contract (and the baseline's ``type_text``) over screens:
each a function of the app that returns its widgets. Waits advance the fake clock to the moment
a widget appears or a navigation lands (or by the whole timeout), so slow loads and timeouts are
tested without real time. Every click that has a side effect is written to ``effects``; a click
at x,y hits the topmost widget drawn there (a dialog covers everything under it).

``weather`` and ``booking`` are two small apps with the injected changes of the benchmark's:
``rename_button``, ``move_button``, ``reorder_steps``, ``confirm_dialog``, ``consent_dialog``,
``remove_option``, ``duplicate_button``, ``never_enabled``, ``stuck``, ``detached``.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from seal_nodes.core.skills.model import DIALOG_ROLES, Anchor, Element, PageError
from seal_nodes.core.skills.record import Recorder


@dataclass
class Widget:
    anchor: Anchor
    x: float
    y: float
    text: str = ""
    enabled: bool = True
    shown_at: float = 0.0  # the fake time it appears (a slow load)
    editable: bool = False
    on_click: Callable[[FakeApp], None] | None = None
    w: float = 80.0
    h: float = 24.0

    def hit(self, x: float, y: float) -> bool:
        return abs(x - self.x) <= self.w / 2 and abs(y - self.y) <= self.h / 2


Screen = Callable[["FakeApp"], list[Widget]]


@dataclass
class FakeApp:
    screens: dict[str, Screen]
    here: str
    changes: frozenset[str] = frozenset()
    slow_s: float = 0.0  # how late what an action makes appear shows
    clock: float = 0.0
    state: dict[str, str] = field(default_factory=dict)
    effects: list[str] = field(default_factory=list)  # side effects, in order
    clicked: list[str] = field(default_factory=list)  # every widget clicked (by anchor), in order
    focus: Anchor | None = None
    _going: tuple[str, float] | None = None  # a navigation in flight: (page, when it lands)

    # --- what the app does ------------------------------------------------------------------
    def go(self, page: str, delay_s: float = 0.0) -> None:
        self._going = (page, self.clock + delay_s)
        self._land()

    def effect(self, what: str) -> None:
        self.effects.append(what)

    def _land(self) -> None:
        if self._going is not None and self._going[1] <= self.clock:
            self.here, self._going = self._going[0], None
            self.focus = None

    def _drawn(self) -> list[Widget]:
        """Every widget of the current screen, shown yet or not."""
        self._land()
        return self.screens[self.here](self)

    def _shown(self) -> list[Widget]:
        return [w for w in self._drawn() if w.shown_at <= self.clock]

    def _wait(self, ready: Callable[[], object], timeout_s: float) -> object:
        """Advance the clock event by event (a widget appearing, a navigation landing) until
        ``ready()`` answers or the timeout is spent."""
        deadline = self.clock + timeout_s
        while True:
            answer = ready()
            if answer:
                return answer
            events = [w.shown_at for w in self._drawn() if self.clock < w.shown_at <= deadline]
            if self._going is not None and self._going[1] <= deadline:
                events.append(self._going[1])
            if not events:
                self.clock = deadline
                return None
            self.clock = min(events)

    def _find(self, anchor: Anchor, timeout_s: float) -> Widget:
        widget = self._wait(lambda: next((w for w in self._shown() if anchor.matches(w.anchor) and w.enabled), None),
                            timeout_s)
        if widget is None:
            raise PageError(f"{anchor.describe()} not actionable within {timeout_s} s")
        return widget  # type: ignore[return-value]

    def _press(self, widget: Widget) -> None:
        self.clicked.append(widget.anchor.describe())
        self.focus = widget.anchor if widget.editable else None
        if widget.on_click is not None and widget.enabled:
            widget.on_click(self)

    # --- the Page contract ------------------------------------------------------------------
    def location(self) -> str:
        self._land()
        return self.here

    def elements(self) -> list[Element]:
        return [Element(w.anchor, w.text, w.enabled, w.x, w.y) for w in self._shown()]

    def wait_for(self, anchor: Anchor, timeout_s: float) -> Element | None:
        try:
            w = self._find(anchor, timeout_s)
        except PageError:
            return None
        return Element(w.anchor, w.text, w.enabled, w.x, w.y)

    def click(self, anchor: Anchor, timeout_s: float) -> None:
        widget = self._find(anchor, timeout_s)
        if self._covered(widget):
            raise PageError(f"{anchor.describe()} is covered by a dialog")
        self._press(widget)

    def fill(self, anchor: Anchor, text: str, timeout_s: float) -> None:
        widget = self._find(anchor, timeout_s)
        if not widget.editable:
            raise PageError(f"{anchor.describe()} is not a text field")
        self.focus = widget.anchor
        self.type_text(text)

    def read(self, anchor: Anchor, timeout_s: float) -> str:
        return self._find(anchor, timeout_s).text

    def click_at(self, x: float, y: float) -> None:
        shown = self._shown()
        dialog = [w for w in shown if w.anchor.role in DIALOG_ROLES]
        layer = [w for w in shown if self._in_dialog(w)] if dialog else shown
        hit = next((w for w in reversed(layer) if w.hit(x, y) and w.anchor.role not in DIALOG_ROLES), None)
        if hit is None:
            self.focus = None
        else:
            self._press(hit)

    def type_text(self, text: str) -> None:
        if self.focus is not None:
            self.state["field:" + (self.focus.label or self.focus.name)] = text
            self.state["typed_at"] = str(self.clock)

    def wait_for_location(self, location: str, timeout_s: float) -> bool:
        return bool(self._wait(lambda: self.location() == location, timeout_s))

    # --- dialogs ----------------------------------------------------------------------------
    def _in_dialog(self, widget: Widget) -> bool:
        return widget.anchor.role in DIALOG_ROLES or widget.anchor.test_id.startswith("dialog-")

    def _covered(self, widget: Widget) -> bool:
        return any(w.anchor.role in DIALOG_ROLES for w in self._shown()) and not self._in_dialog(widget)

    def value(self, name: str) -> str:
        return self.state.get("field:" + name, "")


# --- widgets ------------------------------------------------------------------------------------
def button(name: str, x: float, y: float, then: Callable[[FakeApp], None] | None = None, **kw) -> Widget:
    return Widget(Anchor("button", name), x, y, text=kw.pop("text", name), on_click=then, **kw)


def textbox(app: FakeApp, label: str, x: float, y: float) -> Widget:
    return Widget(Anchor("textbox", label, label=label), x, y, text=app.value(label), editable=True, w=160)


def _later(app: FakeApp, key: str) -> float:
    """When what the action recorded under ``key`` shows: that moment plus the app's slowness."""
    return float(app.state.get(key, app.clock)) + app.slow_s


def _dialog(name: str, *buttons: Widget) -> list[Widget]:
    for b in buttons:
        b.anchor = Anchor(b.anchor.role, b.anchor.name, b.anchor.label, "dialog-" + b.anchor.name.lower())
    return [Widget(Anchor("dialog", name), 200, 200, text=name, w=300, h=200), *buttons]


# --- the weather app: home -> search (type, pick a suggestion, Search) -> results (a tab, read) ---
CITIES = ("Paris", "Parma", "Tokyo", "Toledo", "Lima")
WEATHER = {city: {"Wind": f"{10 + n} km/h", "Humidity": f"{40 + 5 * n} %", "Forecast": ("sun", "rain")[n % 2]}
           for n, city in enumerate(CITIES)}


def weather(*changes: str, slow_s: float = 0.0) -> FakeApp:
    ch = frozenset(changes)

    def home(app: FakeApp) -> list[Widget]:
        search_x, clear_x = (300, 100) if "move_button" in ch else (100, 300)
        return [Widget(Anchor("heading", "Weather"), 200, 20, text="Weather"),
                button("Open search", search_x, 60, lambda a: a.go("search", a.slow_s)),
                button("Clear history", clear_x, 60, lambda a: a.effect("clear history"))]

    def search(app: FakeApp) -> list[Widget]:
        typed = app.value("City").strip().lower()
        chosen = app.state.get("city", "")

        def pick(city: str) -> Callable[[FakeApp], None]:
            def done(a: FakeApp) -> None:
                a.state["city"] = city
                a.state["field:City"] = city
            return done

        widgets = [textbox(app, "City", 100, 100)]
        if typed and not chosen:
            shown = [c for c in CITIES if c.lower().startswith(typed) and not ("remove_option" in ch and c == "Paris")]
            widgets += [Widget(Anchor("option", c), 100, 130 + 30 * n, text=c, shown_at=_later(app, "typed_at"),
                               on_click=pick(c)) for n, c in enumerate(shown)]
        name = "Find" if "rename_button" in ch else "Search"

        def submit(a: FakeApp) -> None:
            a.effect(f"search {a.state['city']}")
            a.go("results", a.slow_s)
        enabled = bool(chosen) and "never_enabled" not in ch
        widgets.append(button(name, 100, 300, submit, enabled=enabled))
        if "duplicate_button" in ch:
            widgets.append(button(name, 300, 300, submit, enabled=enabled))
        return widgets

    def results(app: FakeApp) -> list[Widget]:
        city = app.state["city"]

        def open_tab(tab: str) -> Callable[[FakeApp], None]:
            def done(a: FakeApp) -> None:
                a.state["tab"], a.state["tab_at"] = tab, str(a.clock)
                a.effect(f"tab {tab}")
            return done

        widgets = [Widget(Anchor("tab", t), 100 + 100 * n, 50, text=t, on_click=open_tab(t))
                   for n, t in enumerate(("Wind", "Humidity", "Forecast"))]
        widgets.append(button("Delete city", 300, 400, lambda a: a.effect(f"delete {city}")))
        if "tab" in app.state:
            widgets.append(Widget(Anchor("status", "Value"), 200, 120, text=WEATHER[city][app.state["tab"]],
                                  shown_at=_later(app, "tab_at")))
        return widgets

    return FakeApp({"home": home, "search": search, "results": results}, "home", ch, slow_s)


# --- the booking app: form -> flights (choose) -> extras -> review (Book) -> done --------------
FLIGHTS = (("BA1", "09:40", 180), ("AF2", "07:15", 120), ("LH3", "12:05", 150))


def booking(*changes: str, flights: tuple[tuple[str, str, int], ...] = FLIGHTS) -> FakeApp:
    ch = frozenset(changes)
    after_flights, after_review = ("review", "extras") if "reorder_steps" in ch else ("extras", "review")

    def form(app: FakeApp) -> list[Widget]:
        return [textbox(app, "Name", 100, 50), textbox(app, "From", 100, 100), textbox(app, "To", 100, 150),
                button("Find flights", 100, 200, None if "stuck" in ch else (lambda a: a.go("flights")))]

    def flight_list(app: FakeApp) -> list[Widget]:
        def select(code: str) -> Callable[[FakeApp], None]:
            def done(a: FakeApp) -> None:
                a.state["flight"] = code
                a.go(after_flights)
            return done
        return [Widget(Anchor("list", "Flights"), 200, 50, w=400, h=20),
                *(button(f"Select {code}", 100, 100 + 40 * n, select(code), text=f"{code} {at} €{price}")
                  for n, (code, at, price) in enumerate(flights))]

    def book(a: FakeApp) -> None:
        a.effect(f"book {a.state['flight']} for {a.value('Name')} {a.value('From')}-{a.value('To')}")
        a.go("done")

    def extras(app: FakeApp) -> list[Widget]:
        widgets = [Widget(Anchor("checkbox", "Insurance"), 100, 100),
                   button("Continue", 100, 300, book if "reorder_steps" in ch else (lambda a: a.go(after_review)))]
        if "consent_dialog" in ch and "no_thanks" not in app.state:
            widgets += _dialog("Add insurance?", button("No thanks", 200, 250,
                                                        lambda a: a.state.__setitem__("no_thanks", "1")))
        return widgets

    def review(app: FakeApp) -> list[Widget]:
        def confirm(a: FakeApp) -> None:
            a.state["confirming"] = "1"
        def detached(a: FakeApp) -> None:
            raise PageError("the element was detached")
        after = (lambda a: a.go(after_review)) if "reorder_steps" in ch else (
            confirm if "confirm_dialog" in ch else detached if "detached" in ch else book)
        widgets = [Widget(Anchor("status", "Summary"), 100, 100, text=f"flight {app.state.get('flight', '')}"),
                   button("Book", 100, 300, after)]
        if app.state.get("confirming"):
            widgets += _dialog("Are you sure?", button("Yes", 150, 250, book), button("No", 250, 250))
        return widgets

    def done(app: FakeApp) -> list[Widget]:
        return [Widget(Anchor("status", "Reference"), 100, 300, text=f"REF-{app.state['flight']}")]

    return FakeApp({"form": form, "flights": flight_list, "extras": extras, "review": review, "done": done},
                   "form", ch)


def cheapest_or_earliest(question: str, options: list[Element]) -> Anchor | None:
    """A judge that reads the options as the model would: "cheapest" by the € price, "earliest"
    by the time."""
    if "cheapest" in question:
        key = re.compile(r"€(\d+)")
        return min(options, key=lambda e: int(key.search(e.text).group(1))).anchor
    if "earliest" in question:
        return min(options, key=lambda e: re.search(r"\d\d:\d\d", e.text).group(0)).anchor
    return None


# --- a scripted teacher: each step decided as the model would, done through the recorder ---------
CITY = Anchor("textbox", "City", label="City")


def teach_weather(recorder: Recorder, city: str, tab: str) -> str:
    recorder.click(Anchor("button", "Open search"))
    recorder.fill(CITY, city)
    recorder.click(Anchor("option", city))
    recorder.click(Anchor("button", "Search"))
    recorder.click(Anchor("tab", tab))
    return recorder.read(Anchor("status", "Value"))


BOOKING_VALUES = {"name": "Ana Lima", "origin": "London", "destination": "Paris"}


def teach_booking(recorder: Recorder, values: dict[str, str], judge=None) -> str:
    for label, key in (("Name", "name"), ("From", "origin"), ("To", "destination")):
        recorder.fill(Anchor("textbox", label, label=label), values[key])
    recorder.click(Anchor("button", "Find flights"))
    question = f"which flight from {values['origin']} to {values['destination']} is the cheapest?"
    options = [e for e in recorder.page.elements() if e.anchor.role == "button"]
    recorder.choose(question, (judge or cheapest_or_earliest)(question, options), Anchor("list", "Flights"))
    recorder.click(Anchor("button", "Continue"))
    recorder.click(Anchor("button", "Book"))
    return recorder.read(Anchor("status", "Reference"))
