"""Manipulate backends. ``expert``: the scripted teacher (IK on simulator object poses).

The expert reads privileged state (true object positions from /sim/object_poses); it is the
teacher the learned policy imitates, not the policy itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim_worlds.experts import ExpertAction, HomeExpert, PickExpert
from vla_policy.instructions import Task


@dataclass
class Observation:
    q: np.ndarray  # 7 arm joints
    gripper: float  # 0 open … 1 closed
    image: np.ndarray | None  # HxWx3 uint8 camera frame (unused by the expert)
    object_positions: dict[str, np.ndarray]


class BackendError(ValueError):
    """The backend cannot do this task here (unsupported task, object not in the scene)."""


class ExpertBackend:
    name = "expert"
    TASKS = ("pick", "home")

    def __init__(self, dt: float) -> None:
        self.dt = dt
        self.task: Task | None = None
        self.expert: PickExpert | HomeExpert | None = None

    def reset(self, task: Task, objects: dict[str, np.ndarray]) -> None:
        if task.name not in self.TASKS:
            raise BackendError(f"the expert backend cannot {task.name} yet (supports {list(self.TASKS)})")
        if task.object and task.object not in objects:
            raise BackendError(f"no {task.object.replace('_', ' ')} in the scene (have: {sorted(objects)})")
        self.task = task
        self.expert = PickExpert(dt=self.dt) if task.name == "pick" else HomeExpert(dt=self.dt)
        self.expert.reset(task.object)

    def act(self, obs: Observation) -> ExpertAction:
        if self.task is None or self.expert is None:
            raise BackendError("act() before reset(): no task")
        target = obs.object_positions.get(self.task.object) if self.task.object else None
        if self.task.object and target is None:
            raise BackendError(f"{self.task.object} disappeared from the scene")
        return self.expert.act(obs.q, obs.gripper, target)


BACKENDS = {"expert": ExpertBackend}


def make_backend(name: str, dt: float):
    if name not in BACKENDS:
        raise ValueError(f"unknown manipulation backend {name!r}; available: {sorted(BACKENDS)}")
    return BACKENDS[name](dt)
