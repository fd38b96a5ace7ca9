"""Tasks the agent learns on screen: a lesson shown by voice, then a skill that does it again.

"Let me show you how to check the humidity in Rome" starts a lesson: the GUI executor records the
steps the user then asks for ("click open search", "type Rome into the city field", …) and
"that's it" turns them into a skill (the executor compiles it, the memory node stores it). A
later request is looked up in the skill library first (only the few skills that match it reach
the context, not all of them): when it says a skill's description around new values ("check the
humidity in Paris") the skill runs with them, one decision instead of one per step; a skill that
matches but cannot be bound is offered to the model as a hint. The skill itself goes to the
executor with the call, so it runs exactly as it was found. A skill that hands back (the page
changed) opens a repair lesson: the user shows the rest, "that's it" saves the next version.
"""
from __future__ import annotations

import json
import re

from seal_nodes.core.actions import GUI, Action, instruction_for
from seal_nodes.core.memory.reader import MemoryReader
from seal_nodes.core.skills.binding import bind
from seal_nodes.core.skills.library import SkillHit, SkillLibrary
from seal_nodes.core.skills.model import Skill, fill_params
from seal_nodes.core.thinking.commands import Command, Report
from seal_nodes.core.thinking.context import ACT, HINT, SAY, THINK, Segment
from seal_nodes.core.thinking.fast_path import format_action, parse_action
from seal_nodes.core.thinking.turn import Turn

SKILLS_SHOWN = 3  # skills a request may bring into the context

_START = re.compile(r"^(?:(?:ok|okay|so|now|right|alright),? )?(?:let me|i'll|i will|i'm going to|i want to|i can)"
                    r" (?:show|teach) you how to (?P<task>[^.!?]+)", re.IGNORECASE)  # one sentence: a recogniser may add more
_END = re.compile(r"^(?:(?:ok|okay|and|so|right|alright),? )?(?:that's it|that is it|that's all|that is all|"
                  r"done|all done|finished|we're done|you're done|that's how(?: you do it)?)[.!]*$", re.IGNORECASE)


class Learning:
    """Mixed into ``Thinker``. Relies on its ``executors``, ``memory``, ``_emit`` and ``_append``."""

    executors: tuple[str, ...]
    memory: MemoryReader | None
    lesson: str = ""  # the task being shown, "" when no lesson runs
    skills_found: dict[str, Skill]  # the skills the current context may call, by name
    _skills: SkillLibrary | None = None  # the library over the reader's store, made once

    def _learned(self, turn: Turn) -> tuple[list[Command], list[Command]]:
        """(what decides the turn: a lesson's start or end, a request a learned skill does; what
        only adds to the context: skills that match but need the model to call them)."""
        if GUI not in self.executors:
            return [], []
        said = " ".join(turn.user_text.split())
        start = _START.match(said)
        if start:
            return self._begin_lesson(turn, start["task"]), []
        if self.lesson and _END.match(said):
            task, self.lesson = self.lesson, ""
            return self._emit(Segment(ACT, format_action(Action("save_skill", {"task": task})),
                                      trace_id=turn.trace_id)), []
        if self.lesson or self.memory is None:
            return [], []  # during a lesson each request is a step the user shows
        return self._by_skill(turn)

    def _begin_lesson(self, turn: Turn, task: str) -> list[Command]:
        self.lesson = task
        trace = turn.trace_id
        return (self._emit(Segment(ACT, format_action(Action("begin_lesson", {"task": task})), trace_id=trace))
                + self._emit(Segment(SAY, f"Okay, show me how to {task}, step by step. Say \"that's it\" when "
                                          "it's done.", trace_id=trace)))

    def _by_skill(self, turn: Turn) -> tuple[list[Command], list[Command]]:
        try:
            hits = self._skill_library().find(turn.user_text, k=SKILLS_SHOWN)
        except Exception as exc:  # noqa: BLE001 - a broken library must not stop the turn
            return [], [Report(f"skill search failed: {exc}", turn.trace_id)]
        self.skills_found = {h.skill.name: h.skill for h in hits}
        for hit in hits:
            params = bind(hit.skill, turn.user_text)
            if params is None:
                continue
            call = Action("run_skill", {"name": hit.skill.name, **params})
            task = fill_params(hit.skill.description, params)
            trace = turn.trace_id
            return (self._emit(Segment(THINK, f"I learned this: skill {hit.skill.name} ({hit.skill.description}), "
                                              f"{hit.skill.status}; run it with {params}.", trace_id=trace))
                    + self._emit(Segment(ACT, format_action(call), trace_id=trace))
                    + self._emit(Segment(SAY, f"I know how to do that: {task}.", trace_id=trace))), []
        if hits:  # the model may call one with values it reads from the request
            return [], [self._append(Segment(HINT, skills_hint(hits), trace_id=turn.trace_id))]
        return [], []

    def _skill_failed(self, action_text: str, trace_id: str) -> list[Command]:
        """A skill handed back: the executor keeps what it did as the start of a repair lesson;
        the user is asked to show the rest."""
        try:
            action = parse_action(action_text)
        except ValueError:
            return []
        skill = self.skills_found.get(action.args.get("name", "")) if action.name == "run_skill" else None
        if skill is None or GUI not in self.executors:
            return []
        self.lesson = fill_params(skill.description, {k: v for k, v in action.args.items() if k != "name"})
        return self._emit(Segment(SAY, "Could you show me how to go on from here, step by step? Say \"that's it\" "
                                       "when it's done, and I'll remember the new way.", trace_id=trace_id))

    def _skill_library(self) -> SkillLibrary:
        """BM25 only: a skill binds only when the request says its description's words, so BM25
        finds every skill that can run; a query embedding would cost the first words ~20 ms."""
        assert self.memory is not None
        if self._skills is None or self._skills.store is not self.memory.lookups:
            self._skills = SkillLibrary(self.memory.lookups)
        return self._skills

    def _skills_callable(self) -> dict[str, tuple[str, ...]]:
        return {name: tuple(s.params) for name, s in self.skills_found.items()}

    def _instruction(self, action: Action) -> str:
        """What the executor is told: a skill call carries the skill itself and its values."""
        if action.name != "run_skill":
            return instruction_for(action)
        skill = self.skills_found[action.args["name"]]
        params = {k: v for k, v in action.args.items() if k != "name"}
        return "run skill: " + json.dumps({"skill": skill.to_dict(), "params": params}, ensure_ascii=False)


def skills_hint(hits: list[SkillHit]) -> str:
    """The skills that match a request, as the model sees them."""
    calls = [f"run_skill(name={h.skill.name}, " + ", ".join(f"{k}=…" for k in h.skill.params) + f"): "
             f"{h.skill.description} (e.g. {', '.join(f'{k}={v}' for k, v in h.skill.params.items())})"
             for h in hits]
    return "Skills learned earlier that may do this: " + "; ".join(calls)
