"""An arm regression case (``arm_case_N.json``, written by ``seal diagnose``) replayed in the MuJoCo tabletop.

The world is built as the recorded run's sim node built it (layout seed, scene, randomisation,
camera size, an injected ``fault_stuck_object``); the instruction goes to a Manipulate backend the
way the vla_policy node hands it a goal (the backend reads the task, then takes the task and the
scene's objects, or refuses);
the task registry's episode loop drives it on camera frames and joint states, and the task's own
success test reads the simulator at the end. The replay starts from the seed's fresh layout with
the arm at home: what earlier goals of the recorded run moved is not replayed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from seal_nodes.core.arm.backend import ArmBackend, BackendError, Observation
from seal_nodes.core.arm.instructions import InstructionError
from seal_nodes.core.arm.kinematics import ArmCommand

DEFAULT_BACKEND = "learned"  # the policy that ships, as the vla_policy node runs by default
DEFAULT_HZ = 20.0  # the node's control rate when the case does not carry the recorded one
# sim node parameters that shape the world (an injected fault included: the replay reproduces it)
WORLD_PARAMS = {"scene": str, "randomize": bool, "fault_stuck_object": str, "mesh_detail": float}
_SUCCESS = {"pick": "the {obj} is lifted off the table", "place": "the {obj} is in the bin",
            "push_left": "the {obj} moved 5 cm to the left", "push_right": "the {obj} moved 5 cm to the right",
            "point": "the gripper points at the {obj} without moving it", "home": "the arm is at home, gripper open"}


class ArmCaseError(ValueError):
    """A case file that cannot be replayed; the message says which and why."""


@dataclass
class ArmReplay:
    success: bool
    reason: str  # in plain words: what the world did, and why it failed where it failed
    task: str = ""
    steps: int = 0


def _expert(dt: float) -> ArmBackend:
    from sim_worlds.tabletop.expert_backend import ExpertBackend

    return ExpertBackend(dt)


def _learned(dt: float) -> ArmBackend:
    from vla_policy.arm.backends import LearnedBackend

    return LearnedBackend(dt)


BACKENDS: dict[str, Callable[[float], ArmBackend]] = {"learned": _learned, "expert": _expert}


def load_case(path: str | Path) -> dict[str, Any]:
    """The case's fields, checked: a seed and an instruction at least."""
    try:
        case = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ArmCaseError(f"cannot read arm case {path}: {exc}") from exc
    if not isinstance(case, dict) or case.get("kind") != "arm":
        raise ArmCaseError(f"{path}: not an arm case (a JSON object with kind: arm)")
    if not isinstance(case.get("seed"), int) or isinstance(case.get("seed"), bool):
        raise ArmCaseError(f"{path}: no layout seed (the recording did not carry one: write the case with "
                           f"'seal diagnose --seed N')")
    if not isinstance(case.get("instruction"), str) or not case["instruction"].strip():
        raise ArmCaseError(f"{path}: no instruction to replay")
    return case


def _world_kwargs(sim: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, kind in WORLD_PARAMS.items():
        if key in sim:
            value = sim[key]
            if kind is str:
                out[key] = "" if value is None else str(value)  # an empty launch value reads back as None
            elif kind is float:
                try:
                    out[key] = float(value)
                except (TypeError, ValueError) as exc:
                    raise ArmCaseError(f"sim.{key} must be a number, got {value!r}") from exc
            else:
                out[key] = value if isinstance(value, bool) else str(value).lower() == "true"
    if "image_height" in sim and "image_width" in sim:
        out["image_size"] = (int(sim["image_height"]), int(sim["image_width"]))
    return out


def replay_case(case: dict[str, Any], backend: str | None = None) -> ArmReplay:
    """Run the case's instruction once in its world; what happened, judged by the task's success test."""
    from sim_worlds.tabletop.tasks import TASKS, Episode, run_episode, task_key
    from sim_worlds.tabletop.world import TabletopWorld

    name = backend or case.get("backend") or DEFAULT_BACKEND
    if name not in BACKENDS:
        raise ArmCaseError(f"unknown manipulation backend {name!r}; available: {sorted(BACKENDS)}")
    dt = 1.0 / float(case.get("control_hz") or DEFAULT_HZ)
    instruction = case["instruction"]
    try:
        world = TabletopWorld(seed=case["seed"], render=True, **_world_kwargs(case.get("sim") or {}))
    except (KeyError, ValueError) as exc:  # an unknown scene or object, a mesh detail out of range
        raise ArmCaseError(f"the case's world cannot be built: {exc.args[0]}") from exc
    try:
        arm = BACKENDS[name](dt)
        objects = {n: world.object_pose(n)[0] for n in world.object_names()}
        try:
            task = arm.task_for(instruction)
            arm.reset(task, objects, instruction, world.bin_position())
        except (InstructionError, BackendError) as exc:
            return ArmReplay(False, f"the {name} backend refused “{instruction}”: {exc}")
        key = task_key(task.name, task.direction)
        if key not in TASKS:
            return ArmReplay(False, f"the tabletop has no success test for the task {key!r} of “{instruction}”")
        episode = Episode(key, task.object, objects)

        def act(q: np.ndarray, gripper: float, image: np.ndarray | None) -> ArmCommand:
            seen = {n: world.object_pose(n)[0] for n in world.object_names()}
            return arm.act(Observation(q, gripper, image, seen))

        try:
            ok, last, steps = run_episode(world, episode, act, dt, render=True)
        except BackendError as exc:
            return ArmReplay(False, f"the {name} backend stopped mid-task: {exc}", key)
    finally:
        world.close()
    wanted = _SUCCESS.get(key, "the task's success test passes").format(obj=task.object.replace("_", " "))
    stuck = world.fault_stuck_object
    where = f"seed {case['seed']}" + (f", fault_stuck_object: the {stuck.replace('_', ' ')} held to the table"
                                      if stuck else "")
    if ok:
        return ArmReplay(True, f"“{instruction}” ({key}, {name} backend, {where}): {wanted}", key, steps)
    if last is not None and last.failed:
        how = f"the {name} backend gave up" + (f" in phase {last.phase}" if last.phase != "failed" else "")
    elif last is not None and not last.done:
        how = f"the {name} backend was still in phase {last.phase} when the task's {TASKS[key].max_time_s:g} s ran out"
    else:
        how = f"the {name} backend reported done"
    return ArmReplay(False, f"“{instruction}” ({key}, {where}): {how}, but it is not so that {wanted}", key, steps)
