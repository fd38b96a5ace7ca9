"""The streaming interface between the thinker and a language model.

The thinker never blocks on a model: it ``start``s a generation and later ``poll``s it for the
text pieces produced so far (from the event loop's tick). Real models generate on their own
thread and hand pieces over through a queue; ``cancel`` must stop the work promptly (the
thinker cancels whenever new input arrives mid-thought). Output is text in the tag protocol of
``seal_nodes.core.thinking.tagstream``: ``<think>…</think>``, ``<assistant>…</assistant>``,
``<assistant><wait></assistant>``, ``<action>name(key=value, …)</action>``.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

# What the next output must start with (the thinker decides; backends enforce it as they can:
# llama with a grammar, transformers/raw completion with a prefilled opening tag, chat
# endpoints with an instruction).
FREE = "free"  # any sequence of segments
ANSWER = "answer"  # no thinking first: <assistant>, <action> or <wait> (the thought is done)
SUMMARY = "summary"  # a short <assistant> summary of the thought so far, then free
THINK_ONLY = "think_only"  # one <think> and stop (thinking while the user still talks)
FORCES = (FREE, ANSWER, SUMMARY, THINK_ONLY)


@dataclass
class Prompt:
    """Everything a backend needs for one generation."""

    system: str  # the instructions: protocol, declared actions, scene
    transcript: str  # the tagged conversation so far (``Context.render()``)
    force: str = FREE
    max_tokens: int = 256
    # Argument values the grammar may use in <action> (known objects, targets…); the thinker
    # validates every action again, whatever the backend.
    objects: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()  # names of the declared actions allowed in this generation

    def __post_init__(self) -> None:
        if self.force not in FORCES:
            raise ValueError(f"unknown force {self.force!r}; one of {FORCES}")


class Generation(Protocol):
    """One running generation. All methods are non-blocking and safe to call from the loop."""

    def poll(self) -> list[str]:
        """Text pieces produced since the last poll, in order (possibly none)."""
        ...

    @property
    def done(self) -> bool:
        """True once the model stopped (end of output, max tokens, cancel or error) and every
        piece has been polled."""
        ...

    @property
    def error(self) -> str | None:
        """Why the generation failed, or None."""
        ...

    def cancel(self) -> None:
        """Stop generating as soon as possible; later polls return nothing new."""
        ...

    def next_due_ns(self) -> int | None:
        """When the next piece is known to become available (scripted replay), else None."""
        ...


class LanguageModel(Protocol):
    name: str

    def start(self, prompt: Prompt) -> Generation:
        """Begin generating; never blocks for the whole generation. May raise ``ModelError``."""
        ...

    def close(self) -> None:
        """Release the model (threads, server, memory)."""
        ...


class ModelError(RuntimeError):
    """A model could not be loaded or could not start a generation; the message says why."""


@dataclass
class ThreadedGeneration:
    """A ``Generation`` fed by a producer thread: the backend's worker calls ``put`` for every
    piece and ``finish`` once (with an error message on failure); it checks ``cancelled`` between
    pieces. Shared by the llama, transformers and OpenAI backends."""

    _queue: "queue.SimpleQueue[str]" = field(default_factory=queue.SimpleQueue)
    _finished: threading.Event = field(default_factory=threading.Event)
    _cancel: threading.Event = field(default_factory=threading.Event)
    _error: str | None = None
    first_piece_s: float | None = None  # monotonic time of the first piece (for benchmarks)
    pieces: int = 0

    # --- producer side ---
    def put(self, piece: str) -> None:
        if piece and not self._cancel.is_set():
            if self.first_piece_s is None:
                self.first_piece_s = time.monotonic()
            self.pieces += 1
            self._queue.put(piece)

    def finish(self, error: str | None = None) -> None:
        if error and not self._cancel.is_set():
            self._error = error
        self._finished.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # --- consumer side (Generation) ---
    def poll(self) -> list[str]:
        out: list[str] = []
        if self._cancel.is_set():
            return out
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    @property
    def done(self) -> bool:
        return (self._finished.is_set() and self._queue.empty()) or self._cancel.is_set()

    @property
    def error(self) -> str | None:
        return self._error

    def cancel(self) -> None:
        self._cancel.set()

    def next_due_ns(self) -> int | None:
        return None

    def wait_finished(self, timeout_s: float) -> bool:
        """For tests and shutdown: block until the producer finished."""
        return self._finished.wait(timeout_s)
