"""The grounded side of the dialogue: what the agent says from its own state, never from a model.

Its name and what it can do (from the declared action set and the executors present), what it
sees (vision's reports), what it is doing and what it just did and why (its action log), what
it announces as it acts, what it asks back when unsure, and the check every model clause passes
before it is spoken (on-protocol, not a parrot of the context, not a repeat of its last line).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from seal_nodes.core.actions import ACTION_SET, ARM, GUI, TARGETS, Action, object_phrase
from seal_nodes.core.thinking.fast_path import COLORS, WHAT_DO_YOU_SEE, confirmation, scene_answer
from seal_nodes.core.thinking.fast_path import describe_place
from seal_nodes.core.thinking.frames import Frame
from seal_nodes.core.thinking.references import SceneObject, find_reference, scene_objects

NAME = "SEAL"
DONT_KNOW = "I don't know that."
WONT = "Okay, I won't."

# What each action is called in a sentence: listed (capabilities), in progress, done.
_VERB = {"pick": "pick up", "push": "push", "point": "point at", "place": "put one in the bin", "home": "go home",
         "click": "click", "type": "type into"}
_ING = {"pick": "picking up {obj}", "place": "putting {obj} in the bin", "push": "pushing {obj} to the {direction}",
        "point": "pointing at {obj}", "home": "going back home", "stop": "stopping", "click": "clicking {target}",
        "type": "typing into {target}"}
_PAST = {"pick": "picked up {obj}", "place": "put {obj} in the bin", "push": "pushed {obj} to the {direction}",
         "point": "pointed at {obj}", "home": "went back home", "stop": "stopped", "click": "clicked {target}",
         "type": "typed into {target}"}
_INFINITIVE = {"pick": "pick up {obj}", "place": "put {obj} in the bin", "push": "push {obj} to the {direction}",
               "point": "point at {obj}", "home": "go back home", "stop": "stop", "click": "click {target}",
               "type": "type into {target}"}

_NAME_Q = re.compile(r"\b(?:your name|who are you|what are you called|what should i call you|what do i call you)\b")
_CAN_Q = re.compile(r"\bwhat (?:can|could) you do\b|\bwhat are you able to do\b|\bwhat do you do\b"
                    r"|\bwhat can i ask\b|\bhow can you help\b|\bwhat are your (?:skills|abilities)\b")
_DOING_Q = re.compile(r"\bwhat are you doing\b|\bwhat(?:'s| is) going on\b|\bare you (?:busy|done|finished)\b")
_DID_Q = re.compile(r"\bwhat (?:did|have) you (?:just )?(?:do|done)\b|\bwhat happened\b|\bdid (?:it|that) work\b")
_WHY_Q = re.compile(r"\bwhy (?:did|have|are|were) you\b|^\s*why(?: (?:that|this))?\s*[?.!]*\s*$")
_TAG = re.compile(r"\[[A-Z_ ]+\]")  # the TTS's control tags ([THINKING]) are not words
_OFF_PROTOCOL = re.compile(r"</?[a-z_]+[^>]*>|\[system hint\]|^\s*(?:user|assistant|system|seal)\s*:"
                           r"|\b[a-z_]+\([a-z_]+=", re.IGNORECASE)
PARROT_WORDS = 5  # a clause this long or longer can be a parrot
PARROT_SHARE = 0.8  # …when runs copied from the context cover this much of it
COPIED_RUN = 3  # words in a row that count as copied


@dataclass
class Done:
    """One action the agent started, and what came of it."""

    action: Action
    asked_by: str  # the user line that asked for it
    status: str = "running"  # "running" | "succeeded" | "failed" | "canceled"
    message: str = ""


@dataclass
class State:
    """What the agent knows about itself and the table, for answers from state."""

    known_objects: set[str]
    scene: dict[str, dict]
    executors: tuple[str, ...]
    log: list[Done] = field(default_factory=list)  # oldest first
    queued: list[Action] = field(default_factory=list)  # the rest of a compound request


def _fill(template: str, action: Action) -> str:
    return template.format(obj=object_phrase(action.args.get("object", "it")),
                           direction=action.args.get("direction", ""), target=action.args.get("target", "it"))


def _join_or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _objects(known: set[str]) -> str:
    """``the red, green or blue cube``; other names listed whole."""
    if not known:
        return "the cubes on the table"
    colors = sorted((n[: -len("_cube")] for n in known if n.endswith("_cube")),
                    key=lambda c: (COLORS.index(c) if c in COLORS else len(COLORS), c))
    if len(colors) == len(known):
        return f"the {_join_or(colors)} cube"
    return _join_or(sorted(object_phrase(n) for n in known))


def capabilities(state: State) -> str:
    """What the agent can do here, specifically: "I can pick up, push or point at the red, green or blue
    cube, put one in the bin, or go home. What would you like?"."""
    allowed = [n for n, s in ACTION_SET.items() if s.executor in state.executors]
    parts = []
    on_object = [_VERB[n] for n in ("pick", "push", "point") if n in allowed]
    if on_object:
        parts.append(f"{_join_or(on_object)} {_objects(state.known_objects)}")
    parts += [_VERB[n] for n in ("place", "home") if n in allowed]
    on_screen = [_VERB[n] for n in ("click", "type") if n in allowed]
    if on_screen:
        parts.append(f"{_join_or(on_screen)} things on the screen")
    if not parts:
        return "I can only talk here. What would you like to know?"
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", or " + parts[-1]
    return f"I can {listed}. What would you like?"


def introduce(state: State) -> str:
    body = "a robot with an arm over this table" if ARM in state.executors else \
        "an assistant that works this computer screen" if GUI in state.executors else "an assistant"
    return f"I'm {NAME}, {body}. What can I do for you?"


def announce(actions: list[Action]) -> str:
    """What the agent says as it starts a request: "Sure, picking up the blue cube.", "Okay: first the
    red cube, then the green cube, into the bin."."""
    if len(actions) == 1:
        return confirmation(actions[0])
    objects = [object_phrase(a.args["object"]) for a in actions if "object" in a.args]
    rest = {(a.name, tuple(sorted((k, v) for k, v in a.args.items() if k != "object"))) for a in actions}
    if len(rest) == 1 and len(objects) == len(actions):  # one action over several objects
        order = f"first {objects[0]}, then " + ", then ".join(objects[1:])
        name = actions[0].name
        if name == "place":
            return f"Okay: {order}, into the bin."
        return f"Okay, {_fill(_ING[name], actions[0]).replace(objects[0], order, 1)}."
    return "Okay: first I'll " + ", then ".join(_fill(_INFINITIVE[a.name], a) for a in actions) + "."


def ask_back(understood: str) -> str:
    return f"Do you want me to {understood}?"


def ask_slot(frame: Frame, state: State) -> str:
    """The question for what a request left out: which object, which way, or what to do."""
    missing = frame.missing()
    which = _objects(state.known_objects).replace(" cube", "", 1) + " one" if len(state.known_objects) > 1 else ""
    if "object" in missing and frame.action:
        verb = {"pick": "pick up", "place": "put in the bin", "point": "point at", "push": "push"}[frame.action]
        way = f" to the {frame.direction}" if frame.action == "push" and frame.direction else ""
        return f"Which cube should I {verb}{way}: {which}?" if which else f"Which cube should I {verb}{way}?"
    if missing == ("direction",):
        return f"Which way should I push {object_phrase(frame.object)}, left or right?"
    if missing == ("action",):
        obj = object_phrase(frame.object)
        return f"What should I do with {obj}? I can pick it up, push it, point at it or put it in the bin."
    return capabilities(state)


def _doing(state: State) -> str:
    running = [d for d in state.log if d.status == "running"]
    if not running:
        return "Nothing right now. I'm listening."
    now = " and ".join(_fill(_ING[d.action.name], d.action) for d in running)
    later = "".join(f" Then I'll {_fill(_INFINITIVE[a.name], a)}." for a in state.queued)
    return f"I'm {now}.{later}"


def _did(state: State) -> str:
    if not state.log:
        return "Nothing yet."
    last = state.log[-1]
    if last.status == "running":
        return f"I'm still {_fill(_ING[last.action.name], last.action)}."
    return f"I {_result(last)}."


def _result(done: Done) -> str:
    past = _fill(_PAST[done.action.name], done.action)
    if done.status == "succeeded":
        return past
    if done.status == "canceled":
        return f"started to {_fill(_INFINITIVE[done.action.name], done.action)}, but it was stopped"
    why = f": {done.message}" if done.message else ""
    return f"tried to {_fill(_INFINITIVE[done.action.name], done.action)}, but it failed{why}"


def _why(state: State) -> str:
    if not state.log:
        return "I haven't done anything yet."
    last = state.log[-1]
    asked = f'Because you asked me: "{last.asked_by}".' if last.asked_by else "I decided to."
    if last.status == "running":
        return f"{asked} I'm {_fill(_ING[last.action.name], last.action)} now."
    return f"{asked} I {_result(last)}."


def state_answer(text: str, state: State) -> str:
    """The answer to a question about the agent itself or the table, from state; "" if it is not one."""
    low = " ".join(text.lower().replace(",", " ").split())
    if _WHY_Q.search(low):
        return _why(state)
    if _DID_Q.search(low):
        return _did(state)
    if _DOING_Q.search(low):
        return _doing(state)
    if _NAME_Q.search(low):
        return introduce(state)
    if _CAN_Q.search(low):
        return capabilities(state)
    if ARM in state.executors:
        seen = scene_answer(low, state.known_objects, state.scene) or _where_answer(low, state)
        if seen:
            return seen
        if WHAT_DO_YOU_SEE.search(low):
            return "I don't see anything on the table yet."
    return ""


_WHICH_Q = re.compile(r"^(?:\w+ )?(?:which|what)(?: of the)?(?: colou?r)? (?:cube|block|one|object|thing)s?\b"
                      r"|^(?:\w+ )?what colou?r is (?:the|that) (?:cube|block|one)\b")
_IS_THERE_Q = re.compile(r"\b(?:is there|are there|do you see|can you see|have you got|do you have) (?:a|an|any) "
                         r"(?P<color>[a-z]+) (?:cubes?|blocks?)\b")
_NEXT_TO_Q = re.compile(r"\bwhat(?:'s| is) (?:the )?(?P<color>[a-z]+) (?:cube|block|one) (?:next to|beside|near)\b"
                        r"|\bwhat(?:'s| is) (?:next to|beside|near) the (?P<color2>[a-z]+) (?:cube|block|one)\b")


def _where_answer(low: str, state: State) -> str:
    """Questions about where things are, answered from vision's positions: "which cube is closest
    to you?", "is there a yellow cube?", "what is the red cube next to?"."""
    low = re.sub(r"[^a-z' ]+", " ", low)
    low = " ".join(low.split())
    objects = scene_objects(state.known_objects, state.scene)
    m = _IS_THERE_Q.search(low)
    if m:
        found = [o for o in objects if o.color == m["color"]]
        if found:
            where = describe_place(state.scene.get(found[0].name, {}))
            return f"Yes, {object_phrase(found[0].name)} is {where}." if where else \
                f"Yes, I see {object_phrase(found[0].name)}."
        seen = [object_phrase(o.name) for o in objects]
        listed = seen[0] if len(seen) == 1 else ", ".join(seen[:-1]) + " and " + seen[-1] if seen else ""
        return f"No, I don't see a {m['color']} cube. I see {listed}." if seen else \
            f"No, I don't see a {m['color']} cube."
    m = _NEXT_TO_Q.search(low)
    if m:
        color = m["color"] or m["color2"]
        return _next_to(next((o for o in objects if o.color == color), None), objects, color)
    if _WHICH_Q.search(low):
        # "which cube is on your right" names it as "the cube on your right" does
        low = re.sub(r"\b(cube|block|one|object|thing)s? is\b", r"\1", low)
        ref = find_reference(low, objects, tuple(o.color for o in objects if o.color))
        if ref is not None and ref.how == "position" and len(ref.names) == 1:
            where = describe_place(state.scene.get(ref.names[0], {}))
            name = object_phrase(ref.names[0]).capitalize()
            return f"{name}. It's {where}." if where else f"{name}."
    return ""


def _next_to(obj: SceneObject | None, objects: list[SceneObject], color: str) -> str:
    if obj is None:
        return f"I don't see a {color} cube."
    others = [o for o in objects if o.name != obj.name and o.position is not None]
    if obj.position is None or not others:
        return f"I don't know what is next to {object_phrase(obj.name)}."
    x, y = obj.position
    near = min(others, key=lambda o: (o.position[0] - x) ** 2 + (o.position[1] - y) ** 2)
    return f"{object_phrase(obj.name).capitalize()} is next to {object_phrase(near.name)}."


# --- the check a model's words pass before they are spoken --------------------------------------

def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", _TAG.sub(" ", text).lower())


def copied_share(words: list[str], source: list[str]) -> float:
    """The share of ``words`` inside runs of at least COPIED_RUN words that also occur in ``source``."""
    if not words:
        return 0.0
    grams = {tuple(source[i:i + COPIED_RUN]) for i in range(len(source) - COPIED_RUN + 1)}
    covered = [False] * len(words)
    for i in range(len(words) - COPIED_RUN + 1):
        if tuple(words[i:i + COPIED_RUN]) in grams:
            covered[i:i + COPIED_RUN] = [True] * COPIED_RUN
    return sum(covered) / len(words)


def speech_problem(text: str, *, user_text: str, system: str, last_said: Sequence[str] = ()) -> str:
    """Why the model's ``text`` must not be spoken, or "" if it may be (``last_said``: the agent's
    latest lines, newest last)."""
    if _OFF_PROTOCOL.search(text):
        return "off-protocol text in speech"
    words = _words(text)
    if len(words) >= PARROT_WORDS:
        for source, what in ((user_text, "the user's words"), (system, "the system prompt")):
            if copied_share(words, _words(source)) >= PARROT_SHARE:
                return f"it parrots {what}"
    for line in last_said:
        said = _words(line)
        if len(words) >= COPIED_RUN and said and (words == said or copied_share(words, said) >= PARROT_SHARE):
            return "it repeats what the agent just said"
    return ""


# --- what recognition should expect ----------------------------------------------------------------

# Per action, the words a request for it uses. Directions stay out: a bias word of five letters or
# more snaps near-misses onto itself ("bright" would become "right").
_BIAS = {"pick": ("pick up", "grab"), "place": ("put", "bin"), "push": ("push",), "point": ("point at",),
         "home": ("go home",), "stop": ("stop",), "click": ("click",), "type": ("type",),
         "read": ("read",), "begin_lesson": ("show you how",), "save_skill": ("that's it",)}


_FILLERS = frozenset({"a", "an", "the", "and", "or"})
_CLAUSE = re.compile(r"[^,.;!?]+[,.;!?]*")


def strip_recital(text: str, scene_words: set[str]) -> tuple[str, bool]:
    """The transcript without the recogniser reciting its bias prompt, and whether it did.

    The prompt is a comma list of the scene's object words ("red cube, green cube, blue cube, bin");
    in noise Whisper sometimes writes part of it before, or instead of, what was said ("bin, green
    cube, and push to the left"). Two or more leading clauses of nothing but those words (and
    articles) are that list: no request starts so. A single such clause ("The red cube.") is a
    reply and stays. Returns ("", True) when the whole transcript is the list.
    """
    clauses = _CLAUSE.findall(text)
    n = 0
    for clause in clauses:
        words = [w for w in re.findall(r"[a-z']+", clause.lower()) if w not in _FILLERS]
        if not words or not set(words) <= scene_words:
            break
        n += 1
    if n < 2:
        return text, False
    rest = "".join(clauses[n:]).strip()
    rest = re.sub(r"^(?:(?:and|or|then)\b[\s,]*)+", "", rest, flags=re.I).strip()
    return (rest[:1].upper() + rest[1:] if rest else ""), True


def scene_words(known_objects: set[str]) -> set[str]:
    """The words of the objects and places in the recogniser's prompt (``bias_words``), no verbs."""
    return {w for name in known_objects for w in name.split("_")} | set(TARGETS)


def bias_words(known_objects: set[str], executors: tuple[str, ...]) -> list[str]:
    """The action and object vocabulary, for the recogniser's bias (/perception/bias_words)."""
    words = [name.replace("_", " ") for name in sorted(known_objects)] if ARM in executors else []
    for name, spec in ACTION_SET.items():
        if spec.executor in executors:
            words += [w for w in _BIAS.get(name, ()) if w not in words]
    return words
