import numpy as np
import pytest

from seal_nodes.bench.voices import format_table, identify, speaker, timbre

pytestmark = pytest.mark.unit


def test_speakers_ignore_the_rate_and_timbres_the_accent():
    assert speaker("espeak:en-gb@130") == speaker("espeak:en-gb@210") == "espeak:en-gb"
    assert speaker("piper:joe@0.85") == timbre("piper:joe@1.2") == "piper:joe"
    assert timbre("espeak:en-us@175") == timbre("espeak:en-gb-scotland@130") == "espeak+m1"
    assert timbre("espeak:en-us+f3@175") == "espeak+f3"


def test_identification_on_separable_clusters():
    rng = np.random.default_rng(0)
    names = np.repeat(["a", "b", "c"], 8)
    centres = {n: rng.normal(size=16) for n in "abc"}
    emb = np.stack([centres[n] + 0.5 * rng.normal(size=16) for n in names])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    conditions = np.array(["clean", "pink_5db"] * 12)
    r = identify(emb, names, conditions, splits=3, thresholds=(0.5, 0.99))
    assert r["speakers"] == ["a", "b", "c"] and r["trials"] == 3 * 3 * 5
    assert r["accuracy"]["all"] == r["accuracy"]["clean"] == r["accuracy"]["condition pink_5db"] == 1.0
    assert r["open_set"]["0.5"]["accepted"] == 1.0 and r["open_set"]["0.99"]["accepted"] == 0.0
    table = format_table({"model": "m", "items": 24, "seconds_mean": 2.0,
                          "by": {"voice": {"speakers": 3, "identification": r,
                                           "cosine": {"same_mean": 1, "same_p5": 1, "other_mean": 0,
                                                      "other_p95": 0, "other_max": 0}}},
                          "embed_2s_one_thread": {"median_ms": 1.0, "p95_ms": 2.0}, "load_ms": 3.0})
    assert "| all | 1.0 |" in table and "Speakers by voice" in table
