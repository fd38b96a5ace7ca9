"""The flight recorder on deliberately broken runs of the real stack: a slow voice and a missed grasp.

One sim stack session, launched with both injected faults of ``launch/sim.launch.yaml``
(``fault_tts_delay_ms``: every utterance's synthesis starts late; ``fault_stuck_object``: the red
cube held to the table, so the grasp closes on it and lifts without it; the expert policy, whose
pick gives up when the cube stays behind). One spoken request, recorded; then ``seal trace`` shows
both faults and ``seal diagnose`` names them in plain words: the first audio over its budget with
the voice's synthesis as the slow hop (no case: a latency is measured, not replayed), and the pick
failed, an arm case that carries the fault, reproduces the miss in headless MuJoCo and passes
without it. (The refused action, from the real thinker, is in tests/unit/observe/test_trace.py.)
The thinker is the default one (llama): on a loaded machine it may stumble on its own (a silence
hint it cannot answer in time); that is diagnosed too and left alone here.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.observe.trace.diagnose import ARM, THINKING, diagnose
from seal_nodes.core.observe.trace.episode import build_episode
from seal_nodes.core.observe.trace.reader import read_recording
from seal_nodes.stack.session import StackSession
from seal_nodes.tools import diagnose as diagnose_cli
from seal_nodes.tools import trace as trace_cli
from seal_nodes.tools.latency import BUDGETS

pytestmark = pytest.mark.e2e

DELAY_MS = 4000  # far above every other hop of a turn, also on a loaded machine
FAULTS = {"fault_tts_delay_ms": str(DELAY_MS), "fault_stuck_object": "red_cube", "policy_backend": "expert",
          "seed": "0"}


def test_a_slow_voice_and_a_missed_grasp_of_the_real_stack_are_traced_and_diagnosed(tmp_path, capsys):
    rec_path = tmp_path / "broken.mcap"
    with StackSession(launch_args=FAULTS, record=rec_path, node_log=tmp_path / "nodes.log") as s:
        s.wait_ready(timeout_s=180)
        since = time.time_ns()
        s.say("Pick up the red cube.")
        s.wait_for(lambda: bool(s.events(ev.ACTION_RESULT, since)), 120, "the pick's result")
        s.wait_for(lambda: bool(s.events(ev.TURN_DONE, since)) and s.agent_idle(since, quiet_s=3.0), 60,
                   "the turn done and the voice quiet")
        (result,) = [json.loads(r.msg.payload_json) for r in s.events(ev.ACTION_RESULT, since)]
    assert result["success"] is False and result["action"] == "pick(object=red_cube)", result
    check_the_recording(rec_path, tmp_path, capsys)


def check_the_recording(rec_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What trace and diagnose make of the broken run. On a loaded machine the expert moves slowly
    (its pace is the camera's), so the pick may end by the policy node's timeout before the expert
    gives up: either way it failed, and the case's replay gives up."""
    # seal trace: the page renders, both faults marked on it.
    page = tmp_path / "trace.html"
    assert trace_cli.main([str(rec_path), "--out", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    assert "<span class=bad>first_audio_ms" in html and "<span class=bad>FAILED</span>" in html

    # seal diagnose: both named in plain words.
    findings = diagnose(build_episode(read_recording(rec_path)), {p: b.budget_ms for p, b in BUDGETS.items()})
    (missed,) = [f for f in findings if f.kind == "action_failed"]
    assert missed.layer == ARM and missed.action == "pick(object=red_cube)"
    assert missed.text.startswith("pick(object=red_cube) failed at ") and missed.instruction == "pick up the red cube"
    (late,) = [f for f in findings if f.kind == "over_budget" and f.trace_id == missed.trace_id  # the pick's turn
               and f.text.startswith("first_audio_ms was ")]
    assert "over its 500 ms budget; the slowest hop: the voice's first audio (synthesis) played" in late.text
    # The injected wait starts when the goal is queued, its agent_speech_start a moment later (the
    # player picking it up), and a warm opener adds no synthesis after the wait: most of the delay.
    assert int(late.text.rsplit("played ", 1)[1].split(" ms")[0]) >= DELAY_MS - 500
    out = tmp_path / "diagnosis"
    assert diagnose_cli.main([str(rec_path), "--out", str(out)]) == 1
    report = (out / "diagnosis.md").read_text()
    assert late.text in report and missed.text in report
    assert [p.name for p in out.glob("arm_case_*")] == ["arm_case_1.json"]
    # the latency gets no case; a scenario case only where the (loaded) thinker itself stumbled
    stumbled = {f.trace_id for f in findings if f.layer == THINKING and f.user_texts}
    assert len(list(out.glob("case_*.yaml"))) == len(stumbled)

    # The arm case carries the fault: its replay misses as the stack did, and passes without it.
    case_path = out / "arm_case_1.json"
    case = json.loads(case_path.read_text())
    assert case["seed"] == 0 and case["backend"] == "expert" and case["sim"]["fault_stuck_object"] == "red_cube"
    misses, _ = diagnose_cli.check_arm_case(case_path)
    assert len(misses) == 1 and "the red cube held to the table" in misses[0], misses
    assert "the expert backend gave up, but it is not so that the red cube is lifted off the table" in misses[0]
    del case["sim"]["fault_stuck_object"]
    fixed = tmp_path / "arm_case_fixed.json"
    fixed.write_text(json.dumps(case))
    assert diagnose_cli.main(["--check", str(fixed)]) == 0
    assert f"ok: {fixed}" in capsys.readouterr().out
