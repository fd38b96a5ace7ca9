"""The scripted model: the next step a perfect model would take, decided from the page it sees
and the task. It knows the apps (their pages and what each needs) but not their seeds: it reads
where things are, what is filled, ticked or chosen, and it names elements by their anchors.

It recovers as a model would from what it sees: a cookie banner on any page is accepted first,
an "Are you sure?" dialog after its own action is confirmed, the search button is found by what
it does ("Search", "Find", …), pages are handled in whatever order they come. The judgement
step ("the cheapest", "the earliest") is a ``choose``: the question, the list and the option
picked from the options' own text. When the page cannot do the task (an option it needs is
gone) it raises ``Infeasible`` rather than do anything else.

``done``: the steps taken so far in this task (by anyone, a skill replay included; anything
with ``op`` and ``anchor``): only reads leave no trace on the page, so only they are looked up.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from seal_nodes.core.skills.model import Anchor, Element, Page, PageError
from sim_worlds.gui.apps.tasks import QUESTIONS, Task

SEARCH_WORDS = ("search", "find", "look", "go")  # the first word of a button that runs a search
CONFIRM_WORDS = ("confirm", "yes", "ok")
ACCEPT_WORDS = ("accept", "agree", "ok")
_PRICE = re.compile(r"€\s?(\d+)|(\d+)\s?EUR|EUR\s?(\d+)")
_TIME = re.compile(r"\b(\d\d):(\d\d)\b")


class Infeasible(RuntimeError):
    """The task cannot be done on this page (what it needs is not offered)."""


@dataclass(frozen=True)
class TeacherStep:
    op: str  # click, fill, read, choose
    anchor: Anchor  # choose: the list the options are in
    value: str = ""  # fill: the text typed
    param: str = ""  # fill: the task parameter the text is ("" when literal)
    output: str = ""  # read: the name the value read is returned under
    question: str = ""  # choose: what the model decided
    choice_role: str = ""  # choose: the role of the options
    chosen: Anchor | None = None  # choose: the option picked (the one to click)


@dataclass
class View:
    """One look at the page."""

    page: Page
    location: str = ""
    elements: list[Element] = field(default_factory=list)

    @classmethod
    def of(cls, page: Page) -> View:
        return cls(page, page.location(), page.elements())

    def find(self, role: str, name: str = "", label: str = "") -> Element | None:
        return next((e for e in self.elements if e.anchor.role == role and (not name or e.anchor.name == name)
                     and (not label or e.anchor.label == label)), None)

    def by_first_word(self, role: str, words: tuple[str, ...], after: Element | None = None) -> Element | None:
        """The first element of ``role`` whose name starts with one of ``words`` (after ``after``
        in document order, e.g. inside a dialog)."""
        start = self.elements.index(after) + 1 if after is not None else 0
        return next((e for e in self.elements[start:] if e.anchor.role == role and e.anchor.name
                     and e.anchor.name.split()[0].lower() in words), None)

    def names(self, role: str) -> list[str]:
        return [e.anchor.name for e in self.elements if e.anchor.role == role]


def click(e: Element) -> TeacherStep:
    return TeacherStep("click", e.anchor)


def _was_read(done: Sequence[object], name: str) -> bool:
    return any(getattr(s, "op", "") == "read" and getattr(getattr(s, "anchor", None), "name", "") == name for s in done)


def _need(view: View, role: str, name: str, timeout_s: float) -> Element:
    """The element, waited for (it may load late); ``Infeasible`` when the page never shows it."""
    e = view.find(role, name) or view.page.wait_for(Anchor(role, name), timeout_s)
    if e is None:
        raise Infeasible(f"the {view.location} page offers no {role} {name!r} (it has: "
                         f"{', '.join(view.names(role)) or 'none'})")
    return e


def _fill_or_none(view: View, label: str, value: str, param: str) -> TeacherStep | None:
    box = view.find("textbox", label=label) or view.find("spinbutton", label=label)
    if box is None:
        raise Infeasible(f"the {view.location} page has no field labelled {label!r}")
    return None if box.text == value else TeacherStep("fill", box.anchor, value, param)


def _pick(view: View, chip: str, value: str, timeout_s: float) -> TeacherStep | None:
    """A suggestion picked from its list, unless the chip already shows it."""
    shown = view.find("status", chip)
    if shown is not None and shown.text == value:
        return None
    return click(_need(view, "option", value, timeout_s))


def _dialogs(view: View) -> TeacherStep | None:
    """A cookie banner is accepted; any other dialog came from the teacher's own last action (the
    side effect it meant), so it is confirmed."""
    for dialog in [e for e in view.elements if e.anchor.role in ("dialog", "alertdialog")]:
        words = ACCEPT_WORDS if dialog.anchor.name == "Cookies" else CONFIRM_WORDS
        button = view.by_first_word("button", words, after=dialog)
        if button is None:
            raise Infeasible(f"the dialog {dialog.anchor.name!r} has no button to go on with")
        return click(button)
    return None


def _continue(view: View) -> TeacherStep:
    button = view.find("button", "Continue")
    if button is None:
        raise Infeasible(f"the {view.location} page has no Continue button")
    return click(button)


# --- weather -------------------------------------------------------------------------------------
def _weather(task: Task, view: View, done: Sequence[object], timeout_s: float) -> TeacherStep | None:
    city, tab = task.params["city"], task.params["tab"]
    loc = view.location
    if loc == "home":
        return click(_need(view, "link", "Open search", timeout_s))
    if loc == "search":
        step = _fill_or_none(view, "City", city, "city") or _pick(view, "City choice", city, timeout_s)
        if step:
            return step
        button = view.by_first_word("button", SEARCH_WORDS)
        if button is None:
            raise Infeasible(f"the search page has no search button (buttons: {', '.join(view.names('button'))})")
        return click(button)
    if loc == "results":
        if not any(city in e.text for e in view.elements if e.anchor.role == "heading"):
            return click(_need(view, "link", "New search", timeout_s))
        if view.find("tabpanel", tab) is None:
            return click(_need(view, "tab", tab, timeout_s))
        if not _was_read(done, f"{tab} value"):
            value = view.page.wait_for(Anchor("status", f"{tab} value"), timeout_s)
            if value is None:
                raise PageError(f"the {tab} value of {city} never loaded")
            return TeacherStep("read", value.anchor, output="value")
        return click(_need(view, "button", "Save to favourites", timeout_s))
    if loc == "favourites":
        if any(e.anchor.role == "listitem" and e.text == city for e in view.elements):
            return None
        return click(_need(view, "link", "New search", timeout_s))
    raise Infeasible(f"the weather app shows an unknown page {loc!r}")


# --- booking -------------------------------------------------------------------------------------
def _flight_key(criterion: str, e: Element) -> tuple[int, int]:
    price = _PRICE.search(e.text)
    hour = _TIME.search(e.text)
    if price is None or hour is None:
        raise Infeasible(f"cannot read a price and a departure time in {e.text!r}")
    euros = int(next(g for g in price.groups() if g))
    minutes = int(hour.group(1)) * 60 + int(hour.group(2))
    return (euros, minutes) if criterion == "cheapest" else (minutes, euros)


def _booking(task: Task, view: View, done: Sequence[object], timeout_s: float) -> TeacherStep | None:
    p = task.params
    loc = view.location
    if loc == "home":
        return click(_need(view, "link", "Book a flight", timeout_s))
    if loc == "trip":
        for box in [e for e in view.elements if e.anchor.role in ("textbox", "spinbutton")]:
            key = {"From": "from", "To": "to", "Date": "date", "Passengers": "passengers"}.get(box.anchor.label)
            if key is None:
                continue
            step = _fill_or_none(view, box.anchor.label, p[key], key)
            if key in ("from", "to"):
                step = step or _pick(view, f"{box.anchor.label} choice", p[key], timeout_s)
            if step:
                return step
        radio = _need(view, "radio", p["travel_class"], timeout_s)
        if radio.text != "checked":
            return click(radio)
        button = view.by_first_word("button", SEARCH_WORDS)
        if button is None:
            raise Infeasible(f"the trip page has no search button (buttons: {', '.join(view.names('button'))})")
        return click(button)
    if loc == "results":
        flights = _need(view, "listbox", "Flights", timeout_s)
        options = [e for e in View.of(view.page).elements if e.anchor.role == "option"]
        if not options:
            raise Infeasible("no flights are listed")
        best = min(options, key=lambda e: _flight_key(p["criterion"], e))
        chip = view.find("status", "Selected flight")
        if chip is None or chip.text != best.anchor.name.removeprefix("Flight "):
            return TeacherStep("choose", flights.anchor, question=QUESTIONS[p["criterion"]], choice_role="option",
                               chosen=best.anchor)
        return _continue(view)
    fields = {"details": {"First name": "first_name", "Last name": "last_name", "Email": "email", "Phone": "phone"},
              "payment": {"Card holder": "card_holder", "Card number": "card_number", "Expiry date": "expiry",
                          "Security code": "security_code", "Billing postcode": "postcode"}}
    if loc in fields:
        if loc == "payment":  # the card form may load late
            view = View.of(view.page) if view.page.wait_for(Anchor("textbox", "Card holder"), timeout_s) else view
        for box in [e for e in view.elements if e.anchor.label in fields[loc]]:
            key = fields[loc][box.anchor.label]
            step = _fill_or_none(view, box.anchor.label, p[key], key)
            if step:
                return step
        return _continue(view)
    if loc == "seats":
        seat = _need(view, "radio", p["seat"], timeout_s)
        return click(seat) if seat.text != "checked" else _continue(view)
    if loc == "extras":
        for box in [e for e in view.elements if e.anchor.role == "checkbox"]:
            if (box.text == "checked") != (box.anchor.name == p["extra"]):
                return click(box)
        _need(view, "checkbox", p["extra"], timeout_s)
        return _continue(view)
    if loc == "review":
        if not _was_read(done, "Total price"):
            return TeacherStep("read", _need(view, "status", "Total price", timeout_s).anchor, output="total_price")
        terms = _need(view, "checkbox", "I accept the terms", timeout_s)
        if terms.text != "checked":
            return click(terms)
        return click(_need(view, "button", "Book now", timeout_s))
    if loc == "confirmation":
        if _was_read(done, "Booking reference"):
            return None
        return TeacherStep("read", _need(view, "status", "Booking reference", timeout_s).anchor,
                           output="booking_reference")
    raise Infeasible(f"the booking app shows an unknown page {loc!r}")


def judge(question: str, options: list[Element]) -> Anchor | None:
    """A judgement step's answer, as the model would give it: the cheapest or the earliest of the
    listed flights; None for a question it does not know or a list it cannot read."""
    criterion = next((c for c in ("cheapest", "earliest") if c in question.lower()), None)
    if criterion is None or not options:
        return None
    try:
        return min(options, key=lambda e: _flight_key(criterion, e)).anchor
    except Infeasible:
        return None


def next_step(task: Task, page: Page, done: Sequence[object] = (), timeout_s: float = 5.0) -> TeacherStep | None:
    """The step to take now, or None when the task is done. Elements that load late are waited
    for (up to ``timeout_s``) before it decides."""
    view = View.of(page)
    step = _dialogs(view)
    if step:
        return step
    return (_weather if task.app == "weather" else _booking)(task, view, done, timeout_s)


def perform(step: TeacherStep, page: Page, timeout_s: float = 5.0) -> str:
    """Do ``step`` on ``page``; the text read for a read, else ""."""
    if step.op == "click":
        page.click(step.anchor, timeout_s)
    elif step.op == "fill":
        page.fill(step.anchor, step.value, timeout_s)
    elif step.op == "choose":
        if step.chosen is None:
            raise ValueError("a choose step without the option chosen")
        page.click(step.chosen, timeout_s)
    elif step.op == "read":
        return page.read(step.anchor, timeout_s)
    else:
        raise ValueError(f"unknown step op {step.op!r}")
    return ""


@dataclass
class Run:
    steps: list[TeacherStep] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # read output name -> text


def run_task(task: Task, page: Page, timeout_s: float = 5.0, max_steps: int = 80) -> Run:
    """The teacher doing the whole task, one decided step at a time."""
    run = Run()
    for _ in range(max_steps):
        step = next_step(task, page, run.steps, timeout_s)
        if step is None:
            return run
        text = perform(step, page, timeout_s)
        if step.op == "read":
            run.answers[step.output] = text
        run.steps.append(step)
    raise PageError(f"the task was not done in {max_steps} steps (last: {run.steps[-1] if run.steps else None})")
