"""``AppServer``: one seeded app served from memory on 127.0.0.1 (a free port, a thread).

GET pages, POST forms (a side effect, then a 303 redirect), POST /api/event for the events the
page's script reports, GET /state for what was done (JSON). Requests are served one at a time
against the app, so /state never sees half an action.
"""
from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from sim_worlds.gui.apps.app import CHANGES, App, Reply
from sim_worlds.gui.apps.booking import BookingApp
from sim_worlds.gui.apps.weather import WeatherApp

APPS: dict[str, type[App]] = {"weather": WeatherApp, "booking": BookingApp}
MAX_BODY = 64 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A browser that drops a request it no longer needs (it navigated away) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def make_app(app: str, seed: int, changes: set[str] | frozenset[str] = frozenset()) -> App:
    if app not in APPS:
        raise ValueError(f"unknown app {app!r}: known are {', '.join(APPS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return APPS[app](seed, frozenset(changes))


class AppServer:
    """Serves ``app`` built from ``seed`` with ``changes`` (a subset of ``CHANGES``)."""

    def __init__(self, app: str, seed: int, changes: set[str] | frozenset[str] = frozenset()) -> None:
        self.app = make_app(app, seed, changes)
        lock = threading.Lock()
        served = self.app

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlsplit(self.path)
                if url.path == "/state":
                    with lock:
                        self._send(Reply(body=json.dumps(served.state())), "application/json")
                    return
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with lock:
                    self._send(served.get(url.path, query))

            def do_POST(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                size = int(self.headers.get("Content-Length") or 0)
                if size > MAX_BODY:
                    self._send(Reply(413, "request too large"), "text/plain")
                    return
                raw = self.rfile.read(size).decode("utf-8", "replace")
                with lock:
                    if url.path == "/api/event":
                        try:
                            data = json.loads(raw)
                            if not isinstance(data, dict):
                                raise ValueError("an event is a JSON object")
                            served.event(data)
                        except ValueError as exc:
                            self._send(Reply(400, f"bad event: {exc}"), "text/plain")
                            return
                        self._send(Reply(204))
                        return
                    self._send(served.post(url.path, parse_qs(raw, keep_blank_values=True)))

            def _send(self, reply: Reply, content_type: str = "text/html; charset=utf-8") -> None:
                body = reply.body.encode()
                self.send_response(reply.status)
                if reply.location:
                    self.send_header("Location", reply.location)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self._lock = lock
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name=f"app-{app}", daemon=True)
        self._thread.start()

    def state(self) -> dict:
        """What /state answers (a copy)."""
        with self._lock:
            return json.loads(json.dumps(self.app.state()))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()

    def __enter__(self) -> AppServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["APPS", "CHANGES", "AppServer", "make_app"]
