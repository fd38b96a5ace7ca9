"""The ``learned`` Manipulate backend: the VLA policy (camera + joints + instruction, no ground truth).

It takes free wordings: the task is read by ``language.TaskReader`` (the grammar where it
parses, else the nearest wording the policy was trained on)."""
from __future__ import annotations

import numpy as np

from seal_nodes.core.arm.backend import BackendError, Observation
from seal_nodes.core.arm.instructions import Task
from seal_nodes.core.arm.kinematics import ArmCommand
from seal_nodes.core.language.encoder import SentenceEncoder
from vla_policy.arm.language import TaskReader
from vla_policy.arm.runtime import GRASP_TASKS, WEIGHTS_DIR, LearnedPolicy, PolicyRuntime
from vla_policy.inference import InputError


class LearnedBackend:
    """The learned VLA policy; one ONNX runtime, sentence encoder and task reader per process, shared by goals."""

    name = "learned"
    weights_dir: str = ""  # "" = the weights shipped in vla_policy/arm/weights
    _shared: dict[str, tuple] = {}

    def __init__(self, dt: float) -> None:
        key = self.weights_dir or str(WEIGHTS_DIR)
        if key not in LearnedBackend._shared:
            runtime, encoder = PolicyRuntime(key), SentenceEncoder(threads=1)  # the node shares the cores
            LearnedBackend._shared[key] = (runtime, encoder, TaskReader(runtime.card, encoder))
        runtime, encoder, reader = LearnedBackend._shared[key]
        self.dt = dt
        self.policy = LearnedPolicy(runtime, encoder, reader=reader)
        self.known_colors = runtime.colors

    def warm_up(self) -> None:
        """Load the sentence encoder and embed the reader's wordings now rather than on the first goal."""
        self.policy.reset("pick up the red cube")
        self.policy.reader.table()

    def task_for(self, instruction: str) -> Task:
        """The task in ``instruction``, in free wording; InstructionError when it reads as none."""
        return self.policy.reader.read(instruction)

    def reset(self, task: Task, objects: dict[str, np.ndarray], instruction: str = "",
              bin_position: np.ndarray | None = None) -> None:
        # No simulator state here: the object must be one the policy was taught to recognise.
        if task.object and task.object.split("_")[0] not in self.known_colors:
            raise BackendError(f"unknown object: no {task.object.replace('_', ' ')} among the objects the "
                               f"policy knows ({', '.join(c + ' cube' for c in self.known_colors)})")
        self.policy.reset(instruction or task.name, task=task.name)
        self.grasping = task.name in GRASP_TASKS
        self._prev_grip: float | None = None
        self._held = False

    def act(self, obs: Observation) -> ArmCommand:
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

