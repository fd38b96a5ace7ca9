"""Deliberately broken runs diagnosed from fast inputs: a slow voice, a missed grasp (a refused action is
in ``test_trace.py``). Each fault is named in plain words and becomes the right kind of case.

The real stack's broken runs (the TTS node's ``fault_delay_ms``, the sim node's
``fault_stuck_object``) are ``tests/e2e/test_broken_runs.py``; these are their quick stand-ins for
the unit suite: the slow voice is a ``seal think`` scenario run recorded with the real thinker, its
simulated TTS starting to play late; the missed grasp is written with the project's recorder the
way the stack records one (the launch's metadata, the goal's feedback, the arm commands while it
ran, the vla_policy node's failure message).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcap_ros2._dynamic import serialize_dynamic

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.observe.trace.diagnose import ARM, OTHER, diagnose
from seal_nodes.core.observe.trace.episode import build_episode
from seal_nodes.core.observe.trace.reader import AudioRec, EventRec, Recording, ThoughtRec, read_recording
from seal_nodes.stack import graph
from seal_nodes.tools import diagnose as diagnose_cli
from seal_nodes.tools.arm_case import ArmCaseError, load_case
from seal_nodes.tools.latency import BUDGETS
from seal_nodes.tools.recording import McapRecorder, launch_metadata, message_definition
from seal_nodes.tools.scenario import parse_scenario
from seal_nodes.tools.scenario_recording import record_scenario

pytestmark = pytest.mark.unit

BUDGET_MS = {p: b.budget_ms for p, b in BUDGETS.items()}
S = 1_000_000_000


def slow_voice(path: Path, first_audio_ms: float) -> Path:
    sc = parse_scenario({"name": "slow_voice", "thinker": {"fast_path": True},
                         "voice": {"first_audio_ms": first_audio_ms},
                         "script": ["<assistant>Sorry, I did not get that.</assistant>"],
                         "events": [{"t_ms": 500, "user": "Pick up the red cube."}]})
    record_scenario(sc, path)
    return path


def _encoder(type_name: str):
    return serialize_dynamic(type_name, message_definition(type_name))[type_name]


def missed_grasp(path: Path, seed: str | None = "7") -> Path:
    """A pick whose grasp closes on nothing: feedback through approach and grasp, arm commands all the
    while, then the vla_policy node's failure; the launch's arguments in the file's metadata."""
    event, thought = _encoder(topics.EVENTS.type), _encoder(topics.THOUGHTS.type)
    command = _encoder(topics.ARM_TRAJECTORY.type)
    rec = McapRecorder(path)
    if seed is not None:
        for name, data in launch_metadata(graph.load(graph.LAUNCH_DIR / "sim.launch.yaml", {"seed": seed})).items():
            rec.add_metadata(name, data)
    for topic in (topics.EVENTS, topics.THOUGHTS, topics.ARM_TRAJECTORY):
        rec.add_channel(topic.name, topic.type)

    def header(ns: int) -> dict:
        return {"stamp": {"sec": ns // S, "nanosec": ns % S}, "frame_id": ""}

    def emit(ns: int, type_: str, text: str = "", source: str = "test", **payload) -> None:
        rec.write(topics.EVENTS.name, event({"header": header(ns), "type": type_, "text": text, "confidence": 1.0,
                                             "source": source, "trace_id": "t1",
                                             "payload_json": json.dumps(payload)}), ns)

    emit(1 * S, ev.SPEECH_START, source="audio_perception", onset_ns=int(0.95 * S))
    emit(3 * S, ev.SPEECH_END, "Pick up the red cube.", "audio_perception", offset_ns=int(2.8 * S))
    rec.write(topics.THOUGHTS.name, thought({"header": header(int(3.1 * S)), "kind": "act",
                                             "text": "pick(object=red_cube)", "trace_id": "t1"}), int(3.1 * S))
    for k, phase in enumerate(["approach"] * 10 + ["grasp"] * 6):
        ns = int(3.2 * S) + k * S // 20
        emit(ns, ev.ACTION_FEEDBACK, phase, "thinker", goal_id="g1", progress=k / 16)
        rec.write(topics.ARM_TRAJECTORY.name, command({
            "header": header(ns), "joint_names": ["panda_joint1"],
            "points": [{"positions": [0.1 * k], "velocities": [], "accelerations": [], "effort": [],
                        "time_from_start": {"sec": 0, "nanosec": 50_000_000}}]}), ns)
    emit(4 * S, ev.ACTION_RESULT, "pick up the red cube: failed in phase grasp", "thinker", goal_id="g1",
         action="pick(object=red_cube)", success=False, canceled=False, instruction="pick up the red cube")
    emit(int(4.1 * S), ev.TURN_DONE, source="thinker", outcome="acted", actions=["pick(object=red_cube)"],
         success=[False])
    rec.close()
    return path


def test_a_slow_voice_is_named_as_the_late_hop_and_gets_no_replay_case(tmp_path):
    assert diagnose(build_episode(read_recording(slow_voice(tmp_path / "ok.mcap", 120.0))), BUDGET_MS) == []
    rec = read_recording(slow_voice(tmp_path / "slow.mcap", 1500.0))
    (finding,) = diagnose(build_episode(rec), BUDGET_MS)
    assert finding.kind == "over_budget" and finding.layer == OTHER
    assert "first_audio_ms was 1500 ms" in finding.text and "over its 500 ms budget" in finding.text
    assert "the slowest hop: the voice's agent_speech_start came 1500 ms after the thinker's output" in finding.text
    assert diagnose_cli.main([str(tmp_path / "slow.mcap"), "--out", str(tmp_path / "d")]) == 1
    assert "first_audio_ms" in (tmp_path / "d" / "diagnosis.md").read_text()
    assert not list((tmp_path / "d").glob("*case_*"))  # a latency is measured on the stack, not replayed


def test_a_voice_that_begins_on_time_but_plays_late_is_named_by_its_synthesis():
    """The stack's slow TTS: agent_speech_start on time, its first /audio/speaker chunk late."""
    def event(t_s: float, type_: str, text: str = "", **payload) -> EventRec:
        return EventRec(int(t_s * S), int(t_s * S), type_, text, "test", "t1", 1.0, payload)

    rec = Recording("stack", events=[event(1.0, ev.SPEECH_START, onset_ns=int(0.95 * S)),
                                     event(2.3, ev.SPEECH_END, "Pick up the red cube.", offset_ns=int(2.0 * S)),
                                     event(2.45, ev.AGENT_SPEECH_START, "Sure."),
                                     event(5.0, ev.TURN_DONE, outcome="said")],
                    thoughts=[ThoughtRec(int(2.4 * S), "say", "Sure.", "t1")],
                    speaker=[AudioRec(int(4.5 * S), 22050, 1, "t1", b"\x01\x00" * 441)])
    (finding,) = diagnose(build_episode(rec), BUDGET_MS)
    assert finding.text == ("first_audio_ms was 2500 ms in the user's “Pick up the red cube.” at 0.0 s, over its "
                            "500 ms budget; the slowest hop: the voice's first audio (synthesis) played 2050 ms "
                            "after its agent_speech_start")


def test_a_missed_grasp_is_an_arm_fault_and_its_case_carries_the_launch_seed(tmp_path):
    rec = read_recording(missed_grasp(tmp_path / "grasp.mcap"))
    (finding,) = diagnose(build_episode(rec), BUDGET_MS)
    assert finding.kind == "action_failed" and finding.layer == ARM
    assert finding.text == "pick(object=red_cube) failed at 3.0 s: pick up the red cube: failed in phase grasp"
    assert diagnose_cli.main([str(tmp_path / "grasp.mcap"), "--out", str(tmp_path / "d")]) == 1
    assert [p.name for p in (tmp_path / "d").glob("*case_*")] == ["arm_case_1.json"]
    case = load_case(tmp_path / "d" / "arm_case_1.json")
    assert case["seed"] == 7 and case["instruction"] == "pick up the red cube"
    assert case["backend"] == "learned" and case["control_hz"] == 20.0
    assert case["sim"]["image_width"] == 224
    diagnose_cli.main([str(tmp_path / "grasp.mcap"), "--out", str(tmp_path / "d"), "--seed", "11"])
    assert load_case(tmp_path / "d" / "arm_case_1.json")["seed"] == 11  # --seed overrides the recording


def test_an_arm_case_without_a_seed_is_a_clear_error(tmp_path, capsys):
    rec = read_recording(missed_grasp(tmp_path / "old.mcap", seed=None))
    (path,) = diagnose_cli.write_cases(diagnose(build_episode(rec), BUDGET_MS), rec, tmp_path, seed=None)
    with pytest.raises(ArmCaseError, match="no layout seed"):
        load_case(path)
    assert diagnose_cli.main(["--check", str(path)]) == 2
    assert "seal diagnose --seed N" in capsys.readouterr().err
