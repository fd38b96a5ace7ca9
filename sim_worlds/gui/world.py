"""The GUI world: seeded pages served on 127.0.0.1, shown in a real headless Chromium.

``GuiWorld`` owns a local HTTP server (random port) and a ``Browser``. ``load(seed)`` makes a
page (``layout.generate``), navigates to it and reads every target's real box from the DOM.
The pointer is the browser's: ``move_to`` and ``click`` send CDP ``Input.dispatchMouseEvent``
(real, trusted DOM events); ``screenshot`` is ``Page.captureScreenshot`` rendered at ``scale``.
``clicked()`` reads what the page's own click listener recorded: success is judged from the page.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from sim_worlds.gui.browser import Browser, BrowserError
from sim_worlds.gui.layout import VIEWPORT, Layout, generate, to_html

SCREEN_SCALE = 0.5  # screenshots rendered at half size: 320x200 for the 640x400 viewport


class GuiError(RuntimeError):
    """A goal the GUI world cannot carry out: unknown or off-screen target, page not loading."""


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def contains(self, px: float, py: float, margin: float = 0.0) -> bool:
        return (self.x + margin <= px <= self.x + self.w - margin) and (self.y + margin <= py <= self.y + self.h - margin)

    def on_screen(self, width: float, height: float) -> bool:
        return self.x >= 0 and self.y >= 0 and self.x + self.w <= width and self.y + self.h <= height


class PageServer:
    """Serves generated pages from memory on 127.0.0.1 at a random port (a thread)."""

    def __init__(self) -> None:
        pages: dict[str, bytes] = {}
        self.pages = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_response(404)
                    body = b"<!doctype html><title>not found</title>no such page"
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def put(self, path: str, html: str) -> str:
        self.pages[path] = html.encode()
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class GuiWorld:
    def __init__(self, width: int = VIEWPORT[0], height: int = VIEWPORT[1], scale: float = SCREEN_SCALE,
                 browser: Browser | None = None) -> None:
        self.width, self.height, self.scale = width, height, scale
        self.server = PageServer()
        try:
            self.browser = browser or Browser(width, height).start()
        except BrowserError:
            self.server.close()
            raise
        self.page = self.browser.page
        self.layout: Layout | None = None
        self.boxes: dict[str, Box] = {}
        self.pointer = np.array([width / 2, height / 2], dtype=float)
        self._n = 0

    # --- pages ------------------------------------------------------------------------------
    def load(self, seed: int, offscreen: str | None = None) -> Layout:
        layout = generate(seed, offscreen=offscreen)
        self._n += 1
        url = self.server.put(f"/page/{self._n}.html", to_html(layout))
        self.load_url(url)
        self.layout = layout
        return layout

    def load_url(self, url: str, timeout_s: float = 10.0) -> None:
        """Navigate; the page must be a GUI-world page (it records clicks), else GuiError."""
        self.layout, self.boxes = None, {}
        try:
            self.page.navigate(url, timeout_s)
            ok = self.page.evaluate("window.__seal_gui === true")
        except BrowserError as exc:
            raise GuiError(str(exc)) from exc
        if not ok:
            title = self.page.evaluate("document.title") or "untitled"
            raise GuiError(f"page did not load as a GUI-world page: {url} ({title!r})")
        self.boxes = self.read_boxes()
        self.move_to(*self.pointer)

    def read_boxes(self) -> dict[str, Box]:
        raw = self.page.evaluate(
            "Array.from(document.querySelectorAll('[data-target]')).map(e => {const r = e.getBoundingClientRect();"
            " return [e.getAttribute('data-target'), r.x, r.y, r.width, r.height];})")
        return {t: Box(x, y, w, h) for t, x, y, w, h in raw or []}

    def target_box(self, target: str) -> Box:
        """The target's box in viewport pixels; GuiError if it is not on the page or not visible."""
        box = self.boxes.get(target)
        if box is None:
            raise GuiError(f"target {target!r} is not on this page")
        if not box.on_screen(self.width, self.height):
            raise GuiError(f"target {target!r} is off screen (box x={box.x:.0f}, y={box.y:.0f}, "
                           f"{box.w:.0f}x{box.h:.0f}; viewport {self.width}x{self.height})")
        return box

    # --- pointer and screen -----------------------------------------------------------------
    def screenshot(self) -> np.ndarray:
        return self.page.screenshot(self.width, self.height, self.scale)

    def move_to(self, x: float, y: float, wait: bool = True) -> np.ndarray:
        """Move the pointer (clamped to the viewport) with a real mouseMoved event."""
        self.pointer = np.clip(np.array([x, y], dtype=float), [0, 0], [self.width - 1, self.height - 1])
        self.page.move(*self.pointer, wait=wait)
        return self.pointer.copy()

    def click(self) -> None:
        self.page.click(*self.pointer)

    def clicked(self) -> list[dict]:
        """What the page recorded, oldest first: [{"target", "x", "y", "trusted"}]."""
        return list(self.page.evaluate("window.__seal_clicks || []") or [])

    def target_at(self, x: float, y: float) -> str:
        """The target id under a point (the DOM's own hit test), '' for none."""
        return str(self.page.evaluate(
            f"(function(){{const e = document.elementFromPoint({float(x)}, {float(y)});"
            f" const t = e && e.closest('[data-target]'); return t ? t.getAttribute('data-target') : '';}})()") or "")

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self.server.close()

    def __enter__(self) -> "GuiWorld":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
