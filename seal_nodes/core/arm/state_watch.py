"""Has the robot gone quiet under a running goal? ROS-free, on an injectable clock.

The policy acts only on fresh joint states; when they stop (the robot's driver or the sim
crashed or froze), the goal must end rather than wait out its timeout and then act on a world
that may have restarted. Silence is counted from the later of the last state and the goal's
start, and only while the control loop itself runs: a loop step that comes ``stall_s`` late
means the policy was frozen or starved, and the states queued meanwhile get their turn first.
"""
from __future__ import annotations

import time
from typing import Callable


class StateWatch:
    def __init__(self, timeout_s: float, stall_s: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        if timeout_s <= 0 or stall_s <= 0:
            raise ValueError(f"timeout_s and stall_s must be positive, got {timeout_s} and {stall_s}")
        self.timeout_s, self.stall_s, self.clock = timeout_s, stall_s, clock
        self._heard = float("-inf")  # last joint state (any: a bad one still says the robot is there)
        self._from = self._tick = clock()

    def heard(self) -> None:
        """A joint state arrived (called from the sensor callback)."""
        self._heard = self.clock()

    def start(self) -> None:
        """A goal starts: silence before it does not count against it."""
        self._from = self._tick = self.clock()

    def silent_s(self) -> float | None:
        """Called once per control step: how long the robot has been quiet, once that is past
        ``timeout_s``; None while it reports (or the loop has only just resumed)."""
        now = self.clock()
        if now - self._tick > self.stall_s:
            self._from = now
        self._tick = now
        quiet = now - max(self._heard, self._from)
        return quiet if quiet > self.timeout_s else None
