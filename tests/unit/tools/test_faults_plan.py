"""``seal faults``: which faults a run makes, what counts as told about one, and its table (ROS
traffic is the integration test's)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from seal_nodes.bench.faults import KILL, QUICK, STOP, SWEEP, format_table, said_about_the_fault, select

pytestmark = pytest.mark.unit


def test_the_sweep_kills_and_freezes_every_working_node_and_quick_is_two_kills():
    assert {(f.node, f.how) for f in SWEEP} == {(n, h) for n in ("tts", "vla_policy", "thinker", "audio_perception",
                                                                "sim", "vision_perception") for h in (KILL, STOP)}
    assert [f.name for f in select(None, quick=True)] == [f.name for f in QUICK] == [
        "kill -9 tts mid-sentence", "kill -9 vla_policy mid-grasp"]
    assert [f.name for f in select(["vla_policy"], quick=False)] == [
        "kill -9 vla_policy mid-grasp", "SIGSTOP 2 s vla_policy mid-grasp"]
    assert [f.name for f in select(["tts", "sim"], quick=False, how=STOP)] == [
        "SIGSTOP 2 s tts mid-sentence", "SIGSTOP 2 s sim mid-grasp"]
    with pytest.raises(ValueError, match="no fault for memory"):
        select(["memory"], quick=False)


def test_the_table_has_a_row_per_fault_and_says_what_was_not_run():
    ok = {"fault": "kill -9 tts mid-sentence", "recover_s": 3.2, "arm_held": True, "user_heard": ["Going home."],
          "next_request_ok": True, "others_restarted": []}
    table = format_table({"faults": [ok, {"fault": "SIGSTOP 2 s sim mid-work", "error": "timed out"}]})
    assert "| kill -9 tts mid-sentence | 3.2 | yes | Going home. | yes | none |" in table
    assert "| SIGSTOP 2 s sim mid-work | – | – | not run: timed out | – | – |" in table


def _speech(t_ms: float, trace: str, uid: str, text: str = "", audio_ms: float = 0.0, completed: bool = True):
    """An agent_speech_start/end as the session records it: received (and stamped) at ``t_ms``."""
    ns = int(t_ms * 1e6)
    payload = {"utterance_id": uid, "completed": completed, "audio_ms": audio_ms, "paused_ms": 0.0}
    stamp = SimpleNamespace(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)
    msg = SimpleNamespace(trace_id=trace, text=text, payload_json=json.dumps(payload), header=SimpleNamespace(stamp=stamp))
    return SimpleNamespace(t_ns=ns, msg=msg)


def test_what_the_agent_was_saying_when_the_fault_hit_is_not_what_it_told_about_it():
    t0 = 10_000  # ms: the fault
    starts = [_speech(8_000, "turn", "u1"), _speech(2_000, "greet", "u7")]
    ends = [_speech(11_000, "turn", "u1", "Sure, picking up the red cube.", audio_ms=2_900),  # under way at t0
            # a respawned thinker's u1, about the same turn: the same trace and id, begun after t0
            _speech(16_000, "turn", "u1", "I restarted; the pick was interrupted.", audio_ms=2_000),
            _speech(17_000, "cut", "u9", "Sorry, my voice restarted.", audio_ms=1_500),  # its start was never received
            _speech(18_000, "chat", "u10", "Half of it.", audio_ms=500, completed=False)]
    assert said_about_the_fault(starts, ends, int(t0 * 1e6)) == ["I restarted; the pick was interrupted.",
                                                                  "Sorry, my voice restarted."]
