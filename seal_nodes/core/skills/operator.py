"""The GUI executor's work on an app page, by anchors: single steps, lessons and skills.

A skill that hands back leaves a repair lesson open: the steps it did are its beginning, the
steps the user then shows its end, and saving it replaces the skill with the next version.

Instructions come from the thinker's GUI actions (``instruction_for``): ``click X``,
``type 'text' into X``, ``read X``, ``begin lesson: TASK``, ``save skill: TASK`` and
``run skill: {"skill": …, "params": …}``. A step's target is the user's words ("the wind tab",
"open search") matched to one element's accessible name or label; several equally good matches
are refused with the candidates, never guessed. Every step is recorded; a lesson's steps (failed
ones left out: they changed nothing) compile into a skill when it is saved. A skill replays with
its checks (``Replayer``); where it needs a judgement this executor cannot make, or the page no
longer matches, it hands back with what was done.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from seal_nodes.core.bounds import MAX_GUI_INSTRUCTION_CHARS
from seal_nodes.core.skills.binding import heard_task, lesson_values, normalise, skill_name, task_template
from seal_nodes.core.skills.compile import compile_skill
from seal_nodes.core.skills.model import Anchor, Element, Page, PageError, Skill, fill_params
from seal_nodes.core.skills.record import Recorder
from seal_nodes.core.skills.replay import Judge, ReplayResult, Replayer

MAX_INSTRUCTION_CHARS = MAX_GUI_INSTRUCTION_CHARS  # a skill's JSON included
LOOK_AGAIN_S = 0.1  # a step named in words has no anchor to wait on: the page is read again
CLICKABLE = ("button", "link", "tab", "option", "checkbox", "radio", "menuitem", "switch", "combobox", "cell", "row")
TYPEABLE = ("textbox", "searchbox", "spinbutton", "combobox")
READABLE = ("status", "alert", "heading", "listitem", "cell", "row", "textbox", "searchbox", "spinbutton")
# words that say what kind of element the user means, not which one
_ROLE_WORDS = {"button": ("button",), "link": ("link",), "tab": ("tab",), "field": TYPEABLE, "box": TYPEABLE,
               "option": ("option",), "checkbox": ("checkbox",), "value": ("status",)}
_TYPE = re.compile(r"^type (?P<q>['\"])(?P<text>.*)(?P=q) into (?P<target>.+)$", re.DOTALL)


@dataclass(frozen=True)
class Outcome:
    success: bool
    message: str  # for the thinker's context and, said aloud, for the user
    target: str = ""  # the element acted on, in words
    learned: Skill | None = None  # save skill: the skill compiled
    replay: ReplayResult | None = None  # run skill: how the replay went
    skill: str = ""  # run skill: its name


def _no_judge(question: str, options: list[Element]) -> Anchor | None:
    return None  # the replay hands the choice back to the thinker


class GuiOperator:
    def __init__(self, page: Page, timeout_s: float = 5.0, judge: Judge | None = None) -> None:
        self.page = page
        self.timeout_s = timeout_s
        self.judge = judge or _no_judge
        self.recorder = Recorder(page, timeout_s)
        self.lesson = ""  # the task being shown, "" when no lesson runs

    def reset(self) -> None:
        """A new page was loaded: what was recorded on the old one is gone."""
        self.recorder = Recorder(self.page, self.timeout_s)
        self.lesson = ""

    def do(self, instruction: str) -> Outcome:
        """Carry out one instruction; never raises for what the page or the words get wrong."""
        if not isinstance(instruction, str) or not instruction.strip():
            return Outcome(False, "empty instruction")
        if len(instruction) > MAX_INSTRUCTION_CHARS:
            return Outcome(False, f"instruction too long ({len(instruction)} > {MAX_INSTRUCTION_CHARS} characters)")
        text = instruction.strip()
        head, _, rest = text.partition(":")
        try:
            if head == "begin lesson":
                return self._begin(rest.strip())
            if head == "save skill":
                return self._save(rest.strip())
            if head == "run skill":
                return self._run(rest.strip())
            m = _TYPE.match(text)
            if m:
                return self._type(m["text"], m["target"])
            verb, _, words = text.partition(" ")
            if verb == "click" and words:
                return self._click(words)
            if verb == "read" and words:
                return self._read(words)
        except PageError as exc:
            return Outcome(False, f"the page did not do it: {exc}")
        return Outcome(False, f"not an instruction for an app page: {text[:80]!r}")

    # --- single steps ---------------------------------------------------------------------------
    def _click(self, words: str) -> Outcome:
        e = self.find(words, CLICKABLE)
        self.recorder.click(e.anchor)
        return Outcome(True, f"clicked {e.anchor.describe()}", e.anchor.describe())

    def _type(self, text: str, words: str) -> Outcome:
        e = self.find(words, TYPEABLE)
        self.recorder.fill(e.anchor, text)
        return Outcome(True, f"typed {text!r} into {e.anchor.describe()}", e.anchor.describe())

    def _read(self, words: str) -> Outcome:
        e = self.find(words, READABLE)
        value = self.recorder.read(e.anchor)
        return Outcome(True, f"{e.anchor.name or e.anchor.label or e.anchor.role}: {value}.", e.anchor.describe())

    def find(self, words: str, roles: tuple[str, ...]) -> Element:
        """The one element of ``roles`` the words name; PageError saying why when none or several do."""
        query = normalise(words).split()
        while query and query[0] in ("the", "on", "a", "an"):
            query = query[1:]
        wanted = roles
        if len(query) > 1 and query[-1] in _ROLE_WORDS:
            wanted = tuple(r for r in roles if r in _ROLE_WORDS[query[-1]]) or roles
            query = query[:-1] if query[-1] != "value" else query
        if not query:
            raise PageError(f"no element named in {words!r}")
        deadline = time.monotonic() + self.timeout_s
        while True:  # a value that loads late is looked for again until the step's timeout
            scored = [(self._score(query, e), e) for e in self.page.elements() if e.anchor.role in wanted]
            best = max((s for s, _ in scored), default=0.0)
            top = [e for s, e in scored if s == best and s > 0]
            if top or time.monotonic() >= deadline:
                break
            time.sleep(LOOK_AGAIN_S)
        if not top:
            shown = ", ".join(sorted({e.anchor.describe() for _, e in scored})[:12]) or "none"
            raise PageError(f"nothing here is called {' '.join(query)!r} (there are: {shown})")
        if len(top) > 1:  # even two with one anchor: a step the replay could not find again
            raise PageError(f"{' '.join(query)!r} could be {', '.join(e.anchor.describe() for e in top[:5])}")
        return top[0]

    @staticmethod
    def _score(query: list[str], e: Element) -> float:
        best = 0.0
        for text in (e.anchor.name, e.anchor.label):
            have = normalise(text).split()
            if not have:
                continue
            if have == query:
                return 3.0
            if all(w in have for w in query):  # "humidity" for "Humidity value"
                best = max(best, 2.0 + len(query) / len(have) / 2)
            else:
                best = max(best, len(set(query) & set(have)) / max(len(set(query)), len(have)))
        return best if best >= 0.5 else 0.0

    # --- lessons and skills ---------------------------------------------------------------------
    def _begin(self, task: str) -> Outcome:
        if not task:
            return Outcome(False, "a lesson needs the task it shows")
        self.recorder = Recorder(self.page, self.timeout_s)
        self.lesson = task
        return Outcome(True, f"watching: show me how to {task}, step by step")

    def _save(self, task: str) -> Outcome:
        task = task or self.lesson
        trace = [t for t in self.recorder.trace() if not t.error]
        if not task or not trace:
            return Outcome(False, "there is nothing to save: no lesson with steps since the page loaded")
        task = heard_task(trace, task)
        values = lesson_values(trace, task)
        template = task_template(task, values)
        try:
            skill = compile_skill(trace, task, values, skill_name(template), template)
        except ValueError as exc:
            return Outcome(False, f"the steps cannot become a skill: {exc}")
        self.reset()
        others = f"; next time I can do it for any {' or '.join(values)}" if values else ""
        return Outcome(True, f"Got it: I learned how to {task}, in {len(skill.steps)} steps{others}.", skill.name,
                       learned=skill)

    def _run(self, payload: str) -> Outcome:
        try:
            data = json.loads(payload)
            skill = Skill.from_dict(data.get("skill") if isinstance(data, dict) else None)
            params = data.get("params", {})
            if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
                raise ValueError("params must map names to strings")
        except (ValueError, TypeError) as exc:
            return Outcome(False, f"bad skill call: {exc}")
        result = Replayer(self.page, self.judge, self.timeout_s).run(skill, params)
        if result.ok:
            self.reset()
            said = " ".join(f"The {_spoken(k, params)} is {v}." for k, v in result.outputs.items())
            task = fill_params(skill.description, params)
            return Outcome(True, f"Done: {task}, in {result.steps_done} steps. {said}".strip(), skill.name,
                           replay=result, skill=skill.name)
        # A repair lesson: what the replay did is its beginning; the user shows the rest.
        self.recorder = Recorder(self.page, self.timeout_s, list(result.trace))
        self.lesson = fill_params(skill.description, params)
        return Outcome(False, f"{skill.name} stopped before step {(result.handed_back_at or 0) + 1} of "
                              f"{len(skill.steps)}: {result.reason}", skill.name, replay=result, skill=skill.name)


def _spoken(output: str, params: dict[str, str]) -> str:
    """An output's name in words, a parameter's name by its value (tab_value → "Humidity value")."""
    return " ".join(params.get(w, w) for w in output.split("_"))
