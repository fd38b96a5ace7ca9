"""``seal trace RECORDING.mcap [--out page.html | --serve]``: the run as one self-contained HTML page.

Turns, actions and perception events on a timeline, each expandable to its full payload; the
latency samples against the project's budgets (``seal_nodes.tools.latency``). ``--serve`` serves
the page on 127.0.0.1 and renders it again from the recording at every load, so a live run's
page (a recording still being written) is as current as its last written chunk.
"""
from __future__ import annotations

import argparse
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from seal_nodes.core.observe.trace.episode import build_episode
from seal_nodes.core.observe.trace.page import render_page
from seal_nodes.core.observe.trace.reader import TraceError, read_recording
from seal_nodes.tools.latency import BUDGETS, summarize


def trace_html(recording: str | Path) -> str:
    """The page of ``recording`` as it stands now."""
    budgets = {path: b.budget_ms for path, b in BUDGETS.items()}
    return render_page(build_episode(read_recording(recording)), budgets, summarize, title=str(recording))


def write_trace(recording: str | Path, out: str | Path | None = None) -> Path:
    """Read ``recording`` and write its page (default: trace.html beside it); returns the page's path."""
    html = trace_html(recording)
    page = Path(out) if out else Path(recording).with_name("trace.html")
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(html, encoding="utf-8")
    return page


def trace_server(recording: str | Path, port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 (``port`` 0: any free one) whose page is ``recording``'s,
    rendered at each request; a recording that cannot be read yet gets a 503 saying why."""
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path not in ("/", "/index.html"):
                self.send_error(404, "the trace page is at /")
                return
            try:
                body, status = trace_html(recording).encode(), 200
            except TraceError as exc:
                body, status = f"seal trace: {exc}".encode(), 503
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8" if status == 200 else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # one line per page load is noise
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Page)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal trace", description=__doc__.splitlines()[0])
    ap.add_argument("recording", help="an MCAP recording (seal demo writes one)")
    ap.add_argument("--out", help="the page to write (default: trace.html beside the recording)")
    ap.add_argument("--serve", action="store_true",
                    help="serve the page on 127.0.0.1 instead, rendered afresh at every load (a live run)")
    ap.add_argument("--port", type=int, default=8766, help="the port for --serve (0: any free one)")
    args = ap.parse_args(argv)
    if args.serve:
        with trace_server(args.recording, args.port) as server:
            print(f"http://127.0.0.1:{server.server_address[1]}/  (Ctrl-C to stop)", flush=True)
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
        return 0
    try:
        page = write_trace(args.recording, args.out)
    except TraceError as exc:
        print(f"seal trace: {exc}", file=sys.stderr)
        return 2
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
