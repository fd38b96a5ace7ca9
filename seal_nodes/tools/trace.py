"""``seal trace RECORDING.mcap [--out page.html]``: the run as one self-contained HTML page.

Turns, actions and perception events on a timeline, each expandable to its full payload; the
latency samples against the project's budgets (``seal_nodes.tools.latency``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seal_nodes.core.observe.trace.episode import build_episode
from seal_nodes.core.observe.trace.page import render_page
from seal_nodes.core.observe.trace.reader import TraceError, read_recording
from seal_nodes.tools.latency import BUDGETS, summarize


def write_trace(recording: str | Path, out: str | Path | None = None) -> Path:
    """Read ``recording`` and write its page (default: trace.html beside it); returns the page's path."""
    rec = read_recording(recording)
    page = Path(out) if out else Path(recording).with_name("trace.html")
    budgets = {path: b.budget_ms for path, b in BUDGETS.items()}
    html = render_page(build_episode(rec), budgets, summarize, title=str(recording))
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(html, encoding="utf-8")
    return page


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal trace", description=__doc__.splitlines()[0])
    ap.add_argument("recording", help="an MCAP recording (seal demo writes one)")
    ap.add_argument("--out", help="the page to write (default: trace.html beside the recording)")
    args = ap.parse_args(argv)
    try:
        page = write_trace(args.recording, args.out)
    except TraceError as exc:
        print(f"seal trace: {exc}", file=sys.stderr)
        return 2
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
