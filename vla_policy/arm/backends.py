"""Manipulate backends. ``learned``: the VLA policy (camera + joints + instruction, no ground truth).
``expert``: the scripted teacher (IK on simulator object poses).

The expert reads privileged state (true object positions from /sim/object_poses); it is the
teacher the learned policy imitates, not the policy itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim_worlds.tabletop.experts import ArmIK, ExpertAction
from sim_worlds.tabletop.tasks import TASKS, task_key
from vla_policy.arm.instructions import Task


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
    TASKS = ("pick", "place", "push", "point", "home")

    def __init__(self, dt: float) -> None:
        self.dt = dt
        self.task: Task | None = None
        self.expert = None
        self.ik = ArmIK()

    def reset(self, task: Task, objects: dict[str, np.ndarray], instruction: str = "",
              bin_position: np.ndarray | None = None) -> None:
        if task.name not in self.TASKS:
            raise BackendError(f"the expert backend cannot {task.name} (supports {list(self.TASKS)})")
        if task.object and task.object not in objects:
            raise BackendError(f"no {task.object.replace('_', ' ')} in the scene (have: {sorted(objects)})")
        if task.name == "place" and bin_position is None:
            raise BackendError("there is no bin in the scene")
        self.task = task

        class _Scene:  # what the task registry's expert factories read
            def bin_position(self) -> np.ndarray | None:
                return bin_position
        self.expert = TASKS[task_key(task.name, task.direction)].expert(_Scene(), self.dt, self.ik)
        self.expert.reset(task.object)

    def act(self, obs: Observation) -> ExpertAction:
        if self.task is None or self.expert is None:
            raise BackendError("act() before reset(): no task")
        target = obs.object_positions.get(self.task.object) if self.task.object else None
        if self.task.object and target is None:
            raise BackendError(f"{self.task.object} disappeared from the scene")
        return self.expert.act(obs.q, obs.gripper, target)


class LearnedBackend:
    """The learned VLA policy; one ONNX runtime and sentence encoder per process, shared by goals."""

    name = "learned"
    weights_dir: str = ""  # "" = the weights shipped in vla_policy/arm/weights
    _shared: dict[str, tuple] = {}

    def __init__(self, dt: float) -> None:
        from vla_policy.language import SentenceEncoder
        from vla_policy.arm.runtime import WEIGHTS_DIR, LearnedPolicy, PolicyRuntime

        key = self.weights_dir or str(WEIGHTS_DIR)
        if key not in LearnedBackend._shared:
            LearnedBackend._shared[key] = (PolicyRuntime(key), SentenceEncoder())
        runtime, encoder = LearnedBackend._shared[key]
        self.dt = dt
        self.policy = LearnedPolicy(runtime, encoder)
        self.known_colors = runtime.colors

    def warm_up(self) -> None:
        """Load the sentence encoder now rather than on the first goal."""
        self.policy.reset("pick up the red cube")

    def reset(self, task: Task, objects: dict[str, np.ndarray], instruction: str = "",
              bin_position: np.ndarray | None = None) -> None:
        # No simulator state here: the object must be one the policy was taught to recognise.
        if task.object and task.object.split("_")[0] not in self.known_colors:
            raise BackendError(f"unknown object: no {task.object.replace('_', ' ')} among the objects the "
                               f"policy knows ({', '.join(c + ' cube' for c in self.known_colors)})")
        self.policy.reset(instruction or task.name)
        self.grasping = task.name in ("pick", "place")
        self._prev_grip: float | None = None
        self._held = False

    def act(self, obs: Observation) -> ExpertAction:
        from vla_policy.arm.preprocess import InputError

        if obs.image is None:
            raise BackendError("the learned policy needs a camera image")
        try:
            a = self.policy.act(obs.q, obs.gripper, obs.image)
        except InputError as exc:
            raise BackendError(str(exc)) from exc
        if not a.done and a.phase != "retry":
            a.phase = self._phase(a.gripper, obs.gripper)
        return a

    def _phase(self, grip_cmd: float, grip: float) -> str:
        """A name for what the policy's own commands are doing (feedback only; no state is read)."""
        prev, self._prev_grip = self._prev_grip, grip
        if not self.grasping:
            return "acting"
        if grip_cmd < 0.5:
            return "release" if self._held else "approach"
        if prev is None or abs(grip - prev) > 0.01 or grip < 0.15:
            return "grasp"
        self._held = True
        return "lift"

    @property
    def inference_ms(self) -> float | None:
        return None if self.policy.last is None else self.policy.last.inference_ms


BACKENDS = {"expert": ExpertBackend, "learned": LearnedBackend}


def make_backend(name: str, dt: float):
    if name not in BACKENDS:
        raise ValueError(f"unknown manipulation backend {name!r}; available: {sorted(BACKENDS)}")
    return BACKENDS[name](dt)
