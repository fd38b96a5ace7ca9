"""Grasp evidence and the policy's one bit of memory, the same at run time and in training data."""
from __future__ import annotations

import numpy as np
import pytest

from vla_policy.arm.grasp import CONFIRM_STEPS, GraspMemory, grasp_evidence, held_flags

pytestmark = pytest.mark.unit


def test_evidence_needs_a_close_command_and_fingers_stopped_part_way():
    assert grasp_evidence(1.0, 0.55)
    assert not grasp_evidence(0.0, 0.55)  # opening, not holding
    assert not grasp_evidence(1.0, 0.98)  # closed on nothing
    assert not grasp_evidence(1.0, 0.05)  # still open
    assert not grasp_evidence(0.84, 0.8)  # the fingers only follow a half command
    assert grasp_evidence(0.84, 0.6)


def test_a_closing_sweep_through_the_range_is_not_a_grasp():
    mem = GraspMemory()
    for g in (0.0, 0.3, 0.6, 0.9, 1.0, 1.0, 1.0):
        mem.update(1.0, g)
    assert not mem.held


def test_held_is_set_after_confirmed_steps_and_survives_the_release():
    mem = GraspMemory()
    mem.update(1.0, 0.55)  # the first reading cannot be "settled"
    for _ in range(CONFIRM_STEPS - 1):
        mem.update(1.0, 0.55)
        assert mem.holding and not mem.held
    mem.update(1.0, 0.55)
    assert mem.held
    mem.update(0.0, 0.1)
    assert mem.held and not mem.holding
    mem.reset()
    assert not mem.held


def test_training_flags_are_the_run_time_memory_before_each_step():
    rng = np.random.default_rng(0)
    cmds = np.r_[np.zeros(3), np.ones(8), np.zeros(4), np.ones(6)]
    grips = np.r_[np.zeros(3), 0.3, np.full(7, 0.55), np.zeros(4), 0.3, np.full(5, 0.6)] + rng.normal(0, 0.002, 21)
    episodes = np.r_[np.zeros(15, int), np.ones(6, int)]
    flags = held_flags(cmds, grips, episodes)
    expected, mem = [], GraspMemory()
    for t in range(len(cmds)):
        if t == 15:
            mem.reset()
        expected.append(float(mem.held))
        mem.update(cmds[t], grips[t])
    np.testing.assert_array_equal(flags, expected)
    assert flags[14] == 1.0 and flags[15] == 0.0  # a new episode starts without memory
    assert flags[:7].max() == 0.0 and flags[8] == 1.0
