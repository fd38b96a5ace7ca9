"""Replaying a skill on a page, and the naive coordinate replay it is measured against.

``Replayer`` is event-driven (every wait is the page's own ``wait_for``/``wait_for_location``
with the timeout; nothing sleeps) and checks before it acts: before each step it verifies the
page is the one recorded with no unexpected dialog open, and that the step's anchor resolves to
exactly one present, enabled element; after it, the postcondition. The first check that fails
hands the rest back (with what was done) before anything else is clicked or typed: a stale skill
(a button renamed, pages reordered, a new dialog, an option gone) does no wrong side effect.
``CoordinateReplayer`` is naive RPA: it clicks the recorded x,y and types into whatever then has
focus, checking nothing.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from seal_nodes.core.skills.compile import output_names
from seal_nodes.core.skills.model import (DIALOG_ROLES, Anchor, Element, Page, PageError, Postcondition, Skill, Step,
                                          TraceStep, TypingPage, fill_params)

Judge = Callable[[str, list[Element]], Anchor | None]  # (question, the elements to choose among) -> the choice


@dataclass(frozen=True)
class ReplayResult:
    ok: bool
    steps_done: int  # steps whose action was done
    outputs: dict[str, str] = field(default_factory=dict)  # what the read steps read
    model_calls: int = 0  # judgement calls made
    handed_back_at: int | None = None  # the first step left to the model (None when ok)
    reason: str = ""  # why it was handed back
    done: tuple[str, ...] = ()  # each step done, in words
    trace: tuple[TraceStep, ...] = ()  # the steps done, as a recorder writes them (a repair goes on from them)

    def summary(self) -> str:
        """What a model taking over needs: what was done, where it stopped and why."""
        lines = [f"{n + 1}. {line}" for n, line in enumerate(self.done)]
        if self.ok:
            return "\n".join(lines + ["Done."])
        return "\n".join(lines + [f"Stopped before step {(self.handed_back_at or 0) + 1}: {self.reason}"])


class _HandBack(Exception):
    """A check failed: the replay stops here."""


class Replayer:
    def __init__(self, page: Page, judge: Judge, timeout_s: float = 5.0) -> None:
        """``judge`` answers a choose step's question with one of the elements it is shown (or
        None); ``timeout_s``: how long each wait for an element or a page may take."""
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.page = page
        self.judge = judge
        self.timeout_s = timeout_s
        self._calls = 0  # judgement calls in the current run

    def run(self, skill: Skill, params: dict[str, str]) -> ReplayResult:
        """Do ``skill``'s steps with ``params`` until one cannot be done as recorded."""
        if not isinstance(params, dict):
            raise ValueError(f"params must map each parameter's name to its value, got {type(params).__name__}")
        missing = [k for k in skill.params if not isinstance(params.get(k), str)]
        if missing:
            return ReplayResult(False, 0, handed_back_at=0, reason=f"missing parameter(s): {', '.join(missing)}")
        outputs: dict[str, str] = {}
        done: list[str] = []
        trace: list[TraceStep] = []
        self._calls = 0
        for n, step in enumerate(skill.steps):
            try:
                shown = self._check_page(step)
                if step.op == "choose":
                    target, shown = self._choose(step, params)
                else:
                    target = step.anchor.with_params(params)
                element = self._resolve(target, shown)
                self._act(step, target, params, outputs)
                done.append(step.describe(params) + (f": {target.describe()}" if step.op == "choose" else ""))
                trace.append(_as_traced(step, target, element, params, outputs))
                self._check_post(step.post, params, n)
            except _HandBack as stop:
                reason = str(stop)
            except PageError as exc:  # a page that fails where it should have answered
                reason = f"page error: {exc}"
            else:
                continue
            return ReplayResult(False, len(done), outputs, self._calls, len(done), reason, tuple(done), tuple(trace))
        return ReplayResult(True, len(done), outputs, self._calls, done=tuple(done), trace=tuple(trace))

    # --- before acting ------------------------------------------------------------------------
    def _check_page(self, step: Step) -> list[Element]:
        """The recorded page with no unexpected dialog; what it shows (one scan, reused to resolve)."""
        page = self.page
        # one wait, which returns at once on the right page (no separate read of where it is)
        if step.at and not page.wait_for_location(step.at, self.timeout_s):
            raise _HandBack(f"unexpected page: on {page.location()!r}, expected {step.at!r}")
        shown = page.elements()
        unexpected = [e.anchor.name for e in shown if e.anchor.role in DIALOG_ROLES and e.anchor.name != step.dialog]
        if unexpected:
            raise _HandBack(f"unexpected page: a dialog {unexpected[0]!r} is open")
        return shown

    def _resolve(self, anchor: Anchor, shown: list[Element]) -> Element:
        """The one present, enabled element ``anchor`` finds, or a hand-back saying why not.
        ``shown``: the page's elements just read; only when they hold no single enabled match
        does it wait (most steps' elements are there already, and each wait is round trips)."""
        matching = [e for e in shown if anchor.matches(e.anchor)]
        if len(matching) == 1 and matching[0].enabled:
            return matching[0]
        if len(matching) <= 1:  # several already: no wait makes them one
            found = self.page.wait_for(anchor, self.timeout_s)
            matching = [e for e in self.page.elements() if anchor.matches(e.anchor)]
            if found is None and not matching:
                raise _HandBack(f"missing element: {anchor.describe()}")
        if len(matching) > 1:
            raise _HandBack(f"ambiguous: {len(matching)} elements match {anchor.describe()}")
        if not matching:
            raise _HandBack(f"missing element: {anchor.describe()}")
        if not matching[0].enabled:
            raise _HandBack(f"timeout: {anchor.describe()} not enabled within {self.timeout_s:g} s")
        return matching[0]

    def _choose(self, step: Step, params: dict[str, str]) -> tuple[Anchor, list[Element]]:
        """The element the model picks for ``step``'s question among those of its role, and the
        page's elements it was shown."""
        if step.anchor is not None:
            container = step.anchor.with_params(params)
            if self.page.wait_for(container, self.timeout_s) is None:
                raise _HandBack(f"missing element: {container.describe()}")
        question = fill_params(step.question, params)
        shown = self.page.elements()
        options = [e for e in shown if not step.choice_role or e.anchor.role == step.choice_role]
        if not options:
            raise _HandBack(f"missing element: no {step.choice_role or 'element'} to choose from for: {question}")
        self._calls += 1
        try:
            answer = self.judge(question, options)
        except Exception as exc:  # noqa: BLE001 - a model that fails leaves the step to the model's next turn
            raise _HandBack(f"judgement failed ({exc}) for: {question}") from exc
        if answer is None:
            raise _HandBack(f"judgement gave no answer to: {question}")
        try:
            answer = Anchor.of(answer)
        except ValueError as exc:
            raise _HandBack(f"judgement answered no element ({exc}) for: {question}") from exc
        if not any(answer.matches(e.anchor) for e in options):
            raise _HandBack(f"judgement chose {answer.describe()}, not one of the {len(options)} shown for: {question}")
        return answer, shown

    # --- acting and after ---------------------------------------------------------------------
    def _act(self, step: Step, target: Anchor, params: dict[str, str], outputs: dict[str, str]) -> None:
        try:
            if step.op == "fill":
                self.page.fill(target, fill_params(step.value, params), self.timeout_s)
            elif step.op == "read":
                outputs[step.output] = self.page.read(target, self.timeout_s)
            else:
                self.page.click(target, self.timeout_s)
        except PageError as exc:
            raise _HandBack(f"timeout: {step.op} on {target.describe()} failed: {exc}") from exc

    def _check_post(self, post: Postcondition, params: dict[str, str], n: int) -> None:
        page = self.page
        if post.location and not page.wait_for_location(post.location, self.timeout_s):
            raise _HandBack(f"postcondition failed after step {n + 1}: on {page.location()!r}, "
                            f"expected {post.location!r}")
        if post.present is not None:
            anchor = post.present.with_params(params)
            if page.wait_for(anchor, self.timeout_s) is None:
                if any(anchor.matches(e.anchor) for e in page.elements()):
                    raise _HandBack(f"timeout: {anchor.describe()} not enabled within {self.timeout_s:g} s "
                                    f"after step {n + 1}")
                raise _HandBack(f"postcondition failed after step {n + 1}: {anchor.describe()} is not there")
        if post.value is not None:
            anchor, want = post.value[0].with_params(params), fill_params(post.value[1], params)
            try:
                got = page.read(anchor, self.timeout_s)
            except PageError as exc:
                raise _HandBack(f"postcondition failed after step {n + 1}: {anchor.describe()} "
                                f"cannot be read: {exc}") from exc
            if got.strip() != want.strip():
                raise _HandBack(f"postcondition failed after step {n + 1}: {anchor.describe()} holds {got!r}, "
                                f"expected {want!r}")


def _as_traced(step: Step, target: Anchor, element: Element, params: dict[str, str],
               outputs: dict[str, str]) -> TraceStep:
    """A replayed step as the recorder would have written it, its values filled in."""
    if step.op == "choose":
        return TraceStep("choose", step.anchor.with_params(params) if step.anchor is not None else None, chosen=target,
                         before=step.at, after=step.post.location, x=element.x, y=element.y, model_call=True,
                         question=fill_params(step.question, params), dialog=step.dialog)
    value = fill_params(step.value, params) if step.op == "fill" else outputs.get(step.output, "")
    return TraceStep(step.op, target, value=value, before=step.at, after=step.post.location, x=element.x, y=element.y,
                     dialog=step.dialog, output=step.output if step.op == "read" else "")


class CoordinateReplayer:
    """Naive RPA, the benchmark's baseline: each recorded step redone at its recorded x,y. It
    waits for the recorded element as a recorder waits for the screen to be ready, then clicks
    the recorded point whatever is there now and types into whatever that gave focus; a read
    takes the text of the element drawn nearest the point. It checks nothing."""

    def __init__(self, page: TypingPage, timeout_s: float = 5.0, reach_px: float = 24.0) -> None:
        """``reach_px``: how far from the recorded point a read still finds an element."""
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.page = page
        self.timeout_s = timeout_s
        self.reach_px = reach_px

    def run(self, trace: list[TraceStep], recorded: dict[str, str], params: dict[str, str]) -> ReplayResult:
        """Redo ``trace``; typed text that was a ``recorded`` value is typed as ``params``' value
        of the same name (an RPA variable)."""
        substitute = {v.strip().casefold(): params[k] for k, v in recorded.items() if isinstance(params.get(k), str)}
        outputs: dict[str, str] = {}
        done: list[str] = []
        names = iter(output_names([(t.output, t.anchor) for t in trace if t.op == "read"]))
        for n, t in enumerate(trace):
            waited = t.acted_on
            if waited is not None:
                self.page.wait_for(waited, self.timeout_s)  # the wait only paces; what it finds does not matter
            try:
                if t.op == "read":
                    outputs[next(names)] = self._text_at(t.x, t.y)
                else:
                    self.page.click_at(t.x, t.y)
                    if t.op == "fill":
                        self.page.type_text(substitute.get(t.value.strip().casefold(), t.value))
            except PageError as exc:
                return ReplayResult(False, len(done), outputs, 0, n, f"page error: {exc}", tuple(done))
            done.append(f"{t.op} at ({t.x:g}, {t.y:g})")
        return ReplayResult(True, len(done), outputs, 0, done=tuple(done))

    def _text_at(self, x: float, y: float) -> str:
        near = [(math.hypot(e.x - x, e.y - y), e.text) for e in self.page.elements()]
        near = [n for n in near if n[0] <= self.reach_px]
        return min(near)[1] if near else ""
