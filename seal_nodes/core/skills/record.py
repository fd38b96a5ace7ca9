"""Doing a task's steps on a page while writing each down as a ``TraceStep``, for the compiler.

Whoever decides the steps (the model, or a scripted teacher standing in for it) calls the
recorder instead of the page: it waits for the element, then notes the page (the step's
"before", and the page the step before settled on), any dialog open and the element's x,y (for
the coordinate baseline); the last step's page is read when ``trace()`` is. A step that fails
is written down with its error, then raised.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from seal_nodes.core.skills.model import DIALOG_ROLES, Anchor, Element, Page, PageError, TraceStep


class Recorder:
    def __init__(self, page: Page, timeout_s: float = 5.0, done: list[TraceStep] | None = None) -> None:
        """``done``: steps already taken in this task (a replay that handed back), written first."""
        self.page = page
        self.timeout_s = timeout_s
        self._steps: list[TraceStep] = list(done or [])

    def click(self, anchor: Anchor, model_call: bool = True) -> None:
        self._do("click", anchor, lambda: self.page.click(anchor, self.timeout_s), model_call=model_call)

    def fill(self, anchor: Anchor, text: str, model_call: bool = True) -> None:
        self._do("fill", anchor, lambda: self.page.fill(anchor, text, self.timeout_s), value=text,
                 model_call=model_call)

    def read(self, anchor: Anchor, output: str = "", model_call: bool = True) -> str:
        """The text of ``anchor``; ``output``: the name it is returned under ("" to name it after the element)."""
        out: list[str] = []
        self._do("read", anchor, lambda: out.append(self.page.read(anchor, self.timeout_s)), output=output,
                 model_call=model_call)
        self._steps[-1] = replace(self._steps[-1], value=out[0])
        return out[0]

    def choose(self, question: str, chosen: Anchor, container: Anchor | None = None, model_call: bool = True) -> None:
        """The model answered ``question`` with ``chosen`` (in the list ``container``, if any): click it."""
        self._do("choose", chosen, lambda: self.page.click(chosen, self.timeout_s), container=container,
                 question=question, model_call=model_call)

    def click_at(self, x: float, y: float, model_call: bool = True) -> None:
        """A click at a point with no element named (a mouse policy's): it makes the trace uncompilable."""
        self._settle()
        before, dialog = self.page.location(), self._dialog()
        step = TraceStep("click", None, before=before, x=float(x), y=float(y), model_call=model_call, dialog=dialog)
        self._run(step, lambda: self.page.click_at(x, y))

    def trace(self) -> list[TraceStep]:
        """The steps so far, the last one's page read now."""
        self._settle()
        return list(self._steps)

    # --- inside -----------------------------------------------------------------------------
    def _do(self, op: str, anchor: Anchor, action: Callable[[], object], value: str = "",
            container: Anchor | None = None, question: str = "", output: str = "", model_call: bool = True) -> None:
        element: Element | None = self.page.wait_for(anchor, self.timeout_s)  # the page it is on has settled
        self._settle()
        before, dialog = self.page.location(), self._dialog()
        x, y = (element.x, element.y) if element is not None else (0.0, 0.0)
        anchor, container = Anchor.of(anchor), None if container is None else Anchor.of(container)
        if op == "choose":
            step = TraceStep(op, container, chosen=anchor, before=before, x=x, y=y, model_call=model_call,
                             question=question, dialog=dialog)
        else:
            step = TraceStep(op, anchor, value=value, before=before, x=x, y=y, model_call=model_call, dialog=dialog,
                             output=output)
        self._run(step, action)

    def _run(self, step: TraceStep, action: Callable[[], object]) -> None:
        try:
            action()
        except PageError as exc:
            self._steps.append(replace(step, error=str(exc) or type(exc).__name__))
            raise
        self._steps.append(step)

    def _settle(self) -> None:
        """The previous step's page is the one the next starts on (or the one there now)."""
        if self._steps and not self._steps[-1].after:
            self._steps[-1] = replace(self._steps[-1], after=self.page.location())

    def _dialog(self) -> str:
        return next((e.anchor.name for e in self.page.elements() if e.anchor.role in DIALOG_ROLES), "")
