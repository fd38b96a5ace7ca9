"""The booking app: trip form (from/to with suggestions, date, passengers, class) → a list of
flights to choose from → passenger details → seat → extras → payment → review → confirmation.

Pages (``data-page``): ``home``, ``trip``, ``results``, ``details``, ``seats``, ``extras``,
``payment``, ``review``, ``confirmation``. Each form posts, the server checks it (errors come back
as ``role=alert``) and redirects to the next page; a page is only served once those before it
were done. Side effects in /state: ``search`` (with the flights it listed), the ``bookings``
made, and the wrong one, ``searches_deleted``. Changes: ``rename_button`` (Search flights → Find
flights), ``move_button`` (it swaps places with Delete saved searches), ``reorder_steps`` (seats
and extras swapped), ``confirm_dialog`` (Book now asks "Are you sure?"), ``remove_option`` (no
Economy class).
"""
from __future__ import annotations

import re
from datetime import date as Date

from sim_worlds.gui.apps.app import App, Reply, not_found, redirect
from sim_worlds.gui.apps.markup import (button_row, checks, choice_list, confirm_dialog, esc, shell, submit,
                                        suggest_field, text_field)

CITIES = ("Lisbon", "London", "Madrid", "Milan", "Paris", "Porto", "Prague", "Berlin", "Barcelona", "Rome",
          "Vienna", "Amsterdam", "Athens", "Dublin")
CLASSES = ("Economy", "Premium economy", "Business")
CLASS_FACTOR = {"Economy": 1.0, "Premium economy": 1.6, "Business": 3.0}
SEATS = ("Window", "Aisle", "Middle")
EXTRAS = {"Extra bag": 25, "Travel insurance": 12, "Priority boarding": 9}  # per passenger
AIRLINES = ("SA", "TP", "EZ", "LX", "IB", "FR")
ORDER = ["trip", "results", "details", "seats", "extras", "payment", "review"]
DETAILS = {"first_name": "First name", "last_name": "Last name", "email": "Email", "phone": "Phone"}
PAYMENT = {"card_holder": "Card holder", "card_number": "Card number", "expiry": "Expiry date",
           "security_code": "Security code", "postcode": "Billing postcode"}
CHECKS = {  # field -> (pattern, what it must be)
    "email": (r"[^@\s]+@[^@\s]+\.[^@\s]+", "an email address"),
    "phone": (r"\+?[\d ]{6,20}", "a phone number"),
    "card_number": (r"[\d ]{12,23}", "12 to 19 digits"),
    "expiry": (r"(0[1-9]|1[0-2])/\d\d", "MM/YY"),
    "security_code": (r"\d{3,4}", "3 or 4 digits"),
}


def first(form: dict[str, list[str]], key: str) -> str:
    return form.get(key, [""])[0].strip()


class BookingApp(App):
    name = "booking"
    slow_keys = ("from", "to", "flights", "seats", "payment")

    def __init__(self, seed: int, changes: frozenset[str]) -> None:
        super().__init__(seed, changes)
        self.order = list(ORDER)
        if "reorder_steps" in self.changes:
            i, j = self.order.index("seats"), self.order.index("extras")
            self.order[i], self.order[j] = self.order[j], self.order[i]
        self.classes = [c for c in CLASSES if not ("remove_option" in self.changes and c == "Economy")]
        self.search_name = "Find flights" if "rename_button" in self.changes else "Search flights"
        self.money = self.style.words("money", ("€{}", "{} EUR", "EUR {}"))
        self.draft: dict[str, str] = {}
        self.done: set[str] = set()
        self.flights: list[dict] = []
        self.bookings: list[dict] = []

    # --- the world's truth -------------------------------------------------------------------
    def make_flights(self, origin: str, dest: str, day: str, cls: str) -> list[dict]:
        """The flights listed for a search: distinct prices and departure times."""
        r = self.style.rng(f"flights:{origin}:{dest}:{day}")
        n = r.randint(5, 8)
        starts = sorted(r.sample(range(6 * 60, 22 * 60, 5), n))
        prices = r.sample(range(49, 400), n)
        codes = r.sample([f"{a}{k}" for a in AIRLINES for k in range(100, 1000, 7)], n)
        out = []
        for code, start, price in zip(codes, starts, prices):
            end = start + r.randint(70, 260)
            out.append({"id": code, "departs": f"{start // 60:02d}:{start % 60:02d}",
                        "arrives": f"{end // 60 % 24:02d}:{end % 60:02d}", "price": round(price * CLASS_FACTOR[cls])})
        return out

    def total(self) -> int:
        flight = next(f for f in self.flights if f["id"] == self.draft["flight"])
        extras = [e for e in self.draft.get("extras", "").split("|") if e]
        return int(self.draft["passengers"]) * (flight["price"] + sum(EXTRAS[e] for e in extras))

    # --- requests ----------------------------------------------------------------------------
    def get(self, path: str, query: dict[str, str]) -> Reply:
        page = path.strip("/") or "home"
        if page == "home":
            return Reply(body=self._page("home", self._home()))
        if page == "confirmation":
            if not self.bookings:
                return redirect("/trip")
            return Reply(body=self._page("confirmation", self._confirmation()))
        if page not in self.order:
            return not_found(path)
        missing = next((p for p in self.order[:self.order.index(page)] if p not in self.done), None)
        if missing:
            return redirect(f"/{missing}")
        return Reply(body=self._form_page(page, []))

    def post(self, path: str, form: dict[str, list[str]]) -> Reply:
        if path == "/delete-searches":
            self.record("searches_deleted")
            return redirect("/trip")
        page = path.removeprefix("/submit/")
        if page not in self.order:
            return not_found(path)
        errors = getattr(self, f"_take_{page}")(form)
        if errors:
            return Reply(422, self._form_page(page, errors))
        self.done.add(page)
        if page == "review":
            self._book()
            return redirect("/confirmation")
        return redirect(f"/{self.order[self.order.index(page) + 1]}")

    def state(self) -> dict:
        return {**super().state(), "bookings": list(self.bookings), "draft": dict(self.draft),
                "flights": list(self.flights), "order": list(self.order)}

    # --- each form: take what was posted, or say what is wrong --------------------------------
    def _take_trip(self, form: dict[str, list[str]]) -> list[str]:
        got = {k: first(form, k) for k in ("from", "to", "from_text", "to_text", "date", "passengers", "class")}
        self.draft.update(got)
        errors = [f"Pick the {w} city from the suggestions." for k, w in (("from", "departure"), ("to", "arrival"))
                  if got[k] not in CITIES]
        if got["from"] and got["from"] == got["to"]:
            errors.append("Departure and arrival must differ.")
        try:
            Date.fromisoformat(got["date"])
        except ValueError:
            errors.append("Date must be YYYY-MM-DD.")
        if not (got["passengers"].isdigit() and 1 <= int(got["passengers"]) <= 6):
            errors.append("Passengers must be 1 to 6.")
        if got["class"] not in self.classes:
            errors.append("Choose a class.")
        if not errors:
            self.flights = self.make_flights(got["from"], got["to"], got["date"], got["class"])
            self.done = set()
            self.record("search", **{k: got[k] for k in ("from", "to", "date", "passengers", "class")},
                        flights=[f["id"] for f in self.flights])
        return errors

    def _take_results(self, form: dict[str, list[str]]) -> list[str]:
        flight = first(form, "flight")
        if flight not in {f["id"] for f in self.flights}:
            return ["Choose a flight from the list."]
        self.draft["flight"] = flight
        return []

    def _take_fields(self, form: dict[str, list[str]], fields: dict[str, str]) -> list[str]:
        errors = []
        for key, label in fields.items():
            value = self.draft[key] = first(form, key)
            if not value:
                errors.append(f"{label} is required.")
            elif key in CHECKS and not re.fullmatch(CHECKS[key][0], value):
                errors.append(f"{label} must be {CHECKS[key][1]}.")
        return errors

    def _take_details(self, form: dict[str, list[str]]) -> list[str]:
        return self._take_fields(form, DETAILS)

    def _take_payment(self, form: dict[str, list[str]]) -> list[str]:
        return self._take_fields(form, PAYMENT)

    def _take_seats(self, form: dict[str, list[str]]) -> list[str]:
        self.draft["seat"] = first(form, "seat")
        return [] if self.draft["seat"] in SEATS else ["Choose a seat."]

    def _take_extras(self, form: dict[str, list[str]]) -> list[str]:
        self.draft["extras"] = "|".join(e for e in EXTRAS if e in form.get("extras", []))
        return []

    def _take_review(self, form: dict[str, list[str]]) -> list[str]:
        return [] if first(form, "terms") else ["Accept the terms to book."]

    def _book(self) -> None:
        d = self.draft
        ref = "".join(self.style.rng(f"ref:{len(self.bookings)}").choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=6))
        flight = next(f for f in self.flights if f["id"] == d["flight"])
        self.bookings.append({
            "reference": ref, "from": d["from"], "to": d["to"], "date": d["date"], "passengers": d["passengers"],
            "class": d["class"], "flight": flight["id"], "departs": flight["departs"], "price": flight["price"],
            "listed": [{k: f[k] for k in ("id", "departs", "price")} for f in self.flights], "seat": d["seat"],
            "extras": [e for e in d["extras"].split("|") if e],
            **{k: d[k] for k in DETAILS}, "card_holder": d["card_holder"],
            "card_last4": re.sub(r"\D", "", d["card_number"])[-4:],
            "total": self.total(), "total_text": self.money.format(self.total())})
        self.record("booked", reference=ref)
        self.draft, self.done = {}, set()

    # --- pages -------------------------------------------------------------------------------
    def _page(self, page: str, body: str) -> str:
        return shell(page, f"Flights: {page}", body, self.style, banner=self.banner_on(page))

    def _home(self) -> str:
        s = self.style
        return (f"<h1>{esc(s.words('home:h1', ('Fly away', 'Book your trip', 'Flights')))}</h1>"
                f"<p>{esc(s.words('home:p', ('Low fares every day.', 'Europe, one click away.', 'Find and book in minutes.')))}</p>"
                + button_row(["<a class='btn' href='/trip'>Book a flight</a>"]))

    def _form_page(self, page: str, errors: list[str]) -> str:
        s = self.style
        heading = {"trip": ("Where to?", "Plan your trip", "Search flights"),
                   "results": ("Pick a flight", "Available flights", "Flights found"),
                   "details": ("Who is flying?", "Passenger details", "Lead passenger"),
                   "seats": ("Seats", "Pick a seat", "Seat preference"),
                   "extras": ("Extras", "Add to your trip", "Make it comfortable"),
                   "payment": ("Payment", "Pay securely", "Card details"),
                   "review": ("Review", "Check your booking", "Almost done")}[page]
        alert = "".join(f"<p role='alert'>{esc(e)}</p>" for e in errors)
        inner = getattr(self, f"_{page}")()
        confirm = page == "review" and "confirm_dialog" in self.changes
        body = (f"<h1>{esc(s.words(page + ':h1', heading))}</h1>{alert}"
                f"<form id='f-{page}' method='post' action='/submit/{page}'>{inner}</form>"
                + (confirm_dialog(f"f-{page}", "Book this trip and charge your card?") if confirm else ""))
        return self._page(page, body)

    def _trip(self) -> str:
        s, d = self.style, self.draft
        blocks = {
            "route": suggest_field("From", "from", list(CITIES), d.get("from_text", ""), d.get("from", ""),
                                   "From suggestions", "From choice", s, "from", test_id="from-input")
                     + suggest_field("To", "to", list(CITIES), d.get("to_text", ""), d.get("to", ""),
                                     "To suggestions", "To choice", s, "to", test_id="to-input"),
            "date": text_field("Date", "date", d.get("date", ""), extra=" placeholder='YYYY-MM-DD'"),
            "passengers": text_field("Passengers", "passengers", d.get("passengers", ""), kind="number",
                                     extra=" min='1' max='6'"),
            "class": checks("Class", "class", self.classes, "radio", {d.get("class", "")}),
        }
        buttons = s.order("trip:buttons", [submit(self.search_name, test_id="search-flights"),
                                           submit("Delete saved searches", primary=False, action="/delete-searches")])
        if "move_button" in self.changes:
            buttons.reverse()
        return "".join(blocks[k] for k in s.order("trip:blocks", list(blocks))) + button_row(buttons)

    def _results(self) -> str:
        s = self.style
        fmt = s.words("flight:text", ("{id} · {departs} → {arrives} · {price}",
                                      "Departs {departs}, arrives {arrives}, {price} ({id})",
                                      "{price} · {id} · dep {departs} arr {arrives}"))
        options = [(f["id"], f"Flight {f['id']}", f"flight-{f['id']}",
                    fmt.format(**{**f, "price": self.money.format(f["price"])}))
                   for f in s.order(f"results:{self.flights[0]['id']}", self.flights)]
        return (choice_list("Flights", "flight", options, "Selected flight", s.delay_ms("flights"))
                + button_row([submit("Continue", needs="h-flight")]))

    def _fields(self, key: str, fields: dict[str, str]) -> str:
        return "".join(text_field(fields[k], k, self.draft.get(k, ""), kind={"email": "email", "phone": "tel"}.get(k, "text"))
                       for k in self.style.order(key, list(fields)))

    def _details(self) -> str:
        return self._fields("details:fields", DETAILS) + button_row([submit("Continue")])

    def _seats(self) -> str:
        s = self.style
        return (checks("Seat", "seat", s.order("seats:options", list(SEATS)), "radio", {self.draft.get("seat", "")},
                       s.delay_ms("seats")) + button_row([submit("Continue")]))

    def _extras(self) -> str:
        chosen = set(self.draft.get("extras", "").split("|"))
        return (checks("Extras", "extras", self.style.order("extras:options", list(EXTRAS)), "checkbox", chosen)
                + button_row([submit("Continue")]))

    def _payment(self) -> str:
        delay = self.style.delay_ms("payment")
        return (f"<div data-testid='card-form' data-reveal='{delay}'{' hidden' if delay else ''}>"
                f"{self._fields('payment:fields', PAYMENT)}</div>" + button_row([submit("Continue")]))

    def _review(self) -> str:
        d = self.draft
        flight = next(f for f in self.flights if f["id"] == d["flight"])
        rows = [("Route", f"{d['from']} → {d['to']}"), ("Date", d["date"]),
                ("Flight", f"{flight['id']} {flight['departs']}"), ("Passengers", d["passengers"]),
                ("Total price", self.money.format(self.total()))]
        summary = "".join(f"<p>{esc(k)}: <output aria-label='{esc(k)}' data-testid='{esc(k.lower().replace(' ', '-'))}'>"
                          f"{esc(v)}</output></p>" for k, v in rows)
        confirm = "confirm_dialog" in self.changes
        return (summary + "<label class='cell'><input type='checkbox' name='terms' value='yes'>I accept the terms</label>"
                + button_row([submit("Book now", test_id="book-now", confirm=confirm)]))

    def _confirmation(self) -> str:
        b = self.bookings[-1]
        s = self.style
        return (f"<h1>{esc(s.words('conf:h1', ('Booked!', 'Have a good trip', 'Booking confirmed')))}</h1>"
                f"<p>Booking reference: <output aria-label='Booking reference' data-testid='booking-ref'>"
                f"{esc(b['reference'])}</output></p>"
                + button_row(["<a class='btn' href='/trip'>Book another</a>"]))
