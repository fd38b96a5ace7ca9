"""``seal soak``'s report from sampled series: growth against the goal, lost events, a PNG per series."""
from __future__ import annotations

import pytest

from seal_nodes.bench.soak import build_report, format_table

pytestmark = pytest.mark.unit

RUN = {"minutes": 3.0, "sample_s": 15.0, "warmup_s": 30.0, "steps": 12, "steps_unsettled": 0}


def proc(rss: list[float]) -> dict:
    ts = [15.0 * i for i in range(len(rss))]
    return {"rss_mb": list(zip(ts, rss)), "threads": [(t, 20.0) for t in ts], "fds": [(t, 25.0) for t in ts]}


def lost(**kw) -> dict:
    return {"speech_start_without_end": [], "action_progress_without_result": [], "actions": 4,
            "actions_succeeded": 3, "speaker_audio_published_ms": 1000.0, "speaker_audio_received_ms": 1000.0, **kw}


def test_a_flat_run_meets_both_goals_and_writes_a_png_per_series(tmp_path):
    out = tmp_path / "soak.json"
    r = build_report({"sim": proc([300, 400, 400, 404]), "tts": proc([200, 250, 250, 251])},
                     {"/seal/events": [(0.0, 0.0), (45.0, 120.0)]}, {"sim": {7}, "tts": {8}},
                     {"sim": 0, "tts": 0}, {"sim": {"dropped_input": "0", "errors": "0"}}, lost(), RUN, out)
    assert r["nodes"]["sim"]["rss_growth_after_warmup"] == pytest.approx(0.01)  # 400 → 404 after warm-up
    assert r["nodes"]["sim"]["rss_mb_first_last"] == [300, 404] and r["nodes"]["tts"]["dropped_input"] is None
    assert r["met"] == {"rss_growth": True, "lost_events": True}
    assert r["messages_received"] == {"/seal/events": 120}
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "soak.fds.png", "soak.messages_received.png", "soak.rss_mb.png", "soak.threads.png"]
    assert r["plots"]["soak.rss_mb.png"] == {"lines": {"sim": "blue", "tts": "orange"}, "y_range": [200, 404]}
    table = format_table(r)
    assert "| sim | 300 → 404 | +1.0 % |" in table and "3 of 4 succeeded" in table and "NOT met" not in table


def test_growth_or_a_lost_event_misses_its_goal(tmp_path):
    r = build_report({"thinker": proc([500, 500, 560])}, {}, {"thinker": {9, 10}}, {"thinker": 1}, {},
                     lost(speech_start_without_end=["u3"]), RUN, tmp_path / "s.json")
    assert r["met"] == {"rss_growth": False, "lost_events": False}
    assert r["nodes"]["thinker"]["pids"] == [9, 10] and r["nodes"]["thinker"]["restarts"] == 1
    assert format_table(r).count("NOT met") == 2


def test_latencies_are_compared_between_the_first_and_the_last_quarter_after_warm_up():
    from seal_nodes.bench.soak import latency_start_end, latency_table

    samples = [(5, "first_audio_ms", 900.0),  # warm-up: left out
               (12, "first_audio_ms", 500.0), (20, "first_audio_ms", 520.0), (50, "first_audio_ms", 999.0),
               (95, "first_audio_ms", 610.0), (99, "speech_start_ms", 70.0)]
    r = latency_start_end(samples, after=10, end=100)
    assert r["first_audio_ms"]["first_quarter"]["n"] == 2 and r["first_audio_ms"]["first_quarter"]["p50"] == 510.0
    assert r["first_audio_ms"]["last_quarter"] == {"p50": 610.0, "p99": 610.0, "n": 1}
    assert r["speech_start_ms"]["first_quarter"]["n"] == 0
    assert "| first_audio_ms | 510.0 / 519.8 (2) | 610.0 / 610.0 (1) |" in latency_table(r)
