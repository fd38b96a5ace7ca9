"""Task registry: instructions, start states, the scripted teacher and success from simulator state.

Each task names the scenes it runs in, its instruction templates (``{color}`` slot), the expert
that demonstrates it and a success test that reads only the simulator (never the policy).
``run_episode`` drives any controller (expert or learned) through one seeded episode.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from seal_nodes.core.arm.kinematics import DOWN_ROT, ArmCommand, ArmIK
from seal_nodes.core.arm.robot import HOME_Q
from sim_worlds.tabletop.experts import HomeExpert, PickExpert, PlaceExpert, PointExpert, PushExpert
from sim_worlds.tabletop.world import TabletopWorld

COLORS = ("red", "green", "blue")


@dataclass
class Episode:
    """What a success test needs to know about how the episode began."""

    task: str
    target: str  # object name ("" for home)
    start_pos: dict[str, np.ndarray] = field(default_factory=dict)  # object positions at the start


@dataclass(frozen=True)
class TaskSpec:
    name: str
    templates: tuple[str, ...]
    scenes: tuple[str, ...]
    expert: Callable[[TabletopWorld, float, ArmIK], object]
    success: Callable[[TabletopWorld, Episode], bool]
    max_time_s: float
    needs_object: bool = True


def _pick_ok(w: TabletopWorld, ep: Episode) -> bool:
    return w.is_lifted(ep.target)


def _place_ok(w: TabletopWorld, ep: Episode) -> bool:
    return w.in_bin(ep.target)


def _push_ok(sign: float) -> Callable[[TabletopWorld, Episode], bool]:
    def ok(w: TabletopWorld, ep: Episode) -> bool:
        moved = w.object_pose(ep.target)[0] - ep.start_pos[ep.target]
        return bool(sign * moved[1] >= 0.05 and abs(moved[2]) < 0.02)
    return ok


def _point_ok(w: TabletopWorld, ep: Episode) -> bool:
    obj = w.object_pose(ep.target)[0]
    tcp = w.ee_position()
    still = np.linalg.norm(obj - ep.start_pos[ep.target]) < 0.02
    return bool(still and np.linalg.norm(tcp[:2] - obj[:2]) < 0.025 and 0.03 < tcp[2] - obj[2] < 0.13)


_HOME_TCP = ArmIK().fk(HOME_Q)[0]


def _home_ok(w: TabletopWorld, ep: Episode) -> bool:
    return bool(np.linalg.norm(w.ee_position() - _HOME_TCP) < 0.03 and w.joint_positions()[7] < 0.2)


TASKS: dict[str, TaskSpec] = {t.name: t for t in (
    TaskSpec("pick", ("pick up the {color} cube", "grab the {color} block", "lift the {color} cube"),
             ("tabletop", "tabletop_bin"), lambda w, dt, ik: PickExpert(dt=dt, ik=ik), _pick_ok, 12.0),
    TaskSpec("place", ("put the {color} cube in the bin", "place the {color} block into the bin",
                       "drop the {color} cube in the bin"),
             ("tabletop_bin",), lambda w, dt, ik: PlaceExpert(w.bin_position(), dt=dt, ik=ik), _place_ok, 20.0),
    TaskSpec("push_left", ("push the {color} cube left", "push the {color} block to the left"),
             ("tabletop", "tabletop_bin"), lambda w, dt, ik: PushExpert("left", dt=dt, ik=ik), _push_ok(1.0), 14.0),
    TaskSpec("push_right", ("push the {color} cube right", "push the {color} block to the right"),
             ("tabletop", "tabletop_bin"), lambda w, dt, ik: PushExpert("right", dt=dt, ik=ik), _push_ok(-1.0), 14.0),
    TaskSpec("point", ("point at the {color} cube", "point at the {color} block"),
             ("tabletop", "tabletop_bin"), lambda w, dt, ik: PointExpert(dt=dt, ik=ik), _point_ok, 10.0),
    TaskSpec("home", ("go home", "go to home"), ("tabletop", "tabletop_bin"),
             lambda w, dt, ik: HomeExpert(dt=dt), _home_ok, 8.0, needs_object=False),
)}


def task_key(name: str, direction: str = "") -> str:
    """Registry key for a parsed instruction (``push`` + ``left`` -> ``push_left``)."""
    return f"{name}_{direction}" if name == "push" else name


def instruction(task: str, target: str, template: str | None = None) -> str:
    spec = TASKS[task]
    t = template if template is not None else spec.templates[0]
    return t.format(color=target.split("_")[0]) if target else t


class Controller(Protocol):
    def __call__(self, q: np.ndarray, gripper: float, image: np.ndarray | None) -> ArmCommand: ...


def start_episode(world: TabletopWorld, task: str, rng: np.random.Generator, ik: ArmIK) -> Episode:
    """Seeded start: scene layout from ``world.reset`` (done by the caller), a target, an arm pose.

    Half the episodes start at home, half from a random gripper-down pose above the table
    (every task but ``home`` also has to work after an earlier goal left the arm elsewhere).
    """
    spec = TASKS[task]
    target = str(rng.choice(world.object_names())) if spec.needs_object else ""
    if task == "home" or rng.uniform() < 0.5:
        tcp = np.array([rng.uniform(0.3, 0.6), rng.uniform(-0.25, 0.25), rng.uniform(0.15, 0.4)])
        q, _ = ik.solve(tcp, DOWN_ROT, HOME_Q, iters=100)
        world.set_arm(q, 0.0)
    start = {n: world.object_pose(n)[0] for n in world.object_names()}
    return Episode(task, target, start)


def run_episode(world: TabletopWorld, episode: Episode, controller: Controller, dt: float,
                render: bool, on_step: Callable[[dict], None] | None = None,
                extra_steps_after_done: int = 0) -> tuple[bool, ArmCommand, int]:
    """Closed loop until the controller says done/failed or time runs out; (success, last action, steps).

    ``on_step`` sees each step's observation and action (dataset recording); the loop goes on
    ``extra_steps_after_done`` steps past "done" so a learner sees what done looks like.
    """
    spec = TASKS[episode.task]
    steps, after = int(spec.max_time_s / dt), -1
    a = None
    for i in range(steps):
        qg = world.joint_positions()
        image = world.render() if render else None
        a = controller(qg[:7], float(qg[7]), image)
        if on_step is not None:
            on_step({"q": qg, "image": image, "action": a, "tcp": world.ee_position(),
                     "target_pos": world.object_pose(episode.target)[0] if episode.target else None})
        world.set_command(a.arm_q, a.gripper)
        world.step(dt)
        if a.failed:
            break
        if a.done:
            after += 1
            if after >= extra_steps_after_done:
                break
    return spec.success(world, episode), a, i + 1


def expert_controller(world: TabletopWorld, episode: Episode, dt: float, ik: ArmIK,
                      stage: str | None = None) -> Controller:
    """The teacher for ``episode``: reads the true object position (privileged, sim only).

    ``stage`` (place only): take over mid-task (``PlaceExpert.reset``).
    """
    expert = TASKS[episode.task].expert(world, dt, ik)
    if stage is not None:
        expert.reset(episode.target, stage=stage)
    else:
        expert.reset(episode.target)

    def act(q: np.ndarray, gripper: float, image: np.ndarray | None) -> ArmCommand:
        obj = world.object_pose(episode.target)[0] if episode.target else None
        return expert.act(q, gripper, obj)
    return act
