"""Normalisation statistics, kept outside the network and shipped as JSON beside the ONNX file."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Normalizer:
    image_mean: np.ndarray  # [3], on 0..1 pixels
    image_std: np.ndarray
    proprio_mean: np.ndarray  # [PROPRIO_DIM]
    proprio_std: np.ndarray
    chunk_mean: np.ndarray  # [K, 4]
    chunk_std: np.ndarray
    aux_mean: np.ndarray  # [3]
    aux_std: np.ndarray

    @staticmethod
    def fit(data: dict[str, np.ndarray]) -> "Normalizer":
        img = data["image"][:: max(1, len(data["image"]) // 2000)].reshape(-1, 3) / 255.0
        has_target = data["color"] >= 0

        def ms(x: np.ndarray, axis: int = 0, floor: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
            return x.mean(axis=axis), np.maximum(x.std(axis=axis), floor)
        im, isd = ms(img)
        pm, psd = ms(data["proprio"])
        cm, csd = ms(data["chunk"], floor=5e-3)
        am, asd = ms(data["target"][has_target])
        return Normalizer(im, isd, pm, psd, cm, csd, am, asd)

    def image(self, img_u8: np.ndarray) -> np.ndarray:
        """[..., H, W, 3] uint8 -> [..., 3, H, W] float32."""
        x = (img_u8.astype(np.float32) / 255.0 - self.image_mean.astype(np.float32)) / self.image_std.astype(np.float32)
        return np.moveaxis(x, -1, -3)

    def proprio(self, p: np.ndarray) -> np.ndarray:
        return ((p - self.proprio_mean) / self.proprio_std).astype(np.float32)

    def chunk(self, c: np.ndarray) -> np.ndarray:
        return ((c - self.chunk_mean) / self.chunk_std).astype(np.float32)

    def unchunk(self, c: np.ndarray) -> np.ndarray:
        return c * self.chunk_std + self.chunk_mean

    def aux(self, a: np.ndarray) -> np.ndarray:
        return ((a - self.aux_mean) / self.aux_std).astype(np.float32)

    def unaux(self, a: np.ndarray) -> np.ndarray:
        return a * self.aux_std + self.aux_mean

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({k: np.asarray(v).tolist() for k, v in self.__dict__.items()}, indent=1))

    @staticmethod
    def load(path: str | Path) -> "Normalizer":
        raw = json.loads(Path(path).read_text())
        return Normalizer(**{k: np.array(v, dtype=np.float64) for k, v in raw.items()})
