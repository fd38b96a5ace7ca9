"""espeak-ng (libespeak-ng.so.1, 1.51 API) through ctypes, as a streaming ``SpeechSynthesizer``.

The library is process-global and not thread-safe: one module-level binding, every call under
``_Espeak.lock``. Synthesis runs in AUDIO_OUTPUT_SYNCHRONOUS mode inside a worker thread whose
callback pushes PCM blocks to a queue, so the consumer gets the first block while the rest is
still being synthesized. Synthesis is far faster than real time, so the queue is unbounded: the
lock is released long before play-out ends (text length is capped).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import queue
import threading
from collections.abc import Callable, Iterator

import numpy as np

from seal_nodes.core.voice.speech_tags import SpeechPart
from seal_nodes.core.voice.stream import WordMark

# speak_lib.h constants
AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_DONT_EXIT = 0x8000  # otherwise the library may exit() the process on a data error
POS_CHARACTER = 1
CHARS_UTF8 = 1
SSML = 0x10
EVENT_LIST_TERMINATED, EVENT_WORD = 0, 1
PARAM_RATE, PARAM_VOLUME, PARAM_PITCH = 1, 2, 3
RATE_MIN, RATE_MAX = 80, 450
BUFFER_MS = 20  # callback granularity hint only: the library picks its own block size


class EspeakUnavailable(RuntimeError):
    """libespeak-ng could not be loaded or initialised."""


class EspeakEvent(ctypes.Structure):
    """``espeak_EVENT`` from speak_lib.h (espeak-ng 1.51)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters (not bytes) of the input
        ("length", ctypes.c_int),  # word length in characters
        ("audio_position", ctypes.c_int),  # ms
        ("sample", ctypes.c_int),  # sample index from the start of this espeak_Synth call
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_void_p),  # union {int number; const char *name; char string[8];}
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                  ctypes.POINTER(EspeakEvent))
# (pcm, [(text_position_0based, length, sample)]) -> True to abort
ChunkHandler = Callable[[np.ndarray, list[tuple[int, int, int]]], bool]


class _Espeak:
    lock = threading.Lock()

    def __init__(self) -> None:
        names = ["libespeak-ng.so.1", ctypes.util.find_library("espeak-ng")]
        lib = None
        for name in filter(None, names):
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if lib is None:
            raise EspeakUnavailable("libespeak-ng.so.1 not found (apt-get install libespeak-ng1)")
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Cancel.argtypes = []
        lib.espeak_Cancel.restype = ctypes.c_int
        self.lib = lib
        self.sample_rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, BUFFER_MS, None, INITIALIZE_DONT_EXIT)
        if self.sample_rate <= 0:
            raise EspeakUnavailable(f"espeak_Initialize failed ({self.sample_rate}); espeak-ng-data missing?")
        self._handler: ChunkHandler | None = None
        self._error: BaseException | None = None
        self._cb = _SynthCallback(self._callback)  # keep a reference: C holds only the pointer
        lib.espeak_SetSynthCallback(self._cb)

    def _callback(self, wav: ctypes._Pointer, n: int, events: ctypes._Pointer) -> int:
        handler = self._handler
        if handler is None:
            return 1
        try:
            pcm = np.ctypeslib.as_array(wav, shape=(n,)).copy() if n > 0 and wav else np.zeros(0, np.int16)
            words = []
            i = 0
            while events and events[i].type != EVENT_LIST_TERMINATED:
                ev = events[i]
                if ev.type == EVENT_WORD:
                    words.append((ev.text_position - 1, ev.length, ev.sample))
                i += 1
            return 1 if handler(pcm.astype(np.int16, copy=False), words) else 0
        except BaseException as exc:  # an exception must not unwind through C: abort, re-raise later
            self._error = exc
            return 1

    def set_voice(self, voice: str) -> None:
        """Caller holds ``lock``."""
        if self.lib.espeak_SetVoiceByName(voice.encode("utf-8")) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")

    def synth(self, text: str, rate: int, pitch: int, volume: int, voice: str, handler: ChunkHandler) -> None:
        """Synthesize ``text`` synchronously, feeding ``handler``; takes the lock."""
        data = text.encode("utf-8") + b"\0"
        with self.lock:
            self.set_voice(voice)
            self.lib.espeak_SetParameter(PARAM_RATE, rate, 0)
            self.lib.espeak_SetParameter(PARAM_PITCH, pitch, 0)
            self.lib.espeak_SetParameter(PARAM_VOLUME, volume, 0)
            self._handler, self._error = handler, None
            try:
                rc = self.lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
            finally:
                self._handler = None
                self.lib.espeak_Cancel()  # clears any state left by an aborted synthesis
            if self._error is not None:
                raise self._error
            if rc != 0:
                raise RuntimeError(f"espeak_Synth failed with code {rc}")


_lib: _Espeak | None = None
_lib_init = threading.Lock()


def _get_lib() -> _Espeak:
    global _lib
    with _lib_init:
        if _lib is None:
            _lib = _Espeak()
        return _lib


def espeak_available() -> bool:
    try:
        _get_lib()
        return True
    except EspeakUnavailable:
        return False


class _Done:
    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class EspeakSynthesizer:
    """Streaming espeak-ng synthesizer (22050 Hz mono int16). Instances share the one library."""

    def __init__(self, voice: str = "en-us", rate_wpm: int = 175, pitch: int = 50, volume: int = 100) -> None:
        if not RATE_MIN <= rate_wpm <= RATE_MAX:
            raise ValueError(f"rate_wpm {rate_wpm} outside {RATE_MIN}..{RATE_MAX}")
        if not 0 <= pitch <= 100:
            raise ValueError(f"pitch {pitch} outside 0..100")
        if not 0 <= volume <= 200:
            raise ValueError(f"volume {volume} outside 0..200")
        self._lib = _get_lib()
        with self._lib.lock:
            self._lib.set_voice(voice)  # fail at construction on an unknown voice
        self.voice, self.rate_wpm, self.pitch, self.volume = voice, rate_wpm, pitch, volume
        self.f0_hz = 118.0 * 2.0 ** ((pitch - 50) / 60.0)  # roughly the voice's mean pitch (non-verbal sounds)

    @property
    def sample_rate(self) -> int:
        return self._lib.sample_rate

    def synthesize(self, part: SpeechPart) -> Iterator[tuple[np.ndarray, list[WordMark]]]:
        """Yield PCM blocks as espeak produces them; closing the iterator aborts synthesis."""
        text = part.text
        rate = min(max(round(self.rate_wpm * part.rate_scale), RATE_MIN), RATE_MAX)
        pitch = min(max(self.pitch + part.pitch_offset, 0), 100)
        volume = min(max(round(self.volume * part.volume), 0), 200)
        out: queue.SimpleQueue[tuple[np.ndarray, list[WordMark]] | _Done] = queue.SimpleQueue()
        abort = threading.Event()

        def on_chunk(pcm: np.ndarray, words: list[tuple[int, int, int]]) -> bool:
            marks = []
            for pos, length, sample in words:
                pos = min(max(pos, 0), len(text))
                end = min(pos + max(length, 0), len(text))
                marks.append(WordMark(text[pos:end], max(sample, 0), pos, end))
            out.put((pcm, marks))
            return abort.is_set()

        def work() -> None:
            try:
                self._lib.synth(text, rate, pitch, volume, self.voice, on_chunk)
                out.put(_Done())
            except BaseException as exc:  # surfaced in the consumer thread
                out.put(_Done(exc))

        worker = threading.Thread(target=work, name="espeak-synth", daemon=True)
        worker.start()
        try:
            while True:
                item = out.get()
                if isinstance(item, _Done):
                    if item.error is not None:
                        raise item.error
                    return
                yield item
        finally:
            abort.set()
            worker.join()
