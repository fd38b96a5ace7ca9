"""ONNX inference shared by the arm and mouse policies: the provider that really loads, bad input."""
from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """An observation the policy must not act on (wrong shape or type, NaN)."""


def open_weights(weights_dir: str | Path, files: tuple[str, ...], what: str, train_cmd: str) -> Path:
    """The weights folder, once every file in ``files`` is there; else a FileNotFoundError saying how to make them."""
    d = Path(weights_dir)
    missing = [f for f in files if not (d / f).exists()]
    if missing:
        raise FileNotFoundError(f"{what} weights missing in {d}: {missing} (run `{train_cmd}`)")
    return d


def pick_provider(path: Path, threads: int = 1):
    """An InferenceSession on the first provider that really loads (CUDA, else CPU).

    onnxruntime-gpu lists CUDA even where it cannot load (no GPU, no CUDA libraries) and then
    silently falls back, so the session's own provider list is what counts.
    """
    import onnxruntime as ort

    ort.set_default_logger_severity(4)  # a CUDA provider that cannot load is expected, not news
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads  # 1 by default: more threads than free cores make the latency tail worse
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    available = ort.get_available_providers()
    for provider in ("CUDAExecutionProvider", "CPUExecutionProvider"):
        if provider not in available:
            continue
        try:
            session = ort.InferenceSession(str(path), opts, providers=[provider])
        except Exception:  # noqa: BLE001 - a provider that fails to load is skipped
            continue
        if session.get_providers()[0] == provider:
            return session, provider
    raise RuntimeError(f"no onnxruntime provider could load {path} (available: {available})")
