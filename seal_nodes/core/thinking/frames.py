"""A request as slots (what to do, to which object, which way), for requests that leave one out.

"Grab a block" names the action but not the cube; "push the red cube" leaves out the direction;
"the blue cube" names only the object. Rather than guess, the agent asks for the missing slot
("Which cube should I pick up?"), and the reply fills it: "the red one", "to the left", "pick it
up", or a correction ("no, the green one") that replaces a slot the question assumed. The same
merge lets one step of a compound request borrow what the step before it said ("bin the blue
cube and then the red one").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from seal_nodes.core.actions import DIRECTIONS, Action
from seal_nodes.core.thinking.fast_path import NEGATED
from seal_nodes.core.thinking.references import SceneObject, find_reference

OBJECT_ACTIONS = ("pick", "place", "push", "point")
# "the cube", "one of them", "it": an object meant without saying which.
_VAGUE = re.compile(r"\b(?:it|that one|this one|one|ones|them|something|any (?:cube|block)|"
                    r"(?:a|the|that|this|another) (?:cube|block)|the other (?:one|cube|block))\b")
_BIN = re.compile(r"\b(?:bin|basket|box|trash|garbage)\b")
_POSITION = re.compile(r"\b(?:on|at) (?:the|your|my) (?:left|right)(?: side)?\b")
# Words that pick objects some other way than by name ("the other two", "all but"): the frame's
# one object may not be the one meant.
_SELECTS = re.compile(r"\b(?:other|others|rest|except|but|leave|keep|all|each|every|both|between)\b")
_HOME = re.compile(r"\b(?:go|come|head|get|move) (?:back )?home\b|\breturn (?:back )?(?:home|to the start)\b")


@dataclass(frozen=True)
class Frame:
    action: str = ""            # the action's name, "" when the words do not say it
    object: str = ""            # the object's name, "" when none is named
    direction: str = ""
    vague: bool = False         # an object is meant but not said which ("the cube", "it")
    named: bool = False         # the action named by its verb ("grab", "put … in the bin"), the object by
                                # its colour alone
    negated: bool = False       # "don't", "never": the words may ask for the opposite

    def missing(self) -> tuple[str, ...]:
        """The slots still to be asked for: "action", "object", "direction"."""
        if not self.action:
            return ("action",) if self.object else ("action", "object")
        out = []
        if self.action in OBJECT_ACTIONS and not self.object:
            out.append("object")
        if self.action == "push" and not self.direction:
            out.append("direction")
        return tuple(out)

    def says_anything(self) -> bool:
        return bool(self.action or self.object or self.direction)

    def to_action(self) -> Action | None:
        """The action when every slot is filled."""
        if self.missing():
            return None
        if self.action not in OBJECT_ACTIONS:
            return Action(self.action)
        args = {"object": self.object}
        if self.action == "place":
            args["target"] = "bin"
        if self.action == "push":
            args["direction"] = self.direction
        return Action(self.action, args)


def frame_of_action(action: Action) -> Frame:
    return Frame(action.name, action.args.get("object", ""), action.args.get("direction", ""))


def read_frame(text: str, objects: Sequence[SceneObject], verbs: Mapping[str, str]) -> Frame:
    """The slots ``text`` (lower case, no punctuation) fills. ``verbs``: word → the one action
    only it names ("grab" → pick, "bin" → place); a word naming several ("move") names none."""
    words = text.split()
    named = {verbs[_base(w, verbs)] for w in words if _base(w, verbs) in verbs}
    if _HOME.search(text):
        named.add("home")
    action = named.pop() if len(named) == 1 else ""
    # "put" or "throw" alone does not say where to: only the bin named makes it a place
    by_verb = bool(action) and (action != "place" or bool(_BIN.search(text))) and not _SELECTS.search(text)
    # "on your right" says where an object is, "to the right" which way to push ("rightwards" is
    # made "right" by intent.clean)
    direction = next((w for w in _POSITION.sub(" ", text).split() if w in DIRECTIONS), "")
    colors = tuple(o.color for o in objects if o.color)
    ref = find_reference(text, objects, colors)
    if ref is not None and len(ref.names) == 1 and ref.how == "position":
        obj = ref.names[0]
    else:
        said = [o.name for o in objects if o.color and re.search(rf"\b{o.color}\b", text)]
        obj = said[0] if len(set(said)) == 1 else ""
    if action == "push" and direction in DIRECTIONS and ref is not None and ref.how == "position":
        # "push the cube on your left to the right": the side named the cube; the last side is the way
        direction = next((w for w in reversed(words) if w in DIRECTIONS), direction)
    vague = not obj and bool(_VAGUE.search(text))
    if len(objects) == 1 and vague:
        obj, vague = objects[0].name, False
    if not action and direction and (obj or vague):
        action = "push"  # "bump the red one to the left": the only action that goes somewhere
    return Frame(action, obj, direction, vague, by_verb, bool(NEGATED.search(text)))


def _base(word: str, verbs: Mapping[str, str]) -> str:
    """A verb form's base where the base is a known verb: "grabbing" → "grab", "picks" → "pick"."""
    if word in verbs:
        return word
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            for base in (stem, stem[:-1], stem + "e"):  # grabbing → grabb → grab; placing → plac → place
                if base in verbs:
                    return base
    return word


def merge(earlier: Frame, reply: Frame) -> Frame:
    """``earlier`` with what ``reply`` says put in: a slot the reply names replaces the earlier one
    (a correction); "it" keeps the earlier object; a new action keeps the earlier object and,
    where it still fits, the direction."""
    action = reply.action or earlier.action
    obj = reply.object or earlier.object
    direction = reply.direction or (earlier.direction if action == "push" else "")
    return replace(earlier, action=action, object=obj, direction=direction, vague=False)
