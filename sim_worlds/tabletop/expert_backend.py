"""The ``expert`` Manipulate backend: the scripted teacher, sim only.

It reads privileged state (true object positions from /sim/object_poses) and runs the task
registry's expert with IK on them; it is the teacher the learned policy imitates, not the policy.
"""
from __future__ import annotations

import numpy as np

from seal_nodes.core.arm.backend import BackendError, Observation
from seal_nodes.core.arm.instructions import Task, parse_instruction
from seal_nodes.core.arm.kinematics import ArmCommand, ArmIK
from sim_worlds.tabletop.tasks import TASKS, task_key


class _Scene:
    """What the task registry's expert factories read from the world: only the bin."""

    def __init__(self, bin_position: np.ndarray | None) -> None:
        self._bin = bin_position

    def bin_position(self) -> np.ndarray | None:
        return self._bin


class ExpertBackend:
    name = "expert"
    TASKS = ("pick", "place", "push", "point", "home")

    def __init__(self, dt: float) -> None:
        self.dt = dt
        self.task: Task | None = None
        self.expert = None
        self.ik = ArmIK()

    def task_for(self, instruction: str) -> Task:
        """The grammar only: the expert needs every field of the task exactly."""
        return parse_instruction(instruction)

    def reset(self, task: Task, objects: dict[str, np.ndarray], instruction: str = "",
              bin_position: np.ndarray | None = None) -> None:
        if task.name not in self.TASKS:
            raise BackendError(f"the expert backend cannot {task.name} (supports {list(self.TASKS)})")
        if task.object and task.object not in objects:
            raise BackendError(f"no {task.object.replace('_', ' ')} in the scene (have: {sorted(objects)})")
        if task.name == "place" and bin_position is None:
            raise BackendError("there is no bin in the scene")
        self.task = task
        self.expert = TASKS[task_key(task.name, task.direction)].expert(_Scene(bin_position), self.dt, self.ik)
        self.expert.reset(task.object)

    def act(self, obs: Observation) -> ArmCommand:
        if self.task is None or self.expert is None:
            raise BackendError("act() before reset(): no task")
        target = obs.object_positions.get(self.task.object) if self.task.object else None
        if self.task.object and target is None:
            raise BackendError(f"{self.task.object} disappeared from the scene")
        return self.expert.act(obs.q, obs.gripper, target)
