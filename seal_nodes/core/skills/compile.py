"""A trace the model solved step by step → a parameterised skill.

Every step is anchored on the element it acted on; a text equal to a value the user gave
(case-insensitive) becomes that value's ``{param}`` (typed text, an element's name or label), as
does the value inside a name or label where it is written as the user wrote it ("Humidity
value" -> "{tab} value") and inside a judgement question. ``choose`` steps stay model calls with their
question; ``read`` steps become the skill's outputs. Each step's postcondition is what the trace
saw next: the page it settled on, the element the next step acts on, and for a fill the text the
field then holds. A trace that failed, or that has a step done at x,y with no element named, is
refused: there is nothing safe to replay.
"""
from __future__ import annotations

import re

from seal_nodes.core.skills.model import IDENTIFIER, Anchor, Postcondition, Skill, Step, TraceStep


def compile_skill(trace: list[TraceStep], request: str, values: dict[str, str], name: str, description: str,
                  episode: str = "") -> Skill:
    """The skill that does what ``trace`` did for ``request``, with ``values`` (the slots the
    user gave, e.g. {"city": "Paris"}) as its parameters; ``description`` ("" for the request)
    is what retrieval matches. ValueError when the trace cannot be compiled, saying why."""
    if not isinstance(trace, list) or not trace or not all(isinstance(t, TraceStep) for t in trace):
        raise ValueError("compile_skill needs a non-empty list of TraceStep")
    _check_values(values)
    for n, t in enumerate(trace):
        if t.error:
            raise ValueError(f"the trace failed at step {n} ({t.op}): {t.error}")
        if t.coordinate_only:
            raise ValueError(f"step {n} ({t.op}) was done at x,y with no element named: it cannot be anchored")
        if t.op == "choose" and not t.question.strip():
            raise ValueError(f"step {n} (choose) has no question: the judgement cannot be asked again")
    lift = _Lifter(values)
    # what each step acts on (a choice is the model's anew each time: only its role is kept) and
    # what the step before it waits for (a choice: its list, if any)
    acted = [t.chosen if t.op == "choose" else lift.anchor(t.anchor) for t in trace]
    waits = [lift.anchor(t.anchor) if t.anchor is not None else None for t in trace]
    outputs = output_names([(t.output, a) for t, a in zip(trace, acted) if t.op == "read"])
    steps = []
    for n, t in enumerate(trace):
        present = waits[n + 1] if n + 1 < len(trace) else None
        value = (acted[n], lift.text(t.value)) if t.op == "fill" else None
        post = Postcondition(t.after, present, value)
        if t.op == "choose":
            steps.append(Step("choose", waits[n], question=lift.words(t.question), choice_role=t.chosen.role,
                              at=t.before, dialog=t.dialog, post=post))
        else:
            steps.append(Step(t.op, acted[n], value=lift.text(t.value) if t.op == "fill" else "",
                              output=outputs.pop(0) if t.op == "read" else "", at=t.before, dialog=t.dialog,
                              post=post))
    unused = [k for k in values if k not in lift.used]
    if unused:
        raise ValueError(f"the value(s) of {unused} appear in no step: the skill could not take them as "
                         "parameters and would redo the recorded ones")
    return Skill(name, description or request, dict(values), tuple(steps), episode=episode)


def output_names(reads: list[tuple[str, Anchor | None]]) -> list[str]:
    """The names the values read are returned under, one per (name given, anchor) read: the name
    the model gave it, else the anchor's name, label or test id as an identifier (a parameter's
    own name for "{param}"; "value" for a read at x,y), numbered when one repeats."""
    names: list[str] = []
    for given, anchor in reads:
        base = name = given if IDENTIFIER.fullmatch(given) else "value" if anchor is None else _identifier(anchor)
        n = 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def _identifier(anchor: Anchor) -> str:
    for text in (anchor.name, anchor.label, anchor.test_id, anchor.role):
        slug = re.sub(r"\W+", "_", text.replace("{", "").replace("}", "").strip().lower(), flags=re.ASCII).strip("_")
        if slug:
            return slug if not slug[0].isdigit() else f"value_{slug}"
    return "value"


def _check_values(values: object) -> None:
    if not isinstance(values, dict):
        raise ValueError("values must map each parameter's name to the value the user gave")
    for key, value in values.items():
        if not isinstance(key, str) or not IDENTIFIER.fullmatch(key):
            raise ValueError(f"parameter name {key!r} is not an identifier")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"parameter {key!r} has no text value: {value!r}")


class _Lifter:
    """Turns the recorded values into ``{param}`` placeholders and notes which were found."""

    def __init__(self, values: dict[str, str]) -> None:
        self.used: set[str] = set()
        self._keys: dict[str, str] = {}  # a folded value -> the first parameter with it
        self._cased: dict[str, str] = {}  # a value as written -> its parameter, where it may be part of a name
        for key, value in values.items():
            self._keys.setdefault(value.strip().casefold(), key)
            # a short or numeric value ("2", "123") inside a name is more likely something else
            if len(value.strip()) >= 3 and any(c.isalpha() for c in value):
                self._cased.setdefault(value.strip(), key)
        self._any_case = _alternation(self._keys, re.IGNORECASE)
        self._as_written = _alternation(self._cased, 0)

    def text(self, text: str) -> str:
        """``{param}`` when ``text`` is a value (case-insensitive), else ``text``."""
        key = self._keys.get(text.strip().casefold())
        if key is None:
            return text
        self.used.add(key)
        return "{" + key + "}"

    def words(self, text: str) -> str:
        """``text`` with every whole-word occurrence of a value (any case) replaced by its ``{param}``."""
        return text if self._any_case is None else self._any_case.sub(lambda m: self.text(m.group(1)), text)

    def anchor(self, anchor: Anchor) -> Anchor:
        """``anchor`` with its name and label lifted: whole (any case), or the words of a value
        written as the user wrote it ("Humidity value" -> "{tab} value"). A test id that holds a
        value in another form ("humidity-value") cannot follow a parameter: it is left out when
        the name or label still names the element."""
        name, label = (self._name(text) for text in (anchor.name, anchor.label))
        test_id = self.text(anchor.test_id)
        if test_id == anchor.test_id and self._any_case is not None and self._any_case.search(test_id) \
                and (name != anchor.name or label != anchor.label):
            test_id = ""
        return Anchor(anchor.role, name, label, test_id)

    def _name(self, text: str) -> str:
        whole = self.text(text)
        if whole != text or self._as_written is None:
            return whole
        return self._as_written.sub(lambda m: self._mark(self._cased[m.group(1)]), text)

    def _mark(self, key: str) -> str:
        self.used.add(key)
        return "{" + key + "}"


def _alternation(values: dict[str, str], flags: int) -> re.Pattern[str] | None:
    """One pattern for the whole-word occurrences of ``values``, a longer one first ("New York"
    before "York"), so one pass lifts each occurrence once."""
    if not values:
        return None
    alternatives = sorted(values, key=len, reverse=True)
    return re.compile(r"(?<!\w)(" + "|".join(map(re.escape, alternatives)) + r")(?!\w)", flags)
