"""Natural-language instruction → arm task, for the backends that need a structured goal (the expert)."""
from __future__ import annotations

import re
from dataclasses import dataclass


class InstructionError(ValueError):
    """An instruction no backend task matches."""


@dataclass(frozen=True)
class Task:
    name: str  # pick, place, push, point, home
    object: str = ""
    direction: str = ""


_OBJ = r"(?:the |a )?(?P<color>[a-z]+) (?:cube|block)"
_RULES = [
    ("place", re.compile(rf"^(?:put|place|drop) {_OBJ} (?:in|into) the bin$")),
    ("push", re.compile(rf"^push {_OBJ} (?:to the )?(?P<direction>left|right)$")),
    ("point", re.compile(rf"^point at {_OBJ}$")),
    ("pick", re.compile(rf"^(?:pick up|pick|grab|lift) {_OBJ}$")),
    ("home", re.compile(r"^(?:go home|go to home|home)$")),
]


def parse_instruction(text: str) -> Task:
    t = " ".join(text.lower().strip().rstrip(".!").split())
    if not t:
        raise InstructionError("empty instruction")
    for name, rule in _RULES:
        m = rule.match(t)
        if m:
            g = m.groupdict()
            return Task(name, f"{g['color']}_cube" if g.get("color") else "", g.get("direction") or "")
    raise InstructionError(f"no task matches instruction {text!r}")
