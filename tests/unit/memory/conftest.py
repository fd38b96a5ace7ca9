"""Encoders for the memory tests: MiniLM itself, and a small concept encoder whose similarities are known."""
from __future__ import annotations

import re

import numpy as np
import pytest

from seal_nodes.core.language.encoder import SentenceEncoder

# Words that mean the same thing share a dimension; every other word adds nothing.
CONCEPTS = (
    ("bin", "bins", "container", "receptacle", "box", "trash"),
    ("jazz", "music", "songs", "melodies", "tune"),
    ("slipped", "slip", "slips", "grasp", "grip", "dropped"),
    ("office", "desk", "workplace"),
    ("blue", "azure"),
)


class ConceptEncoder:
    """Text → the unit vector of the concepts it names (zero when it names none)."""

    def encode(self, text: str) -> np.ndarray:
        v = np.zeros(len(CONCEPTS), dtype=np.float32)
        for word in re.findall(r"[a-z]+", text.lower()):
            for n, words in enumerate(CONCEPTS):
                v[n] += word in words
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def encode_many(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.encode(t) for t in texts]) if texts else np.zeros((0, len(CONCEPTS)), np.float32)


@pytest.fixture
def concepts() -> ConceptEncoder:
    return ConceptEncoder()


@pytest.fixture(scope="session")
def minilm() -> SentenceEncoder:
    return SentenceEncoder()
