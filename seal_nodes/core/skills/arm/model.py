"""What an arm skill is made of: the world contract, the object-relative segments, the compiled skill.

A segment's waypoints are offsets in a frame: an object's (where vision sees it now) or a fixed
one such as the bin's. Replay adds them to the frame's current origin (MimicGen-style
re-targeting). Perception gives positions only (a colour blob has no orientation), so a frame is
a translation; the object's yaw is the closed-loop policy's business during the grasp. Names may
hold ``{param}`` placeholders ("{first}_cube") that a replay fills with the caller's values. Every
record has ``to_dict``/``from_dict``; malformed data is a ``ValueError`` saying which field and why.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from seal_nodes.core.skills.model import IDENTIFIER, STATUSES, _build, _object, _strings, fill_params

KIND = "arm"  # the library's tag for this kind of skill (a GUI skill has none)
SEGMENT_KINDS = ("move", "grasp", "release")
Point = tuple[float, float, float]


# --- the world contract -----------------------------------------------------------------------
@dataclass(frozen=True)
class SeenObject:
    """One object as perception reports it: its name (by colour, e.g. "red_cube") and where it is."""

    name: str
    position: Point  # metres, robot base frame


class ArmError(RuntimeError):
    """An arm action that could not be done: a limit refused a command, a target out of reach, the
    closed loop gave up."""


class ArmWorld(Protocol):
    """The robot and what it sees, synchronous; every command it sends is checked against the limits."""

    # The objects seen now (one camera frame), each back-projected onto the plane z = ``height``: a
    # camera sees a direction, not a depth, so the caller says at what height to look (None: on the table).
    def perceive(self, height: float | None = None) -> list[SeenObject]: ...
    def frame(self, name: str) -> Point | None: ...  # a fixed frame's origin ("bin"); None when there is none
    def tool(self) -> Point: ...  # where the tool centre point is now
    # Free space: straight lines through ``path`` with the gripper held at ``gripper``; ArmError when refused.
    def move(self, path: list[Point], gripper: float) -> None: ...
    # Contact: the closed-loop policy grasps the object ``instruction`` names and lifts it (until the tool
    # has risen ``lift_m`` with the fingers closed, or the policy ends); how far the tool rose.
    def grasp(self, instruction: str, lift_m: float) -> float: ...
    def set_gripper(self, value: float) -> None: ...  # 0 open .. 1 closed, returns once the fingers settle


# --- a segment and its check --------------------------------------------------------------------
@dataclass(frozen=True)
class ArmPost:
    """What must hold after a segment; a field left at its default is not checked."""

    # The object must (True) or must not (False) be seen in the gripper: at the tool's height, under it.
    # Vision, not the fingers' opening: a cube pinched by its edge closes them as far as nothing does.
    holding: bool | None = None
    lifted_m: float = 0.0  # grasp: the tool rose this far after closing, the object with it
    cleared: bool = False  # release: the object is no longer seen outside the segment's frame (in the bin)

    def __post_init__(self) -> None:
        if self.holding is not None and not isinstance(self.holding, bool):
            raise ValueError(f"post: holding is not a boolean: {self.holding!r}")
        _number("post", "lifted_m", self.lifted_m, 0.0)
        if not isinstance(self.cleared, bool):
            raise ValueError(f"post: cleared is not a boolean: {self.cleared!r}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.holding is not None:
            out["holding"] = self.holding
        if self.lifted_m:
            out["lifted_m"] = self.lifted_m
        if self.cleared:
            out["cleared"] = True
        return out

    @classmethod
    def from_dict(cls, data: object, where: str = "post") -> ArmPost:
        d = _object(data, where, (), ("holding", "lifted_m", "cleared"))
        return _build(where, cls, d.get("holding"), d.get("lifted_m", 0.0), d.get("cleared", False))


@dataclass(frozen=True)
class Segment:
    """One segment: ``move`` through ``waypoints`` (offsets in ``frame``) in free space, ``grasp``
    ``about`` with the closed-loop policy told ``instruction``, or ``release`` it (open the gripper)."""

    kind: str
    about: str  # the object the segment is about ("{param}" allowed)
    frame: str  # whose frame the waypoints are in: ``about`` itself or a fixed frame ("bin")
    waypoints: tuple[Point, ...] = ()
    gripper: float = 0.0  # held during a move
    instruction: str = ""  # grasp: what the policy is told ("{param}" allowed)
    post: ArmPost = field(default_factory=ArmPost)

    def __post_init__(self) -> None:
        _strings("segment", kind=self.kind, about=self.about, frame=self.frame, instruction=self.instruction)
        if self.kind not in SEGMENT_KINDS:
            raise ValueError(f"segment: kind {self.kind!r} is not one of {', '.join(SEGMENT_KINDS)}")
        if not self.about.strip() or not self.frame.strip():
            raise ValueError("segment: about and frame must name an object or a frame")
        if not isinstance(self.waypoints, tuple) or not all(_is_point(p) for p in self.waypoints):
            raise ValueError(f"segment: waypoints must be a tuple of (x, y, z) finite numbers, got {self.waypoints!r}")
        if self.kind == "move" and not self.waypoints:
            raise ValueError("segment: a move needs at least one waypoint")
        _number("segment", "gripper", self.gripper, 0.0, 1.0)
        if self.kind == "grasp" and not self.instruction.strip():
            raise ValueError("segment: a grasp needs the instruction the policy is given")
        if not isinstance(self.post, ArmPost):
            raise ValueError("segment: post is not an ArmPost")

    def describe(self, params: dict[str, str] | None = None) -> str:
        p = params or {}
        about = fill_params(self.about, p).replace("_", " ")
        if self.kind == "grasp":
            return f"grasp the {about} ({fill_params(self.instruction, p)!r})"
        if self.kind == "release":
            return f"release the {about}"
        frame = fill_params(self.frame, p).replace("_", " ")
        return f"move {'holding' if self.gripper >= 0.5 else 'to'} the {about} ({len(self.waypoints)} waypoint(s) " \
               f"in the {frame}'s frame)"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "about": self.about, "frame": self.frame}
        if self.waypoints:
            out["waypoints"] = [list(p) for p in self.waypoints]
        if self.gripper:
            out["gripper"] = self.gripper
        if self.instruction:
            out["instruction"] = self.instruction
        post = self.post.to_dict()
        if post:
            out["post"] = post
        return out

    @classmethod
    def from_dict(cls, data: object, where: str = "segment") -> Segment:
        d = _object(data, where, ("kind", "about", "frame"), ("waypoints", "gripper", "instruction", "post"))
        raw = d.get("waypoints", [])
        if not isinstance(raw, list) or not all(isinstance(p, list) and len(p) == 3 for p in raw):
            raise ValueError(f"{where}.waypoints: expected a list of [x, y, z]")
        points = tuple(tuple(p) for p in raw)
        post = ArmPost.from_dict(d.get("post", {}), f"{where}.post")
        return _build(where, cls, d["kind"], d["about"], d["frame"], points, d.get("gripper", 0.0),
                      d.get("instruction", ""), post)


# --- the compiled skill -----------------------------------------------------------------------
@dataclass(frozen=True)
class ArmSkill:
    """A tabletop task compiled into segments; the bookkeeping fields are a GUI ``Skill``'s, so the
    library stores, finds, trusts and retires both alike."""

    name: str
    description: str
    params: dict[str, str]  # each parameter's name and the value it had when recorded
    segments: tuple[Segment, ...]
    episode: str = ""
    status: str = "provisional"
    successes: int = 0
    failures: int = 0
    failing: int = 0
    version: int = 1

    def __post_init__(self) -> None:
        _strings("arm skill", name=self.name, description=self.description, episode=self.episode,
                 status=self.status)
        if not self.name.strip():
            raise ValueError("arm skill: name is empty")
        if self.status not in STATUSES:
            raise ValueError(f"arm skill: status {self.status!r} is not one of {', '.join(STATUSES)}")
        if not isinstance(self.params, dict) or not all(
                isinstance(k, str) and IDENTIFIER.fullmatch(k) and isinstance(v, str) for k, v in self.params.items()):
            raise ValueError(f"arm skill: params must map identifiers to text examples, got {self.params!r}")
        if not isinstance(self.segments, tuple) or not self.segments or \
                not all(isinstance(s, Segment) for s in self.segments):
            raise ValueError("arm skill: segments must be a non-empty tuple of Segment")
        for key in ("successes", "failures", "failing", "version"):
            v = getattr(self, key)
            low = 1 if key == "version" else 0
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"arm skill: {key} must be an integer >= {low}, got {v!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "name": self.name, "description": self.description, "params": dict(self.params),
                "segments": [s.to_dict() for s in self.segments], "episode": self.episode, "status": self.status,
                "successes": self.successes, "failures": self.failures, "failing": self.failing,
                "version": self.version}

    @classmethod
    def from_dict(cls, data: object, where: str = "arm skill") -> ArmSkill:
        rest_keys = ("episode", "status", "successes", "failures", "failing", "version")
        d = _object(data, where, ("kind", "name", "description", "params", "segments"), rest_keys)
        if d["kind"] != KIND:
            raise ValueError(f"{where}: kind {d['kind']!r} is not {KIND!r}")
        if not isinstance(d["segments"], list):
            raise ValueError(f"{where}.segments: expected a list")
        segments = tuple(Segment.from_dict(s, f"{where}.segments[{n}]") for n, s in enumerate(d["segments"]))
        params = dict(d["params"]) if isinstance(d["params"], dict) else d["params"]
        return _build(where, cls, d["name"], d["description"], params, segments,
                      **{k: d[k] for k in rest_keys if k in d})


def _is_point(p: object) -> bool:
    return isinstance(p, tuple) and len(p) == 3 and all(
        not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) for v in p)


def _number(where: str, key: str, v: object, low: float, high: float = math.inf) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not low <= v <= high:
        raise ValueError(f"{where}: {key} must be a number in [{low}, {high}], got {v!r}")
