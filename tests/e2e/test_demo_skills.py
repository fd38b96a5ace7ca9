"""`seal demo --skills` end to end: a web task taught by voice step by step (piper speech, Whisper,
the thinker, the GUI executor on the weather app in Chromium), stored by the memory node, then
done by the skill on a new layout, judged against the app's own value."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim_worlds.gui.browser import BrowserError, find_chromium

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_a_task_taught_once_is_done_by_its_skill_on_a_new_layout(tmp_path):
    try:
        find_chromium()
    except BrowserError as exc:
        pytest.skip(f"Chromium cannot start here: {exc}")
    out = tmp_path / "demo_skills"
    proc = subprocess.run([sys.executable, "-m", "seal_nodes.cli", "demo", "--skills", "--out", str(out),
                           "--timeout", "400"], cwd=REPO, capture_output=True, text=True, timeout=500)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result["success"] is True, result["reason"]
    assert any(a.startswith("run_skill(name=check_tab_city") for a in result["actions"])
    assert result["skill_outcomes"][-1]["ok"] is True
    assert "step by step, taught by voice" in proc.stdout and "by the skill, on a new layout" in proc.stdout
    assert list((out / "memory").glob("*.sqlite3"))
    # the recording opens with the live view's layout: the transcript is in it as log lines
    from mcap.reader import make_reader
    with open(out / "recording.mcap", "rb") as f:
        topics_ = {channel.topic for _, channel, _ in make_reader(f).iter_messages(topics=["/seal/transcript"])}
    assert topics_ == {"/seal/transcript"}
