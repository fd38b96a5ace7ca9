"""Replaying an arm skill: segments re-targeted to where the objects are now, checked before and after.

Before a segment in an object's frame, perception must see exactly that object once (by its
colour name): a missing or recoloured cube, or a second one of its colour, hands the rest back
before the arm moves towards it. Before a grasp the object must still be under the tool. Free
space is the world's checked straight-line moves; the grasp is the closed-loop policy. After
each segment its postcondition (holding, lifted, cleared into the bin) must hold, else the rest
is handed back with what was done (``ArmReplayResult.summary()``) — before the next segment acts.
Both checks are by vision at the right height: in hand, the object is seen under the tool at the
tool's height; in the bin, it is seen inside the bin at the height of what lies in it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from seal_nodes.core.skills.arm.model import ArmError, ArmSkill, ArmWorld, Point, Segment, SeenObject
from seal_nodes.core.skills.model import fill_params

CHECKS = ("params", "seen", "frame", "under", "arm", "holding", "lifted", "cleared")


@dataclass(frozen=True)
class ArmReplayResult:
    ok: bool
    segments_done: int  # segments whose action was done
    handed_back_at: int | None = None  # the first segment left to the model (None when ok)
    check: str = ""  # which check stopped it (one of CHECKS)
    reason: str = ""
    done: tuple[str, ...] = ()  # each segment done, in words
    about: str = ""  # the object the stopping segment was about

    def summary(self) -> str:
        """What a model taking over needs: what was done, where it stopped and why."""
        lines = [f"{n + 1}. {line}" for n, line in enumerate(self.done)]
        if self.ok:
            return "\n".join(lines + ["Done."])
        return "\n".join(lines + [f"Stopped before segment {(self.handed_back_at or 0) + 1}: {self.reason}"])


class _HandBack(Exception):
    def __init__(self, check: str, reason: str) -> None:
        super().__init__(reason)
        self.check = check


class ArmReplayer:
    def __init__(self, world: ArmWorld, under_m: float = 0.08, inside_m: float = 0.09, hand_m: float = 0.04,
                 content_m: float = 0.04) -> None:
        """``under_m``: how far (across the table) the object may be from the tool when the grasp
        begins; ``inside_m``: how far from a place frame's origin an object counts as inside it;
        ``hand_m``: how far across from the tool an object seen at the tool's height is in hand;
        ``content_m``: the height above a place frame's origin at which what lies in it is looked for."""
        if not (under_m > 0 and inside_m > 0 and hand_m > 0 and content_m >= 0):
            raise ValueError("under_m, inside_m and hand_m must be positive, content_m not negative")
        self.world = world
        self.under_m = under_m
        self.inside_m = inside_m
        self.hand_m = hand_m
        self.content_m = content_m

    def run(self, skill: ArmSkill, params: dict[str, str]) -> ArmReplayResult:
        if not isinstance(params, dict):
            raise ValueError(f"params must map each parameter's name to its value, got {type(params).__name__}")
        missing = [k for k in skill.params if not isinstance(params.get(k), str) or not params[k]]
        if missing:
            return ArmReplayResult(False, 0, 0, "params", f"missing parameter(s): {', '.join(missing)}")
        done: list[str] = []
        for n, seg in enumerate(skill.segments):
            about = fill_params(seg.about, params)
            try:
                rose = self._segment(seg, about, params)
                done.append(seg.describe(params))
                self._check_post(seg, about, rose)
            except _HandBack as stop:
                return ArmReplayResult(False, len(done), len(done), stop.check, str(stop), tuple(done), about)
            except ArmError as exc:
                return ArmReplayResult(False, len(done), len(done), "arm", f"{seg.describe(params)}: {exc}",
                                       tuple(done), about)
        return ArmReplayResult(True, len(done), done=tuple(done))

    # --- before and while acting --------------------------------------------------------------
    def _segment(self, seg: Segment, about: str, params: dict[str, str]) -> float:
        """Do the segment; for a grasp, how far the tool rose with the fingers closed."""
        w = self.world
        if seg.kind == "grasp":
            obj = self._one(about)
            tool = w.tool()
            if math.dist(obj.position[:2], tool[:2]) > self.under_m:
                raise _HandBack("under", f"the {_words(about)} is {math.dist(obj.position[:2], tool[:2]):.2f} m "
                                         "from the tool, not under it")
            return w.grasp(fill_params(seg.instruction, params), seg.post.lifted_m)
        if seg.kind == "release":
            w.set_gripper(0.0)
        else:
            origin = self._origin(fill_params(seg.frame, params), about)
            w.move([_add(origin, p) for p in seg.waypoints], seg.gripper)
        return 0.0

    def _origin(self, frame: str, about: str) -> Point:
        if frame == about:
            return self._one(about).position
        origin = self.world.frame(frame)
        if origin is None:
            raise _HandBack("frame", f"no {_words(frame)} is there")
        return origin

    def _one(self, name: str) -> SeenObject:
        seen = [o for o in self.world.perceive() if o.name == name]
        if not seen:
            raise _HandBack("seen", f"no {_words(name)} is seen")
        if len(seen) > 1:
            raise _HandBack("seen", f"{len(seen)} objects are seen as the {_words(name)}")
        return seen[0]

    # --- after --------------------------------------------------------------------------------
    def _check_post(self, seg: Segment, about: str, rose: float) -> None:
        post, w = seg.post, self.world
        if post.holding is not None and self._in_hand(about) != post.holding:
            what = "holds nothing" if post.holding else "still holds something"
            raise _HandBack("holding", f"after the {seg.kind} of the {_words(about)}: the gripper {what}")
        if rose < post.lifted_m:
            raise _HandBack("lifted", f"the tool rose {rose:.3f} m with the {_words(about)}, not {post.lifted_m:.3f} m")
        if post.cleared:
            origin = w.frame(seg.frame)
            if origin is None:
                raise _HandBack("frame", f"no {_words(seg.frame)} is there")
            # Not seen at all is no hand-back: in the bin, its walls or the other cubes may hide it.
            if any(o.name == about and math.dist(o.position[:2], origin[:2]) > self.inside_m
                   for o in w.perceive(origin[2] + self.content_m)):
                raise _HandBack("cleared", f"the {_words(about)} is still seen outside the {_words(seg.frame)}")

    def _in_hand(self, about: str) -> bool:
        tool = self.world.tool()
        return any(o.name == about and math.dist(o.position[:2], tool[:2]) <= self.hand_m
                   for o in self.world.perceive(tool[2]))


def _add(a: Point, b: Point) -> Point:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def _words(name: str) -> str:
    return name.replace("_", " ")
