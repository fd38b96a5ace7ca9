"""The declared action set of the thinker and its validation.

Everything the thinker wants done goes through ``validate``: an action that is not declared,
has the wrong arguments or names an object the agent does not know is refused with an
``ActionError`` and never reaches an executor.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ARM = "arm"
GUI = "gui"
SYSTEM = "system"
MEMORY = "memory"

MAX_QUERY_CHARS = 200  # a recall query: a question, not a document
MAX_SKILL_ARG_CHARS = 120  # a skill's parameter value: a city, a date, a name

DIRECTIONS = ("left", "right")
TARGETS = frozenset({"bin"})  # where an arm action may put an object, unless a deployment says otherwise


class ActionError(ValueError):
    """An action the thinker may not execute; the message says why."""


@dataclass(frozen=True)
class ActionSpec:
    name: str
    executor: str
    params: tuple[str, ...]
    summary: str
    says_result: bool = False  # its result is what the user asked to hear (said as it comes back)


ACTION_SET: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec("pick", ARM, ("object",), "pick up an object"),
        ActionSpec("place", ARM, ("object", "target"), "put an object in/on a target"),
        ActionSpec("push", ARM, ("object", "direction"), "push an object left or right"),
        ActionSpec("point", ARM, ("object",), "point at an object"),
        ActionSpec("home", ARM, (), "move the arm to its home pose"),
        ActionSpec("click", GUI, ("target",), "click a described on-screen element"),
        ActionSpec("type", GUI, ("target", "text"), "type text into an on-screen element"),
        ActionSpec("read", GUI, ("target",), "read an on-screen value aloud", says_result=True),
        ActionSpec("begin_lesson", GUI, ("task",), "start recording the on-screen steps the user shows for a task"),
        ActionSpec("save_skill", GUI, ("task",), "turn the steps shown since the lesson began into a skill",
                   says_result=True),
        # and the skill's own parameters, which only the skill declares (``validate``'s ``skills``)
        ActionSpec("run_skill", GUI, ("name",), "do a task with a skill learned earlier", says_result=True),
        ActionSpec("stop", SYSTEM, (), "stop every running action"),
        ActionSpec("recall", MEMORY, ("query",), "search what you remember of this person and past tasks"),
    )
}


@dataclass(frozen=True)
class Action:
    name: str
    args: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.args.items())
        return f"{self.name}({inner})"

    @property
    def executor(self) -> str:
        return ACTION_SET[self.name].executor


def validate(action: Action, known_objects: set[str], known_targets: set[str] | None = None,
             skills: dict[str, tuple[str, ...]] | None = None) -> Action:
    """Return the action if it may be executed, else raise ActionError with the reason.
    ``skills``: each skill the agent may run now → its parameters (``run_skill`` takes those)."""
    spec = ACTION_SET.get(action.name)
    if spec is None:
        raise ActionError(f"unknown action {action.name!r}; declared: {sorted(ACTION_SET)}")
    if action.name == "run_skill":
        return _validate_skill_call(action, skills or {})
    missing = [p for p in spec.params if not action.args.get(p)]
    extra = [a for a in action.args if a not in spec.params]
    if missing or extra:
        raise ActionError(f"{action.name} takes {list(spec.params)}; missing {missing}, unexpected {extra}")
    if "object" in spec.params and action.args["object"] not in known_objects:
        raise ActionError(f"unknown object {action.args['object']!r}; known: {sorted(known_objects)}")
    if "target" in spec.params and spec.executor == ARM:
        targets = known_targets if known_targets is not None else TARGETS
        if action.args["target"] not in targets:
            raise ActionError(f"unknown target {action.args['target']!r}; known: {sorted(targets)}")
    if "direction" in spec.params and action.args["direction"] not in DIRECTIONS:
        raise ActionError(f"direction must be one of {DIRECTIONS}")
    if "query" in spec.params and len(action.args["query"]) > MAX_QUERY_CHARS:
        raise ActionError(f"a {action.name} query is at most {MAX_QUERY_CHARS} characters")
    return action


def _validate_skill_call(action: Action, skills: dict[str, tuple[str, ...]]) -> Action:
    name = action.args.get("name", "")
    if name not in skills:
        raise ActionError(f"no skill named {name!r}; known: {sorted(skills) or 'none yet'}")
    wanted = set(skills[name])
    given = set(action.args) - {"name"}
    if given != wanted:
        raise ActionError(f"skill {name} takes {sorted(wanted)}; missing {sorted(wanted - given)}, "
                          f"unexpected {sorted(given - wanted)}")
    for key in wanted:
        value = action.args[key]
        if not value.strip() or len(value) > MAX_SKILL_ARG_CHARS:
            raise ActionError(f"skill parameter {key} must be 1..{MAX_SKILL_ARG_CHARS} characters")
    return action


def object_phrase(name: str) -> str:
    """``red_cube`` → ``the red cube``."""
    return "the " + name.replace("_", " ")


# What an executor (VLA policy) is told, by action; ``{object}`` stands for its ``object_phrase``.
INSTRUCTIONS = {
    "pick": "pick up {object}",
    "place": "put {object} in the {target}",
    "push": "push {object} {direction}",
    "point": "point at {object}",
    "home": "go home",
    "click": "click {target}",
    "type": "type {text!r} into {target}",
    "read": "read {target}",
    "begin_lesson": "begin lesson: {task}",
    "save_skill": "save skill: {task}",
}


def instruction_for(action: Action) -> str:
    """The natural-language instruction an executor (VLA policy) receives."""
    template = INSTRUCTIONS.get(action.name)
    if template is None:
        return action.name
    args = dict(action.args)
    if "object" in args:
        args["object"] = object_phrase(args["object"])
    return template.format(**args)
