"""The command parser: given the context and what just happened, stream segments.

``CommandBackend`` yields ``Segment``s of kind think / say / act / wait in the order it decides
them; the thinker forwards each one as soon as it is yielded (speak while thinking). It is the
reliable offline path that understands the stack's spoken commands without a language model:
the fast path in front of a model, or the whole answer with the ``commands`` backend.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator

from seal_nodes.core.actions import ACTION_SET, ARM, GUI, Action, object_phrase
from seal_nodes.core.thinking.context import ACT, SAY, THINK, WAIT, Segment

COLORS = ("red", "green", "blue", "yellow", "orange", "purple")


@dataclass
class Trigger:
    """Why the backend is asked to respond."""

    kind: str  # "user" (a final transcript), "observation" (action result), "refusal"
    text: str
    payload: dict = field(default_factory=dict)


@dataclass
class ReasoningInput:
    transcript: str
    trigger: Trigger
    known_objects: set[str]
    scene: dict[str, dict] = field(default_factory=dict)  # name → last object_seen payload


_COLOR = "|".join(COLORS)
_OBJ = rf"(?:the |a |that )?(?P<color>{_COLOR}) (?:cube|block|box|one)"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("stop", re.compile(r"\b(stop|halt|freeze|cancel)\b")),
    ("place", re.compile(rf"\b(?:put|place|drop|throw) {_OBJ} (?:in|into|inside) (?:the )?(?P<target>bin|box)\b")),
    ("push", re.compile(rf"\b(?:push|shove|slide) {_OBJ} (?:to the )?(?P<direction>left|right)\b")),
    ("point", re.compile(rf"\b(?:point|show me) (?:at |to )?{_OBJ}")),
    ("pick", re.compile(rf"\b(?:pick up|pick|grab|lift|take) {_OBJ}")),
    ("home", re.compile(r"\b(?:go home|go back home|home position|return home)\b")),
]
GREETING = re.compile(r"^\s*(hello|hi|hey|good (morning|afternoon|evening))\b")
_THANKS = re.compile(r"\b(thank you|thanks)\b")
NEGATED = re.compile(r"\b(?:don't|dont|do not|never|not)\b")  # "don't pick it up" asks for nothing
_HOW_ARE_YOU = re.compile(r"\bhow are you\b")
# Questions about the table the agent can answer from what vision reported.
WHAT_DO_YOU_SEE = re.compile(r"\bwhat(?:'s| is| do you see| can you see)\b.*\bon the table\b"
                              r"|\bwhat (?:\w+ )?(?:do|can) you see\b|\bhow many (?:cubes|blocks|objects)\b")
_WHERE_IS = re.compile(rf"\bwhere(?:'s| is) (?:the )?(?P<color>{_COLOR}) (?:cube|block|box|one)\b"
                       rf"|^(?:\w+ )?is the (?P<color2>{_COLOR}) (?:cube|block|one) (?:on|in|at|to) (?:the|your|my) "
                       rf"(?:left|right|middle|centre|center)\b")
# The other side asks the agent to hold: it waits silently (the talk's <wait>).
_HOLD = re.compile(r"\b(please hold|hold on|one moment|just a (moment|second|sec)|give me a (moment|second|sec)"
                   r"|wait a (moment|second|sec))\b")


# On-screen requests start with their verb ("click the search button", "type hello into the
# search box"); the target stays in the user's words for the GUI policy to find.
_CLICK = re.compile(r"^(?:please |can you |could you )?(?:click|press|tap)(?: on)? (?P<target>.+?)(?: please)?$")
_TYPE = re.compile(r"^(?:please |can you |could you )?(?:type|enter|write) (?P<text>.+?) (?:in|into) (?P<target>.+?)"
                   r"(?: please)?$", re.IGNORECASE)
_READ = re.compile(r"^(?:please |can you |could you )?read(?: me| out| aloud)? (?P<target>.+?)(?: out| aloud)?"
                   r"(?: please)?$")


def parse_command(text: str) -> Action | None:
    """The command in an utterance, or None. Pure pattern matching, no guessing."""
    as_said = " ".join(text.replace("?", " ").replace("!", " ").split()).rstrip(".")
    gui = as_said.lower()
    m = _TYPE.match(as_said)  # the text typed keeps its letters' case ("Paris")
    if m:
        return Action("type", {"target": m["target"].lower(), "text": m["text"].strip("'\"")})
    m = _CLICK.match(gui)
    if m:
        return Action("click", {"target": m["target"]})
    m = _READ.match(gui)
    if m:
        return Action("read", {"target": m["target"]})
    t = " ".join(text.lower().replace(",", " ").replace(".", " ").split())
    for name, pattern in _PATTERNS:
        m = pattern.search(t)
        if not m:
            continue
        if name != "stop" and NEGATED.search(t[:m.start()]):
            return None  # "don't pick up the red cube" asks for nothing to be done
        groups = m.groupdict()
        args: dict[str, str] = {}
        if "color" in groups and groups["color"]:
            args["object"] = f"{groups['color']}_cube"
        if groups.get("target"):
            args["target"] = "bin"
        if groups.get("direction"):
            args["direction"] = groups["direction"]
        return Action(name, args)
    return None


def format_action(action: Action) -> str:
    """``click(target="the product in the third row, second column")``: values with commas,
    parentheses or quotes are double-quoted (a quote inside is backslash-escaped)."""
    def value(v: str) -> str:
        if any(c in v for c in ',()"\\'):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return v
    return f"{action.name}({', '.join(f'{k}={value(v)}' for k, v in action.args.items())})"


_ACT_RE = re.compile(r"^\s*(?P<name>[a-z_]+)\((?P<args>.*)\)\s*$")


def parse_action(text: str) -> Action:
    """Inverse of format_action; raises ValueError on a malformed action string."""
    m = _ACT_RE.match(text)
    if not m:
        raise ValueError(f"malformed action {text!r}; expected name(key=value, …)")
    args: dict[str, str] = {}
    for part in _split_args(m["args"], text):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"malformed argument {part!r} in {text!r}")
        value = value.strip()
        if value.startswith('"'):
            if len(value) < 2 or not value.endswith('"'):
                raise ValueError(f"unterminated quoted value in {text!r}")
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        args[key.strip()] = value
    return Action(m["name"], args)


def _split_args(inner: str, text: str) -> list[str]:
    """Split at commas outside double quotes."""
    parts, cur, quoted, escaped = [], "", False, False
    for ch in inner:
        if escaped:
            cur, escaped = cur + ch, False
        elif ch == "\\" and quoted:
            cur, escaped = cur + ch, True
        elif ch == '"':
            cur, quoted = cur + ch, not quoted
        elif ch == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if quoted:
        raise ValueError(f"unterminated quoted value in {text!r}")
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


NOT_CAUGHT = "Sorry, I didn't catch that."
REFUSED_UNSEEN = "but I know of no"  # in the thought of a command on an object not seen
NOT_UNDERSTOOD = "Sorry, I didn't understand. You can ask me to pick up, push or point at a cube."


def not_seen(name: str) -> str:
    return f"I don't see {object_phrase(name)} here."


_CONFIRM = {
    "pick": "Sure, picking up {obj}.",
    "place": "Okay, putting {obj} in the bin.",
    "push": "Pushing {obj} to the {direction}.",
    "point": "That's {obj}, right there.",
    "home": "Going back to the home pose.",
    "stop": "Stopping.",
    "click": "Clicking {target}.",
    "type": "Typing that into {target}.",
    "read": "Reading {target}.",
}
_DONE = {
    "pick": "Done, I'm holding {obj}.",
    "place": "Done, {obj} is in the bin.",
    "push": "Done, I pushed {obj} {direction}.",
    "point": "I'm pointing at {obj}.",
    "home": "I'm back home.",
    "click": "Done, I clicked {target}.",
    "type": "Done, it's typed into {target}.",
}


# An action cut short by its executor's restart: what was not finished, and whose restart it was.
_UNFINISHED = {
    "pick": "the pick of {obj}",
    "place": "putting {obj} in the bin",
    "push": "the push of {obj}",
    "point": "pointing at {obj}",
    "home": "the move to the home pose",
    "click": "the click on {target}",
    "type": "typing into {target}",
}
_CONTROLLER = {ARM: "arm controller", GUI: "screen controller"}


def unfinished(action: Action) -> str:
    """What the agent says when ``action``'s executor restarted under it ("My arm controller
    restarted; the pick of the red cube was not finished. ...")."""
    spec = ACTION_SET.get(action.name)
    controller = _CONTROLLER.get(spec.executor if spec else "", "controller")
    return f"My {controller} restarted; {task(action)} was not finished. Ask me again to retry."


def task(action: Action) -> str:
    """``action`` as the subject of a sentence: "the pick of the red cube"."""
    return _fill(_UNFINISHED.get(action.name, "the " + action.name.replace("_", " ")), action)


def voice_restarted(cut: str, running: list[Action]) -> str:
    """What the agent says once its TTS is back after cutting it off ("Sorry, my voice restarted.
    I was saying: … The pick of the red cube is still going.")."""
    parts = ["Sorry, my voice restarted."]
    if cut:
        parts.append(f"I was saying: {cut}" + ("" if cut[-1] in ".!?…" else "."))
    parts += [f"{_capital(task(a))} is still going." for a in running]
    return " ".join(parts)


# What a respawned thinker learned of the goal it had out (journal.py's outcomes).
_AFTER_RESTART = {
    "succeeded": "I restarted; {what} had finished.",
    "failed": "I restarted; {what} did not succeed. Ask me again to retry.",
    "interrupted": "I restarted; {what} was interrupted. Ask me again to retry.",
    "unknown": "I restarted; I could not learn how {what} ended. Ask me again if it is not done.",
}


def after_restart(action: Action, outcome: str) -> str:
    """What a respawned thinker says of the goal it had out ("I restarted; the pick of the red cube
    was interrupted. Ask me again to retry.")."""
    if outcome not in _AFTER_RESTART:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(_AFTER_RESTART)}")
    return _AFTER_RESTART[outcome].format(what=task(action))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def confirmation(action: Action) -> str:
    """What the agent says as it starts ``action`` ("Sure, picking up the red cube.")."""
    return _fill(_CONFIRM[action.name], action)


def _fill(template: str, action: Action) -> str:
    return template.format(obj=object_phrase(action.args.get("object", "it")),
                           direction=action.args.get("direction", ""), target=action.args.get("target", "it"))


class CommandBackend:
    """Offline, deterministic: greetings, small talk, "please hold" and the arm commands.

    ``strict`` (the ``commands`` backend alone): anything else gets "I didn't understand".
    Not strict (the fast path in front of a language model): it yields nothing for what a
    parser cannot decide, and the model answers instead.
    """

    name = "commands"

    def __init__(self, strict: bool = True, small_talk_words: int | None = 5) -> None:
        self.strict = strict
        # Not strict: only lines this short count as small talk (None: any length; with no
        # model behind it, "hi robot, how are you doing today?" is small talk too).
        self.small_talk_words = small_talk_words

    def respond(self, request: ReasoningInput) -> Iterator[Segment]:
        """Yield think/say/act/wait segments; an act segment's text is ``name(k=v, …)``."""
        trig = request.trigger
        if trig.kind == "observation":
            yield from self._on_result(trig)
            return
        if trig.kind == "refusal":
            yield Segment(THINK, f"I cannot do that: {trig.text}")
            yield Segment(SAY, f"Sorry, I can't do that. {trig.payload.get('reason_for_user', '')}".strip())
            return
        text = trig.text.strip()
        if not text:
            yield Segment(SAY, NOT_CAUGHT)
            return
        action = parse_command(text) or follow_up(text, request.transcript)
        if action is not None:
            obj = action.args.get("object")
            if obj is not None and obj not in request.known_objects:
                yield Segment(THINK, f"The user wants {format_action(action)}, {REFUSED_UNSEEN} {obj}.")
                yield Segment(SAY, not_seen(obj))
                return
            what = ACTION_SET[action.name].summary
            yield Segment(THINK, f"The user asks me to {what}: {format_action(action)}. Start it now and say so.")
            # Action first: the arm starts moving while the confirmation is being spoken.
            yield Segment(ACT, format_action(action))
            yield Segment(SAY, confirmation(action))
            return
        low = text.lower()
        answer = scene_answer(low, request.known_objects, request.scene)
        if answer:
            yield Segment(SAY, answer)
            return
        if _HOLD.search(low):
            yield Segment(THINK, "I am asked to hold; I wait until they speak again.")
            yield Segment(WAIT, "")
            return
        # Simple conversation gets no deep thought (the talk: greetings answer directly). In
        # front of a model only short lines count: "hi, what is on the table?" is a question.
        if not self.strict and self.small_talk_words is not None and len(low.split()) > self.small_talk_words:
            return
        if GREETING.search(low):
            yield Segment(SAY, "Hello! I can pick up, push or point at the cubes on the table. What should I do?")
        elif _THANKS.search(low):
            yield Segment(SAY, "You're welcome!")
        elif _HOW_ARE_YOU.search(low):
            yield Segment(SAY, "I'm doing well, thanks. Ready when you are.")
        elif self.strict:
            yield Segment(THINK, f"I do not understand {text!r} as a command I can do.")
            yield Segment(SAY, NOT_UNDERSTOOD)

    def _on_result(self, trig: Trigger) -> Iterator[Segment]:
        try:
            action = parse_action(trig.payload.get("action", ""))
        except ValueError:
            action = Action("stop")
        if trig.payload.get("success"):
            template = _DONE.get(action.name)
            if action.name in ACTION_SET and ACTION_SET[action.name].says_result:
                yield Segment(SAY, trig.text)
            elif template:
                yield Segment(SAY, _fill(template, action))
        elif trig.payload.get("lost"):
            yield Segment(THINK, f"The action {format_action(action)} was lost: {trig.text}")
            yield Segment(SAY, unfinished(action))
        elif not trig.payload.get("canceled"):
            yield Segment(THINK, f"The action {format_action(action)} failed: {trig.text}")
            yield Segment(SAY, f"Sorry, that didn't work: {trig.text}")


# "Then the red one, please." after "Put the purple cube in the bin": the same action on
# another object (the last one proposed, done or refused, in the context).
_ELLIPSIS = re.compile(rf"^(?:then |and |now |ok |okay |no,? )?(?:the |that )?(?P<color>{_COLOR}) (?:one|cube|block)\b")
_LAST_ACTION = re.compile(r"(?:<action>|<observation>refused |<think>The user wants )(?P<action>\w+\([^)]*\))")


def follow_up(text: str, transcript: str) -> Action | None:
    """The last action in ``transcript`` on the object ``text`` names ("then the red one"), or None."""
    m = _ELLIPSIS.match(" ".join(text.lower().replace(",", " ").split()))
    previous = _LAST_ACTION.findall(transcript)
    if not m or not previous:
        return None
    try:
        last = parse_action(previous[-1])
    except ValueError:
        return None
    if "object" not in last.args:
        return None
    return Action(last.name, {**last.args, "object": f"{m['color']}_cube"})


def describe_place(payload: dict) -> str:
    """Robot-frame table position (x forward, y to the robot's left) in words."""
    pos = payload.get("position")
    if not isinstance(pos, list) or len(pos) < 2:
        return ""
    x, y = float(pos[0]), float(pos[1])
    side = "on my left" if y > 0.06 else ("on my right" if y < -0.06 else "in the middle")
    depth = "close to me" if x < 0.47 else ("far from me" if x > 0.56 else "")
    return f"{side}, {depth}" if depth else side


def _names(objects: list[str]) -> str:
    phrases = [object_phrase(o) for o in objects]
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def scene_answer(low: str, known_objects: set[str], scene: dict[str, dict]) -> str:
    """What can be said about the table from what vision reported, or "" (the model answers)."""
    objects = sorted(known_objects)
    m = _WHERE_IS.search(low)
    if m:
        name = f"{m['color'] or m['color2']}_cube"
        if name not in known_objects:
            return not_seen(name)
        where = describe_place(scene.get(name, {}))
        return f"{object_phrase(name).capitalize()} is {where}." if where else \
            f"{object_phrase(name).capitalize()} is on the table, but I haven't seen exactly where yet."
    if WHAT_DO_YOU_SEE.search(low) and objects:
        return f"I see {len(objects)} cubes on the table: {_names(objects)}, and the bin."
    return ""
