"""Grasp evidence from the joint state, and the one bit of memory the policy keeps per goal.

The network is a function of one frame; it cannot tell "about to pick the cube" from "just put
the cube in the bin, it is in view again" (without memory it went back for it). ``GraspMemory``
remembers whether the gripper has *held* something during this goal — from the measured gripper
opening and the commanded gripper, never from simulator state — and that bit is an input of the
network (``preprocess.proprio``). Training data derives the same bit with the same rule
(``held_flags``), so the network sees at run time what it saw in training.
"""
from __future__ import annotations

import numpy as np

# Measured gripper opening (0 open .. 1 closed) with the fingers stopped on a 3.6-4.4 cm cube:
# ~0.44-0.75 in the demonstrations; closing on nothing reaches ~1.0.
HOLD_RANGE = (0.2, 0.85)
SETTLED = 0.02  # opening change per control step below which the fingers count as stopped
BLOCKED = 0.1  # the opening stays at least this far short of the command: something is in the way
CONFIRM_STEPS = 3  # consecutive holding steps before "has held" is set (a closing sweep passes)


def grasp_evidence(grip_cmd: float, gripper: float) -> bool:
    """The fingers were commanded closed and stopped part-way, short of the command: something is
    between them. (A gripper that merely follows a half command, 0.85 for 0.84, is not a grasp.)"""
    return grip_cmd >= 0.5 and HOLD_RANGE[0] < gripper < min(HOLD_RANGE[1], grip_cmd - BLOCKED)


class GraspMemory:
    """Per goal: is the gripper holding something now, and has it held something so far?"""

    def __init__(self, confirm_steps: int = CONFIRM_STEPS) -> None:
        self.confirm_steps = confirm_steps
        self.reset()

    def reset(self) -> None:
        self.held = False  # sticky for the goal
        self.holding = False  # this step
        self._run = 0
        self._prev: float | None = None

    def update(self, grip_cmd: float, gripper: float) -> bool:
        """One control step (the command sent, the opening measured); returns ``holding``."""
        settled = self._prev is not None and abs(gripper - self._prev) < SETTLED
        self._prev = float(gripper)
        self.holding = settled and grasp_evidence(grip_cmd, gripper)
        self._run = self._run + 1 if self.holding else 0
        self.held = self.held or self._run >= self.confirm_steps
        return self.holding


def held_flags(grip_cmds: np.ndarray, grippers: np.ndarray, episodes: np.ndarray) -> np.ndarray:
    """[N] float32: for each frame, ``GraspMemory.held`` *before* that frame's command.

    Frames are in time order within each episode (``episodes`` labels them); the flag at frame t
    uses steps 0..t-1, as at run time, where the flag is an input of the step it precedes.
    """
    out = np.zeros(len(grip_cmds), np.float32)
    mem = GraspMemory()
    for t in range(len(grip_cmds)):
        if t == 0 or episodes[t] != episodes[t - 1]:
            mem.reset()
        out[t] = float(mem.held)
        mem.update(float(grip_cmds[t]), float(grippers[t]))
    return out
