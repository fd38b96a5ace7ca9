"""Whisper decodes for ``AudioPerception``, one at a time, inline or on a thread of their own.

Inline (no executor: tests, ``perceive``, the benchmarks' simulated clock) a decode completes
when it is submitted, so the perception is a deterministic function of its input. A live node
passes an executor: ``sense`` (echo cancelling, VAD, onsets, the barge-in pause) then never
waits behind a 100 ms decode, and the decode's result is taken on a later ``decode`` call,
which ``on_done`` asks for. CTranslate2 releases the GIL while it decodes.
"""
from __future__ import annotations

from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from seal_nodes.core.audio.frames import RATE
from seal_nodes.core.perception import bias
from seal_nodes.core.perception.whisper import Transcript, WhisperRecognizer, distinct_alternatives

PARTIAL, FINAL = "partial", "final"


@dataclass
class Job:
    kind: str  # PARTIAL | FINAL
    owner: object  # the utterance it decodes; a result for another one is stale
    key: int  # PARTIAL: the last sample decoded; FINAL: the utterance's last voiced sample then
    future: Future

    def transcript(self) -> Transcript:
        return self.future.result()


def recognise(asr: WhisperRecognizer, audio: np.ndarray, words: list[str], prompt: bool,
              n_best: int) -> Transcript:
    """Whisper on ``audio`` (16 kHz), biased towards ``words`` (in the prompt when ``prompt``,
    and by near-miss correction after decoding)."""
    text_prompt = ", ".join(words) + "." if prompt and words else ""
    tr = asr.transcribe(audio, RATE, prompt=text_prompt, n_best=n_best)
    if not words or not tr.text:
        return tr
    text = bias.correct(tr.text, words)
    return replace(tr, text=text, alternatives=distinct_alternatives(
        text, [bias.correct(a, words) for a in tr.alternatives], text_prompt))


class Recognition:
    """At most one decode in flight; its result is taken once."""

    def __init__(self, asr: WhisperRecognizer, executor: Executor | None = None,
                 on_done: Callable[[], None] | None = None) -> None:
        self._asr = asr
        self._executor = executor
        self._on_done = on_done
        self._job: Job | None = None

    @property
    def busy(self) -> bool:
        """A decode was submitted and its result not taken yet."""
        return self._job is not None

    def finished(self, kind: str) -> bool:
        """A decode of ``kind`` is done and its result not taken yet."""
        job = self._job
        return job is not None and job.kind == kind and job.future.done()

    def submit(self, kind: str, owner: object, key: int, audio: np.ndarray, words: list[str], prompt: bool,
               n_best: int) -> None:
        if self._job is not None:
            raise RuntimeError("a decode is already in flight")
        words = list(words)  # the caller may change its list while the decode runs
        if self._executor is None:
            future: Future = Future()
            try:
                future.set_result(recognise(self._asr, audio, words, prompt, n_best))
            except Exception as exc:  # taken, and raised, like a worker's
                future.set_exception(exc)
        else:
            future = self._executor.submit(recognise, self._asr, audio, words, prompt, n_best)
            if self._on_done is not None:
                on_done = self._on_done
                future.add_done_callback(lambda _: on_done())
        self._job = Job(kind, owner, key, future)

    def take(self) -> Job | None:
        """The finished decode, once (``Job.transcript`` raises what the decode raised)."""
        job = self._job
        if job is None or not job.future.done():
            return None
        self._job = None
        return job

    def wait(self) -> None:
        """Block until the decode in flight (if any) has finished."""
        if self._job is not None:
            self._job.future.exception()

    def drop(self) -> None:
        """Forget the decode in flight (a reset stream): its result is never taken."""
        self._job = None
