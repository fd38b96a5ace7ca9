"""Between the user's words and a skill: what a lesson's values were, what the skill is called, and
the values a new request gives its parameters.

A lesson is shown for one task in words ("check the humidity in Rome"). The values are what the
user typed, or the choices they clicked (a tab, an option), that the task names: they become the
skill's parameters, and the task with them replaced ("check the {tab} in {city}") its description.
A later request is bound to a skill when it says the description's words around new values
("Check the humidity in Paris, please" → tab=Humidity, city=Paris); a value is written the way the
example was (Whisper may write "paris").
"""
from __future__ import annotations

import re

from seal_nodes.core.language.phonetic import similarity
from seal_nodes.core.skills.model import Skill, TraceStep, placeholders

# clicked elements whose names can be the user's choice; a button's name is what it does
CHOICE_ROLES = ("tab", "option", "radio", "checkbox", "cell", "row", "menuitem", "listitem")
_STOP = frozenset("a an the in on at of to for from into with me my your please and or it its is".split())
_POLITE_TAIL = r"(?:\s+(?:please|for me|now|thanks|thank you|again))*"
SOUNDS_LIKE = 0.7  # phonetic similarity at which a task's word is taken for a value misheard ("pairs" → Paris)


def normalise(text: str) -> str:
    """Lower case, words and apostrophes only, single spaces."""
    return " ".join(re.sub(r"[^\w'{} ]+", " ", text.lower()).split())


def _in_task(task: str, value: str) -> str:
    """``value`` as ``task`` writes it (whole words, any case), or "" when the task does not say it."""
    if not value.strip():
        return ""
    m = re.search(rf"(?<!\w){re.escape(value.strip())}(?!\w)", task, flags=re.IGNORECASE)
    return m[0] if m else ""


def _param_name(text: str, taken: dict[str, str]) -> str:
    base = re.sub(r"\W+", "_", text.lower(), flags=re.ASCII).strip("_") or "value"
    base = base if not base[0].isdigit() else f"value_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def heard_task(trace: list[TraceStep], task: str) -> str:
    """``task`` with a word or two that sound like a value the lesson typed or chose, and that it
    does not say, written as that value: the recogniser may mishear a name in a sentence ("check
    the humidity in pairs") that it heard right on its own ("type Paris")."""
    chosen = [t.acted_on for t in trace if t.op in ("click", "choose")]
    # the page's spelling of a name first ("Paris"), then what was typed ("paris")
    shown = [a.name for a in chosen if a is not None and a.role in CHOICE_ROLES] + \
        [t.value for t in trace if t.op == "fill"]
    for value in dict.fromkeys(v.strip() for v in shown if v.strip() and any(c.isalpha() for c in v)):
        if _in_task(task, value):
            continue
        words = task.split()
        spans = [(similarity(" ".join(words[i:i + n]), value), i, n)
                 for n in (1, 2) for i in range(len(words) - n + 1) if normalise(words[i]) not in _STOP]
        best = max(spans, default=(0.0, 0, 0))
        if best[0] >= SOUNDS_LIKE:
            _, i, n = best
            tail = re.sub(r"^[\w']+", "", words[i + n - 1])  # keep the punctuation after it
            task = " ".join(words[:i] + [value + tail] + words[i + n:])
    return task


def lesson_values(trace: list[TraceStep], task: str) -> dict[str, str]:
    """The values of ``task`` the lesson used: typed texts it names (a parameter named after the
    field; the value as the task writes it), then clicked choices it names (named after their
    role; the value as the page writes it)."""
    values: dict[str, str] = {}
    seen: set[str] = set()
    for t in trace:
        said = _in_task(task, t.value) if t.op == "fill" and t.anchor is not None else ""
        if said and said.casefold() not in seen:
            values[_param_name(t.anchor.label or t.anchor.name or "text", values)] = said
            seen.add(said.casefold())
    for t in trace:
        target = t.acted_on
        if t.op not in ("click", "choose") or target is None or target.role not in CHOICE_ROLES:
            continue
        said = _in_task(task, target.name)
        if said and said.casefold() not in seen:
            values[_param_name(target.role, values)] = target.name
            seen.add(said.casefold())
    return values


def task_template(task: str, values: dict[str, str]) -> str:
    """``task`` with each value (whole words, any case) replaced by its ``{param}``, longest first."""
    out = " ".join(task.split()).rstrip(".!?")
    for key, value in sorted(values.items(), key=lambda kv: -len(kv[1])):
        out = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", "{" + key + "}", out, flags=re.IGNORECASE)
    return out


def skill_name(template: str) -> str:
    """An identifier from the template's words: its first content words, then its parameters
    ("check the {tab} in {city}" → check_tab_city)."""
    words = [w for w in normalise(re.sub(r"\{\w+\}", " ", template)).split() if w not in _STOP]
    words = [re.sub(r"\W+", "", w) for w in words[:3]] + placeholders(template)
    name = "_".join(w for w in words if w)
    return name if name and not name[0].isdigit() else f"task_{name}"


def bind(skill: Skill, request: str) -> dict[str, str] | None:
    """The parameter values ``request`` gives ``skill`` when it says the skill's description
    around them (politeness before and after allowed; a parameter said twice must be the same
    both times); None when it does not."""
    names = placeholders(skill.description)
    if set(names) != set(skill.params):
        return None  # a description that does not show every parameter cannot be matched
    tokens, seen = [], set()
    for word in normalise(skill.description).split():
        m = re.fullmatch(r"\{(\w+)\}", word)
        if m is None:
            tokens.append(re.escape(word))
        else:
            tokens.append(rf"(?P={m[1]})" if m[1] in seen else rf"(?P<{m[1]}>[\w' ]+?)")
            seen.add(m[1])
    pattern = r"\s+".join(tokens)
    found = re.search(rf"(?:^|\s){pattern}{_POLITE_TAIL}$", normalise(request))
    if found is None:
        return None
    return {k: _like(_as_said(found[k].strip(), request), skill.params[k]) for k in dict.fromkeys(names)}


def _as_said(words: str, request: str) -> str:
    """``words`` (found in the normalised request) as the request writes them."""
    m = re.search(r"(?<!\w)" + r"\W+".join(map(re.escape, words.split())) + r"(?!\w)", request, re.IGNORECASE)
    return m[0] if m else words


def _like(value: str, example: str) -> str:
    """``value`` written as ``example`` is (Title Case, UPPER, lower), when it came in lower case."""
    if value != value.lower():
        return value
    if example.isupper():
        return value.upper()
    if example.istitle():
        return value.title()
    return value
