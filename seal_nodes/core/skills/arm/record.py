"""A tabletop task done goal by goal → object-relative segments (MimicGen-style).

The first time, the model decides each goal ("put the red cube in the bin") and the closed-loop
policy does it; ``ArmRecorder`` keeps, per goal, the object it was about, where perception saw
that object and the fixed frames (the bin) when the goal began, and at every control step the tool
position, the gripper command and the measured opening. ``compile_arm_skill`` cuts each goal at
its gripper events: up to the close is the reach (its approach point kept in the object's frame),
the close and lift are the contact (left to the policy), from the lift to the opening is the carry
(in the bin's frame, at the height it was carried), then the release and the retreat. A colour the
user named becomes that value's ``{param}``. A goal that did not end with its object placed, or
whose trace shows no grasp and release, is refused: there is nothing safe to replay.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from seal_nodes.core.skills.arm.model import ArmPost, ArmSkill, Point, Segment

HELD = (0.2, 0.85)  # measured opening with the fingers stopped on a cube (0 open .. 1 closed)
# The reach ends this far straight above where the fingers closed: the grasp's closed loop then
# starts as high as the policy's own episodes start (0.15-0.4 m), with the cube in its view.
APPROACH_M = 0.13
LIFT_M = 0.08  # the grasp's check: the tool rose this far with the object in hand


@dataclass(frozen=True)
class ArmSample:
    tool: Point
    grip_cmd: float  # 0 open .. 1 closed
    gripper: float  # measured opening, same scale


@dataclass(frozen=True)
class GoalTrace:
    """One goal as it was done: which object, where it and the frames were seen, every control step."""

    instruction: str
    about: str  # the object ("red_cube")
    seen: Point  # where perception saw it when the goal began
    frames: dict[str, Point]  # fixed frames then ({"bin": ...})
    samples: tuple[ArmSample, ...]
    ok: bool  # the goal ended with its object placed (as perception saw it)


@dataclass
class ArmRecorder:
    """Collects the goals of a first attempt; ``begin``, a ``sample`` per control step, ``end``."""

    goals: list[GoalTrace] = field(default_factory=list)
    _open: dict | None = None

    def begin(self, instruction: str, about: str, seen: Point, frames: dict[str, Point]) -> None:
        if self._open is not None:
            raise RuntimeError("begin() while a goal is open: end() it first")
        self._open = {"instruction": instruction, "about": about, "seen": _point(seen),
                      "frames": {k: _point(v) for k, v in frames.items()}, "samples": []}

    def sample(self, tool: Point, grip_cmd: float, gripper: float) -> None:
        if self._open is None:
            raise RuntimeError("sample() outside a goal")
        self._open["samples"].append(ArmSample(_point(tool), float(grip_cmd), float(gripper)))

    def end(self, ok: bool) -> None:
        if self._open is None:
            raise RuntimeError("end() outside a goal")
        g = self._open
        self.goals.append(GoalTrace(g["instruction"], g["about"], g["seen"], g["frames"], tuple(g["samples"]),
                                    bool(ok)))
        self._open = None


def compile_arm_skill(goals: list[GoalTrace], request: str, values: dict[str, str], name: str,
                      description: str = "", place_frame: str = "bin", episode: str = "") -> ArmSkill:
    """The skill that redoes ``goals`` (each an object put in ``place_frame``) for ``request``;
    ``values`` (e.g. {"first": "red"}) are the colours the user named, lifted into parameters.
    ValueError when the goals cannot be compiled, saying why."""
    if not isinstance(goals, list) or not goals or not all(isinstance(g, GoalTrace) for g in goals):
        raise ValueError("compile_arm_skill needs a non-empty list of GoalTrace")
    if not isinstance(values, dict) or not all(isinstance(v, str) and v for v in values.values()):
        raise ValueError(f"values must map parameter names to colours, got {values!r}")
    last = {g.about: g for g in goals}  # a goal redone after a failure: the redo counts
    failed = [a for a, g in last.items() if not g.ok]
    if failed:
        raise ValueError(f"the task was not done: {', '.join(failed)} never placed")
    lift = {v: k for k, v in values.items()}
    segments: list[Segment] = []
    used: set[str] = set()
    for g in sorted(last.values(), key=goals.index):
        color = g.about.split("_")[0]
        if color in lift:
            used.add(color)
        about = f"{{{lift[color]}}}_{g.about.split('_', 1)[1]}" if color in lift and "_" in g.about else g.about
        word = f"{{{lift[color]}}}" if color in lift else color
        segments += _goal_segments(g, about, word, place_frame)
    unused = [k for k, v in values.items() if v not in used]
    if unused:
        raise ValueError(f"the value(s) of {unused} name no object a goal was about")
    return ArmSkill(name, description or request, dict(values), tuple(segments), episode=episode)


def _goal_segments(g: GoalTrace, about: str, word: str, place_frame: str) -> list[Segment]:
    if place_frame not in g.frames:
        raise ValueError(f"goal {g.instruction!r}: no {place_frame} frame was seen")
    s = g.samples
    held = [i for i, x in enumerate(s) if x.grip_cmd >= 0.5 and HELD[0] < x.gripper < HELD[1]]
    if not held:
        raise ValueError(f"goal {g.instruction!r}: the trace shows no grasp")
    h = held[0]
    close = max(i for i in range(h + 1) if s[i].grip_cmd >= 0.5 and (i == 0 or s[i - 1].grip_cmd < 0.5))
    opened = [i for i in range(h, len(s)) if s[i].grip_cmd < 0.5]
    if not opened:
        raise ValueError(f"goal {g.instruction!r}: the trace shows no release")
    o = opened[0]
    at_close = s[close].tool
    approach = _add(at_close, (0.0, 0.0, APPROACH_M))  # straight above: the trace may have come in sideways
    base = g.frames[place_frame]
    carry_z = max(x.tool[2] for x in s[h:o + 1])
    release = s[o].tool
    end = s[-1].tool
    segments = [
        Segment("move", about, about, (_sub(approach, g.seen),), 0.0),
        Segment("grasp", about, about, instruction=f"pick up the {word} cube",
                post=ArmPost(holding=True, lifted_m=LIFT_M)),
        # No in-hand check after the carry: over the bin, vision at the tool's height misses cubes that
        # are in hand; a cube dropped on the way is caught by the release's check.
        Segment("move", about, place_frame, (_sub((release[0], release[1], carry_z), base), _sub(release, base)), 1.0),
        Segment("release", about, place_frame, post=ArmPost(cleared=True)),
    ]
    if end[2] > release[2] + 0.01:  # the policy rose again before its goal ended
        segments.append(Segment("move", about, place_frame, (_sub(end, base),), 0.0))
    return segments


def _point(p: object) -> Point:
    x, y, z = (float(v) for v in p)  # type: ignore[union-attr]
    return (x, y, z)


def _add(a: Point, b: Point) -> Point:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def _sub(a: Point, b: Point) -> Point:
    return (round(a[0] - b[0], 4), round(a[1] - b[1], 4), round(a[2] - b[2], 4))
