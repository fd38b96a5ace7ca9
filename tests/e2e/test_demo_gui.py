"""`seal demo --gui` end to end: a spoken "Click the search button." clicks it on a real browser
page (headless Chromium), judged from what the page recorded."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim_worlds.gui.browser import BrowserError, find_chromium

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_gui_demo_clicks_the_search_button(tmp_path):
    try:
        find_chromium()
    except BrowserError as exc:
        pytest.skip(f"Chromium cannot start here: {exc}")
    out = tmp_path / "demo_gui"
    proc = subprocess.run([sys.executable, "-m", "seal_nodes.cli", "demo", "--gui", "--out", str(out),
                           "--timeout", "150"], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result["success"] is True, result["reason"]
    assert any(a.startswith("click") for a in result["actions"])
    conversation = (out / "conversation.txt").read_text()
    assert "clicked search_button" in conversation  # the page's record, relayed by the thinker
    assert result["latency"]["gui_loop_ms"]["n"] > 3
    assert (out / "contact_sheet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
