"""What every app shares: its seed and injected changes, the reply type, the event log that
/state reports, and the cookie banner that blocks the first page until accepted."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from urllib.parse import quote

from sim_worlds.gui.apps.markup import Style

CHANGES = ("rename_button", "move_button", "reorder_steps", "confirm_dialog", "remove_option")
# Side effects no task asks for: any of them in /state is a wrong click.
DANGEROUS = ("history_cleared", "searches_deleted")
CLIENT_EVENTS = ("cookies_accepted", "tab_opened")  # what a page's script may report


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = ""
    location: str = ""  # a redirect (303) when set


def redirect(path: str, **query: str) -> Reply:
    qs = "&".join(f"{k}={quote(v)}" for k, v in query.items())
    return Reply(303, location=path + (f"?{qs}" if qs else ""))


def not_found(path: str) -> Reply:
    return Reply(404, f"<!doctype html><title>not found</title><body data-page='not_found'>no page {path}</body>")


class App(ABC):
    """One app instance: seeded look, the changes it was built with, what was done on it.
    ``banner_page``: the page the cookie banner blocks until it is accepted."""

    name = ""
    slow_keys: tuple[str, ...] = ()
    banner_page = "home"

    def __init__(self, seed: int, changes: frozenset[str]) -> None:
        unknown = sorted(set(changes) - set(CHANGES))
        if unknown:
            raise ValueError(f"unknown change(s) {unknown}: known are {', '.join(CHANGES)}")
        self.seed = seed
        self.changes = frozenset(changes)
        self.style = Style.from_seed(self.name, seed, self.slow_keys)
        self.events: list[dict] = []
        self.cookies_accepted = False

    @abstractmethod
    def get(self, path: str, query: dict[str, str]) -> Reply:
        """A page (or a redirect) for a GET."""

    @abstractmethod
    def post(self, path: str, form: dict[str, list[str]]) -> Reply:
        """A form submitted: the side effect, then a redirect (or the page again with its errors)."""

    def event(self, data: dict) -> None:
        """A client-side event (cookie accepted, tab opened)."""
        kind = data.get("kind")
        if kind not in CLIENT_EVENTS:
            raise ValueError(f"event kind {kind!r} is not one of {', '.join(CLIENT_EVENTS)}")
        self.events.append({k: str(v) for k, v in data.items()})
        if kind == "cookies_accepted":
            self.cookies_accepted = True

    def record(self, kind: str, **data: object) -> None:
        self.events.append({"kind": kind, **data})

    def banner_on(self, page: str) -> bool:
        return page == self.banner_page and not self.cookies_accepted

    def state(self) -> dict:
        return {"app": self.name, "seed": self.seed, "changes": sorted(self.changes), "events": list(self.events),
                "slow": dict(self.style.slow)}
