"""Helpers for the language-model backend tests: drain a generation, check the tag protocol."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from seal_nodes.core.actions import Action, validate
from seal_nodes.core.thinking.lm.base import ANSWER, FREE, SUMMARY, THINK_ONLY, Generation

_SEGMENT = re.compile(
    r"<think>(?P<think>[^<]*)</think>"
    r"|<assistant><wait></assistant>"
    r"|<assistant>(?P<say>[^<]*)</assistant>"
    r"|<action>(?P<name>\w+)\((?P<args>[^)]*)\)</action>"
)


@dataclass
class Run:
    text: str
    pieces: int
    first_piece_s: float | None  # latency from start() to the first piece
    elapsed_s: float

    @property
    def pieces_per_s(self) -> float:
        return self.pieces / self.elapsed_s if self.elapsed_s > 0 else 0.0


def drain(gen: Generation, t0: float | None = None, timeout_s: float = 120.0) -> Run:
    """Poll ``gen`` like the thinker does until it is done (the timeout only guards a hang);
    ``t0`` is the monotonic time taken just before ``start`` (latencies are measured from it)."""
    t0 = time.monotonic() if t0 is None else t0
    out: list[str] = []
    while not gen.done and time.monotonic() - t0 < timeout_s:
        out += gen.poll()
        time.sleep(0.002)
    out += gen.poll()
    assert gen.done, "generation did not finish in time"
    first = getattr(gen, "first_piece_s", None)
    return Run("".join(out), len(out), first - t0 if first else None, time.monotonic() - t0)


def parse_segments(text: str) -> list[tuple[str, str]]:
    """``[(kind, body)]`` with kind in think/say/wait/action; AssertionError if anything lies
    outside the tags."""
    segments, pos = [], 0
    while pos < len(text):
        m = _SEGMENT.match(text, pos)
        assert m, f"not in the tag protocol at {pos}: {text[pos:pos + 60]!r} (in {text!r})"
        if m.group("think") is not None:
            segments.append(("think", m.group("think")))
        elif m.group("say") is not None:
            segments.append(("say", m.group("say")))
        elif m.group("name") is not None:
            segments.append(("action", f"{m.group('name')}({m.group('args')})"))
        else:
            segments.append(("wait", ""))
        pos = m.end()
    return segments


def parse_action(call: str) -> Action:
    name, _, rest = call.partition("(")
    args = dict(kv.split("=", 1) for kv in rest[:-1].split(", ") if kv)
    return Action(name, args)


def check_protocol(text: str, force: str, objects: set[str], actions: set[str]) -> list[tuple[str, str]]:
    """Assert ``text`` is a complete generation for ``force`` whose actions are all valid."""
    segs = parse_segments(text)
    kinds = [k for k, _ in segs]
    assert segs, "empty output"
    if force == THINK_ONLY:
        assert kinds == ["think"], kinds
    elif force == ANSWER:
        assert "think" not in kinds, kinds
    elif force == SUMMARY:
        assert kinds[0] == "say", kinds
    elif force == FREE:
        assert "think" not in kinds[1:], kinds
    for kind, body in segs:
        if kind in ("think", "say"):
            assert body, f"empty {kind}"
        if kind == "action":
            action = parse_action(body)
            assert action.name in actions, body
            validate(action, objects)
    return segs
