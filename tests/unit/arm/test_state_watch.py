"""The policy's watch on the robot's joint states: a crashed or frozen robot ends the goal."""
from __future__ import annotations

import pytest

from seal_nodes.core.arm.state_watch import StateWatch
from tests.clock import ManualClock

pytestmark = pytest.mark.unit



def steps(watch: StateWatch, clock: ManualClock, seconds: float, dt: float = 0.05, states: bool = False) -> list:
    """Control steps for ``seconds`` (a state with each if ``states``): what the watch said."""
    said = []
    for _ in range(int(round(seconds / dt))):
        clock.t += dt
        if states:
            watch.heard()
        said.append(watch.silent_s())
    return said


def test_a_robot_that_reports_is_never_silent() -> None:
    clock = ManualClock()
    watch = StateWatch(2.0, clock=clock)
    watch.start()
    assert steps(watch, clock, 10.0, states=True) == [None] * 200


def test_states_that_stop_end_the_goal_once_past_the_timeout() -> None:
    clock = ManualClock()
    watch = StateWatch(2.0, clock=clock)
    watch.start()
    steps(watch, clock, 1.0, states=True)
    said = steps(watch, clock, 3.0)
    first = next(i for i, s in enumerate(said) if s is not None)
    assert 2.0 < said[first] <= 2.0 + 0.05 and first == 40  # 41 quiet steps of 50 ms
    assert all(s is None for s in said[:first])


def test_silence_before_the_goal_does_not_count_against_it() -> None:
    clock = ManualClock()
    watch = StateWatch(2.0, clock=clock)
    watch.heard()
    clock.t += 60.0  # no goal, no states for a minute
    watch.start()
    assert steps(watch, clock, 1.9) == [None] * 38
    assert steps(watch, clock, 0.2)[-1] is not None  # and none since the start: now it counts


def test_a_frozen_loop_lets_the_queued_states_in_before_counting() -> None:
    clock = ManualClock()
    watch = StateWatch(2.0, stall_s=0.5, clock=clock)
    watch.start()
    steps(watch, clock, 1.0, states=True)
    clock.t += 3.0  # the policy process was stopped: its loop and its callbacks
    assert watch.silent_s() is None  # the first step after the freeze does not judge
    said = steps(watch, clock, 1.0, states=True)  # the robot was there all along
    assert said == [None] * 20


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        StateWatch(0.0)
    with pytest.raises(ValueError, match="positive"):
        StateWatch(1.0, stall_s=-1.0)
