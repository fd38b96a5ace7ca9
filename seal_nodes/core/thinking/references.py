"""Which of the seen objects a phrase refers to: several ("all of them", "the two cubes that are not
blue", "the red and the green cube") or one by where it is ("the one closest to you", "the one
on the left").

Positions are in the robot's frame (x forward, y to the robot's left), and sides are the
robot's own, as the agent describes them ("on my left"): "the one on the left" / "on your
left" is the object furthest to the robot's left.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

from seal_nodes.core.thinking.fast_path import COLORS

COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "both": 2}


@dataclass(frozen=True)
class SceneObject:
    name: str
    color: str
    position: tuple[float, float] | None = None  # robot frame: x forward, y to the robot's left (m)


@dataclass(frozen=True)
class Reference:
    start: int                 # the phrase's span in the text
    end: int
    names: tuple[str, ...]     # the objects it resolves to, in scene order
    how: str                   # "all" | "except" | "between" | "list" | "position"
    count: int | None = None   # how many the user said there are ("the two cubes", "both"), if they did

    @property
    def count_mismatch(self) -> bool:
        return self.count is not None and self.count != len(self.names)


_NOUN = r"(?:cubes?|blocks?|ones?|objects?|things?)"
_COUNT = "|".join(COUNTS)
_NEG = (r"(?:(?:that|which) (?:are not|aren't|is not|isn't)|that's not|not|except(?: for)?|other than|apart from"
        r"|but not|but|besides)")
_ON = r"(?:that is |that's |which is )?"


def _color_list(colors: str) -> str:
    one = rf"(?:the )?(?:{colors})(?: {_NOUN})?"
    return rf"(?P<colors>{one}(?:(?:,| and|, and| or| nor) {one})*)"


def _patterns(colors: str) -> list[tuple[str, re.Pattern[str]]]:
    listed = _color_list(colors)
    return [
        ("except", re.compile(rf"\b(?:(?:all|each|every|both)(?: of)? )?(?:the |those )?(?:(?P<count>{_COUNT}) )?"
                              rf"{_NOUN} {_NEG} {listed}")),
        ("except", re.compile(rf"\b(?:everything|all|every one|each one) {_NEG} {listed}")),
        ("position", re.compile(rf"\b(?:the )?(?:{_NOUN} )?{_ON}(?P<where>closest|nearest|farthest|furthest)"
                                rf"(?: {_NOUN})?(?: (?:away )?(?:to|from) (?:you|the robot|yourself|the arm))?"
                                rf"(?: away)?")),
        ("position", re.compile(rf"\b(?:the )?{_NOUN} {_ON}(?:on|at) (?:the|your) (?P<where>left|right)(?: side)?"
                                rf"|\bthe (?P<where2>left|right|leftmost|rightmost|middle|center|centre) {_NOUN}"
                                rf"|\b(?:the )?{_NOUN} {_ON}in the (?P<where3>middle|center|centre)")),
        ("between", re.compile(rf"\b(?:the )?(?:{_NOUN} )?{_ON}(?:between|in between) {listed}")),
        ("list", re.compile(rf"\b(?:both )?{listed}")),
        ("all", re.compile(rf"\b(?:all (?:of )?(?:them|those|these)"
                           rf"|all (?:of )?(?:the )?(?:(?P<count>{_COUNT}) )?{_NOUN}"
                           rf"|every(?:thing| {_NOUN})|each (?:one|{_NOUN}|of (?:them|the {_NOUN}))|both(?: of them| (?:the )?{_NOUN})?"
                           rf"|(?:the )?(?P<count2>{_COUNT}) (?:of them|{_NOUN}))\b")),
    ]


def _by_place(where: str, objects: Sequence[SceneObject]) -> tuple[str, ...]:
    placed = [o for o in objects if o.position is not None]
    if not placed:
        return ()
    where = {"leftmost": "left", "rightmost": "right", "centre": "middle", "center": "middle",
             "nearest": "closest", "furthest": "farthest"}.get(where, where)
    if where == "middle":
        if len(placed) % 2 == 0:
            return ()  # no object is in the middle of an even row
        return (sorted(placed, key=lambda o: o.position[1])[len(placed) // 2].name,)
    key = {"left": lambda o: -o.position[1], "right": lambda o: o.position[1],
           "closest": lambda o: math.hypot(*o.position), "farthest": lambda o: -math.hypot(*o.position)}[where]
    return (min(placed, key=key).name,)


def _between(colors: Sequence[str], objects: Sequence[SceneObject]) -> tuple[str, ...]:
    """The object lying between the two named ones (closest to the midpoint of the line joining them)."""
    ends = [o for o in objects if o.color in colors and o.position is not None]
    rest = [o for o in objects if o.color not in colors and o.position is not None]
    if len(ends) != 2 or not rest:
        return ()
    mid = ((ends[0].position[0] + ends[1].position[0]) / 2, (ends[0].position[1] + ends[1].position[1]) / 2)
    return (min(rest, key=lambda o: math.hypot(o.position[0] - mid[0], o.position[1] - mid[1])).name,)


def plain_objects(text: str, colors: Sequence[str]) -> str:
    """Object phrases in one wording ("this little purple block" → "the purple cube"), so that an
    utterance is compared with the paraphrases on its verb, not on how it names the object."""
    color_re = "|".join(sorted({c for c in colors if c}, key=len, reverse=True))
    if not color_re:
        return text
    pattern = (rf"\b(?:(?:the|a|this|that) )?(?:(?:little|small|big|large|tiny) )?(?P<c>{color_re})"
               rf"(?: coloured| colored)? (?:cube|block|box|thing|one|object)\b")
    return re.sub(pattern, lambda m: f"the {m['c']} cube", text)


def find_reference(text: str, objects: Sequence[SceneObject], colors: Sequence[str]) -> Reference | None:
    """The first phrase in ``text`` (lower case, no punctuation) naming several objects or one by
    position, resolved against ``objects``; None when there is none or it names nothing seen.
    ``colors`` are the colour words the user may say (the scene's and any other)."""
    if not objects:
        return None
    color_re = "|".join(sorted({c for c in colors if c}, key=len, reverse=True)) or "(?!)"
    for how, pattern in _patterns(color_re):
        m = pattern.search(text)
        if not m:
            continue
        groups = {k: v for k, v in m.groupdict().items() if v}
        said = [c for c in re.findall(rf"\b(?:{color_re})\b", groups.get("colors", ""))]
        count = COUNTS.get(groups.get("count") or groups.get("count2") or ("both" if "both" in m[0] else ""))
        if how == "except":
            names = tuple(o.name for o in objects if o.color not in said)
        elif how == "list":
            if len(set(said)) < 2:
                continue  # one colour is a plain object phrase, not a list
            names = tuple(o.name for c in dict.fromkeys(said) for o in objects if o.color == c)  # in the order said
            if len(names) < len(set(said)):
                return None  # names a colour that is not on the table
        elif how == "between":
            names = _between(said, objects)
        elif how == "position":
            names = _by_place(groups.get("where") or groups.get("where2") or groups.get("where3") or "", objects)
        else:
            names = tuple(o.name for o in objects)
        if not names:
            return None
        return Reference(m.start(), m.end(), names, how, count)
    return None


def scene_objects(known: set[str], scene: dict[str, dict]) -> list[SceneObject]:
    """The Thinker's known objects as SceneObjects: colour from vision (or the name), and the
    table position where vision reported one in the robot frame."""
    out = []
    for name in sorted(known):
        payload = scene.get(name, {})
        color = str(payload.get("color") or "")
        if not color:
            first = name.split("_")[0]
            color = first if first in COLORS else ""
        pos = payload.get("position")
        position = None
        if isinstance(pos, (list, tuple)) and len(pos) >= 2 and payload.get("frame", "world") == "world":
            position = (float(pos[0]), float(pos[1]))
        out.append(SceneObject(name, color, position))
    return out
