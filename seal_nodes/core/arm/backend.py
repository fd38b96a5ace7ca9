"""What the Manipulate loop gives a backend each step, and what a backend must offer.

A backend turns one observation into the next ``ArmCommand`` for a parsed task: the learned
policy (``vla_policy.arm.backends``) or the simulator's scripted expert
(``sim_worlds.tabletop.expert_backend``). The node picks one by name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from seal_nodes.core.arm.instructions import Task
from seal_nodes.core.arm.kinematics import ArmCommand


@dataclass
class Observation:
    q: np.ndarray  # 7 arm joints
    gripper: float  # 0 open … 1 closed
    image: np.ndarray | None  # HxWx3 uint8 camera frame (unused by the expert)
    object_positions: dict[str, np.ndarray]


class BackendError(ValueError):
    """The backend cannot do this task here (unsupported task, object not in the scene)."""


class ArmBackend(Protocol):
    name: str

    def task_for(self, instruction: str) -> Task:
        """The task an instruction asks for, as this backend reads it; InstructionError if none."""
        ...

    def reset(self, task: Task, objects: dict[str, np.ndarray], instruction: str = "",
              bin_position: np.ndarray | None = None) -> None: ...

    def act(self, obs: Observation) -> ArmCommand: ...
