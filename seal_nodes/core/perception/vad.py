"""Silero VAD (v5/v6 ONNX) as a streaming speech-probability source, without torch."""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from seal_nodes.core.audio.frames import RATE

WINDOW = 512  # samples per model call at 16 kHz (32 ms); fixed by the model
CONTEXT = 64  # v5+ models expect the last 64 samples of the previous window prepended


def default_model_path() -> str:
    """Path of ``silero_vad.onnx`` inside the installed silero-vad package.

    The package is located with find_spec rather than imported: importing it pulls in torch.
    """
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("silero-vad package is not installed; cannot find silero_vad.onnx")
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "silero_vad.onnx")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Silero VAD model missing at {path}")
    return path


class SileroVad:
    """Speech probability per 32 ms window of 16 kHz mono audio.

    ``process`` accepts chunks of any length; leftovers are buffered until a full window exists.
    The model is recurrent: ``state`` (2x1x128) and the 64-sample context carry across windows,
    so one instance must see one contiguous stream; call ``reset`` between streams.
    """

    def __init__(self, model_path: str | None = None, threads: int = 1) -> None:
        import onnxruntime as ort  # local import: keeps `import seal_nodes.core.perception.vad` cheap

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(
            model_path or default_model_path(), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        names = {i.name for i in self._session.get_inputs()}
        if names != {"input", "state", "sr"}:  # v4 used h/c; this wrapper only speaks v5/v6
            raise RuntimeError(f"unexpected Silero VAD inputs {sorted(names)}; need a v5/v6 model")
        self._sr = np.array(RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget recurrent state, context and buffered samples."""
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    @property
    def buffered(self) -> int:
        """Samples received but not yet covered by a window."""
        return len(self._pending)

    def process(self, frame16k: np.ndarray) -> list[float]:
        """Feed 16 kHz samples (int16, or float in [-1, 1]); return one probability per completed window."""
        x = np.asarray(frame16k)
        if x.ndim != 1:
            raise ValueError(f"VAD expects 1-D audio, got shape {x.shape}")
        if x.dtype == np.int16:
            x = x.astype(np.float32) / 32768.0
        elif np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        else:
            raise ValueError(f"VAD expects int16 or float samples, got {x.dtype}")
        buf = np.concatenate((self._pending, x)) if len(self._pending) else x
        probs: list[float] = []
        n_full = len(buf) // WINDOW
        for k in range(n_full):
            probs.append(self._window(buf[k * WINDOW : (k + 1) * WINDOW]))
        self._pending = buf[n_full * WINDOW :].copy()
        return probs

    def _window(self, window: np.ndarray) -> float:
        inp = np.concatenate((self._context, window))[np.newaxis, :]
        out, self._state = self._session.run(None, {"input": inp, "state": self._state, "sr": self._sr})
        self._context = window[-CONTEXT:].copy()
        return float(out[0, 0])
