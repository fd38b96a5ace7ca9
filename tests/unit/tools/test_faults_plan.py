"""``seal faults``: which faults a run makes, and its table (ROS traffic is the integration test's)."""
from __future__ import annotations

import pytest

from seal_nodes.bench.faults import KILL, QUICK, STOP, SWEEP, format_table, select

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
