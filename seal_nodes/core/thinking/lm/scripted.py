"""The scripted model: replays given token streams at a set rate, on the thinker's clock.

For deterministic tests of timing, interruption and resumption. Each ``start`` takes the next
stream of the script, in order; a stream is split into model-like pieces (tags whole, words
with their leading space) and piece *i* becomes available ``(i + 1) / tokens_per_s`` after the
start. With a simulated clock the whole conversation replays exactly; with the wall clock it
measures the thinker's own overhead against a model of known speed.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from seal_nodes.core.thinking.lm.base import ModelError, Prompt

_PIECE = re.compile(r"<[^<>]*>|\s*[^\s<]+|\s+")


def load_script(path: str | os.PathLike[str]) -> list[str]:
    """The streams in a file: a scenario's ``script`` (none: ``[]``) or a YAML/JSON list of strings.

    A mapping counts as a scenario when its ``events`` is a non-empty list, as ``seal think``
    requires; the rest of the scenario is the scenario player's business.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        data: Any = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: undecodable bytes, bad JSON
        raise ModelError(f"cannot read script {p}: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("events"), list) and data["events"]:
        data = data.get("script", [])
    if not isinstance(data, list) or not all(isinstance(s, str) for s in data):
        raise ModelError(f"script {p}: expected a scenario with 'script' or a list of strings")
    return data


def split_pieces(text: str) -> list[str]:
    """``"<think>Hi there</think>"`` → ``["<think>", "Hi", " there", "</think>"]``."""
    return _PIECE.findall(text)


class ScriptedGeneration:
    def __init__(self, pieces: list[str], start_ns: int, tokens_per_s: float, clock_ns: Callable[[], int]) -> None:
        self._pieces = pieces
        self._start_ns = start_ns
        self._period_ns = int(1e9 / tokens_per_s)
        self._clock = clock_ns
        self._next = 0
        self._cancelled = False
        self.prompt: Prompt | None = None

    def _due_ns(self, i: int) -> int:
        return self._start_ns + (i + 1) * self._period_ns

    def poll(self) -> list[str]:
        if self._cancelled:
            return []
        now = self._clock()
        out = []
        while self._next < len(self._pieces) and self._due_ns(self._next) <= now:
            out.append(self._pieces[self._next])
            self._next += 1
        return out

    @property
    def done(self) -> bool:
        return self._cancelled or self._next >= len(self._pieces)

    @property
    def error(self) -> str | None:
        return None

    def cancel(self) -> None:
        self._cancelled = True

    def next_due_ns(self) -> int | None:
        return None if self.done else self._due_ns(self._next)


class ScriptedModel:
    name = "scripted"

    def __init__(self, streams: Sequence[str], tokens_per_s: float = 100.0,
                 clock_ns: Callable[[], int] | None = None) -> None:
        if tokens_per_s <= 0:
            raise ValueError("tokens_per_s must be positive")
        from seal_nodes.core.events import now_ns

        self.streams = [str(s) for s in streams]
        self.tokens_per_s = float(tokens_per_s)
        self.clock_ns = clock_ns or now_ns
        self.prompts: list[Prompt] = []  # every prompt it was given, for tests and reports

    def start(self, prompt: Prompt) -> ScriptedGeneration:
        n = len(self.prompts)
        self.prompts.append(prompt)
        if n >= len(self.streams):
            raise ModelError(f"the script has {len(self.streams)} streams; generation {n + 1} has none")
        gen = ScriptedGeneration(split_pieces(self.streams[n]), self.clock_ns(), self.tokens_per_s, self.clock_ns)
        gen.prompt = prompt
        return gen

    def close(self) -> None:
        pass
