"""Message bounds: each check refuses what breaks its topic's contract and passes what the graph sends."""
from __future__ import annotations

import math

import pytest

from seal_nodes.core import bounds as b
from tests.clock import ManualClock

pytestmark = pytest.mark.unit

JOINTS = [f"panda_joint{i}" for i in range(1, 8)] + ["panda_gripper"]



def test_audio_chunk_bounds():
    assert b.check_audio_chunk(640, 16000, 1, "S16LE", "utt-1") == ""  # 20 ms, the contract's chunk
    assert "sample_rate" in b.check_audio_chunk(640, 0, 1, "S16LE", "")
    assert "sample_rate" in b.check_audio_chunk(640, 2**32 - 1, 1, "S16LE", "")
    assert "channels" in b.check_audio_chunk(640, 16000, 0, "S16LE", "")
    assert "chunk of" in b.check_audio_chunk(2 * 1024 * 1024, 16000, 1, "S16LE", "")
    assert "trace_id" in b.check_audio_chunk(640, 16000, 1, "S16LE", "t" * 10_000)
    assert "encoding" in b.check_audio_chunk(640, 16000, 1, "X" * 10_000, "")


def test_image_bounds():
    assert b.check_image(224, 224, 672, "rgb8", 224 * 672, "front_camera") == ""
    assert "image size" in b.check_image(2**32 - 1, 2**32 - 1, 2**32 - 1, "rgb8", 12, "")
    assert "image size" in b.check_image(0, 0, 0, "rgb8", 0, "")
    assert "does not match 224 rows" in b.check_image(224, 224, 672, "rgb8", 2 * 1024 * 1024, "")
    assert "does not match" in b.check_image(224, 224, 1, "rgb8", 224, "")  # a step shorter than a row
    assert "frame_id" in b.check_image(2, 2, 6, "rgb8", 12, "f" * 1000)


def test_joint_state_bounds():
    assert b.check_joint_state(JOINTS, [0.0] * 8, [0.0] * 8) == ""
    assert b.check_joint_state(JOINTS, [0.0] * 8, []) == ""  # velocities are optional
    assert "NaN" in b.check_joint_state(JOINTS, [math.nan] + [0.0] * 7, [])
    assert "NaN" in b.check_joint_state(JOINTS, [math.inf] * 8, [])
    assert "positions" in b.check_joint_state(JOINTS, [0.0] * 3, [])
    assert "at most" in b.check_joint_state(["x"] * 100_000, [0.0] * 100_000, [])
    assert "longer than" in b.check_joint_state(["x" * 1000], [0.0], [])


def test_trajectory_bounds_read_no_point_of_an_oversized_message():
    assert b.check_trajectory(JOINTS, 1, [8], 0.05) == ""
    assert b.check_trajectory(JOINTS, 0, [], 0.0) == ""  # emptiness is the trajectory validator's to explain

    def never():
        raise AssertionError("point sizes read for a message already out of bounds")
        yield 0
    assert "trajectory points" in b.check_trajectory(JOINTS, 20_000, never(), 1.0)
    assert "joint names" in b.check_trajectory(["x"] * 10_000, 1, never(), 1.0)
    assert "every point" in b.check_trajectory(JOINTS, 2, [8, 3], 1.0)
    assert "ends at" in b.check_trajectory(JOINTS, 1, [8], -5.0)
    assert "ends at" in b.check_trajectory(JOINTS, 1, [8], 2**31 - 1)
    assert "ends at" in b.check_trajectory(JOINTS, 1, [8], math.nan)


def test_event_bounds():
    ok = dict(type_="speech_end", text="pick up the red cube", source="audio_perception", trace_id="t1",
              payload_json='{"n_best": []}', confidence=0.9)
    assert b.check_event(**ok) == ""
    for field, value, says in [("type_", "x" * 1000, "type"), ("text", "x" * 100_000, "text"),
                               ("source", "s" * 1000, "source"), ("payload_json", "{" * 1_000_000, "payload_json"),
                               ("confidence", math.nan, "confidence"), ("confidence", -math.inf, "confidence")]:
        assert says in b.check_event(**{**ok, field: value}), field


def test_object_poses_and_goal_text_bounds():
    assert b.check_object_poses(["red_cube", "bin"], 2) == ""
    assert "poses" in b.check_object_poses(["red_cube"], 5)
    assert "at most" in b.check_object_poses(["x"] * 100_000, 0)
    assert b.check_finite("positions", [0.1, 0.2, 0.3]) == ""
    assert "NaN" in b.check_finite("positions", [0.1, math.nan])
    assert b.check_goal_text("instruction", "pick up the red cube", b.MAX_INSTRUCTION_CHARS, "t") == ""
    assert "instruction" in b.check_goal_text("instruction", "x" * 1_000_000, b.MAX_INSTRUCTION_CHARS, "t")
    assert "trace_id" in b.check_goal_text("instruction", "home", b.MAX_INSTRUCTION_CHARS, "t" * 1000)
    assert b.check_text("data", "pause", b.MAX_CONTROL_CHARS) == ""
    assert "characters" in b.check_text("data", "pause" * 100, b.MAX_CONTROL_CHARS)


def test_refusals_report_once_per_window_with_the_count_they_stand_for():
    clock = ManualClock(50.0)
    r = b.Refusals(window_s=2.0, clock=clock)
    assert r.refuse("/audio/mic") == 1  # the first is reported at once
    assert [r.refuse("/audio/mic") for _ in range(999)] == [None] * 999  # the rest only count
    assert r.refuse("/seal/events") == 1  # per key
    clock.t += 2.0
    assert r.refuse("/audio/mic") == 1000  # this one and the 999 held back
    assert r.refuse("/audio/mic") is None
    assert r.flush() == {}  # its window is still open
    clock.t += 2.0
    assert r.flush() == {"/audio/mic": 1}  # the tail of a flood, reported once nothing follows it
    assert r.flush() == {}
    with pytest.raises(ValueError):
        b.Refusals(window_s=0)


def test_refusal_keys_are_fault_kinds_and_bounded():
    assert b.fault_kind("unknown joints ['a', 'b']; this robot has [...]") == "unknown joints ~; this robot has ~"
    assert b.fault_kind("event 'voice' not recorded: bad embedding") != b.fault_kind("event 'x' not recorded: bad JSON")
    assert b.fault_kind("buffer of 100 bytes does not match 224 rows of step 672") == \
        b.fault_kind("buffer of 7 bytes does not match 3 rows of step 1")
    assert b.fault_kind("chunk of 65.54 s (at most 0.5 s)") == "chunk of # s ~"
    assert b.fault_kind("x" * 10_000).startswith("x") and len(b.fault_kind("x" * 10_000)) <= 80
    r = b.Refusals(window_s=2.0, clock=ManualClock(50.0), max_keys=3)
    assert [r.refuse(k) for k in ("a", "b", "c", "d", "e")] == [1, 1, 1, 1, None]  # d and e share OTHER
    assert set(r.flush()) == set()


def test_audio_budget_allows_real_time_and_drops_a_faster_stream():
    clock = ManualClock(50.0)
    budget = b.AudioBudget(speed=2.0, burst_s=5.0, clock=clock)
    for _ in range(10 * 50):  # 10 s of 20 ms chunks at real time
        assert budget.take(0.02)
        clock.t += 0.02
    taken = sum(budget.take(0.02) for _ in range(1000))  # 20 s of audio at once
    assert taken == 250  # the burst, no more
    clock.t += 1.0
    assert sum(budget.take(0.02) for _ in range(1000)) == 100  # then twice real time
    with pytest.raises(ValueError):
        b.AudioBudget(speed=0)
