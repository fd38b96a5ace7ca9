"""A real headless Chromium driven over the Chrome DevTools Protocol (CDP), standard library only
(``sim_worlds.gui.websocket``: a minimal RFC 6455 client).

``Browser.start()`` runs Debian's ``chromium`` headless with the flags a root, offline machine
needs (no sandbox, no GPU, no background networking), a fresh temporary profile and
``--remote-debugging-port=0``; the port is read from ``DevToolsActivePort`` in the profile, the
page target's WebSocket from ``/json/list``. ``Page`` is one tab: navigate, evaluate, screenshot,
mouse events. Every CDP error becomes a ``BrowserError`` with the protocol's own message.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections import deque
from pathlib import Path

import numpy as np

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
HEADLESS_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
    "--disable-features=Translate,MediaRouter,OptimizationHints", "--force-color-profile=srgb",
    "--font-render-hinting=none",
)


class BrowserError(RuntimeError):
    """Chromium missing, not starting, a CDP command failing or a page not loading."""


def find_chromium(explicit: str | None = None) -> str:
    """Path of the Chromium binary (``SEAL_CHROMIUM`` or the first of the usual names)."""
    for name in ([explicit] if explicit else []) + [os.environ.get("SEAL_CHROMIUM", "")] + list(CHROMIUM_CANDIDATES):
        if name:
            path = shutil.which(name)
            if path:
                return path
    raise BrowserError("Chromium is not installed (apt-get install chromium, or set SEAL_CHROMIUM)")


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes -> HxWx3 uint8 RGB (PyAV's decoder: C speed, no Pillow needed)."""
    import av

    codec = av.CodecContext.create("png", "r")
    frames = codec.decode(av.Packet(data))
    if not frames:
        raise BrowserError("screenshot PNG could not be decoded")
    return frames[0].to_ndarray(format="rgb24")


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it dies (Linux), so a
    killed owner never leaves a browser behind."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Page:
    """One browser tab over its own CDP WebSocket (thread-safe: one command at a time)."""

    def __init__(self, ws_url: str, timeout_s: float = 10.0) -> None:
        from sim_worlds.gui.websocket import WebSocket

        try:
            self.ws = WebSocket(ws_url, timeout_s)
        except (OSError, ValueError) as exc:  # noqa: BLE001 - any connection failure is "browser not usable"
            raise BrowserError(f"cannot connect to Chromium's DevTools socket {ws_url}: {exc}") from exc
        self.timeout_s = timeout_s
        self._id = 0
        self._lock = threading.Lock()
        self.events: deque[dict] = deque(maxlen=200)

    def call(self, method: str, timeout_s: float | None = None, **params: object) -> dict:
        with self._lock:
            self._id += 1
            mid = self._id
            try:
                self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
                deadline = time.monotonic() + (timeout_s or self.timeout_s)
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise BrowserError(f"CDP {method}: no answer within {timeout_s or self.timeout_s:.0f} s")
                    msg = json.loads(self.ws.recv(timeout=left))
                    if msg.get("id") == mid:
                        break
                    if "method" in msg:
                        self.events.append(msg)
            except TimeoutError as exc:
                raise BrowserError(f"CDP {method}: no answer within {timeout_s or self.timeout_s:.0f} s") from exc
            except BrowserError:
                raise
            except Exception as exc:  # noqa: BLE001 - a closed socket: the browser went away
                raise BrowserError(f"CDP {method} failed: the browser connection is gone ({exc})") from exc
        if "error" in msg:
            raise BrowserError(f"CDP {method}: {msg['error'].get('message')} {msg['error'].get('data', '')}".strip())
        return msg.get("result", {})

    def send(self, method: str, **params: object) -> None:
        """Fire and forget: its answer is skipped by the next ``call`` (commands run in order)."""
        with self._lock:
            self._id += 1
            try:
                self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
            except Exception as exc:  # noqa: BLE001
                raise BrowserError(f"CDP {method} failed: the browser connection is gone ({exc})") from exc

    def evaluate(self, expression: str, timeout_s: float | None = None) -> object:
        res = self.call("Runtime.evaluate", timeout_s, expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise BrowserError(f"page script failed: {d.get('exception', {}).get('description') or d.get('text')}")
        return res.get("result", {}).get("value")

    def navigate(self, url: str, timeout_s: float = 10.0) -> None:
        """Load ``url`` and wait until the document is complete; a failed load raises BrowserError."""
        res = self.call("Page.navigate", timeout_s, url=url)
        if res.get("errorText"):
            raise BrowserError(f"page did not load: {url}: {res['errorText']}")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.evaluate("document.readyState") == "complete":
                return
            time.sleep(0.01)
        raise BrowserError(f"page did not load within {timeout_s:.0f} s: {url}")

    def set_viewport(self, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def screenshot(self, width: int, height: int, scale: float = 1.0) -> np.ndarray:
        """The viewport as RGB, rendered by Chromium at ``scale`` (0.5: a 2x smaller image)."""
        res = self.call("Page.captureScreenshot", format="png", fromSurface=True, optimizeForSpeed=True,
                        clip={"x": 0, "y": 0, "width": width, "height": height, "scale": scale})
        return decode_png(base64.b64decode(res["data"]))

    def mouse(self, kind: str, x: float, y: float, button: str = "none", click_count: int = 0) -> None:
        self.call("Input.dispatchMouseEvent", type=kind, x=float(x), y=float(y), button=button,
                  buttons=1 if (kind == "mousePressed") else 0, clickCount=click_count)

    def move(self, x: float, y: float, wait: bool = True) -> None:
        if wait:
            self.mouse("mouseMoved", x, y)
        else:  # the renderer acks a move only with its next frame (~16 ms): do not wait for it
            self.send("Input.dispatchMouseEvent", type="mouseMoved", x=float(x), y=float(y), button="none",
                      buttons=0, clickCount=0)

    def click(self, x: float, y: float) -> None:
        """A real left click: press + release at (x, y); the page sees mousedown, mouseup, click."""
        self.mouse("mousePressed", x, y, "left", 1)
        self.mouse("mouseReleased", x, y, "left", 1)

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass


class Browser:
    """A headless Chromium process with one page; ``close()`` ends it and removes its profile."""

    def __init__(self, width: int = 640, height: int = 400, binary: str | None = None,
                 start_timeout_s: float = 20.0) -> None:
        self.width, self.height = width, height
        self.binary = find_chromium(binary)
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.profile: str | None = None
        self.page: Page | None = None

    def start(self) -> "Browser":
        self.profile = tempfile.mkdtemp(prefix="seal-chromium-")
        args = [self.binary, *HEADLESS_FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1", f"--window-size={self.width},{self.height}", "about:blank"]
        log = open(Path(self.profile) / "chromium.log", "wb")
        try:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        except OSError as exc:
            self.close()
            raise BrowserError(f"cannot run {self.binary}: {exc}") from exc
        finally:
            log.close()
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.start_timeout_s
        port = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self._log_tail()
                self.close()
                raise BrowserError(f"Chromium exited at start (status {self.proc.returncode}): {tail}")
            if port_file.exists():
                text = port_file.read_text().split()
                if text:
                    port = int(text[0])
                    break
            time.sleep(0.05)
        if port is None:
            tail = self._log_tail()
            self.close()
            raise BrowserError(f"Chromium did not open its DevTools port within {self.start_timeout_s:.0f} s: {tail}")
        ws_url = None
        while time.monotonic() < deadline and ws_url is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    targets = json.loads(r.read())
                ws_url = next((t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page"), None)
            except OSError:
                pass
            if ws_url is None:
                time.sleep(0.05)
        if ws_url is None:
            self.close()
            raise BrowserError("Chromium started but has no page target")
        self.page = Page(ws_url)
        self.page.call("Page.enable")
        self.page.set_viewport(self.width, self.height)
        return self

    def _log_tail(self) -> str:
        try:
            return (Path(self.profile) / "chromium.log").read_text(errors="replace")[-600:].strip()
        except OSError:
            return ""

    def close(self) -> None:
        if self.page is not None:
            self.page.close()
            self.page = None
        if self.proc is not None and self.proc.poll() is None:
            import signal

            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired, PermissionError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=5)
                except (ProcessLookupError, subprocess.TimeoutExpired, PermissionError):
                    pass
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    def __enter__(self) -> "Browser":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def chromium_unavailable_reason() -> str | None:
    """None if a headless Chromium starts here, else why not (for skipping browser tests)."""
    try:
        with Browser(width=320, height=200, start_timeout_s=20.0) as b:
            b.page.evaluate("1 + 1")
    except BrowserError as exc:
        return str(exc)
    return None
