"""Incremental parser of the thinker's tag protocol, fed one model piece at a time.

A model streams ``<think>…</think>``, ``<assistant>…</assistant>`` (``<wait>`` inside it means
"say nothing, wait"), and ``<action>…</action>``. Pieces split tags anywhere ("<ass" + "istant>"),
so text that could still become a tag is held back until it cannot. The parser never fails:
text outside any segment, unknown tags and unclosed segments become ``Problem``s the thinker
reports, and whatever is not a well-formed segment is never spoken or executed.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

THINK = "think"
SAY = "say"
ACT = "act"
WAIT = "wait"

_OPEN = {"<think>": THINK, "<assistant>": SAY, "<action>": ACT}
_CLOSE = {THINK: "</think>", SAY: "</assistant>", ACT: "</action>"}
_IGNORED = ("<interrupted/>", "<interrupted>", "</interrupted>")  # the thinker's own marks, never the model's
_KNOWN = tuple(_OPEN) + tuple(_CLOSE.values()) + ("<wait>", "</wait>") + _IGNORED
_MAX_TAG = max(len(t) for t in _KNOWN)


@dataclass
class Opened:
    kind: str


@dataclass
class Text:
    kind: str
    delta: str


@dataclass
class Closed:
    kind: str  # THINK, SAY, ACT or WAIT
    text: str
    complete: bool = True  # False: the generation ended before the closing tag


@dataclass
class Problem:
    text: str


ParseEvent = Opened | Text | Closed | Problem


class TagStreamParser:
    def __init__(self) -> None:
        self.kind: str | None = None  # the open segment
        self.text = ""  # its text so far
        self._pending = ""  # input not yet decided (a tag may be starting)
        self._stray = ""  # text outside any segment, reported once it ends

    def feed(self, piece: str) -> list[ParseEvent]:
        self._pending += piece
        out: list[ParseEvent] = []
        while self._pending:
            lt = self._pending.find("<")
            if lt < 0:
                self._emit_text(self._pending, out)
                self._pending = ""
                break
            if lt > 0:
                self._emit_text(self._pending[:lt], out)
                self._pending = self._pending[lt:]
            gt = self._pending.find(">")
            if gt < 0:
                if len(self._pending) < _MAX_TAG and any(t.startswith(self._pending) for t in _KNOWN):
                    break  # maybe a tag still arriving
                self._emit_text("<", out)  # a plain "<" in the text
                self._pending = self._pending[1:]
                continue
            tag = self._pending[: gt + 1]
            if tag in _KNOWN:
                self._pending = self._pending[gt + 1:]
                self._on_tag(tag, out)
            else:
                self._emit_text("<", out)
                self._pending = self._pending[1:]
        return out

    def finish(self) -> list[ParseEvent]:
        """The generation ended: flush held text, close what is open (marked incomplete)."""
        out: list[ParseEvent] = []
        if self._pending:
            self._emit_text(self._pending, out)
            self._pending = ""
        self._flush_stray(out)
        if self.kind is not None:
            out.append(Closed(self.kind, self._clean(), complete=False))
            self.kind, self.text = None, ""
        return out

    # --- internals ---
    def _emit_text(self, text: str, out: list[ParseEvent]) -> None:
        if self.kind is None:
            self._stray += text
            return
        self.text += text
        out.append(Text(self.kind, text))

    def _flush_stray(self, out: list[ParseEvent]) -> None:
        if self._stray.strip():
            out.append(Problem(f"model output outside any tag ignored: {self._stray.strip()[:80]!r}"))
        self._stray = ""

    def _clean(self) -> str:
        return html.unescape(" ".join(self.text.split()))

    def _on_tag(self, tag: str, out: list[ParseEvent]) -> None:
        if tag in _IGNORED:
            return
        if tag in _OPEN:
            self._flush_stray(out)
            if self.kind is not None:  # a segment opened inside another: close the first
                out.append(Problem(f"{tag} inside an open {self.kind} segment"))
                out.append(Closed(self.kind, self._clean(), complete=False))
            self.kind, self.text = _OPEN[tag], ""
            out.append(Opened(self.kind))
            return
        if tag == "<wait>":
            if self.kind == SAY and not self.text.strip():
                self.kind = WAIT
            else:
                out.append(Problem("<wait> outside an empty <assistant> ignored"))
            return
        if tag == "</wait>":
            return
        # a closing tag
        if self.kind == WAIT and tag == _CLOSE[SAY]:
            out.append(Closed(WAIT, ""))
        elif self.kind is not None and tag == _CLOSE.get(self.kind):
            out.append(Closed(self.kind, self._clean()))
        else:
            out.append(Problem(f"unexpected {tag} (open: {self.kind})"))
            return
        self.kind, self.text = None, ""
