"""An in-memory tabletop for the arm-skill core: cubes by colour, a bin, a gripper that holds what it closes on.

Kinematic, not physical: a move puts the tool at each waypoint (a cube in hand comes along); a
grasp closes on the cube under the tool (within ``grasp_m`` across, the closed-loop policy's reach)
and lifts it, unless the cube is slippery; opening drops the cube straight down, into the bin when
the tool is over it. Every command is checked: a waypoint outside the workspace is refused. It
records what happened to each cube so tests can look for wrong side effects.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from seal_nodes.core.skills.arm.model import ArmError, Point, SeenObject
from seal_nodes.core.skills.arm.record import ArmRecorder

WORKSPACE = ((0.15, -0.5, 0.005), (0.85, 0.5, 0.8))
BIN = (0.32, -0.30, 0.005)
BIN_HALF = 0.06
CAMERA = (1.25, 0.0, 0.75)  # in front of the table, looking back at the robot (as the sim's)
TABLE_Z = 0.02  # a cube's centre on the table


@dataclass
class Cube:
    color: str
    position: list[float]
    slippery: bool = False
    touched: bool = False


@dataclass
class FakeTable:
    cubes: dict[str, Cube]  # by the body's own name ("red_cube"); its colour may differ (recoloured)
    tool_at: list[float] = field(default_factory=lambda: [0.3, 0.0, 0.4])
    grip: float = 0.0
    held: str = ""
    grasp_m: float = 0.03
    log: list[str] = field(default_factory=list)
    frames_seen: int = 0

    @classmethod
    def layout(cls, positions: dict[str, tuple[float, float]]) -> FakeTable:
        return cls({f"{c}_cube": Cube(c, [x, y, 0.02]) for c, (x, y) in positions.items()})

    # --- the ArmWorld contract ---------------------------------------------------------------
    def perceive(self, height: float | None = None) -> list[SeenObject]:
        """Each cube where the camera's ray through it meets the plane z = ``height`` (a camera sees a
        direction, not a depth): exact for a cube at that height, off along the ray for any other."""
        self.frames_seen += 1
        return [SeenObject(f"{c.color}_cube", _on_plane(c.position, TABLE_Z if height is None else height))
                for c in self.cubes.values()]

    def frame(self, name: str) -> Point | None:
        return BIN if name == "bin" else None

    def tool(self) -> Point:
        return tuple(self.tool_at)

    def move(self, path: list[Point], gripper: float) -> None:
        for p in path:
            if not all(lo <= v <= hi for v, lo, hi in zip(p, *WORKSPACE)):
                raise ArmError(f"waypoint {p} is outside the workspace")
        for p in path:
            self.tool_at = list(p)
            if self.held:
                self.cubes[self.held].position = list(p)
        self.grip = gripper
        self.log.append(f"move {len(path)}")

    def grasp(self, instruction: str, lift_m: float) -> float:
        under = [n for n, c in self.cubes.items() if math.dist(c.position[:2], self.tool_at[:2]) < self.grasp_m]
        self.log.append(f"grasp {instruction}")
        self.grip = 1.0
        if not under:
            return 0.0
        cube = self.cubes[under[0]]
        cube.touched = True
        self.tool_at = [cube.position[0], cube.position[1], cube.position[2] + 0.08]
        if cube.slippery:
            return 0.08
        self.held = under[0]
        cube.position[2] += 0.08
        return 0.08

    def set_gripper(self, value: float) -> None:
        self.grip = value
        if value < 0.5 and self.held:
            cube = self.cubes[self.held]
            inside = all(abs(cube.position[i] - BIN[i]) < BIN_HALF for i in (0, 1))
            cube.position[2] = BIN[2] + 0.02 if inside else 0.02
            self.log.append(f"drop {self.held}{' in the bin' if inside else ''}")
            self.held = ""

    # --- for tests ----------------------------------------------------------------------------
    def in_bin(self, name: str) -> bool:
        c = self.cubes[name].position
        return all(abs(c[i] - BIN[i]) < BIN_HALF for i in (0, 1)) and c[2] < 0.05


def _on_plane(p: list[float], z: float) -> Point:
    t = (z - CAMERA[2]) / (p[2] - CAMERA[2])
    return tuple(c + t * (v - c) for v, c in zip(p, CAMERA))  # type: ignore[return-value]


def demonstrate(table: FakeTable, order: list[str], recorder: ArmRecorder, steps: int = 10) -> None:
    """A first attempt as the policy does it, recorded: for each cube, approach from above, close,
    lift, carry over the bin, lower, open, rise (``steps`` samples per stretch)."""
    for name in order:
        cube = table.cubes[name]
        seen = next(o.position for o in table.perceive() if o.name == name)
        recorder.begin(f"put the {name.split('_')[0]} cube in the bin", name, seen, {"bin": BIN})
        x, y, z = cube.position
        legs = [((x, y, z + 0.12), 0.0, 0.0), ((x, y, z), 0.0, 0.0), ((x, y, z), 1.0, 0.6),
                ((x, y, z + 0.15), 1.0, 0.6), ((BIN[0], BIN[1], 0.2), 1.0, 0.6), ((BIN[0], BIN[1], 0.1), 1.0, 0.6),
                ((BIN[0], BIN[1], 0.1), 0.0, 0.0), ((BIN[0], BIN[1], 0.2), 0.0, 0.0)]
        for (target, grip_cmd, opening) in legs:
            for _ in range(steps):
                recorder.sample(target, grip_cmd, opening)
        cube.position = [BIN[0], BIN[1], BIN[2] + 0.02]
        table.tool_at = [BIN[0], BIN[1], 0.2]
        recorder.end(True)
