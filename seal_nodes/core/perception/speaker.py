"""Who is talking: a 256-d speaker embedding of one utterance (Resemblyzer's GE2E encoder).

The network and its weights are Resemblyzer's (``resemblyzer/pretrained.pt``, shipped in the
wheel, installed ``--no-deps``): 40 mel channels (25 ms window, 10 ms hop, 16 kHz) → a 3-layer
LSTM (256) → Linear → ReLU → L2-normalised. An utterance is cut into 1.6 s partials (1.3 a
second; a last one that covers under 75 % is dropped unless it is the only one), each
embedded, and the normalised mean is the utterance's embedding. Cosine = dot product.

The package itself is never imported (its ``__init__`` pulls librosa and webrtcvad): the
weights file is found with ``importlib.util.find_spec`` and the mel spectrogram is computed
here in numpy, the same as ``librosa.feature.melspectrogram`` with its defaults (periodic
Hann, centred frames padded with zeros, power 2, Slaney mel scale and area norm).
Resemblyzer's volume normalisation (up to -30 dBFS, never down) is kept; its webrtcvad
trimming of long pauses is not: utterances reach the encoder already cut by the VAD.
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from seal_nodes.core.audio.frames import RATE

PACKAGE = "resemblyzer"
MODEL = "resemblyzer-ge2e"  # names the embedding space: embeddings of other models do not compare
EMBED_DIM = 256
MIN_SECONDS = 0.3  # shorter audio gives no usable voice print
N_MELS = 40
N_FFT = RATE * 25 // 1000  # 25 ms window
HOP = RATE * 10 // 1000  # 10 ms hop
PARTIAL_FRAMES = 160  # 1.6 s per partial utterance
PARTIALS_PER_S = 1.3
MIN_COVERAGE = 0.75
TARGET_DBFS = -30.0
_INT16_MAX = 2**15 - 1  # Resemblyzer's level reference


def weights_path() -> Path:
    """``pretrained.pt`` inside the installed resemblyzer package (which is not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{PACKAGE} is not installed (pip install --no-deps resemblyzer==0.1.4)")
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
    if not path.is_file():
        raise FileNotFoundError(f"the speaker encoder's weights are missing: {path}")
    return path


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    step, log_step = 200.0 / 3, np.log(6.4) / 27.0
    return np.where(f >= 1000.0, 1000.0 / step + np.log(np.maximum(f, 1e-10) / 1000.0) / log_step, f / step)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    step, log_step = 200.0 / 3, np.log(6.4) / 27.0
    return np.where(m >= 1000.0 / step, 1000.0 * np.exp(log_step * (m - 1000.0 / step)), m * step)


def mel_filters() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) triangular filters, Slaney-normalised (librosa.filters.mel's defaults)."""
    fft_hz = np.fft.rfftfreq(N_FFT, 1.0 / RATE)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(RATE / 2), N_MELS + 2))
    ramps = edges[:, None] - fft_hz[None, :]
    widths = np.diff(edges)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


_MEL = mel_filters()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """(frames, N_MELS) power mel spectrogram of 16 kHz float audio, frame i centred on sample i * HOP."""
    padded = np.pad(wav.astype(np.float32), N_FFT // 2)
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:n_frames]
    power = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2
    return (power.astype(np.float32) @ _MEL.T).astype(np.float32)


def partial_slices(n_samples: int) -> list[slice]:
    """Mel-frame ranges of the partial utterances covering ``n_samples`` (Resemblyzer's rule)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round(RATE / PARTIALS_PER_S / HOP))
    starts = range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step)
    slices = [slice(s, s + PARTIAL_FRAMES) for s in starts]
    coverage = (n_samples - slices[-1].start * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(slices) > 1:
        slices.pop()
    return slices


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    """Band-limited (FFT) resampling of a whole utterance to RATE."""
    n_out = int(round(len(x) * RATE / rate))
    spectrum = np.fft.rfft(x)
    out = np.zeros(n_out // 2 + 1, dtype=spectrum.dtype)
    keep = min(len(out), len(spectrum))
    out[:keep] = spectrum[:keep]
    return np.fft.irfft(out, n_out) * (n_out / len(x))


def prepare(samples: np.ndarray, rate: int) -> np.ndarray:
    """Validated 16 kHz float32 audio in [-1, 1], raised to TARGET_DBFS if quieter."""
    if not isinstance(samples, np.ndarray) or samples.ndim != 1:
        desc = f"shape {samples.shape}" if isinstance(samples, np.ndarray) else type(samples).__name__
        raise ValueError(f"speaker embedding needs a 1-D array of samples, got {desc}")
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 4000 <= rate <= 192_000:
        raise ValueError(f"sample rate {rate!r} out of range 4000..192000 Hz")
    if samples.dtype == np.int16:
        x = samples.astype(np.float64) / 32768.0
    elif np.issubdtype(samples.dtype, np.floating):
        x = samples.astype(np.float64)
    else:
        raise ValueError(f"samples must be int16 or float, got {samples.dtype}")
    seconds = len(x) / rate
    if seconds < MIN_SECONDS:
        raise ValueError(f"{seconds:.2f} s of audio is too short for a speaker embedding (at least {MIN_SECONDS} s)")
    if not np.all(np.isfinite(x)):
        raise ValueError("audio contains NaN or infinite samples")
    if rate != RATE:
        x = _resample(x, int(rate))
    rms = np.sqrt(np.mean((x * _INT16_MAX) ** 2))
    if rms < 1.0:  # below one int16 step: nothing to normalise, no voice to describe
        raise ValueError("audio is silent: no voice to embed")
    gain_db = TARGET_DBFS - 20 * np.log10(rms / _INT16_MAX)
    if gain_db > 0:
        x = x * 10 ** (gain_db / 20)
    return x.astype(np.float32)


class SpeakerEncoder:
    """Lazy-loading speaker encoder; ``embed`` is safe to call from any thread (one at a time)."""

    def __init__(self, threads: int | None = 1, weights: Path | None = None) -> None:
        """``threads``: torch's intra-op threads, a process-wide setting applied at load: a
        node sharing the cores with perception and the voice wants 1; None leaves torch's
        setting alone. ``weights``: a ``pretrained.pt`` other than the installed one."""
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be a positive int or None, got {threads!r}")
        self._threads = threads
        self._weights = weights
        self._net: tuple[Any, Any] | None = None  # (lstm, linear)
        self._torch: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the weights now (the first ``embed`` does it otherwise)."""
        with self._lock:
            self._load()

    def _load(self) -> None:
        if self._net is not None:
            return
        import torch

        if self._threads is not None:
            torch.set_num_threads(self._threads)
        state = torch.load(self._weights or weights_path(), map_location="cpu", weights_only=True)["model_state"]
        lstm = torch.nn.LSTM(N_MELS, EMBED_DIM, num_layers=3, batch_first=True)
        linear = torch.nn.Linear(EMBED_DIM, EMBED_DIM)
        lstm.load_state_dict({k[len("lstm."):]: v for k, v in state.items() if k.startswith("lstm.")})
        linear.load_state_dict({k[len("linear."):]: v for k, v in state.items() if k.startswith("linear.")})
        self._torch, self._net = torch, (lstm.eval(), linear.eval())

    def embed(self, samples: np.ndarray, rate: int = RATE) -> np.ndarray:
        """(EMBED_DIM,) float32, unit length, of one utterance (int16 or float samples at
        ``rate``). Raises ValueError for audio that is not 1-D, too short, silent or not finite."""
        wav = prepare(samples, rate)
        slices = partial_slices(len(wav))
        end = slices[-1].stop * HOP
        if end >= len(wav):
            wav = np.pad(wav, (0, end - len(wav)))
        mel = mel_spectrogram(wav)
        batch = np.stack([mel[s] for s in slices])
        with self._lock:
            self._load()
            torch = self._torch
            lstm, linear = self._net  # type: ignore[misc]
            with torch.inference_mode():
                _, (hidden, _) = lstm(torch.from_numpy(batch))
                partials = torch.relu(linear(hidden[-1]))
                partials = partials / partials.norm(dim=1, keepdim=True)
                mean = partials.mean(dim=0).numpy().astype(np.float32)
        norm = float(np.linalg.norm(mean))
        if not np.isfinite(norm) or norm == 0.0:
            raise ValueError("the audio gave no speaker embedding (no voiced signal)")
        return mean / norm
