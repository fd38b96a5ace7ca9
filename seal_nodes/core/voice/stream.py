"""Engine-independent streaming TTS: paced 20 ms chunks, truthful cancellation, word progress.

``SpeechStream`` turns tagged text into ``AudioFrame`` chunks emitted at play-out pace.
Synthesis runs on a producer thread at most ``ahead_ms`` ahead of play-out (``start()`` begins
it before ``run``, so a queued utterance is ready the moment the previous one ends); the
caller's thread only paces and emits, so a slow synthesis call never delays a chunk that is
already synthesized, and ``cancel``/``pause`` act before the next chunk.

What it reports as spoken comes from the engine's word timings in samples, compared with the
samples actually handed to the sink, so an interrupted turn knows what the user heard. Engines
give a word's start (espeak-ng: its word events) and optionally its end (piper: the model's
own phoneme durations); where the end is not given it is the last audible sample before the
next word. After a cancel the stream lets synthesis run on (silently) until every word that
started before the cut has a known end, so the answer never depends on thread timing.
The engines live in ``espeak`` and ``piper`` next to this module.
"""
from __future__ import annotations

import bisect
import collections
import re
import string
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from seal_nodes.core.audio.frames import AudioFrame
from seal_nodes.core.events import now_ns
from seal_nodes.core.voice.speech_tags import ParsedSpeech, ProsodyState, SpeechPart, parse_speech

CHUNK_MS = 20
# Samples below this magnitude count as silence when finding where a word ends.
VOICED_THRESHOLD = 32  # espeak pauses are exact zeros
# Synthesis runs at most this far ahead of emission (it stops to wait, then goes on).
AHEAD_MS = 1500
# Non-verbal sounds (at the relative levels nonverbal.py gives them) are scaled by this and the
# emotion's volume: a laugh about as loud as the speech.
SOUND_LEVEL = 0.9
# After a cancel: how long synthesis may run on to settle the end of the word being cut.
SETTLE_TIMEOUT_S = 1.0
_PUNCT = string.punctuation + "\u2018\u2019\u201c\u201d\u2026\u00bf\u00a1\u2013\u2014"


class WordMark(NamedTuple):
    """A word's start (and optionally end) in samples, relative to the part's first sample."""

    word: str
    start_sample: int
    char_start: int = -1  # position of the word in SpeechPart.text
    char_end: int = -1
    end_sample: int = -1  # where its sound ends; -1: found from the audio (last voiced sample)


class SpeechSynthesizer(Protocol):
    @property
    def sample_rate(self) -> int: ...

    def synthesize(self, part: SpeechPart) -> Iterator[tuple[np.ndarray, list[WordMark]]]:
        """Yield (int16 PCM block, word marks starting in or before it) as audio becomes available."""
        ...


def pitch_factor(pitch_offset: int) -> float:
    """A tag's pitch offset (espeak units) as a frequency ratio: +12 → ×1.15, -8 → ×0.91."""
    return float(2.0 ** (pitch_offset / 60.0))


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
    error: str = ""  # the engine failed mid-utterance (what played before is still reported)
    paused_ms: float = 0.0  # time spent paused (not in audio_ms)
    first_playout_ns: int | None = None  # ``clock`` time at which the first chunk plays
    end_playout_ns: int | None = None  # ``clock`` time at which the last chunk has played
    gap_samples: int | None = None  # with ``start_at``: silence between it and the first chunk
    final_state: ProsodyState = ProsodyState()


@dataclass
class _Word:
    text: str
    start: int  # absolute sample in the utterance
    clean_end: int  # end of the word in ParsedSpeech.clean_text
    part: SpeechPart | None = None
    token_end: int = 0  # end of its whitespace token in part.text
    end: int | None = None  # absolute sample where its audio ends; None until known


@dataclass
class _Playback:
    """Where one ``SpeechStream.run`` is on its timeline (``clock`` ns)."""

    t_start: int  # clock when run began
    wall_start: int  # wall clock at the same moment (chunk stamps)
    ns_per_sample: float
    lead_ns: float  # a chunk leaves at most this long before its play-out
    start_at: int | None  # when the previous utterance's audio ends
    anchor: float | None = None  # when sample 0 of this stream's timeline plays; None before the first chunk
    pos: int = 0  # samples on the timeline (padding included)
    emitted: int = 0  # audio samples handed to the sink
    chunks: int = 0
    paused_ns: int = 0
    held: np.ndarray | None = None  # the next chunk, taken from the buffer but not yet emitted
    first_playout: float | None = None
    first_latency_ms: float | None = None
    gap: int | None = None  # samples of silence between ``start_at`` and the first chunk
    reported: int = 0  # words reported through on_progress
    last_progress: str = ""

    def playout(self, now: int) -> float:
        """Play-out time of the next chunk; the first plays now, or when the previous utterance ends."""
        if self.anchor is None:
            self.anchor = float(self.start_at) if self.start_at is not None and self.start_at > now else float(now)
        return self.anchor + self.pos * self.ns_per_sample

    @property
    def end_ns(self) -> int | None:
        """When the audio emitted so far has played; None before the first chunk."""
        return None if self.anchor is None else int(self.anchor + self.pos * self.ns_per_sample)

    def slip(self, now: int) -> float:
        """Move the timeline so the next chunk plays at ``now``."""
        self.anchor = now - self.pos * self.ns_per_sample
        return float(now)


class SpeechStream:
    """One utterance. Construct (validates text), optionally ``start`` early, then ``run`` once.

    ``cancel``, ``pause`` and ``resume`` may be called from any thread, before or during ``run``.
    """

    def __init__(self, text: str | bytes, synthesizer: SpeechSynthesizer, *, trace_id: str = "",
                 chunk_ms: int = CHUNK_MS, on_progress: Callable[[str], None] | None = None,
                 prosody: ProsodyState | None = None, ahead_ms: int = AHEAD_MS, pad_last: bool = False,
                 delay_ms: float = 0.0) -> None:
        """``delay_ms``: synthesis starts this late (an injected fault: a slow voice, for diagnose's tests)."""
        if chunk_ms <= 0:
            raise ValueError("chunk_ms must be positive")
        self.delay_s = max(0.0, float(delay_ms)) / 1e3
        self.parsed: ParsedSpeech = parse_speech(text, prosody)
        self._synth = synthesizer
        self.trace_id = trace_id
        self.sample_rate = int(synthesizer.sample_rate)
        self.frame_samples = max(1, self.sample_rate * chunk_ms // 1000)
        self.pad_last = pad_last
        self._on_progress = on_progress
        self._ahead = max(self.frame_samples, ahead_ms * self.sample_rate // 1000)
        self._warnings = list(self.parsed.warnings)
        self._sounds = _load_nonverbal() if any(s.is_sound for s in self.parsed.parts) else None
        if self._sounds is None and any(s.is_sound for s in self.parsed.parts):
            self._warnings.append("non-verbal sounds unavailable (seal_nodes.core.voice.nonverbal): rendered as pauses")
        self._seed = zlib.crc32(self.parsed.clean_text.encode("utf-8"))
        self._cond = threading.Condition()
        self._cancelled = False
        self._paused = False
        self._started = False  # producer started
        self._ran = False
        self._stop = False  # producer must stop
        self._settling = False  # cancelled: producer may run past ``ahead`` to settle word ends
        self._done = False  # producer finished (exhausted, stopped or failed)
        self._exhausted = False
        self._error: BaseException | None = None
        self._pcm: collections.deque[np.ndarray] = collections.deque()
        self._buffered = self._produced = self._consumed = 0
        self._producer: threading.Thread | None = None
        self._words: list[_Word] = []

    @property
    def warnings(self) -> list[str]:
        return list(self._warnings)

    # --- control (any thread) ------------------------------------------------------------
    def cancel(self) -> None:
        """Stop before the next chunk; safe from any thread, before or during ``run``."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def pause(self) -> None:
        """Hold before the next chunk; ``resume`` continues from exactly that sample."""
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def start(self) -> None:
        """Begin synthesis now (idempotent); ``run`` calls it if nobody did."""
        with self._cond:
            if self._started:
                return
            self._started = True
        self._producer = threading.Thread(target=self._produce, name="tts-synth", daemon=True)
        self._producer.start()

    @property
    def synthesizing(self) -> bool:
        """Is the synthesis thread still running (in the engine, or on its way out)?"""
        return self._producer is not None and self._producer.is_alive()

    def close(self, timeout: float | None = 5.0) -> bool:
        """Stop synthesis (and playback, as ``cancel``); True once the engine is released."""
        with self._cond:
            self._cancelled = self._stop = True
            self._cond.notify_all()
        if self._producer is not None:
            self._producer.join(timeout)
            return not self._producer.is_alive()
        return True

    # --- producer ------------------------------------------------------------------------
    def _produce(self) -> None:
        if self.delay_s:
            with self._cond:  # a cancel or close ends the wait at once
                self._cond.wait_for(lambda: self._stop or self._cancelled, self.delay_s)
        blocks = self._blocks()
        try:
            for blk in blocks:
                with self._cond:
                    if len(blk):
                        self._pcm.append(blk)
                        self._buffered += len(blk)
                        self._produced += len(blk)
                        self._cond.notify_all()
                    while not self._stop and not self._settling and self._produced - self._consumed >= self._ahead:
                        self._cond.wait()
                    if self._stop:
                        break
            else:
                self._exhausted = True
        except BaseException as exc:  # surfaced by run() in the result
            self._error = exc
        finally:
            blocks.close()
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _blocks(self) -> Iterator[np.ndarray]:
        """PCM of all parts back to back, recording content words with absolute sample spans."""
        total = 0
        for index, part in enumerate(self.parsed.parts):
            if part.is_pause or part.is_sound:
                pcm = self._render_sound(part, index) if part.is_sound else None
                if pcm is None:
                    pcm = np.zeros(part.pause_ms * self.sample_rate // 1000 if part.is_pause else
                                   self.sample_rate // 2, dtype=np.int16)
                total += len(pcm)
                yield pcm
                continue
            base, seg_len, last_voiced = total, 0, total
            first_word = len(self._words)
            tokens = [(t.start(), t.end()) for t in re.finditer(r"\S+", part.text)]
            gen = self._synth.synthesize(part)
            try:
                for pcm, marks in gen:
                    pcm = np.asarray(pcm, dtype=np.int16).reshape(-1)
                    b0 = base + seg_len
                    voiced = b0 + np.flatnonzero(np.abs(pcm.astype(np.int32)) > VOICED_THRESHOLD)
                    with self._cond:
                        for m in marks if part.content else ():
                            start = base + max(0, int(m.start_sample))
                            before = voiced[voiced < start]
                            # without an engine end: the previous word ends with its last sound before this one
                            prev_end = int(before[-1]) + 1 if len(before) else last_voiced
                            end = base + int(m.end_sample) if m.end_sample >= 0 else None
                            self._add_word(part, tokens, m, start, prev_end, end)
                    if len(voiced):
                        last_voiced = int(voiced[-1]) + 1
                    seg_len += len(pcm)
                    total += len(pcm)
                    yield pcm
            finally:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()
            # The part's last word ends where its sound ends (trailing silence excluded).
            with self._cond:
                for w in self._words[first_word:]:
                    if w.end is None:
                        w.end = max(last_voiced, w.start + 1)

    def _render_sound(self, part: SpeechPart, index: int) -> np.ndarray | None:
        if self._sounds is None:
            return None
        f0 = float(getattr(self._synth, "f0_hz", 120.0)) * pitch_factor(part.pitch_offset)
        seed = (self._seed + index) % (2**31)
        rate = self.sample_rate
        nv = self._sounds
        try:
            if part.sound == "breath":
                x = nv.breath(rate, seed=seed)
            elif part.sound == "laugh":
                x = nv.laugh(rate, size=part.sound_size or "small", seed=seed, f0_hz=f0)
            else:
                x = getattr(nv, part.sound)(rate, seed=seed, f0_hz=f0)
        except (ValueError, AttributeError) as exc:  # e.g. a rate the generator refuses: a pause instead
            with self._cond:
                self._warnings.append(f"[{part.tag}] rendered as a pause: {exc}")
            return None
        x = np.nan_to_num(np.asarray(x, dtype=np.float32).reshape(-1))
        return (np.clip(x, -1.0, 1.0) * (32767 * SOUND_LEVEL * part.volume)).astype(np.int16)

    def _add_word(self, part: SpeechPart, tokens: list[tuple[int, int]], m: WordMark, start: int,
                  prev_end: int, end: int | None) -> None:
        """Map an engine word mark to the whitespace token it falls in; engines split numbers
        ("$3.50" -> several marks), which must not count as several words."""
        pos = m.char_start
        if pos < 0:  # engine without text positions: find the word after the previous one
            after = self._words[-1].token_end if self._words and self._words[-1].part is part else 0
            pos = part.text.find(m.word, after) if m.word else -1
            if pos < 0:
                return
        i = bisect.bisect_right([t[0] for t in tokens], pos) - 1
        if i < 0 or pos >= tokens[i][1]:
            i += 1  # mark on whitespace: belongs to the next token
        if i >= len(tokens):
            return
        tok_start, tok_end = tokens[i]
        last = self._words[-1] if self._words else None
        if last is not None and last.part is part and last.token_end >= tok_end:
            if end is not None:  # same token: it ends where its last part ends
                last.end = max(last.end or 0, end)
            return
        if last is not None and last.end is None:
            last.end = max(prev_end, last.start + 1)
        raw = part.text[tok_start:tok_end]
        word = raw.strip(_PUNCT) or raw
        word_end = tok_start + raw.find(word) + len(word)
        self._words.append(_Word(text=word, start=start, clean_end=part.text_offset + word_end,
                                 part=part, token_end=tok_end, end=end))

    @property
    def word_timings(self) -> list[tuple[str, int, int | None]]:
        """(word, start sample, end sample or None) of the content words seen so far."""
        with self._cond:
            return [(w.text, w.start, w.end) for w in self._words]

    def _spoken(self, emitted: int) -> list[_Word]:
        out = []
        for w in self._words:
            if w.end is None or w.end > emitted:
                break
            out.append(w)
        return out

    def _settled(self, emitted: int) -> bool:
        """Every word that started before ``emitted`` has a known end."""
        return all(w.end is not None for w in self._words if w.start < emitted)

    # --- consumer ------------------------------------------------------------------------
    def _take(self, n: int) -> np.ndarray | None:
        """The next ``n`` samples (fewer at the very end); None when cancelled or nothing is left."""
        with self._cond:
            while True:
                if self._cancelled:
                    return None
                if self._buffered >= n or (self._done and self._buffered > 0):
                    parts, need = [], min(n, self._buffered)
                    while need:
                        blk = self._pcm.popleft()
                        if len(blk) > need:
                            self._pcm.appendleft(blk[need:])
                            blk = blk[:need]
                        parts.append(blk)
                        need -= len(blk)
                    out = parts[0] if len(parts) == 1 else np.concatenate(parts)
                    self._buffered -= len(out)
                    self._consumed += len(out)
                    self._cond.notify_all()
                    return out
                if self._done:
                    return None
                self._cond.wait()

    def _default_sleep(self, seconds: float) -> None:
        with self._cond:
            if not self._cancelled and not self._paused:
                self._cond.wait(seconds)

    def run(self, sink: Callable[[AudioFrame], None], *, clock: Callable[[], int] = time.monotonic_ns,
            sleep: Callable[[float], Any] | None = None, wall_clock: Callable[[], int] = now_ns,
            paced: bool = True, lead_ms: float | None = None, start_at: int | None = None) -> SpeakResult:
        """Emit chunks to ``sink`` at play-out pace; returns what was actually spoken.

        ``clock``: monotonic ns used for pacing; ``wall_clock``: ns for ``stamp_ns``;
        ``sleep(seconds)``: defaults to waiting on the control flags so cancel/pause wake it at once.
        A chunk is emitted at most ``lead_ms`` (default and maximum: one chunk) before its play-out.
        ``start_at``: ``clock`` time at which the previous utterance's audio ends: the first chunk
        plays then (not earlier), so back-to-back utterances join without a gap.
        """
        if self._ran:
            raise RuntimeError("SpeechStream.run may be called only once")
        self._ran = True
        self.start()
        ns_per_sample = 1e9 / self.sample_rate
        chunk_ns = self.frame_samples * ns_per_sample
        lead_ns = chunk_ns if lead_ms is None else min(max(lead_ms, 0.0) * 1e6, chunk_ns)
        pb = _Playback(clock(), wall_clock(), ns_per_sample, lead_ns, start_at)
        try:
            self._play(sink, pb, clock, sleep, paced)
        except BaseException:
            self.close(timeout=5.0)  # the sink raised: release the engine before the error propagates
            raise
        completed, error = self._stop_synthesis(pb)
        return self._result(pb, completed, error)

    def _play(self, sink: Callable[[AudioFrame], None], pb: _Playback, clock: Callable[[], int],
              sleep: Callable[[float], Any] | None, paced: bool) -> None:
        """Emit chunks until the audio runs out or the stream is cancelled."""
        wait = sleep if sleep is not None else self._default_sleep
        while True:
            if pb.held is None:
                pb.held = self._take(self.frame_samples)
                if pb.held is None:
                    return
            if self._cancelled:
                return
            if self._paused:
                self._hold(pb, clock, sleep)
                continue
            now = clock()
            playout = pb.playout(now)
            if paced and now < playout - pb.lead_ns:
                wait((playout - pb.lead_ns - now) / 1e9)
                continue  # re-check cancel and pause before emitting
            if now > playout:  # underrun (or a late start): play-out slips, stamps stay truthful
                playout = pb.slip(now)
            self._emit(sink, pb, pb.held, playout, now)
            self._report_progress(pb)

    def _hold(self, pb: _Playback, clock: Callable[[], int], sleep: Callable[[float], Any] | None) -> None:
        """Wait while paused; play then goes on from now, from the same sample."""
        t_pause = clock()
        while self._paused and not self._cancelled:
            if sleep is None:
                with self._cond:
                    self._cond.wait_for(lambda: not self._paused or self._cancelled, 0.5)
            else:
                sleep(0.05)
        pb.paused_ns += clock() - t_pause
        if pb.anchor is not None:
            pb.slip(clock())

    def _emit(self, sink: Callable[[AudioFrame], None], pb: _Playback, chunk: np.ndarray, playout: float,
              now: int) -> None:
        """Hand ``chunk`` (the held one) to ``sink``, stamped with its play-out time."""
        n = len(chunk)
        if n < self.frame_samples and self.pad_last:
            chunk = np.concatenate([chunk, np.zeros(self.frame_samples - n, np.int16)])
        if pb.first_playout is None:
            pb.first_playout = playout
            pb.first_latency_ms = (now - pb.t_start) / 1e6
            if pb.start_at is not None:
                pb.gap = max(0, round((playout - pb.start_at) / pb.ns_per_sample))
        sink(AudioFrame(samples=chunk, sample_rate=self.sample_rate,
                        stamp_ns=int(pb.wall_start + (playout - pb.t_start)), trace_id=self.trace_id))
        pb.held = None
        pb.chunks += 1
        pb.emitted += n
        pb.pos += len(chunk)

    def _report_progress(self, pb: _Playback) -> None:
        """``on_progress`` with the spoken text whenever another word has been played in full."""
        if self._on_progress is None:
            return
        with self._cond:
            spoken = self._spoken(pb.emitted)
        if len(spoken) > pb.reported:
            pb.reported = len(spoken)
            pb.last_progress = self._text_of(spoken)
            self._on_progress(pb.last_progress)

    def _stop_synthesis(self, pb: _Playback) -> tuple[bool, BaseException | None]:
        """Stop the producer; (whether everything was played, the engine's error if any).

        An utterance cut short first lets synthesis settle the end of the word being cut.
        """
        with self._cond:
            completed = (self._done and self._exhausted and self._buffered == 0 and pb.held is None
                         and pb.chunks > 0)
            if not completed:
                self._settling = True
                self._cond.notify_all()
                self._cond.wait_for(lambda: self._done or self._settled(pb.emitted), SETTLE_TIMEOUT_S)
            self._stop = True
            self._cond.notify_all()
            error = self._error
        if self._producer is not None:
            self._producer.join(5.0 if completed or error is not None else 0.02)
        return completed, error

    def _result(self, pb: _Playback, completed: bool, error: BaseException | None) -> SpeakResult:
        if completed:
            words = [w.text for w in self._words]
            spoken_text = self.parsed.clean_text
            if self._on_progress is not None and spoken_text != pb.last_progress:
                self._on_progress(spoken_text)
        else:
            with self._cond:
                spoken = self._spoken(pb.emitted)
            words = [w.text for w in spoken]
            spoken_text = self._text_of(spoken)
        return SpeakResult(completed=completed, interrupted=not completed, spoken_text=spoken_text,
                           words_spoken=words, audio_ms=pb.pos * 1000.0 / self.sample_rate,
                           first_chunk_latency_ms=pb.first_latency_ms, chunks=pb.chunks,
                           samples_emitted=pb.emitted, warnings=self.warnings,
                           error="" if error is None else f"{type(error).__name__}: {error}",
                           paused_ms=pb.paused_ns / 1e6,
                           first_playout_ns=None if pb.first_playout is None else int(pb.first_playout),
                           end_playout_ns=pb.end_ns,
                           gap_samples=pb.gap, final_state=self.parsed.final_state)

    def _text_of(self, words: list[_Word]) -> str:
        return self.parsed.clean_text[: words[-1].clean_end].rstrip() if words else ""


_nonverbal: Any = None


def _load_nonverbal() -> Any:
    """``seal_nodes.core.voice.nonverbal`` if it is there (None otherwise)."""
    global _nonverbal
    if _nonverbal is None:
        try:
            from seal_nodes.core.voice import nonverbal
        except ImportError:
            return None
        _nonverbal = nonverbal
    return _nonverbal

