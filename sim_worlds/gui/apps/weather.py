"""The weather app: home → search (type a city, pick it from the suggestions, Search) → results
(tabs Wind / Humidity / Forecast, each value loading into its panel) → save to favourites.

Pages (``data-page``): ``home``, ``search``, ``results``, ``favourites``. Side effects in /state:
``tab_opened`` (city, tab), ``favourite_saved`` (city), and the wrong one, ``history_cleared``.
Changes: ``rename_button`` (Search → Find), ``move_button`` (Search and Clear history swap
places), ``reorder_steps`` (the cookie banner comes on the search page, not on home),
``confirm_dialog`` (saving asks "Are you sure?"), ``remove_option`` (no Wind tab).
"""
from __future__ import annotations

from sim_worlds.gui.apps.app import App, Reply, not_found, redirect
from sim_worlds.gui.apps.markup import (button_row, confirm_dialog, esc, shell, submit, suggest_field)

CITIES = ("Lisbon", "Porto", "Madrid", "Paris", "Berlin", "Bern", "Rome", "Oslo", "Vienna", "Prague",
          "Dublin", "Athens", "Warsaw", "Helsinki", "Budapest", "Brussels")
TABS = ("Wind", "Humidity", "Forecast")
SKIES = ("Sunny", "Cloudy", "Rain", "Showers", "Windy", "Fog")


class WeatherApp(App):
    name = "weather"
    slow_keys = ("suggestions", "Wind", "Humidity", "Forecast")

    def __init__(self, seed: int, changes: frozenset[str]) -> None:
        super().__init__(seed, changes)
        self.banner_page = "search" if "reorder_steps" in self.changes else "home"
        self.favourites: list[str] = []
        self.truth = {c: self._values(c) for c in CITIES}
        self.search_name = "Find" if "rename_button" in self.changes else "Search"
        self.tabs = [t for t in TABS if not ("remove_option" in self.changes and t == "Wind")]

    def _values(self, city: str) -> dict[str, str]:
        r = self.style.rng(f"weather:{city}")
        return {"Wind": f"{r.randint(3, 45)} km/h", "Humidity": f"{r.randint(25, 95)} %",
                "Forecast": f"{r.choice(SKIES)}, {r.randint(-5, 32)} °C"}

    def get(self, path: str, query: dict[str, str]) -> Reply:
        if path == "/":
            return Reply(body=self._home())
        if path == "/search":
            return Reply(body=self._search())
        if path == "/results":
            city = query.get("city", "")
            if city not in self.truth:
                return redirect("/search")
            self.record("searched", city=city)
            return Reply(body=self._results(city))
        if path == "/favourites":
            return Reply(body=self._favourites())
        return not_found(path)

    def post(self, path: str, form: dict[str, list[str]]) -> Reply:
        if path == "/favourite":
            city = form.get("city", [""])[0]
            if city not in self.truth:
                return Reply(400, self._page("error", "Error", f"<p role='alert'>Unknown city: {esc(city)}</p>"))
            self.favourites.append(city)
            self.record("favourite_saved", city=city)
            return redirect("/favourites")
        if path == "/clear-history":
            self.record("history_cleared")
            return redirect("/search")
        return not_found(path)

    def state(self) -> dict:
        return {**super().state(), "favourites": list(self.favourites), "truth": self.truth}

    # --- pages -------------------------------------------------------------------------------
    def _page(self, page: str, title: str, body: str) -> str:
        return shell(page, title, body, self.style, banner=self.banner_on(page))

    def _home(self) -> str:
        s = self.style
        links = s.order("home:links", ["<a class='btn' href='/search'>Open search</a>",
                                       "<a class='btn' href='/favourites'>Favourites</a>"])
        body = (f"<h1>{esc(s.words('home:h1', ('Weather', 'Your weather', 'Forecasts')))}</h1>"
                f"<p>{esc(s.words('home:p', ('Wind, humidity and the days ahead.', 'Check any city in seconds.', 'Local conditions, updated hourly.')))}</p>"
                + button_row(links))
        return self._page("home", "Weather", body)

    def _search(self) -> str:
        s = self.style
        buttons = s.order("search:buttons", [
            submit(self.search_name, needs="h-city", test_id="search-button"),
            submit("Clear history", primary=False, action="/clear-history")])
        if "move_button" in self.changes:
            buttons.reverse()
        body = (f"<h1>{esc(s.words('search:h1', ('Find a city', 'Search', 'Where?')))}</h1>"
                f"<form id='search' method='get' action='/results'>"
                + suggest_field("City", "city", list(CITIES), "", "", "Suggestions", "City choice", s, "suggestions",
                                test_id="city-input")
                + button_row(buttons) + "</form>")
        return self._page("search", "Weather search", body)

    def _results(self, city: str) -> str:
        s = self.style
        tabs, panels = [], []
        for tab in s.order("results:tabs", self.tabs):
            key = tab.lower()
            tabs.append(f"<button type='button' role='tab' id='t-{key}' aria-controls='p-{key}' aria-selected='false'"
                        f" data-city='{esc(city)}' data-tab='{tab}'>{tab}</button>")
            panels.append(f"<div role='tabpanel' id='p-{key}' aria-label='{tab}' data-delay='{s.delay_ms(tab)}' hidden>"
                          f"<p>{esc(s.words('results:loading', ('Loading…', 'One moment…', 'Fetching…')))}</p>"
                          f"<output aria-label='{tab} value' data-testid='{key}-value' hidden>"
                          f"{esc(self.truth[city][tab])}</output></div>")
        confirm = "confirm_dialog" in self.changes
        heading = s.words("results:h1", (f"Weather in {city}", f"{city} today", f"Conditions for {city}"))
        body = (f"<h1>{esc(heading)}</h1><div role='tablist' aria-label='Details'>{''.join(tabs)}</div>{''.join(panels)}"
                f"<form id='save' method='post' action='/favourite'><input type='hidden' name='city' value='{esc(city)}'>"
                + button_row([submit("Save to favourites", confirm=confirm),
                              "<a class='btn' href='/search'>New search</a>"]) + "</form>"
                + (confirm_dialog("save", f"Save {city} to your favourites?") if confirm else ""))
        return self._page("results", f"Weather in {city}", body)

    def _favourites(self) -> str:
        items = "".join(f"<li>{esc(c)}</li>" for c in self.favourites) or "<li>No favourites yet</li>"
        body = (f"<h1>{esc(self.style.words('fav:h1', ('Favourites', 'Saved cities', 'Your places')))}</h1>"
                f"<ul aria-label='Favourites'>{items}</ul>"
                + button_row(["<a class='btn' href='/search'>New search</a>"]))
        return self._page("favourites", "Favourites", body)
