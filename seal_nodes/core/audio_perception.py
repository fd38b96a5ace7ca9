"""Streaming audio perception: VAD-gated utterances → speech_start / speech_fragment / speech_end.

ROS-free; a node feeds ``AudioFrame``s and publishes the returned ``Event``s.

Timing: all event stamps are *stream time*: the frame's ``stamp_ns`` plus the sample offset
(at 16 kHz) inside the stream, assuming frames are contiguous. speech_end is emitted
``end_silence_ms`` after the offset it reports, once the silence has been observed.

Bad input (wrong dtype/shape, empty frame, bad or changing sample rate) raises
``AudioFormatError`` and leaves the state untouched; the wrapping node turns it into an
``error`` Event. Call ``reset()`` before switching to a stream with another rate.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from seal_nodes.core.asr import StreamingRecognizer
from seal_nodes.core.audio import AudioFormatError, AudioFrame, StreamResampler
from seal_nodes.core.events import SPEECH_END, SPEECH_FRAGMENT, SPEECH_START, Event, new_trace_id
from seal_nodes.core.vad import SileroVad, WINDOW

RATE = 16_000
SOURCE = "audio_perception"


@dataclass
class AudioPerceptionConfig:
    # Tuned on espeak speech for the latency budgets (onset → speech_start ≤ 100 ms, end of
    # speech → first reply audio ≤ 500 ms). One 32 ms Silero window at ≥ 0.3 confirms an
    # onset 30-90 ms after it (two windows: 60-130 ms; 0.5 and 90 ms: 100-170 ms); the price
    # is that a short loud non-speech sound Silero scores ≥ 0.3 also starts a turn, which the
    # perception issue's interrupt/backchannel classification must absorb. 350 ms of silence
    # ends a turn: a longer mid-sentence pause splits it until a real end-of-turn model exists.
    vad_threshold: float = 0.3  # window counts as speech at/above this
    vad_release: float = 0.25  # ...and as silence below this (hysteresis in between)
    min_speech_ms: int = 30  # speech needed to confirm an onset (one VAD window)
    end_silence_ms: int = 350  # silence that ends an utterance
    fragment_interval_ms: int = 300  # partial transcripts at most this often (audio time)
    max_utterance_ms: int = 15_000  # force an end after this much speech
    pre_roll_ms: int = 250  # audio before the onset handed to the recogniser
    # below this the final text is dropped (reason low_confidence). Correct in-grammar espeak
    # speech scored 0.65-0.96 in isolation but as low as 0.28 late in a long session; speech
    # forced onto the grammar from outside it scores < 0.1.
    min_confidence: float = 0.2


class SampleRateChanged(AudioFormatError):
    """The stream's sample rate changed mid-stream; ``flush()`` and ``reset()`` to accept the new one."""


class AudioPerception:
    """Per-frame work is O(frame): one VAD call per 32 ms window and incremental decoding."""

    def __init__(
        self,
        config: AudioPerceptionConfig | None = None,
        vad: SileroVad | None = None,
        recognizer: StreamingRecognizer | None = None,
    ) -> None:
        self.config = config or AudioPerceptionConfig()
        self._vad = vad or SileroVad()
        self._asr = recognizer or StreamingRecognizer()
        self._win_ms = WINDOW * 1000.0 / RATE
        self.reset()

    # ---- public ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Drop any utterance in progress (no events) and forget the stream."""
        self._vad.reset()
        if self._asr.active:
            self._asr.finish()
        self._in_rate: int | None = None
        self._resampler: StreamResampler | None = None
        self._total = 0  # 16 kHz samples received so far
        self._vad_pos = 0  # 16 kHz samples covered by VAD windows
        self._anchor = (0, 0)  # (sample index, stamp_ns) of the latest frame start
        self._history: deque[np.ndarray] = deque()  # recent audio for pre-roll
        self._history_len = 0
        self._state = "idle"  # idle | candidate | speech
        self._run_start = 0  # first sample of the current run of speech-ish windows
        self._speech_windows = 0
        self._onset = 0
        self._last_speech_end = 0
        self._silence_ms = 0.0
        self._trace = ""
        self._next_fragment = 0
        self._last_partial = ""
        self._pending: list[np.ndarray] = []  # audio queued for the recogniser (see sense/decode)

    def feed(self, frame: AudioFrame) -> list[Event]:
        """Process one frame; return the events it completed (often none)."""
        return self.sense(frame) + self.decode()

    def sense(self, frame: AudioFrame) -> list[Event]:
        """The cheap, latency-critical half: VAD and turn state (speech_start, speech_end).

        Audio for the recogniser is only queued here; a node publishes these events first
        and then calls ``decode`` so recognition never delays a speech_start.
        """
        pcm = self._validate(frame)
        if self._in_rate is not None and frame.sample_rate != self._in_rate:
            raise SampleRateChanged(
                f"sample rate changed mid-stream from {self._in_rate} to {frame.sample_rate} Hz; call reset() first"
            )
        if self._in_rate is None:
            self._resampler = StreamResampler(int(frame.sample_rate), RATE)
        self._in_rate = int(frame.sample_rate)
        x = self._resampler.process(pcm)
        self._anchor = (self._total, frame.stamp_ns)
        self._total += len(x)
        self._remember(x)
        if self._state != "idle":
            self._pending.append(x)
        events: list[Event] = []
        for p in self._vad.process(x):
            start = self._vad_pos
            self._vad_pos += WINDOW
            events.extend(self._on_window(start, p))
        return events

    def decode(self) -> list[Event]:
        """The recogniser half: feed queued audio, emit a partial transcript when it changed."""
        self._feed_pending()
        if self._state == "speech" and self._total >= self._next_fragment:
            self._next_fragment = self._total + self._ms_to_samples(self.config.fragment_interval_ms)
            text = self._asr.partial()
            if text and text != self._last_partial:
                self._last_partial = text
                return [self._event(SPEECH_FRAGMENT, self._time(self._total), text, 0.5, {"partial": True})]
        return []

    def _feed_pending(self) -> None:
        for chunk in self._pending:
            self._asr.feed(chunk)
        self._pending.clear()

    def flush(self) -> list[Event]:
        """End-of-stream: close an utterance in progress as if silence followed.

        The VAD and stream clock are kept; call ``reset()`` before feeding a different stream.
        """
        if self._state == "speech":
            return [self._end("end_of_stream")]
        if self._state == "candidate":
            self._pending.clear()
            self._asr.finish()
        self._state = "idle"
        return []

    # ---- internals -------------------------------------------------------------------------
    @staticmethod
    def _validate(frame: AudioFrame) -> np.ndarray:
        pcm = frame.samples
        if not isinstance(pcm, np.ndarray) or pcm.dtype != np.int16 or pcm.ndim != 1:
            desc = f"{pcm.dtype} shape {pcm.shape}" if isinstance(pcm, np.ndarray) else type(pcm).__name__
            raise AudioFormatError(f"AudioFrame.samples must be a 1-D int16 array, got {desc}")
        if len(pcm) == 0:
            raise AudioFormatError("empty AudioFrame")
        if not isinstance(frame.stamp_ns, (int, np.integer)):
            raise AudioFormatError(f"AudioFrame.stamp_ns must be an integer, got {frame.stamp_ns!r}")
        if not isinstance(frame.sample_rate, (int, np.integer)) or not 4000 <= frame.sample_rate <= 192_000:
            raise AudioFormatError(f"sample_rate {frame.sample_rate!r} out of range 4000..192000 Hz")
        return pcm

    def _ms_to_samples(self, ms: float) -> int:
        return int(round(ms * RATE / 1000.0))

    def _time(self, index: int) -> int:
        """Stream time of a 16 kHz sample index (may lie before the latest frame)."""
        base_idx, base_ns = self._anchor
        return base_ns + int(round((index - base_idx) * 1e9 / RATE))

    def _remember(self, x: np.ndarray) -> None:
        # keep pre-roll plus one VAD window plus the VAD's pending samples
        self._history.append(x)
        self._history_len += len(x)
        keep = self._ms_to_samples(self.config.pre_roll_ms) + 2 * WINDOW + len(x)
        while self._history and self._history_len - len(self._history[0]) >= keep:
            self._history_len -= len(self._history.popleft())

    def _audio_since(self, index: int) -> np.ndarray:
        buf = np.concatenate(list(self._history))
        first = self._total - len(buf)
        return buf[max(0, index - first) :]

    def _on_window(self, start: int, p: float) -> list[Event]:
        cfg = self.config
        is_speech = p >= cfg.vad_threshold
        is_silence = p < cfg.vad_release
        if self._state == "idle":
            if is_speech:  # candidate onset: start decoding now so fragments come early
                # soft onset starts at the preceding sub-threshold run, but never before the pre-roll
                earliest = start - self._ms_to_samples(cfg.pre_roll_ms)
                self._state, self._speech_windows = "candidate", 1
                self._run_start = max(self._run_start, earliest)
                self._asr.start()
                self._pending.append(self._audio_since(earliest))
                self._last_speech_end = start + WINDOW
                self._silence_ms = 0.0
                return self._maybe_confirm()
            if is_silence:
                self._run_start = start + WINDOW  # earliest start of a future speech-ish run
            return []
        if is_speech:
            self._speech_windows += 1
            self._last_speech_end = start + WINDOW
            self._silence_ms = 0.0
        elif is_silence:
            self._silence_ms += self._win_ms
        if self._state == "candidate":
            if self._silence_ms > 0:  # too short: a click or breath
                self._pending.clear()
                self._asr.finish()
                self._state, self._run_start = "idle", start + WINDOW
                return []
            return self._maybe_confirm()
        if self._silence_ms >= cfg.end_silence_ms:
            return [self._end("silence")]
        if (self._last_speech_end - self._onset) * 1000 / RATE >= cfg.max_utterance_ms:
            return [self._end("max_length")]
        return []

    def _maybe_confirm(self) -> list[Event]:
        if self._speech_windows * self._win_ms < self.config.min_speech_ms:
            return []
        # onset: start of the run of windows above the release threshold that led here
        self._state, self._onset, self._trace = "speech", self._run_start, new_trace_id()
        self._next_fragment = self._total  # allow a fragment right away
        self._last_partial = ""
        onset_ns = self._time(self._onset)
        return [self._event(SPEECH_START, onset_ns, "", 1.0, {"onset_ns": onset_ns})]

    def _end(self, reason: str) -> Event:
        self._feed_pending()  # the final transcript needs every sample
        text, conf = self._asr.finish()
        payload: dict[str, object] = {
            "onset_ns": self._time(self._onset),
            "offset_ns": self._time(self._last_speech_end),
            "end_reason": reason,
        }
        if not text:
            conf = 0.0
            payload["reason"] = "no_match"
        elif conf < self.config.min_confidence:
            payload.update(reason="low_confidence", rejected_text=text, rejected_confidence=conf)
            text, conf = "", 0.0
        self._state = "idle"
        self._run_start = self._vad_pos
        self._silence_ms = 0.0
        return self._event(SPEECH_END, int(payload["offset_ns"]), text, conf, payload)  # type: ignore[arg-type]

    def _event(self, etype: str, stamp_ns: int, text: str, conf: float, payload: dict[str, object]) -> Event:
        return Event(type=etype, stamp_ns=stamp_ns, text=text, confidence=conf, source=SOURCE,
                     trace_id=self._trace, payload=dict(payload))
