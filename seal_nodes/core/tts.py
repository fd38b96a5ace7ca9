"""Engine-independent streaming TTS: paced 20 ms chunks, truthful cancellation, word progress.

``SpeechStream`` turns tagged text into fixed-size ``AudioFrame`` chunks emitted at play-out
pace. What it reports as spoken comes from the engine's word timings in samples, compared with
the samples actually handed to the sink, so an interrupted turn knows what the user heard.
The espeak-ng engine lives in ``tts_espeak`` (``EspeakSynthesizer`` is re-exported lazily).
"""
from __future__ import annotations

import bisect
import re
import string
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from seal_nodes.core.audio import AudioFrame
from seal_nodes.core.events import now_ns
from seal_nodes.core.speech_tags import ParsedSpeech, Segment, parse_speech

CHUNK_MS = 20
# Samples below this magnitude count as silence when finding where the last word ends.
VOICED_THRESHOLD = 32  # espeak pauses are exact zeros
# Synthesis runs this far ahead of emission once playing, so a word's end (known only when the
# next word's mark arrives) is usually known by the time its audio has been emitted.
LOOKAHEAD_MS = 200
_PUNCT = string.punctuation + "\u2018\u2019\u201c\u201d\u2026\u00bf\u00a1"


class WordMark(NamedTuple):
    """A word's start in samples, relative to the segment's first sample."""

    word: str
    start_sample: int
    char_start: int = -1  # position of the word in Segment.text
    char_end: int = -1


class SpeechSynthesizer(Protocol):
    @property
    def sample_rate(self) -> int: ...

    def synthesize(self, segment: Segment) -> Iterator[tuple[np.ndarray, list[WordMark]]]:
        """Yield (int16 PCM block, word marks starting in or before it) as audio becomes available."""
        ...


@dataclass
class SpeakResult:
    completed: bool
    interrupted: bool
    spoken_text: str
    words_spoken: list[str]
    audio_ms: float
    first_chunk_latency_ms: float | None
    chunks: int = 0
    samples_emitted: int = 0  # audio samples handed to the sink, excluding end padding
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Word:
    text: str
    start: int  # absolute sample in the utterance
    clean_end: int  # end of the word in ParsedSpeech.clean_text
    seg: Segment | None = None
    token_end: int = 0  # end of its whitespace token in seg.text
    end: int | None = None  # absolute sample where its audio ends; None until known


class SpeechStream:
    """One utterance. Construct (validates text), then ``run`` once; ``cancel`` from any thread."""

    def __init__(self, text: str | bytes, synthesizer: SpeechSynthesizer, *, trace_id: str = "",
                 chunk_ms: int = CHUNK_MS, on_progress: Callable[[str], None] | None = None) -> None:
        if chunk_ms <= 0:
            raise ValueError("chunk_ms must be positive")
        self.parsed: ParsedSpeech = parse_speech(text)
        self._synth = synthesizer
        self.trace_id = trace_id
        self.sample_rate = int(synthesizer.sample_rate)
        self.frame_samples = max(1, self.sample_rate * chunk_ms // 1000)
        self._on_progress = on_progress
        self._cancel = threading.Event()
        self._started = False
        self._words: list[_Word] = []

    @property
    def warnings(self) -> list[str]:
        return list(self.parsed.warnings)

    def cancel(self) -> None:
        """Stop before the next chunk; safe from any thread, before or during ``run``."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _blocks(self) -> Iterator[np.ndarray]:
        """PCM of all segments back to back, recording content words with absolute sample spans."""
        total = 0
        for seg in self.parsed.segments:
            if seg.is_pause:
                n = seg.pause_ms * self.sample_rate // 1000
                total += n
                yield np.zeros(n, dtype=np.int16)
                continue
            base, seg_len, last_voiced = total, 0, total
            first_word = len(self._words)
            tokens = [(t.start(), t.end()) for t in re.finditer(r"\S+", seg.text)]
            gen = self._synth.synthesize(seg)
            try:
                for pcm, marks in gen:
                    pcm = np.asarray(pcm, dtype=np.int16).reshape(-1)
                    b0 = base + seg_len
                    voiced = b0 + np.flatnonzero(np.abs(pcm.astype(np.int32)) > VOICED_THRESHOLD)
                    for m in marks if seg.content else ():
                        start = base + max(0, int(m.start_sample))
                        before = voiced[voiced < start]
                        # the previous word ends with its last sound before this word starts
                        self._add_word(seg, tokens, m, start, int(before[-1]) + 1 if len(before) else last_voiced)
                    if len(voiced):
                        last_voiced = int(voiced[-1]) + 1
                    seg_len += len(pcm)
                    total += len(pcm)
                    yield pcm
            finally:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()
            # The segment's last word ends where its sound ends (trailing silence excluded).
            for w in self._words[first_word:]:
                if w.end is None:
                    w.end = max(last_voiced, w.start + 1)

    def _add_word(self, seg: Segment, tokens: list[tuple[int, int]], m: WordMark, start: int,
                  prev_end: int) -> None:
        """Map an engine word mark to the whitespace token it falls in; engines split numbers
        ("$3.50" -> several marks), which must not count as several words."""
        pos = m.char_start
        if pos < 0:  # engine without text positions: find the word after the previous one
            prev_end = self._words[-1].token_end if self._words and self._words[-1].seg is seg else 0
            pos = seg.text.find(m.word, prev_end) if m.word else -1
            if pos < 0:
                return
        i = bisect.bisect_right([t[0] for t in tokens], pos) - 1
        if i < 0 or pos >= tokens[i][1]:
            i += 1  # mark on whitespace: belongs to the next token
        if i >= len(tokens):
            return
        tok_start, tok_end = tokens[i]
        last = self._words[-1] if self._words else None
        if last is not None and last.seg is seg and last.token_end >= tok_end:
            return  # same (or earlier) token: part of the previous word
        if last is not None and last.end is None:
            last.end = max(prev_end, last.start + 1)
        raw = seg.text[tok_start:tok_end]
        word = raw.strip(_PUNCT) or raw
        word_end = tok_start + raw.find(word) + len(word)
        self._words.append(_Word(text=word, start=start, clean_end=seg.text_offset + word_end,
                                 seg=seg, token_end=tok_end))

    @property
    def word_timings(self) -> list[tuple[str, int, int | None]]:
        """(word, start sample, end sample or None) of the content words seen so far."""
        return [(w.text, w.start, w.end) for w in self._words]

    def _spoken(self, emitted: int) -> list[_Word]:
        out = []
        for w in self._words:
            if w.end is None or w.end > emitted:
                break
            out.append(w)
        return out

    def run(self, sink: Callable[[AudioFrame], None], *, clock: Callable[[], int] = time.monotonic_ns,
            sleep: Callable[[float], Any] | None = None, wall_clock: Callable[[], int] = now_ns,
            paced: bool = True, lead_ms: float | None = None) -> SpeakResult:
        """Emit chunks to ``sink`` at play-out pace; returns what was actually spoken.

        ``clock``: monotonic ns used for pacing; ``wall_clock``: ns for ``stamp_ns``;
        ``sleep(seconds)``: defaults to waiting on the cancel flag so a cancel wakes it at once.
        A chunk is emitted at most ``lead_ms`` (default and maximum: one chunk) before its play-out.
        """
        if self._started:
            raise RuntimeError("SpeechStream.run may be called only once")
        self._started = True
        frame = self.frame_samples
        lookahead = LOOKAHEAD_MS * self.sample_rate // 1000
        chunk_ns = frame * 1_000_000_000 / self.sample_rate
        lead_ns = chunk_ns if lead_ms is None else min(max(lead_ms, 0.0) * 1e6, chunk_ns)
        wait = sleep if sleep is not None else self._cancel.wait
        t_start, wall_start = clock(), wall_clock()
        anchor: float | None = None  # play-out time (clock ns) of chunk 0
        first_latency: float | None = None
        pending: list[np.ndarray] = []
        buffered = emitted = chunks = reported = 0
        last_progress = ""
        exhausted = completed = False
        blocks = self._blocks()
        try:
            while not self._cancel.is_set():
                target = frame if anchor is None else frame + lookahead  # first chunk: no wait
                while buffered < target and not exhausted and not self._cancel.is_set():
                    try:
                        blk = next(blocks)
                    except StopIteration:
                        exhausted = True
                        break
                    if len(blk):
                        pending.append(blk)
                        buffered += len(blk)
                if self._cancel.is_set():
                    break
                if buffered == 0:
                    completed = True
                    break
                joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
                n = min(frame, len(joined))
                rest = joined[n:]
                pending = [rest] if len(rest) else []
                buffered = len(rest)
                chunk = joined[:n] if n == frame else np.concatenate([joined[:n], np.zeros(frame - n, np.int16)])
                if paced and anchor is not None:
                    due = anchor + chunks * chunk_ns - lead_ns
                    now = clock()
                    while now < due and not self._cancel.is_set():
                        wait((due - now) / 1e9)
                        now = clock()
                    if now > anchor + chunks * chunk_ns:  # underrun: play-out slips, keep stamps truthful
                        anchor = now - chunks * chunk_ns
                now = clock()
                if anchor is None:
                    anchor = float(now)
                    first_latency = (now - t_start) / 1e6
                if self._cancel.is_set():
                    break
                playout = anchor + chunks * chunk_ns
                sink(AudioFrame(samples=chunk, sample_rate=self.sample_rate,
                                stamp_ns=int(wall_start + (playout - t_start)), trace_id=self.trace_id))
                chunks += 1
                emitted += n
                if self._on_progress is not None:
                    spoken = self._spoken(emitted)
                    if len(spoken) > reported:
                        reported = len(spoken)
                        last_progress = self._text_of(spoken)
                        self._on_progress(last_progress)
        finally:
            blocks.close()
        if exhausted and buffered == 0 and chunks > 0:
            completed = True  # a cancel that lands after the last chunk interrupted nothing
        if completed:
            words = [w.text for w in self._words]
            spoken_text = self.parsed.clean_text
            if self._on_progress is not None and spoken_text != last_progress:
                self._on_progress(spoken_text)
        else:
            spoken_w = self._spoken(emitted)
            words = [w.text for w in spoken_w]
            spoken_text = self._text_of(spoken_w)
        return SpeakResult(completed=completed, interrupted=not completed, spoken_text=spoken_text,
                           words_spoken=words, audio_ms=chunks * frame * 1000.0 / self.sample_rate,
                           first_chunk_latency_ms=first_latency, chunks=chunks, samples_emitted=emitted,
                           warnings=self.warnings)

    def _text_of(self, words: list[_Word]) -> str:
        return self.parsed.clean_text[: words[-1].clean_end].rstrip() if words else ""


def __getattr__(name: str) -> Any:
    if name == "EspeakSynthesizer":  # lazy: importing tts must not load the C library
        from seal_nodes.core.tts_espeak import EspeakSynthesizer

        return EspeakSynthesizer
    raise AttributeError(name)
