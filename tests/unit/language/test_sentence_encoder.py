"""The MiniLM sentence encoder, batched: the same rows as one at a time, normalised and cached."""
from __future__ import annotations

import numpy as np
import pytest

from seal_nodes.core.language.encoder import EMBED_DIM, SentenceEncoder

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder()


def test_encode_many_matches_encode_row_by_row(encoder):
    texts = ["Could you grab the blue cube for me, please?", "go home", "put the red cube in the bin"]
    batch = encoder.encode_many(texts)
    single = SentenceEncoder()
    assert batch.shape == (3, EMBED_DIM) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    for row, text in zip(batch, texts):
        np.testing.assert_allclose(row, single.encode(text), atol=1e-5)


def test_encode_many_runs_only_texts_it_has_not_seen(encoder, monkeypatch):
    ran: list[list[str]] = []
    embed = encoder._embed
    monkeypatch.setattr(encoder, "_embed", lambda keys: (ran.append(list(keys)), embed(keys))[1])
    first = encoder.encode_many(["nudge the purple cube", "Nudge the purple cube.", "wave at me"])
    again = encoder.encode_many(["wave at me", "nudge the purple cube", "bow to me"])
    assert ran == [["nudge the purple cube", "wave at me"], ["bow to me"]]  # normalised, each once
    np.testing.assert_array_equal(first[0], first[1])
    np.testing.assert_array_equal(again[1], first[0])
    assert encoder.encode_many([]).shape == (0, EMBED_DIM)
    with pytest.raises(ValueError):
        encoder.encode_many(["fine", "  "])
