"""What a skill is made of: the page contract, the trace of a task done once, the compiled skill.

An element is found again by its ``Anchor`` (ARIA role, accessible name, label, ``data-testid``),
never by where it was drawn: x,y live only in the trace, for the coordinate baseline. Texts in a
step may hold ``{param}`` placeholders that a replay fills with the caller's values. Every
record has ``to_dict``/``from_dict`` (JSON-ready); malformed data is a ``ValueError`` that says
which field and why.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

OPS = ("click", "fill", "read", "choose")
SIDE_EFFECT_OPS = ("click", "fill", "choose")
STATUSES = ("provisional", "trusted", "retired")
DIALOG_ROLES = ("dialog", "alertdialog")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --- the page contract ------------------------------------------------------------------------
@dataclass(frozen=True)
class Anchor:
    """How an element is found again: never coordinates."""

    role: str  # ARIA role: "button", "textbox", "link", "tab", "option", "combobox", "row", "heading", ...
    name: str = ""  # accessible name ("Search", "City")
    label: str = ""  # a form field's label text, if any
    test_id: str = ""  # a stable attribute (data-testid) when the app has one

    def __post_init__(self) -> None:
        _strings("anchor", role=self.role, name=self.name, label=self.label, test_id=self.test_id)
        if not self.role.strip():
            raise ValueError("anchor: role is empty")

    @classmethod
    def of(cls, anchor: object) -> Anchor:
        """``anchor`` as this type: any object with the four fields (a page adapter's own
        anchor) is copied; anything else is a ValueError."""
        if isinstance(anchor, cls):
            return anchor
        try:
            return cls(anchor.role, anchor.name, anchor.label, anchor.test_id)  # type: ignore[attr-defined]
        except AttributeError:
            raise ValueError(f"not an anchor (role, name, label, test_id): {anchor!r}") from None

    def matches(self, other: Anchor) -> bool:
        """Whether an element with anchor ``other`` is one this anchor finds: the same role and
        every field this anchor names equal (exact, case-sensitive)."""
        return (self.role == other.role and (not self.name or self.name == other.name)
                and (not self.label or self.label == other.label)
                and (not self.test_id or self.test_id == other.test_id))

    def with_params(self, params: dict[str, str]) -> Anchor:
        return Anchor(self.role, fill_params(self.name, params), fill_params(self.label, params),
                      fill_params(self.test_id, params))

    def describe(self) -> str:
        parts = [self.role]
        if self.name:
            parts.append(f'"{self.name}"')
        if self.label:
            parts.append(f'labelled "{self.label}"')
        if self.test_id:
            parts.append(f"[data-testid={self.test_id}]")
        return " ".join(parts)

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("role", self.role), ("name", self.name), ("label", self.label),
                                  ("test_id", self.test_id)) if v or k == "role"}

    @classmethod
    def from_dict(cls, data: object, where: str = "anchor") -> Anchor:
        d = _object(data, where, ("role",), ("name", "label", "test_id"))
        return _build(where, cls, d["role"], d.get("name", ""), d.get("label", ""), d.get("test_id", ""))


@dataclass(frozen=True)
class Element:
    """What the page shows, for the model and for judgement."""

    anchor: Anchor
    text: str = ""  # visible text / value
    enabled: bool = True
    x: float = 0.0  # centre in CSS px: ONLY for the coordinate baseline and the mouse policy
    y: float = 0.0


class Page(Protocol):
    """One browser tab, synchronous."""

    def location(self) -> str: ...  # the app's page id (e.g. "search", "results", "confirm")
    def elements(self) -> list[Element]: ...  # visible, interactive or readable elements, document order
    # present + visible + enabled, event-driven (Playwright's auto-wait); None on timeout
    def wait_for(self, anchor: Anchor, timeout_s: float) -> Element | None: ...
    def click(self, anchor: Anchor, timeout_s: float) -> None: ...  # raises PageError if not actionable in time
    def fill(self, anchor: Anchor, text: str, timeout_s: float) -> None: ...
    def read(self, anchor: Anchor, timeout_s: float) -> str: ...
    def click_at(self, x: float, y: float) -> None: ...  # the coordinate baseline only
    def wait_for_location(self, location: str, timeout_s: float) -> bool: ...


class TypingPage(Page, Protocol):
    """A page the coordinate baseline can type into: keystrokes go to whatever has focus."""

    def type_text(self, text: str) -> None: ...  # replace the focused field's text; nothing when none has focus


class PageError(RuntimeError):
    """A page action could not be done (the element not actionable in time, the page gone)."""


# --- parameters -------------------------------------------------------------------------------
def placeholders(text: str) -> list[str]:
    """The ``{param}`` names in ``text``, in order."""
    return _PLACEHOLDER.findall(text)


def fill_params(text: str, params: dict[str, str]) -> str:
    """``text`` with each ``{name}`` that ``params`` holds replaced by its value (others stay)."""
    return _PLACEHOLDER.sub(lambda m: params.get(m.group(1), m.group(0)), text)


# --- a step and its check ---------------------------------------------------------------------
@dataclass(frozen=True)
class Postcondition:
    """What must hold after a step; an empty field is not checked."""

    location: str = ""  # the page id after the step
    present: Anchor | None = None  # an element that must then be present and enabled
    value: tuple[Anchor, str] | None = None  # an element whose text must then be this ("{param}" allowed)

    def __post_init__(self) -> None:
        _strings("postcondition", location=self.location)
        _optional_anchor("postcondition.present", self.present)
        if self.value is not None:
            if (not isinstance(self.value, tuple) or len(self.value) != 2 or not isinstance(self.value[0], Anchor)
                    or not isinstance(self.value[1], str)):
                raise ValueError("postcondition.value: expected (Anchor, text)")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.location:
            out["location"] = self.location
        if self.present is not None:
            out["present"] = self.present.to_dict()
        if self.value is not None:
            out["value"] = {"anchor": self.value[0].to_dict(), "text": self.value[1]}
        return out

    @classmethod
    def from_dict(cls, data: object, where: str = "post") -> Postcondition:
        d = _object(data, where, (), ("location", "present", "value"))
        present = None if d.get("present") is None else Anchor.from_dict(d["present"], f"{where}.present")
        value = None
        if d.get("value") is not None:
            v = _object(d["value"], f"{where}.value", ("anchor", "text"), ())
            value = (Anchor.from_dict(v["anchor"], f"{where}.value.anchor"), v["text"])
        return _build(where, cls, d.get("location", ""), present, value)


@dataclass(frozen=True)
class Step:
    """One step of a skill. ``click``/``fill``/``read`` act on ``anchor``; ``choose`` asks the
    model ``question`` and clicks the element it names among those of role ``choice_role``
    (``anchor``, if any, is the list that holds them and must be present)."""

    op: str
    anchor: Anchor | None = None
    value: str = ""  # fill: literal text or "{param}"
    question: str = ""  # choose: what the model decides ("which flight is the cheapest?")
    choice_role: str = ""  # choose: the role of the elements to choose among ("" for any)
    output: str = ""  # read: the name the value read is returned under
    at: str = ""  # the page id the step is taken on ("" for any)
    dialog: str = ""  # the name of the dialog open when it was recorded ("" for none)
    post: Postcondition = field(default_factory=Postcondition)

    def __post_init__(self) -> None:
        _strings("step", op=self.op, value=self.value, question=self.question, choice_role=self.choice_role,
                 output=self.output, at=self.at, dialog=self.dialog)
        if self.op not in OPS:
            raise ValueError(f"step: op {self.op!r} is not one of {', '.join(OPS)}")
        _optional_anchor("step.anchor", self.anchor)
        if not isinstance(self.post, Postcondition):
            raise ValueError("step: post is not a Postcondition")
        if self.op != "choose" and self.anchor is None:
            raise ValueError(f"step: a {self.op} step needs an anchor")
        if self.op == "choose" and not self.question.strip():
            raise ValueError("step: a choose step needs the question the model answers")
        if self.op == "read" and not IDENTIFIER.fullmatch(self.output):
            raise ValueError(f"step: a read step needs an output name (an identifier), got {self.output!r}")

    def describe(self, params: dict[str, str] | None = None) -> str:
        params = params or {}
        target = self.anchor.with_params(params).describe() if self.anchor is not None else ""
        if self.op == "fill":
            return f'fill {target} with "{fill_params(self.value, params)}"'
        if self.op == "choose":
            return f'choose: {fill_params(self.question, params)}' + (f" (in {target})" if target else "")
        return f"{self.op} {target}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op}
        if self.anchor is not None:
            out["anchor"] = self.anchor.to_dict()
        for key in ("value", "question", "choice_role", "output", "at", "dialog"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        post = self.post.to_dict()
        if post:
            out["post"] = post
        return out

    @classmethod
    def from_dict(cls, data: object, where: str = "step") -> Step:
        keys = ("anchor", "value", "question", "choice_role", "output", "at", "dialog", "post")
        d = _object(data, where, ("op",), keys)
        anchor = None if d.get("anchor") is None else Anchor.from_dict(d["anchor"], f"{where}.anchor")
        post = Postcondition.from_dict(d.get("post", {}), f"{where}.post")
        texts = {k: d.get(k, "") for k in keys[1:-1]}
        return _build(where, cls, d["op"], anchor, post=post, **texts)


# --- what was done once -----------------------------------------------------------------------
@dataclass(frozen=True)
class TraceStep:
    """A step as it was done. ``anchor`` is None for a coordinate-only step (a click at x,y no
    element was named for); for ``choose`` it is the list (or None) and ``chosen`` the element
    the model picked."""

    op: str
    anchor: Anchor | None = None
    value: str = ""  # fill: the text typed; read: the text read
    chosen: Anchor | None = None  # choose: the element picked
    before: str = ""  # the page id before the step
    after: str = ""  # the page id once it settled
    x: float = 0.0  # the acted-on element's centre then (the coordinate baseline replays it)
    y: float = 0.0
    model_call: bool = False  # a model call decided this step
    question: str = ""  # choose: what the model decided
    dialog: str = ""  # the name of a dialog open when the step was taken
    output: str = ""  # read: the name the model gave the value ("" to name it after the element)
    error: str = ""  # why the step failed ("" when it did what it meant)

    def __post_init__(self) -> None:
        _strings("trace step", op=self.op, value=self.value, before=self.before, after=self.after,
                 question=self.question, dialog=self.dialog, output=self.output, error=self.error)
        if self.op not in OPS:
            raise ValueError(f"trace step: op {self.op!r} is not one of {', '.join(OPS)}")
        _optional_anchor("trace step.anchor", self.anchor)
        _optional_anchor("trace step.chosen", self.chosen)
        for key in ("x", "y"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"trace step: {key} is not a finite number: {v!r}")
        if not isinstance(self.model_call, bool):
            raise ValueError("trace step: model_call is not a boolean")

    @property
    def acted_on(self) -> Anchor | None:
        """The element the step acted on: the one chosen for a ``choose``, else its anchor."""
        return self.chosen if self.op == "choose" else self.anchor

    @property
    def coordinate_only(self) -> bool:
        """Done at x,y with no element named: nothing to anchor a replay on."""
        return self.acted_on is None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "x": self.x, "y": self.y, "model_call": self.model_call}
        for key in ("anchor", "chosen"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key).to_dict()
        for key in ("value", "before", "after", "question", "dialog", "output", "error"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, data: object, where: str = "trace step") -> TraceStep:
        keys = ("anchor", "value", "chosen", "before", "after", "x", "y", "model_call", "question", "dialog", "output",
                "error")
        d = _object(data, where, ("op",), keys)
        anchors = {k: None if d.get(k) is None else Anchor.from_dict(d[k], f"{where}.{k}")
                   for k in ("anchor", "chosen")}
        rest = {k: d[k] for k in keys if k in d and k not in anchors}
        return _build(where, cls, d["op"], **anchors, **rest)


# --- the compiled skill -----------------------------------------------------------------------
@dataclass(frozen=True)
class Skill:
    """A task compiled into steps. ``params``: each parameter's name and the value it had when
    recorded (an example for the model). ``failing``: failures since the last success."""

    name: str
    description: str
    params: dict[str, str]
    steps: tuple[Step, ...]
    episode: str = ""  # the episode it was compiled from
    status: str = "provisional"
    successes: int = 0
    failures: int = 0
    failing: int = 0
    version: int = 1

    def __post_init__(self) -> None:
        _strings("skill", name=self.name, description=self.description, episode=self.episode, status=self.status)
        if not self.name.strip():
            raise ValueError("skill: name is empty")
        if self.status not in STATUSES:
            raise ValueError(f"skill: status {self.status!r} is not one of {', '.join(STATUSES)}")
        if not isinstance(self.params, dict):
            raise ValueError("skill: params is not a mapping of name to example")
        for key, example in self.params.items():
            if not isinstance(key, str) or not IDENTIFIER.fullmatch(key) or not isinstance(example, str):
                raise ValueError(f"skill: parameter {key!r}: {example!r} is not an identifier with a text example")
        if not isinstance(self.steps, tuple) or not self.steps or not all(isinstance(s, Step) for s in self.steps):
            raise ValueError("skill: steps must be a non-empty tuple of Step")
        for key in ("successes", "failures", "failing", "version"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if key == "version" else 0):
                raise ValueError(f"skill: {key} must be an integer >= {1 if key == 'version' else 0}, got {v!r}")
        outputs = self.outputs
        if len(set(outputs)) != len(outputs):
            raise ValueError(f"skill: output names repeat: {outputs}")

    @property
    def outputs(self) -> list[str]:
        return [s.output for s in self.steps if s.op == "read"]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "params": dict(self.params),
                "steps": [s.to_dict() for s in self.steps], "episode": self.episode, "status": self.status,
                "successes": self.successes, "failures": self.failures, "failing": self.failing,
                "version": self.version}

    @classmethod
    def from_dict(cls, data: object, where: str = "skill") -> Skill:
        d = _object(data, where, ("name", "description", "params", "steps"),
                    ("episode", "status", "successes", "failures", "failing", "version"))
        if not isinstance(d["steps"], list):
            raise ValueError(f"{where}.steps: expected a list")
        steps = tuple(Step.from_dict(s, f"{where}.steps[{n}]") for n, s in enumerate(d["steps"]))
        rest = {k: d[k] for k in ("episode", "status", "successes", "failures", "failing", "version") if k in d}
        params = dict(d["params"]) if isinstance(d["params"], dict) else d["params"]
        return _build(where, cls, d["name"], d["description"], params, steps, **rest)


# --- validation helpers -----------------------------------------------------------------------
def _strings(where: str, **values: object) -> None:
    for key, value in values.items():
        if not isinstance(value, str):
            raise ValueError(f"{where}: {key} is not text: {value!r}")


def _optional_anchor(where: str, value: object) -> None:
    if value is not None and not isinstance(value, Anchor):
        raise ValueError(f"{where}: not an Anchor: {value!r}")


def _object(data: object, where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(required) - set(optional), key=str)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing}")
    return data


def _build(where: str, cls: type, *args: Any, **kwargs: Any) -> Any:
    """``cls(*args, **kwargs)`` with its validation error prefixed by where the data was."""
    try:
        return cls(*args, **kwargs)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
