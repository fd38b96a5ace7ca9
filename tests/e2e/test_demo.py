"""The README's main job: `seal demo` end to end, judged from the simulator."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory

from seal_nodes.core import topics
from seal_nodes.tools.wer import normalize

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_demo_scenario_succeeds_and_writes_its_record(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "seal_nodes.cli", "demo", "--out", str(out), "--timeout", "150"],
                          cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result["success"] is True
    assert "pick up the red cube" in " ".join(normalize(result["user_text"]))
    assert "pick(object=red_cube)" in result["actions"]
    assert result["lifted"] == ["red_cube"]
    assert any("red cube" in s for s in result["agent_said"])
    conversation = (out / "conversation.txt").read_text()
    assert "<user>Hello robot.</user>" in conversation and "<action>pick(object=red_cube)</action>" in conversation
    assert (out / "agent_speech.wav").stat().st_size > 22050 * 2  # > 1 s of voice
    assert (out / "contact_sheet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "speech_start_ms" in (out / "latency.md").read_text()
    # The recording opens with the mcap tools and every channel decodes with its ROS 2 schema.
    with open(out / "recording.mcap", "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        channels = {c.topic for c in reader.get_summary().channels.values()}
        assert {t.name for t in (topics.EVENTS, topics.JOINT_STATES, topics.CAMERA, topics.SPEAKER)} <= channels
        wanted = {t.name for t in (topics.EVENTS, topics.JOINT_STATES, topics.CAMERA, topics.THOUGHTS)}
        decoded = set()
        for _, channel, _, msg in reader.iter_decoded_messages():
            decoded.add(channel.topic)
            if decoded >= wanted:
                break
        assert wanted <= decoded


def test_bench_writes_every_figure(tmp_path):
    path = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "seal_nodes.cli", "bench", "--json", str(path), "--repeats", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(path.read_text())
    for key in ("speech_start_ms", "first_audio_ms", "barge_in_stop_ms", "frame_to_command_ms",
                "policy_inference_ms", "ros_hop_ms"):
        assert set(report[key]) == {"p50", "p99", "n"} and report[key]["n"] >= 1, key
    assert "| speech_start_ms |" in proc.stdout


def test_memory_demo_knows_david_after_a_restart(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "seal_nodes.cli", "demo", "--memory", "--out", str(out),
                           "--timeout", "150"], cwd=REPO, capture_output=True, text=True, timeout=480)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    first, second = result["sessions"]
    assert result["success"] is True and first["success"] and second["success"]
    assert any("remember that your favourite cube is the blue one" in s for s in first["agent_said"])
    assert any(s.startswith("Welcome back, ") for s in second["agent_said"])
    assert second["lifted"] == ["blue_cube"] and "pick(object=blue_cube)" in second["actions"]
    assert "likes the blue cube best" in (out / "session2" / "conversation.txt").read_text()
    assert list((out / "memory" / "episodes").glob("*.jsonl"))  # the raw record both sessions left
