"""An app served on loopback and one Chromium tab on it, driven from one thread of their own.

Playwright's sync API belongs to the thread that started it, while a ROS node calls from its
executor's threads: every use of the page goes through ``call``, which runs it on the host's
thread and waits for the answer. ``load`` serves another app or seed (a new layout) and opens its
home page.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

import numpy as np
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from seal_nodes.core.skills.model import PageError
from sim_worlds.gui.apps.markup import VIEWPORT
from sim_worlds.gui.apps.page import PlaywrightPage
from sim_worlds.gui.apps.server import AppServer
from sim_worlds.gui.browser import decode_png, find_chromium

T = TypeVar("T")
_STOP = object()


class AppHost:
    def __init__(self, app: str, seed: int, start_timeout_s: float = 60.0) -> None:
        """Chromium starts on the host's thread; PageError (with the reason) if it cannot."""
        self.server: AppServer | None = None
        self.page: PlaywrightPage | None = None
        self._jobs: queue.Queue = queue.Queue()
        started: Future = Future()
        self._thread = threading.Thread(target=self._main, args=(started,), name="app-host", daemon=True)
        self._thread.start()
        started.result(timeout=start_timeout_s)
        self.load(app, seed)

    def call(self, fn: Callable[[PlaywrightPage], T], timeout_s: float = 120.0) -> T:
        """``fn(page)`` on the host's thread; its exception is raised here."""
        if not self._thread.is_alive():
            raise PageError("the browser thread has stopped")
        done: Future = Future()
        self._jobs.put((fn, done))
        return done.result(timeout=timeout_s)

    def load(self, app: str, seed: int, changes: frozenset[str] = frozenset()) -> None:
        """Serve ``app`` with ``seed`` (ValueError for an unknown one) and open its home page."""
        server = AppServer(app, seed, changes)
        old, self.server = self.server, server
        if old is not None:
            old.close()
        self.call(lambda page: page.goto(server.url))

    def state(self) -> dict:
        return {} if self.server is None else self.server.state()

    def screenshot(self, scale: float = 0.5) -> np.ndarray:
        """The viewport as RGB (``scale`` 0.5: half size)."""
        def shot(page: PlaywrightPage) -> bytes:
            try:
                return page.tab.screenshot(type="png", scale="css", clip={"x": 0, "y": 0, **VIEWPORT})
            except PlaywrightError:  # a loaded Chromium now and then fails one capture; the next works
                return page.tab.screenshot(type="png", scale="css", clip={"x": 0, "y": 0, **VIEWPORT})
        rgb = decode_png(self.call(shot))
        step = max(1, round(1 / scale))
        return np.ascontiguousarray(rgb[::step, ::step])

    def close(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(_STOP)
            self._thread.join(timeout=10.0)
        if self.server is not None:
            self.server.close()

    def _main(self, started: Future) -> None:
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=find_chromium(), headless=True, args=["--no-sandbox"])
                self.page = PlaywrightPage(browser.new_context(viewport=VIEWPORT).new_page())
                started.set_result(True)
                self._serve()
                browser.close()
        except (PlaywrightError, OSError, RuntimeError) as exc:
            if not started.done():
                started.set_exception(PageError(f"Chromium cannot start: {exc}"))

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            fn, done = job
            try:
                done.set_result(fn(self.page))
            except BaseException as exc:  # noqa: BLE001 - the caller gets it, the thread goes on
                done.set_exception(exc)
