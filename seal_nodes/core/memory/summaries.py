"""Turns → entries: structured rules that always work, and an optional language-model summary.

The rules read what the user said and what happened (turn_done, action results, errors) and
write short, self-contained lines: preferences and facts the user stated, what they asked and
what was done, which action failed how often and why, what worked after a failure. Any model
can add its own lines through ``Summariser`` (prompt → reply); the rules never depend on it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from seal_nodes.core.actions import INSTRUCTIONS, Action, instruction_for
from seal_nodes.core.memory.store import Note
from seal_nodes.core.memory.users import split_introduction

Summariser = Callable[[str], str]

_MAX_QUOTE = 120  # characters of the user's words kept in a request entry
_MAX_PHRASE = 100
_MAX_LM_LINES = 3
_ACTION = re.compile(r"^(\w+)\((.*)\)$")
_CLAUSE_START = r"(?:^|[,.;!?]\s*|\b(?:and|but|so|also)\s+)"
_I = _CLAUSE_START + r"i (?:really |also |usually )?"
_WHAT = r"\s+(?P<what>[^.;!?,]+)"
_PREFERENCES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(_I + r"(?:do not|don't) (?P<verb>like|want)" + _WHAT), "does not {verb}"),
    (re.compile(_I + r"(?P<verb>prefer|like|love|hate)" + _WHAT), "{verb}s"),
    (re.compile(_CLAUSE_START + r"i (?:always|usually) (?P<verb>want|use|take|need)" + _WHAT), "always {verb}s"),
    (re.compile(_CLAUSE_START + r"i(?:'d| would) rather" + _WHAT), "would rather"),
    (re.compile(_CLAUSE_START + r"(?:please )?(?:always|from now on,?)\s+(?P<what>(?:put|use|place|bring|give|"
                                r"hand|call|speak|talk|ask|say|keep|leave)\b[^.;!?]*)"), "wants you to always"),
]
_FAVOURITE = re.compile(_CLAUSE_START + r"my (?:favou?rite) (?P<thing>[a-z ]{2,30}?) (?:is|are) (?P<what>[^.;!?,]+)")
_FACTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(_CLAUSE_START + r"my (?P<thing>(?!name\b)[a-z ]{2,30}?) (?P<verb>is|are) (?P<what>[^.;!?,]+)"),
     "{user}'s {thing} {verb} {what}"),
    (re.compile(_CLAUSE_START + r"i(?:'m| am) (?P<thing>allergic to|left-handed|right-handed|colou?r ?blind)"
                                r"(?P<what>[^.;!?,]*)"), "{user} is {thing} {what}"),
    (re.compile(_CLAUSE_START + r"i (?P<thing>live|work) (?P<what>(?:in|at|as|on|from) [^.;!?,]+)"),
     "{user} {thing}s {what}"),
]
_VAGUE = {"it", "that", "this", "them", "those", "these", "one", "so", "you", "to"}
_PRONOUNS = {"my": "their", "me": "them", "mine": "theirs", "myself": "themselves", "i": "they", "i'm": "they're",
             "i've": "they've", "i'd": "they'd", "i'll": "they'll"}
_TRAILING = re.compile(r"\s*(?:,?\s*please|,?\s*thanks|,?\s*thank you)\s*$")
_COUNTS = {1: "once", 2: "twice"}
_QUESTION_WORDS = frozenset("what which where who whom whose when why how is are was were do does did can could "
                            "would will should have has".split())


@dataclass
class Turn:
    """One user turn as the recorder saw it: the words, then everything that followed them."""

    trace_id: str
    user: str
    started_ns: int
    text: str
    events: list[dict] = field(default_factory=list)
    outcome: str = ""  # turn_done's: acted | asked | answered | apologized | refused; "" until it came
    actions: list[str] = field(default_factory=list)
    success: list[bool] = field(default_factory=list)
    understood: str = ""
    ended_ns: int = 0

    def results(self) -> list[tuple[str, bool, bool, str, str]]:
        """(action, success, canceled, message, instruction) of every action result, in order."""
        out = []
        for e in self.events:
            if e["type"] == "action_result":
                p = e["payload"]
                out.append((str(p.get("action", "")), bool(p.get("success")), bool(p.get("canceled")),
                            e["text"], str(p.get("instruction", ""))))
        return out

    def errors(self) -> list[str]:
        return [e["text"] for e in self.events if e["type"] == "error" and e["text"]]

    def said(self) -> list[str]:
        return [e["text"] for e in self.events if e["type"] == "agent_speech_end" and e["text"]]


def parse_action(text: str) -> Action | None:
    """``"place(object=red_cube, target=bin)"`` → the Action; None when it is not one."""
    m = _ACTION.match(text.strip())
    if m is None:
        return None
    args: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in m[2].split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            return None
        args[key.strip()] = value.strip()
    return Action(m[1], args)


def describe_action(text: str, instruction: str = "") -> str:
    """In words ("pick up the green cube"), as its executor was told."""
    if instruction:
        return instruction
    action = parse_action(text)
    if action is None:
        return text
    try:
        return instruction_for(action) if action.name in INSTRUCTIONS else action.name
    except (KeyError, IndexError, ValueError):  # arguments the template does not take
        return text


def task_type(turn: Turn) -> str:
    """What kind of task the turn was: its first action's name, else a question or a chat."""
    for text in turn.actions or [r[0] for r in turn.results()]:
        action = parse_action(text)
        if action is not None:
            return action.name
    words = turn.text.lower().split()
    if turn.text.rstrip().endswith("?") or (words and words[0].strip(",") in _QUESTION_WORDS):
        return "question"
    return "conversation"  # a greeting, a statement ("my office is room 12"), thanks


def turn_outcome(turn: Turn) -> str:
    """succeeded | failed | canceled for acted turns, else turn_done's outcome (unfinished without one)."""
    results = turn.results()
    if turn.outcome == "acted" or results:
        if any(not ok and not canceled for _, ok, canceled, _, _ in results) or \
                (turn.success and not all(turn.success) and not results):
            return "failed"
        if any(canceled for _, _, canceled, _, _ in results):
            return "canceled"
        return "succeeded"
    return turn.outcome or "unfinished"


def _third_person(phrase: str) -> str:
    words = phrase.split()
    return " ".join(_PRONOUNS.get(w, w) for w in words)


def _clean(phrase: str) -> str:
    phrase = _TRAILING.sub("", " ".join(phrase.split()).strip(" ,"))
    return phrase[:_MAX_PHRASE].rstrip()


def preferences(turn: Turn, task: str) -> list[Note]:
    """"I prefer the blue bin" → "Ana prefers the blue bin" (and likes, dislikes, always-wants)."""
    text = split_introduction(turn.text).lower()
    notes: list[Note] = []
    seen: set[str] = set()
    for pattern, verb in _PREFERENCES:
        for m in pattern.finditer(text):
            what = _clean(m["what"])
            if not what or what in _VAGUE or what in seen:
                continue
            seen.add(what)
            said = verb.format(**m.groupdict())
            notes.append(Note("preference", f"{turn.user} {said} {_third_person(what)}", task, "stated",
                              key=f"preference:{what}"))
    for m in _FAVOURITE.finditer(text):
        thing, what = _clean(m["thing"]), _clean(m["what"])
        notes.append(Note("preference", f"{turn.user}'s favourite {thing} is {_third_person(what)}", task,
                          "stated", key=f"favourite:{thing}"))
    return notes


def facts(turn: Turn, task: str) -> list[Note]:
    """Things the user stated about themselves: "my office is room 4" → "Ana's office is room 4"."""
    text = split_introduction(turn.text).lower()
    notes: list[Note] = []
    for pattern, template in _FACTS:
        for m in pattern.finditer(text):
            groups = {k: _clean(v) for k, v in m.groupdict().items()}
            if pattern is _FACTS[0][0] and groups["thing"].startswith(("favourite", "favorite")):
                continue  # a preference, written by ``preferences``
            sentence = " ".join(template.format(user=turn.user, **groups).split())
            notes.append(Note("fact", _third_person(sentence), task, "stated", key=f"fact:{groups['thing']}"))
    return notes


def request(turn: Turn, task: str, outcome: str) -> Note | None:
    """"Ana asked "…"; done: put the red cube in the bin (succeeded)"."""
    words = " ".join(turn.text.split())
    if not words:
        return None
    quote = words if len(words) <= _MAX_QUOTE else words[:_MAX_QUOTE].rsplit(" ", 1)[0] + " …"
    parts = [f'{turn.user} asked "{quote}"']
    if turn.understood and turn.understood.lower() != words.lower().rstrip(".!?"):
        parts[0] += f" (understood: {turn.understood})"
    results = turn.results()
    if results:
        done = [f"{describe_action(a, i)} ({'canceled' if c else 'succeeded' if ok else 'failed'})"
                for a, ok, c, _, i in results]
        parts.append("done: " + ", ".join(done))
    elif turn.actions:
        parts.append("planned: " + ", ".join(describe_action(a) for a in turn.actions) + " (no result)")
    elif turn.outcome == "answered" and turn.said():
        parts.append(f'answered "{_clean(turn.said()[0])}"')
    else:
        parts.append({"asked": "asked back", "apologized": "could not help", "refused": "refused",
                      "": "no reply recorded"}.get(turn.outcome, turn.outcome))
    errors = turn.errors()
    if errors:
        parts.append(f"error: {_clean(errors[0])}")
    return Note("request", "; ".join(parts), task, outcome)


def experience(turn: Turn, earlier: list[Turn], episode_id: str, task: str) -> list[Note]:
    """What failed (how often in this episode, the last reason) and what worked after failing."""
    failed: dict[str, list[str]] = {}
    for past in earlier:
        for action, ok, canceled, message, _ in past.results():
            if not ok and not canceled:
                failed.setdefault(action, []).append(message)
    notes: dict[str, Note] = {}
    for action, ok, canceled, message, instruction in turn.results():
        if canceled:
            continue  # stopped on request: no lesson about the action
        what = describe_action(action, instruction)
        if ok:
            if failed.get(action):
                n = len(failed[action])
                notes[f"worked:{action}"] = Note(
                    "worked", f"{what} succeeded after failing {_COUNTS.get(n, f'{n} times')} "
                              f"(last failure: {_clean(failed[action][-1]) or 'no reason given'})",
                    task, "succeeded", key=f"{episode_id}:worked:{action}", shared=True)
            continue
        failed.setdefault(action, []).append(message)
        n = len(failed[action])
        notes[f"failed:{action}"] = Note(
            "failure", f"{what} failed {_COUNTS.get(n, f'{n} times')}: {_clean(message) or 'no reason given'}",
            task, "failed", key=f"{episode_id}:failed:{action}", shared=True)
    return list(notes.values())


def rules(turn: Turn, earlier: list[Turn], episode_id: str) -> list[Note]:
    """Every entry the rules find in ``turn`` (``earlier``: the episode's turns before it)."""
    task, outcome = task_type(turn), turn_outcome(turn)
    notes = preferences(turn, task) + facts(turn, task)
    asked = request(turn, task, outcome)
    if asked is not None:
        notes.append(asked)
    return notes + experience(turn, earlier, episode_id, task)


def transcript(turns: list[Turn]) -> str:
    """The episode as lines a language model can read."""
    lines = []
    for turn in turns:
        lines.append(f"{turn.user}: {turn.text}")
        for e in turn.events:
            if e["type"] == "agent_speech_end" and e["text"]:
                lines.append(f"robot: {e['text']}")
            elif e["type"] == "action_result":
                p = e["payload"]
                status = "canceled" if p.get("canceled") else "succeeded" if p.get("success") else "failed"
                lines.append(f"robot did {p.get('action', '?')}: {status} {e['text']}".rstrip())
            elif e["type"] == "error" and e["text"]:
                lines.append(f"error: {e['text']}")
    return "\n".join(lines)


def lm_prompt(turns: list[Turn], max_chars: int = 4000) -> str:
    body = transcript(turns)
    if len(body) > max_chars:
        body = body[-max_chars:].split("\n", 1)[-1]  # the end of a long episode matters most
    return ("Below is a conversation between a user and a robot arm. Write at most three short lines, "
            "each one thing worth remembering next time: a preference or fact the user stated, or what "
            "worked or failed and why. Name the user. Write only the lines.\n\n" + body)


def lm_notes(reply: str, task: str, outcome: str, episode_id: str) -> list[Note]:
    """The model's lines as entries: bullets and numbering stripped, empty and overlong ones cut."""
    notes: list[Note] = []
    for line in str(reply).splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip()
        if len(line) < 8:
            continue
        notes.append(Note("summary", line[:200], task, outcome, key=f"{episode_id}:summary:{len(notes)}"))
        if len(notes) == _MAX_LM_LINES:
            break
    return notes
