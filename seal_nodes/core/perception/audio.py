"""Streaming audio perception: microphone audio → a stream of timely, discrete events.

ROS-free; a node feeds ``AudioFrame``s and publishes the returned ``Event``s.

Pipeline per frame (16 kHz): echo cancelling against the agent's own voice (the speaker
stream, when one was seen) → Silero VAD → turn state machine, plus acoustic scene events
(music, background noise) and a silence hint. Whisper tiny.en decodes the utterance so far
every ``fragment_interval_ms`` of speech (``speech_fragment``) and the whole utterance once
the user pauses: that final transcript decides whether the turn is over (``turns``).

Events:
- ``speech_start`` one VAD window after the onset (stamp = onset; payload ``agent_speaking``)
- while the agent talks, ``voice_maybe`` ahead of it: ``start`` on the first window that may be
  the user, or on a loud 10 ms block before that window has ended (the voice pauses), ``end``
  when no onset confirmed it (the voice resumes); a confirmed one carries the maybe's trace id
  (``early_pause``)
- ``speech_fragment`` partial transcripts while the user talks
- ``speech_end`` the final transcript (stamp = end of voice), when the turn is complete or
  after ``end_silence_ms`` whatever the words
- while the agent talks: ``interrupt`` (a word that claims the turn, or talking over the
  agent for ``interrupt_after_ms``), otherwise ``backchannel`` ("uh-huh") or ``noise``
  (a cough, a clap) — those two end the user's utterance without a ``speech_end``
- ``noise`` also for a VAD trigger with no words, ``music``/``noise`` scene states from
  ``acoustic``, ``silence`` after ``silence_hint_s`` without any voice

Work split: ``sense`` is the cheap, latency-critical half (echo, VAD, speech_start);
``decode`` runs Whisper when due (``recognition``: inline by default, on a worker thread when
the caller passes an executor, so that ``sense`` never waits behind a decode). Both are called
from one thread; a node publishes the ``sense`` events before calling ``decode``. Stamps are
*stream time*: the frame's ``stamp_ns`` plus the sample offset, assuming contiguous frames.

Bad input (wrong dtype/shape, empty frame, bad or changing sample rate) raises
``AudioFormatError`` and leaves the state untouched.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from seal_nodes.core.audio.frames import RATE, AudioFormatError, AudioFrame, StreamResampler, check_pcm
from seal_nodes.core.events import (
    BACKCHANNEL, ERROR, INTERRUPT, NOISE, SILENCE, SPEECH_END, SPEECH_FRAGMENT, SPEECH_START, VOICE_MAYBE, Event,
    new_trace_id,
)
from seal_nodes.core.perception import turns
from seal_nodes.core.perception.acoustic import AcousticEventDetector, segment_kind
from seal_nodes.core.perception.early_pause import END, START, EarlyPause, EarlyPauseConfig
from seal_nodes.core.perception.echo.doubletalk import level_db
from seal_nodes.core.perception.echo.frontend import EchoConfig, EchoFrontEnd
from seal_nodes.core.perception.recognition import FINAL, PARTIAL, Recognition
from seal_nodes.core.perception.vad import WINDOW, SileroVad
from seal_nodes.core.perception.whisper import MAX_N_BEST, Transcript, WhisperRecognizer

SOURCE = "audio_perception"
CLIP_LEVEL = 32_000  # |sample| at or above this counts as clipped
CLIP_REPORT_S = 5.0  # at most one clipping warning per this much audio


@dataclass
class AudioPerceptionConfig:
    # One 32 ms Silero window at >= 0.3 confirms an onset 30-90 ms after it (budget 100 ms).
    vad_threshold: float = 0.3  # window counts as speech at/above this
    vad_release: float = 0.25  # ...and as silence below this (hysteresis in between)
    # While the agent's voice or music is in the room a residual can reach 0.3: ask for more.
    vad_threshold_busy: float = 0.5
    min_speech_ms: int = 30  # speech needed to confirm an onset (one VAD window)
    # Silence counts in whole VAD windows (32 ms): the final is decoded on the fourth, judged on the
    # seventh. Decoding sooner gives Whisper less of the word's tail: worse finals in noise (the
    # sweep and the understanding bench are in docs/perception.md).
    eot_decode_ms: int = 100  # silence after which the final transcript is decoded (ahead of time)
    eot_probe_ms: int = 200  # silence after which the end of the turn is judged on it
    end_silence_ms: int = 900  # silence that ends a turn whatever the transcript says
    quiet_db: float = -50.0  # the turn is judged only once the last eot_probe_ms/2 are this quiet (dBFS)
    fragment_interval_ms: int = 300  # partial transcripts at most this often (audio time)
    max_utterance_ms: int = 15_000  # force an end after this much speech
    pre_roll_ms: int = 250  # audio before the onset handed to the recogniser
    # Audio after the last voiced window handed to the recogniser: the VAD releases before
    # a soft word end ("cube"); cut there, tiny.en hallucinates ("Pick up the red cube. Pick up…").
    post_roll_ms: int = 400
    interrupt_after_ms: int = 700  # talking over the agent this long claims the turn
    min_interrupt_confidence: float = 0.45  # Whisper confidence for a word-based interrupt
    silence_hint_s: float = 10.0  # "no voice for N seconds" hint; 0 disables
    # A user who starts again this soon after a speech_end (and before the agent talks) was
    # only pausing: the next speech_end carries the whole sentence and revises the first.
    continuation_ms: int = 1000
    echo: EchoConfig = field(default_factory=EchoConfig)  # the agent's own voice (echo_frontend)
    early_pause: EarlyPauseConfig = field(default_factory=EarlyPauseConfig)  # voice_maybe ahead of an onset
    bias_words: list[str] = field(default_factory=list)  # expected words (object names …)
    # Also put the bias words in Whisper's prompt (the near-miss correction after decoding is
    # always on): over the benchmark set it lowers the utterance WER and finds far more of the
    # rare expected words, though single espeak commands can get worse ("Big up the red cube").
    bias_prompt: bool = True
    # Beam width of the final decode (partials stay greedy): above 1 the other hypotheses go out
    # as the speech_end's ``alternatives``, other readings of the same words for the intent step.
    n_best: int = 5


class SampleRateChanged(AudioFormatError):
    """The stream's sample rate changed mid-stream; ``flush()`` and ``reset()`` to accept the new one."""


@dataclass
class _Utterance:
    trace: str
    start: int  # first sample kept (onset minus pre-roll)
    onset: int = 0
    last_voice: int = 0  # end of the last speech window
    agent_overlap: bool = False  # the agent was talking at the onset
    interrupted: bool = False  # an interrupt event went out
    next_fragment: int = 0
    last_partial: str = ""
    final: tuple[int, Transcript] | None = None  # (last_voice it was decoded at, result)
    audio: list[np.ndarray] = field(default_factory=list)
    continues: tuple[str, str] | None = None  # (trace, text) of the turn this one carries on


class AudioPerception:
    def __init__(
        self,
        config: AudioPerceptionConfig | None = None,
        vad: SileroVad | None = None,
        recognizer: WhisperRecognizer | None = None,
        acoustic: AcousticEventDetector | None = None,
        decoder: Executor | None = None,
        on_decoded: Callable[[], None] | None = None,
    ) -> None:
        """``decoder``: run Whisper there instead of inside ``decode``; ``on_decoded`` is called
        (on the decoder's thread) when a result is ready for the next ``decode`` call."""
        self.config = config or AudioPerceptionConfig()
        n_best = self.config.n_best
        if isinstance(n_best, bool) or not isinstance(n_best, int) or not 1 <= n_best <= MAX_N_BEST:
            raise ValueError(f"AudioPerceptionConfig.n_best must be an int in 1..{MAX_N_BEST}, got {n_best!r}")
        self._vad = vad or SileroVad()
        self._asr = recognizer or WhisperRecognizer()
        self._acoustic = acoustic or AcousticEventDetector()
        self._recognition = Recognition(self._asr, decoder, on_decoded)
        self._win_ms = WINDOW * 1000.0 / RATE
        self.reset()

    # ---- public ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the stream (no events): VAD, echo canceller, utterance, clocks."""
        self._vad.reset()
        self._acoustic.reset()
        self._recognition.drop()
        self._echo = EchoFrontEnd(self.config.echo)
        self._early = EarlyPause(self.config.early_pause, self._win_ms)
        self._maybe_trace: str | None = None  # of the open voice_maybe
        self._in_rate: int | None = None
        self._resampler: StreamResampler | None = None
        self._total = 0  # 16 kHz samples received so far
        self._vad_pos = 0  # 16 kHz samples covered by VAD windows
        self._level_pos = 0  # 16 kHz samples covered by the early pause's level blocks
        self._anchor = (0, 0)  # (sample index, stamp_ns) of the latest frame start
        self._history: deque[np.ndarray] = deque()  # recent audio for the pre-roll
        self._history_len = 0
        self._state = "idle"  # idle | candidate | speech
        self._run_start = 0  # first sample of the current run of speech-ish windows
        self._speech_windows = 0
        self._silence_ms = 0.0
        self._utt: _Utterance | None = None
        self._music_on = False
        self._last_voice_ns: int | None = None  # user or agent voice, for the silence hint
        self._silence_sent = False
        self._clip = [0, 0, -1]  # clipped samples, samples, sample index of the last warning
        self._last_turn: tuple[str, str, int] | None = None  # (trace, text, end sample) of the last speech_end
        self._turn_audio: tuple[str, np.ndarray] | None = None  # (trace, voiced audio) of the last speech_end

    @property
    def decoding(self) -> bool:
        """A Whisper decode is in flight (or finished and not yet taken by ``decode``)."""
        return self._recognition.busy

    @property
    def recognizer(self) -> WhisperRecognizer:
        """The Whisper recogniser (shared by benchmarks that compare its settings)."""
        return self._asr

    def turn_audio(self, trace_id: str) -> np.ndarray | None:
        """The voiced 16 kHz audio (onset to the last voiced window) of the latest speech_end,
        if its trace is ``trace_id``: what a speaker embedding is made of."""
        if self._turn_audio is None or self._turn_audio[0] != trace_id:
            return None
        return self._turn_audio[1]

    def set_bias_words(self, words: list[str]) -> None:
        """Words the recogniser should expect (scene objects, names in the conversation)."""
        self.config.bias_words = [w.strip() for w in words if w and w.strip()]

    def add_reference(self, frame: AudioFrame) -> None:
        """The agent's own output (the speaker stream): echo reference and 'agent is talking'."""
        pcm = self._validate(frame)
        self._echo.add_reference(pcm, int(frame.sample_rate), int(frame.stamp_ns))

    def agent_speaking(self, stamp_ns: int | None = None) -> bool:
        """Can the agent's voice be in the microphone at ``stamp_ns`` (default: now)?"""
        return self._echo.agent_speaking(self._time(self._total) if stamp_ns is None else stamp_ns)

    def reference_missing_ns(self, frame: AudioFrame) -> int:
        """How much loudspeaker audio the echo canceller needs for ``frame`` has not arrived yet;
        a live node waits a little for it (see ``EchoFrontEnd.reference_missing_ns``)."""
        duration_ns = len(frame.samples) * 1_000_000_000 // max(1, int(frame.sample_rate))
        return self._echo.reference_missing_ns(int(frame.stamp_ns), duration_ns)

    def feed(self, frame: AudioFrame) -> list[Event]:
        """Process one frame; return the events it completed (often none)."""
        return self.sense(frame) + self.decode()

    def sense(self, frame: AudioFrame) -> list[Event]:
        """Echo cancelling, VAD, turn onset and acoustic scene events for one frame."""
        pcm = self._validate(frame)
        if self._in_rate is not None and frame.sample_rate != self._in_rate:
            raise SampleRateChanged(
                f"sample rate changed mid-stream from {self._in_rate} to {frame.sample_rate} Hz; call reset() first"
            )
        if self._in_rate is None:
            self._resampler = StreamResampler(int(frame.sample_rate), RATE)
        self._in_rate = int(frame.sample_rate)
        clipped = self._clipping(pcm)
        x = self._resampler.process(pcm)
        self._anchor = (self._total, int(frame.stamp_ns))
        x = self._echo.clean(x, int(frame.stamp_ns))
        self._total += len(x)
        self._remember(x)
        if self._utt is not None:
            self._utt.audio.append(x)
        events = self._level_blocks()
        for p in self._vad.process(x):
            start = self._vad_pos
            self._vad_pos += WINDOW
            events.extend(self._on_window(start, p))
        events.extend(self._scene(x))
        return clipped + events

    def decode(self) -> list[Event]:
        """Recognition when due: a partial while the user talks, the final once they pause.
        With a decoder thread, a result comes out on the call after it is ready."""
        events = self._collect()
        utt = self._utt
        if self._state != "speech" or utt is None:
            return events
        cfg = self.config
        talked_ms = (utt.last_voice - utt.onset) * 1000.0 / RATE
        if talked_ms >= cfg.max_utterance_ms:
            # waits for the final: with a decoder thread the talk would go on meanwhile and make
            # each final stale (once per max_utterance_ms of unbroken talk)
            return events + self._judge_end(utt, forced=True, wait=True)
        if self._silence_ms >= cfg.end_silence_ms or (self._silence_ms >= cfg.eot_probe_ms and self._tail_quiet()):
            return events + self._judge_end(utt, forced=False)
        if self._silence_ms >= cfg.eot_decode_ms and self._tail_quiet():
            self._final(utt)  # decode ahead of the judgement: it is then free (speculative)
            return events
        if self._total >= utt.next_fragment and self._silence_ms == 0 and not self._recognition.busy:
            utt.next_fragment = self._total + self._ms_to_samples(cfg.fragment_interval_ms)
            self._submit(PARTIAL, utt, self._total, self._total, 1)
            events += self._collect()
        if utt.agent_overlap and not utt.interrupted and talked_ms >= cfg.interrupt_after_ms:
            events.append(self._interrupt(utt, utt.last_partial, 0.5, "duration"))
        return events

    def flush(self) -> list[Event]:
        """End of stream: close an utterance in progress as if a long silence followed
        (waits for a decode in flight)."""
        events: list[Event] = []
        if self._state == "speech" and self._utt is not None:
            self._recognition.wait()
            events = self._collect()
            events += self._judge_end(self._utt, forced=True, reason="end_of_stream", wait=True)
        if self._early.close():  # a pause nothing will confirm now
            events.append(self._maybe_end(self._vad_pos))
        self._state, self._utt = "idle", None
        return events

    # ---- turn state machine ------------------------------------------------------------------
    def _on_window(self, start: int, p: float) -> list[Event]:
        agent = self.agent_speaking(self._time(start))
        heard = not agent or self._echo.audible(self._audio_since(start)[1][:WINDOW], self._time(start),
                                                self._acoustic.background_db)
        events = self._turn_window(start, p, agent, heard)
        if any(e.type == SPEECH_START for e in events):
            self._early.close()  # an open maybe's pause is the barge-in's now
            self._maybe_trace = None
            return events
        # Music's residual reaches the maybe threshold (onsets ask for more then); a user turn holds already.
        decision = self._early.window(agent and not self._music_on and self._state != "speech", p, heard)
        if decision == START:
            self._maybe_trace = new_trace_id()
            return events + [self._event(VOICE_MAYBE, self._time(start), "", p,
                                         {"state": START, "vad_prob": round(p, 3)}, self._maybe_trace)]
        return events + ([self._maybe_end(start + WINDOW)] if decision == END else [])

    def _level_blocks(self) -> list[Event]:
        """The early pause's level test on each whole ``level_ms`` block heard since the last call:
        a voice over the agent can pause it before the VAD window it starts in has ended."""
        cfg = self.config.early_pause
        n = self._ms_to_samples(cfg.level_ms)
        if not (cfg.enabled and cfg.by_level):
            return []
        first, audio = self._total, None  # the recent audio, taken only while the agent talks
        events: list[Event] = []
        while self._total - self._level_pos >= n:
            start, self._level_pos = self._level_pos, self._level_pos + n
            t = self._time(start)
            agent = self._state != "speech" and not self._music_on and self.agent_speaking(t)
            if not agent:
                self._early.level(False, False)  # nothing to pause: a quiet block as far as it goes
                continue
            if audio is None:
                first, audio = self._audio_since(start)
            block = audio[max(0, start - first):start - first + n]
            db = level_db(block)
            loud = (db >= max(cfg.level_floor_db, self._acoustic.background_db + cfg.level_over_noise_db)
                    and self._echo.loud_over_echo(block, t, cfg.level_over_echo_db))
            if self._early.level(agent, loud) == START:
                self._maybe_trace = new_trace_id()
                events.append(self._event(VOICE_MAYBE, t, "", 0.0, {"state": START, "level_db": round(float(db), 1)},
                                          self._maybe_trace))
        return events

    def _maybe_end(self, at: int) -> Event:
        """No onset confirmed the open voice_maybe: the voice resumes."""
        trace, self._maybe_trace = self._maybe_trace or new_trace_id(), None
        return self._event(VOICE_MAYBE, self._time(at), "", 1.0,
                           {"state": END, "held_ms": round(self._early.held_ms)}, trace)

    def _turn_window(self, start: int, p: float, agent: bool, heard: bool) -> list[Event]:
        cfg = self.config
        threshold = max(cfg.vad_threshold, cfg.vad_threshold_busy) if agent or self._music_on else cfg.vad_threshold
        is_speech = p >= threshold
        is_silence = p < min(cfg.vad_release, threshold)
        if not heard:
            is_speech, is_silence = False, True  # what the canceller left of the agent's voice
        if is_speech:
            self._last_voice_ns, self._silence_sent = self._time(start + WINDOW), False
        if self._state == "idle":
            if is_speech:  # candidate onset; keep the pre-roll for the recogniser
                first, audio = self._audio_since(start - self._ms_to_samples(cfg.pre_roll_ms))
                self._run_start = max(self._run_start, first)
                trace = self._maybe_trace or new_trace_id()  # the maybe it would confirm
                self._utt = _Utterance(trace=trace, start=first, last_voice=start + WINDOW, audio=[audio])
                self._state, self._speech_windows, self._silence_ms = "candidate", 1, 0.0
                return self._maybe_confirm()
            if is_silence:
                self._run_start = start + WINDOW  # earliest start of a future speech-ish run
            return []
        utt = self._utt
        assert utt is not None
        if is_speech:
            self._speech_windows += 1
            utt.last_voice = start + WINDOW
            self._silence_ms = 0.0
        elif is_silence:
            self._silence_ms += self._win_ms
        if self._state == "candidate":
            if self._silence_ms > 0:  # too short: a click or breath
                self._state, self._utt, self._run_start = "idle", None, start + WINDOW
                return []
            return self._maybe_confirm()
        return []

    def _maybe_confirm(self) -> list[Event]:
        if self._speech_windows * self._win_ms < self.config.min_speech_ms:
            return []
        utt = self._utt
        assert utt is not None
        self._state = "speech"
        utt.onset = self._run_start  # start of the run of windows above the release threshold
        utt.next_fragment = self._total  # a first partial right away
        onset_ns = self._time(utt.onset)
        utt.agent_overlap = self.agent_speaking(onset_ns)
        payload: dict[str, object] = {"onset_ns": onset_ns, "agent_speaking": utt.agent_overlap}
        last = self._last_turn
        if (last is not None and not utt.agent_overlap
                and (utt.onset - last[2]) * 1000 / RATE <= self.config.continuation_ms):
            utt.continues = (last[0], last[1])
            payload["continues"] = last[0]
        return [self._event(SPEECH_START, onset_ns, "", 1.0, payload, utt.trace)]

    def _judge_end(self, utt: _Utterance, *, forced: bool, reason: str = "", wait: bool = False) -> list[Event]:
        """Final transcript at a pause → end of turn, backchannel/noise, or keep listening
        (or nothing yet, while the final is being decoded)."""
        cfg = self.config
        tr = self._final(utt, wait)
        if tr is None:
            return []
        events: list[Event] = []
        overlap = utt.agent_overlap and not utt.interrupted
        voiced_ms = (utt.last_voice - utt.onset) * 1000.0 / RATE
        # Over the agent's voice, a short sound Whisper is unsure of (a mumble, "mm") does not
        # take the turn: dropping the words is cheaper than cutting the agent off wrongly.
        mumble = (overlap and voiced_ms < cfg.interrupt_after_ms and tr.confidence < cfg.min_interrupt_confidence
                  and not turns.is_interjection(tr.text) and not turns.is_backchannel(tr.text))
        text = "" if mumble else tr.text
        if text and overlap and not turns.is_backchannel(text):
            events.append(self._interrupt(utt, text, tr.confidence, "words"))
        long_pause = self._silence_ms >= cfg.end_silence_ms
        # no words, or an acknowledgement over the agent's voice, end the utterance at once
        done = forced or long_pause or not text or (overlap and turns.is_backchannel(text))
        if not (done or turns.turn_complete(text)):
            return events
        reason = reason or ("max_length" if forced else "silence" if long_pause else "complete")
        self._state, self._utt, self._run_start = "idle", None, self._vad_pos
        self._silence_ms = 0.0
        onset_ns, offset_ns = self._time(utt.onset), self._time(utt.last_voice)
        payload: dict[str, object] = {"onset_ns": onset_ns, "offset_ns": offset_ns, "end_reason": reason,
                                      "no_speech_prob": round(tr.no_speech_prob, 3),
                                      "decode_ms": round(tr.decode_ms, 1), "agent_speaking": utt.agent_overlap}
        if not text:  # the VAD fired on something that is not (clear) speech
            kind, conf = segment_kind(self._voiced_audio(utt))
            payload.update(source="transient", kind=kind, heard=tr.text)
            return events + [self._event(NOISE, offset_ns, "", conf, payload, utt.trace)]
        if overlap and turns.is_backchannel(text):
            return events + [self._event(BACKCHANNEL, offset_ns, text, tr.confidence, payload, utt.trace)]
        alternatives = list(tr.alternatives)
        if utt.continues is not None:  # the rest of a sentence cut by a pause: say it whole
            payload["revises"] = utt.continues[0]
            head = utt.continues[1].rstrip('.!? ')
            text, alternatives = f"{head} {text}", [f"{head} {a}" for a in alternatives]
        if alternatives:
            payload["alternatives"] = alternatives
        self._last_turn = (utt.trace, text, utt.last_voice)
        self._turn_audio = (utt.trace, self._voiced_audio(utt))
        return events + [self._event(SPEECH_END, offset_ns, text, tr.confidence, payload, utt.trace)]

    def _final(self, utt: _Utterance, wait: bool = False) -> Transcript | None:
        """The whole utterance decoded, once per pause (speech resuming makes it stale); None
        while it is being decoded, or while a partial's decode is still in flight."""
        if utt.final is None or utt.final[0] != utt.last_voice:
            if not self._recognition.busy:
                end = min(self._total, utt.last_voice + self._ms_to_samples(self.config.post_roll_ms))
                self._submit(FINAL, utt, utt.last_voice, end, self.config.n_best)
            if wait:
                self._recognition.wait()
            if self._recognition.finished(FINAL):
                self._collect()
        return utt.final[1] if utt.final is not None and utt.final[0] == utt.last_voice else None

    def _submit(self, kind: str, utt: _Utterance, key: int, end: int, n_best: int) -> None:
        cfg = self.config
        self._recognition.submit(kind, utt, key, self._utterance_audio(utt, end), cfg.bias_words, cfg.bias_prompt,
                                 n_best)

    def _collect(self) -> list[Event]:
        """Take a finished decode: a final is kept for the judgement; a partial goes out as a
        ``speech_fragment`` (and an interrupt, when its words claim the turn over the agent)."""
        job = self._recognition.take()
        if job is None:
            return []
        tr = job.transcript()
        utt = job.owner
        if utt is not self._utt or self._state != "speech":
            return []  # the utterance ended (or the stream was reset) while it was decoded
        assert isinstance(utt, _Utterance)
        if job.kind == FINAL:
            utt.final = (job.key, tr)
            return []
        if not tr.text or tr.text == utt.last_partial:
            return []
        cfg = self.config
        utt.last_partial = tr.text
        events = [self._event(SPEECH_FRAGMENT, self._time(job.key), tr.text, tr.confidence,
                              {"partial": True, "decode_ms": round(tr.decode_ms, 1)}, utt.trace)]
        if (utt.agent_overlap and not utt.interrupted and turns.claims_turn(tr.text)
                and (tr.confidence >= cfg.min_interrupt_confidence or turns.is_interjection(tr.text))):
            events.append(self._interrupt(utt, tr.text, tr.confidence, "words"))
        return events

    def _tail_quiet(self) -> bool:
        """Is the audio since the VAD let go really quiet? Silero scores soft word endings
        (a trailing nasal, a synthetic voice's tail) as silence; judging the turn there cuts
        the last word off."""
        n = self._ms_to_samples(self.config.eot_probe_ms / 2)
        tail = self._utterance_audio(self._utt, self._total)[-n:] if self._utt else None
        if tail is None or not len(tail):
            return True
        return level_db(tail) < max(self._acoustic.background_db + 10.0, self.config.quiet_db)

    def _interrupt(self, utt: _Utterance, text: str, confidence: float, why: str) -> Event:
        utt.interrupted = True
        return self._event(INTERRUPT, self._time(self._total), text, confidence,
                           {"reason": why, "onset_ns": self._time(utt.onset)}, utt.trace)

    # ---- echo alignment ------------------------------------------------------------------------
    # ---- scene: acoustic events and the silence hint ----------------------------------------
    def _scene(self, x: np.ndarray) -> list[Event]:
        events: list[Event] = []
        # the agent's voice (or what the canceller left of it) is not room background either
        voice = self._state != "idle" or self.agent_speaking()
        for det in self._acoustic.process(x, speech=voice):
            if det.kind == "music":
                self._music_on = det.payload.get("state") != "end"
            payload = {"source": "acoustic", **det.payload}
            events.append(Event(type=det.kind, stamp_ns=self._time(det.sample), confidence=det.confidence,
                                source=SOURCE, payload=payload))
        now = self._time(self._total)
        if self._echo.played(now, WINDOW):
            self._last_voice_ns, self._silence_sent = now, False
        if self._last_voice_ns is None:
            self._last_voice_ns = self._time(0)
        quiet_s = (now - self._last_voice_ns) / 1e9
        hint = self.config.silence_hint_s
        if hint > 0 and self._state == "idle" and quiet_s >= hint and not self._silence_sent:
            self._silence_sent = True
            events.append(Event(type=SILENCE, stamp_ns=now, text=f"no voice for {hint:g} seconds",
                                source=SOURCE, payload={"seconds": round(quiet_s, 2)}))
        return events

    # ---- helpers -----------------------------------------------------------------------------
    def _clipping(self, pcm: np.ndarray) -> list[Event]:
        """Over-driven input still gets processed, but someone should turn the gain down."""
        c = self._clip
        c[0] += int(np.count_nonzero(np.abs(pcm.astype(np.int32)) >= CLIP_LEVEL))
        c[1] += len(pcm)
        window = int(CLIP_REPORT_S * (self._in_rate or RATE))
        if c[1] < window // 5:  # judge over at least a second of audio
            return []
        fraction, c[0], c[1] = c[0] / c[1], 0, 0
        if fraction < 0.001 or (c[2] >= 0 and self._total - c[2] < CLIP_REPORT_S * RATE):
            return []
        c[2] = self._total
        return [Event(type=ERROR, stamp_ns=self._time(self._total), source=SOURCE,
                      text=f"microphone input is clipping ({fraction:.1%} of samples at full scale): "
                           "lower the input gain; recognition suffers",
                      payload={"severity": "warning", "clipped_fraction": round(fraction, 4)})]

    @staticmethod
    def _utterance_audio(utt: _Utterance, end: int) -> np.ndarray:
        """The utterance's audio from its first kept sample up to sample index ``end``."""
        if len(utt.audio) != 1:
            utt.audio = [np.concatenate(utt.audio)]
        return utt.audio[0][: max(1, end - utt.start)]

    def _voiced_audio(self, utt: _Utterance) -> np.ndarray:
        """Onset to the end of the last voiced window: what the VAD fired on."""
        audio = self._utterance_audio(utt, utt.last_voice)
        return audio[max(0, utt.onset - utt.start):]

    @staticmethod
    def _validate(frame: AudioFrame) -> np.ndarray:
        pcm = check_pcm(frame.samples, "AudioFrame.samples")
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
        # keep the pre-roll plus one VAD window plus the VAD's pending samples
        self._history.append(x)
        self._history_len += len(x)
        keep = self._ms_to_samples(self.config.pre_roll_ms) + 2 * WINDOW + len(x)
        while self._history and self._history_len - len(self._history[0]) >= keep:
            self._history_len -= len(self._history.popleft())

    def _audio_since(self, index: int) -> tuple[int, np.ndarray]:
        """(first sample index, audio) from ``index`` (or the oldest kept sample) to now."""
        buf = np.concatenate(list(self._history))
        first = max(index, self._total - len(buf), 0)
        return first, buf[first - (self._total - len(buf)):]

    @staticmethod
    def _event(etype: str, stamp_ns: int, text: str, conf: float, payload: dict[str, object], trace: str) -> Event:
        return Event(type=etype, stamp_ns=stamp_ns, text=text, confidence=float(conf), source=SOURCE,
                     trace_id=trace, payload=dict(payload))
