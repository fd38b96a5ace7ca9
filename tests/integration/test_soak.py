"""``seal soak``, short: the whole sim stack through a spoken session, sampled, with its report."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_a_short_soak_loses_no_event_restarts_nothing_and_writes_every_series(tmp_path):
    out = tmp_path / "soak.json"
    proc = subprocess.run([sys.executable, "-m", "seal_nodes.cli", "soak", "--minutes", "1", "--sample-s", "15",
                           "--warmup-s", "15", "--json", str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["met"]["lost_events"], r["losses"]  # a lost event on a reliable topic is a bug, not a figure
    assert all(n["restarts"] == 0 for n in r["nodes"].values()), r["nodes"]
    assert {"thinker", "tts", "audio_perception", "sim", "vla_policy"} <= set(r["nodes"])
    assert all(len(series) >= 2 for series in r["series"]["proc"]["tts"].values())  # sampled more than once
    assert r["run"]["steps"] >= 1 and set(r["latency_start_end"]) <= {"speech_start_ms", "first_audio_ms"}
    for png in r["plots"]:
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
