"""Acoustic echo cancellation: the agent's own voice coming back through the microphone.

``EchoCanceller`` wraps the Speex MDF echo canceller (an adaptive multidelay block frequency
domain filter) and the Speex preprocessor's residual echo suppression, from Debian's
``libspeexdsp.so.1`` through ctypes, and ends with a non-linear gate (``_ResidualGate``): what
the linear filter and the preprocessor leave of the echo, Silero still hears as a voice; the
gate takes it down to the noise floor. ``ReferenceBuffer`` holds what the speaker played
(``/audio/speaker`` AudioChunks, stamped with their play-out time) so the reference for a
microphone block can be taken by time.

The filter models the echo path up to ``filter_ms`` (default 300 ms): acoustic delay plus
reverberation plus any offset between the speaker and microphone clocks must fit into it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from collections import deque

import numpy as np

from seal_nodes.core.audio.frames import RATE, StreamResampler, check_pcm

# speex_echo.h / speex_preprocess.h request codes
SPEEX_ECHO_SET_SAMPLING_RATE = 24
SPEEX_PREPROCESS_SET_DENOISE = 0
SPEEX_PREPROCESS_SET_NOISE_SUPPRESS = 18
SPEEX_PREPROCESS_SET_ECHO_SUPPRESS = 20
SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE = 22
SPEEX_PREPROCESS_SET_ECHO_STATE = 24
# Residual echo suppression only acts through the preprocessor's denoiser (with denoising off
# its gains are forced to 1), so the denoiser stays on but limited to -1 dB: the microphone's
# background (noise and music detection) must survive it, on top of what speex's DC notch takes
# below ~50 Hz; a deeper limit would take more of it and cost echo reduction too.
NOISE_SUPPRESS_DB = -1
ECHO_SUPPRESS_DB = -40  # residual echo attenuation while only the far end talks (speex default)
ECHO_SUPPRESS_ACTIVE_DB = -15  # ...and during double talk (speex default): keeps the user audible
_ACTIVE_LEVEL = 64  # |sample| above this (-54 dBFS) in the reference: the agent is audible
_PCM = ctypes.POINTER(ctypes.c_int16)


class EchoUnavailable(RuntimeError):
    """libspeexdsp is not installed."""


class EchoInputError(ValueError):
    """Bad audio or parameters for echo cancellation or the reference buffer."""


_lib: ctypes.CDLL | None = None


def _speexdsp() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise EchoUnavailable(
                f"cannot load libspeexdsp ({exc}); install the Debian/Ubuntu package libspeexdsp1 "
                "(apt-get install libspeexdsp1)") from exc
        lib.speex_echo_state_init.restype = ctypes.c_void_p
        lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
        lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p, _PCM, _PCM, _PCM]
        lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.speex_preprocess_state_init.restype = ctypes.c_void_p
        lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
        lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, _PCM]
        lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        _lib = lib
    return _lib


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


class EchoCanceller:
    """Speex MDF echo canceller (+ residual echo suppression) for mono int16 audio.

    ``process(mic, ref)`` takes equal-length blocks of any length: ``ref`` is what the speaker
    played at the time ``mic`` was captured. Output has the same length and lags the input by
    ``delay``: one frame (``frame_ms``) with residual suppression, which the Speex
    preprocessor's overlap-add analysis adds, and one more, from the first block that is not
    whole frames on, the price of accepting such blocks (10 ms in all at the defaults for 10 or
    20 ms microphone chunks; 20 ms for ragged ones).
    """

    def __init__(self, rate: int = RATE, frame_ms: int = 10, filter_ms: int = 300,
                 residual_suppression: bool = True) -> None:
        if not _is_int(rate) or not 8000 <= rate <= 48000:
            raise EchoInputError(f"rate must be an integer in 8000..48000 Hz, got {rate!r}")
        if not _is_int(frame_ms) or not 2 <= frame_ms <= 50 or (rate * frame_ms) % 1000:
            raise EchoInputError(f"frame_ms must be an integer in 2..50 giving whole samples at {rate} Hz, "
                                 f"got {frame_ms!r}")
        if not _is_int(filter_ms) or not frame_ms <= filter_ms <= 2000:
            raise EchoInputError(f"filter_ms must be an integer in frame_ms..2000, got {filter_ms!r}")
        self._lib = _speexdsp()
        self.rate, self.frame = int(rate), int(rate * frame_ms // 1000)
        self.filter_len = int(rate * filter_ms // 1000)
        self.residual_suppression = bool(residual_suppression)
        self._echo: int | None = None
        self._probe: int | None = None
        self._pre: int | None = None
        self._silence = np.zeros(self.frame, np.int16)
        self.reset()

    def _ctl(self, fn, st: int, request: int, value: int) -> None:
        v = ctypes.c_int(value)
        fn(st, request, ctypes.byref(v))

    def _destroy(self) -> None:
        if self._probe is not None:
            self._lib.speex_echo_state_destroy(self._probe)
            self._probe = None
        if self._pre is not None:
            self._lib.speex_preprocess_state_destroy(self._pre)
            self._pre = None
        if self._echo is not None:
            self._lib.speex_echo_state_destroy(self._echo)
            self._echo = None

    def reset(self) -> None:
        """Start over: a fresh adaptive filter (it re-converges in a few seconds of reference)."""
        self._destroy()
        lib = self._lib
        self._echo = lib.speex_echo_state_init(self.frame, self.filter_len)
        if not self._echo:
            raise EchoUnavailable("speex_echo_state_init failed")
        self._ctl(lib.speex_echo_ctl, self._echo, SPEEX_ECHO_SET_SAMPLING_RATE, self.rate)
        if self.residual_suppression:
            # The echo estimate is (mic as speex sees it) - (linear output); speex DC-notches the mic
            # first, which matters for hum and rumble, so a second state with a one-frame filter and a
            # silent far end supplies the notched mic exactly, whatever the library version does.
            self._probe = lib.speex_echo_state_init(self.frame, self.frame)
            if not self._probe:
                raise EchoUnavailable("speex_echo_state_init failed")
            self._ctl(lib.speex_echo_ctl, self._probe, SPEEX_ECHO_SET_SAMPLING_RATE, self.rate)
            self._pre = lib.speex_preprocess_state_init(self.frame, self.rate)
            if not self._pre:
                raise EchoUnavailable("speex_preprocess_state_init failed")
            lib.speex_preprocess_ctl(self._pre, SPEEX_PREPROCESS_SET_ECHO_STATE, ctypes.c_void_p(self._echo))
            for req, val in ((SPEEX_PREPROCESS_SET_DENOISE, 1),
                             (SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, NOISE_SUPPRESS_DB),
                             (SPEEX_PREPROCESS_SET_ECHO_SUPPRESS, ECHO_SUPPRESS_DB),
                             (SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE, ECHO_SUPPRESS_ACTIVE_DB)):
                self._ctl(lib.speex_preprocess_ctl, self._pre, req, val)
        self._gate = _ResidualGate(self.frame, self.rate) if self.residual_suppression else None
        self._mic_in = np.zeros(0, np.int16)
        self._ref_in = np.zeros(0, np.int16)
        # Output not yet returned. Blocks of whole frames (a 10 or 20 ms microphone chunk) come out
        # as they go in; the first block that is not gets one frame of lead-in, and from then on
        # every block size does (the delay grows by that frame, once).
        self._out = np.zeros(0, np.int16)
        self._lead_in = False
        self._stats: deque[tuple[float, float]] = deque(maxlen=max(1, self.rate // self.frame))  # ~1 s

    def __del__(self) -> None:
        try:
            self._destroy()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass

    @property
    def delay(self) -> int:
        """Samples by which the output lags the input: one frame with residual suppression (the
        preprocessor's overlap-add analysis), plus one frame of buffering once a block that was
        not whole frames came."""
        return self.frame * (int(self.residual_suppression) + int(self._lead_in))

    @property
    def echo_return_loss_db(self) -> float:
        """Echo return loss enhancement over the last second with the reference active:
        10·log10(mic energy / cleaned energy); 0.0 before the agent was heard."""
        if not self._stats:
            return 0.0
        mic = sum(s[0] for s in self._stats)
        out = sum(s[1] for s in self._stats)
        return float(10.0 * np.log10((mic + 1.0) / (out + 1.0)))

    def _stat(self, mic: np.ndarray, ref: np.ndarray, out: np.ndarray) -> None:
        """Energies of the frames where the agent was audible, for ``echo_return_loss_db``."""
        active = np.abs(ref.astype(np.int32)).max(axis=1) >= _ACTIVE_LEVEL
        if active.any():
            # the output lags by the preprocessor's frame; over ~1 s of frames that is noise
            m = mic[active].astype(np.float64)
            o = out[active].astype(np.float64)
            self._stats.extend(zip(np.einsum("ij,ij->i", m, m), np.einsum("ij,ij->i", o, o)))

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        """Cancel ``ref``'s echo from ``mic`` (equal-length int16 blocks); returns cleaned int16."""
        check_pcm(mic, "mic", EchoInputError)
        check_pcm(ref, "ref", EchoInputError)
        if len(mic) != len(ref):
            raise EchoInputError(f"mic and ref must have equal length, got {len(mic)} and {len(ref)}")
        self._mic_in = np.concatenate([self._mic_in, mic])
        self._ref_in = np.concatenate([self._ref_in, ref])
        n = len(self._mic_in) // self.frame
        if n:
            f = self.frame
            m = np.ascontiguousarray(self._mic_in[:n * f])
            r = np.ascontiguousarray(self._ref_in[:n * f])
            lin = np.empty(n * f, np.int16)  # the linear canceller's output
            out = np.empty(n * f, np.int16)
            notched = np.empty(n * f, np.int16)
            mp, rp, lp, op, pp = (a.ctypes.data for a in (m, r, lin, out, notched))
            silent = self._silence.ctypes.data_as(_PCM)
            for k in range(n):  # speex works on whole frames: pass pointers into the blocks
                at = 2 * k * f
                mic_k = ctypes.cast(mp + at, _PCM)
                self._lib.speex_echo_cancellation(self._echo, mic_k, ctypes.cast(rp + at, _PCM),
                                                  ctypes.cast(lp + at, _PCM))
                if self._pre is not None:
                    # the probe sees no far end: its output is the mic as speex conditions it
                    self._lib.speex_echo_cancellation(self._probe, mic_k, silent, ctypes.cast(pp + at, _PCM))
                    ctypes.memmove(op + at, lp + at, 2 * f)
                    self._lib.speex_preprocess_run(self._pre, ctypes.cast(op + at, _PCM))
            if self._gate is not None:
                est = (notched.astype(np.int32) - lin).astype(np.float64).reshape(n, f)  # the echo estimate
                out = self._gate.apply(np.einsum("ij,ij->i", est, est), out.reshape(n, f)).reshape(-1)
            else:
                out = lin
            self._stat(m.reshape(n, f), r.reshape(n, f), out.reshape(n, f))
            self._out = np.concatenate([self._out, out])
            self._mic_in = self._mic_in[n * f:]
            self._ref_in = self._ref_in[n * f:]
        if len(self._out) < len(mic):  # part of a frame is waiting for the next block
            self._out = np.concatenate([np.zeros(self.frame, np.int16), self._out])
            self._lead_in = True
        result, self._out = self._out[:len(mic)], self._out[len(mic):]
        return result


class _ResidualGate:
    """Non-linear processor: the last stage of residual echo suppression.

    Linear cancellation plus Speex's residual suppressor leave the echo quieter, but still a
    voice to Silero. Per frame this gate compares the output energy
    with what single talk leaves: the echo estimate's energy (held through the room's decay)
    times the typical residual ratio (median over the last 3 s of echo frames, so double talk
    does not inflate it). Output not clearly above that (``MARGIN_DB``) is the agent's own
    voice and is attenuated to ``FLOOR_DB``; a user talking over the agent is far above it and
    passes. Gains ramp across each frame (no clicks).
    """

    MARGIN_DB = 10.0
    FLOOR_DB = -40.0
    DECAY_DB_PER_S = 200.0  # how fast the held echo estimate falls (a ~0.3 s reverberation)

    def __init__(self, frame: int, rate: int) -> None:
        self.frame = frame
        self.decay = 10.0 ** (-self.DECAY_DB_PER_S * frame / rate / 10.0)
        self.beta = 10.0 ** (self.MARGIN_DB / 10.0)
        self.floor = 10.0 ** (self.FLOOR_DB / 20.0)
        self.active = frame * 30.0 ** 2  # echo estimate above ~-60 dBFS: the agent is audible
        self.ratios: deque[float] = deque(maxlen=3 * rate // frame)
        self.hold, self.gain, self.prev_est = 0.0, 1.0, 0.0
        self.ramp = (np.arange(frame) + 1.0) / frame

    def apply(self, est_energy: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``est_energy``: per-frame echo estimate energy; ``out``: (frames, frame) int16, one frame later."""
        # the preprocessor delays ``out`` by one frame: pair each output frame with the estimate before it
        est = np.concatenate(([self.prev_est], est_energy[:-1]))
        self.prev_est = float(est_energy[-1])
        x = out.astype(np.float64)
        energy = np.einsum("ij,ij->i", x, x)
        ratio = 10.0 ** float(np.median(self.ratios)) if len(self.ratios) >= 20 else 1.0
        for k in range(len(x)):
            self.hold = max(float(est[k]), self.hold * self.decay)
            if self.hold > self.active:
                self.ratios.append(float(np.log10((energy[k] + 1.0) / self.hold)))
            target = 1.0 - self.beta * ratio * self.hold / (energy[k] + 1.0)
            target = min(1.0, max(self.floor, target))
            x[k] *= self.gain + (target - self.gain) * self.ramp
            self.gain = target
        return np.clip(np.round(x), -32768, 32767).astype(np.int16)


class _Run:
    """One contiguous stretch of played audio, resampled to the buffer's rate."""

    def __init__(self, stamp_ns: int, rate: int, out_rate: int) -> None:
        self.start_ns, self.rate, self.out_rate = stamp_ns, rate, out_rate
        self.resampler = StreamResampler(rate, out_rate)
        self.n_in = 0  # input samples received
        self.offset = 0  # output-rate index of data[0] (older samples were dropped)
        self.data = np.zeros(0, np.int16)

    @property
    def next_ns(self) -> int:
        """Stamp the next contiguous input chunk would carry."""
        return self.start_ns + int(round(self.n_in * 1e9 / self.rate))

    @property
    def end_ns(self) -> int:
        return self.start_ns + int(round((self.offset + len(self.data)) * 1e9 / self.out_rate))


class ReferenceBuffer:
    """What the speaker played, by time: ``add`` AudioChunks, ``take`` the span a mic block covers.

    Chunks whose stamp continues the previous one (within ``CONTIGUOUS_NS``) at the same rate
    are resampled as one stream; anything else (a gap, a jump back, another rate) starts a new
    run. Where runs overlap the one added last wins. Audio older than ``keep_s`` before the
    newest played sample is dropped.
    """

    CONTIGUOUS_NS = 2_000_000  # 2 ms of stamp jitter still counts as the same stream

    def __init__(self, rate: int = RATE, keep_s: float = 5.0) -> None:
        if not _is_int(rate) or not 8000 <= rate <= 48000:
            raise EchoInputError(f"rate must be an integer in 8000..48000 Hz, got {rate!r}")
        if not isinstance(keep_s, (int, float)) or isinstance(keep_s, bool) or not 0.1 <= keep_s <= 600:
            raise EchoInputError(f"keep_s must be in 0.1..600 s, got {keep_s!r}")
        self.rate, self.keep_ns = int(rate), int(keep_s * 1e9)
        self._runs: list[_Run] = []  # in the order they were added (the last one wins on overlap)

    def add(self, pcm: np.ndarray, sample_rate: int, stamp_ns: int) -> None:
        """Store one played chunk (mono int16 at any rate; ``stamp_ns``: play-out time of its first sample)."""
        check_pcm(pcm, "pcm", EchoInputError)
        if not _is_int(sample_rate) or not 4000 <= sample_rate <= 192_000:
            raise EchoInputError(f"sample_rate must be an integer in 4000..192000 Hz, got {sample_rate!r}")
        if not _is_int(stamp_ns) or stamp_ns < 0:
            raise EchoInputError(f"stamp_ns must be a non-negative integer, got {stamp_ns!r}")
        run = next((r for r in reversed(self._runs) if r.rate == sample_rate
                    and abs(r.next_ns - stamp_ns) <= self.CONTIGUOUS_NS), None)
        if run is None:
            run = _Run(int(stamp_ns), int(sample_rate), self.rate)
        else:
            self._runs.remove(run)
        self._runs.append(run)
        run.n_in += len(pcm)
        run.data = np.concatenate([run.data, run.resampler.process(pcm)])
        self._prune()

    def _prune(self) -> None:
        newest = max(r.end_ns for r in self._runs)
        horizon = newest - self.keep_ns
        self._runs = [r for r in self._runs if r.end_ns > horizon]
        for r in self._runs:
            drop = int((horizon - r.start_ns) * self.rate // 1_000_000_000) - r.offset
            if drop > 0:
                r.data, r.offset = r.data[drop:], r.offset + drop

    @property
    def newest_ns(self) -> int | None:
        """Stamp just past the newest played sample (None before any)."""
        return max((r.end_ns for r in self._runs), default=None)

    def take(self, stamp_ns: int, n: int) -> np.ndarray:
        """``n`` int16 samples at the buffer's rate covering [stamp_ns, stamp_ns + n/rate);
        zeros where nothing was played."""
        if not _is_int(stamp_ns) or stamp_ns < 0:
            raise EchoInputError(f"stamp_ns must be a non-negative integer, got {stamp_ns!r}")
        if not _is_int(n) or not 0 <= n <= 60 * self.rate:
            raise EchoInputError(f"n must be an integer in 0..{60 * self.rate}, got {n!r}")
        out = np.zeros(int(n), np.int16)
        for r in self._runs:
            first = int(round((stamp_ns - r.start_ns) * self.rate / 1e9)) - r.offset  # index into r.data
            lo, hi = max(0, first), min(len(r.data), first + n)
            if hi > lo:
                out[lo - first:hi - first] = r.data[lo:hi]
        return out

    def active(self, stamp_ns: int, n: int) -> bool:
        """The agent was audible (above -54 dBFS) somewhere in that span."""
        x = self.take(stamp_ns, n)
        return bool(len(x) and np.abs(x.astype(np.int32)).max() >= _ACTIVE_LEVEL)
