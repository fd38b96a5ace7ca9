"""For the memory tests: MiniLM, a small concept encoder whose similarities are known, a recorded memory folder."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from seal_nodes.core.language.encoder import SentenceEncoder
from seal_nodes.core.memory import location
from seal_nodes.core.memory.episodes import EpisodeRecorder
from seal_nodes.core.memory.store import Store

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


# --- a recorded memory folder: two people's episodes, entries, raw files and a voiceprint --------
T0 = 1_765_000_000 * 10**9
PICK = "pick(object=green_cube)"


def _event(t: float, type_: str, text: str, trace: str, **payload) -> dict:
    return {"type": type_, "stamp_ns": T0 + int(t * 1e9), "text": text, "trace_id": trace, "source": "test",
            "payload": payload}


def _turn(t: float, trace: str, said: str, *between: dict, outcome: str = "answered", ok: tuple = ()) -> list[dict]:
    return [_event(t, "speech_end", said, trace), *between,
            _event(t + 3, "turn_done", "", trace, outcome=outcome, actions=[PICK] * len(ok), success=list(ok),
                   understood="")]


def _pick(t: float, trace: str, said: str, ok: bool, message: str) -> list[dict]:
    result = _event(t + 2, "action_result", message, trace, action=PICK, success=ok, canceled=False)
    return _turn(t, trace, said, result, outcome="acted", ok=(ok,))


def record_memory(folder: Path, encoder=None) -> None:
    """Ana's and Bob's episodes recorded into ``folder`` as the memory node would."""
    store = Store(location.store_path(folder))
    rec = EpisodeRecorder(store, folder, encoder=encoder, user="ana")
    rec.users.enroll("Ana", np.array([1.0, 0.5, 0.25], dtype=np.float32))
    said = _event(1, "agent_speech_end", "Noted, the blue bin.", "a1")
    for e in [*_turn(0, "a1", "Hello. I prefer the blue bin.", said),
              *_pick(10, "a2", "pick up the green cube", False, "slipped at the edge"),
              *_pick(20, "a3", "try again", True, "picked")]:
        rec.feed(e)
    rec.set_user("bob", T0 + 30 * 10**9)
    for e in [*_turn(40, "b1", "I like jazz music.", _event(41, "agent_speech_end", "Jazz it is.", "b1")),
              *_pick(50, "b2", "pick up the green cube", False, "blocked by the bowl")]:
        rec.feed(e)
    rec.close()
    store.close()


@pytest.fixture
def memory_dir(tmp_path, concepts) -> Path:
    folder = tmp_path / "memory"
    record_memory(folder, concepts)
    return folder


@pytest.fixture
def minilm_memory_dir(tmp_path, minilm) -> Path:
    folder = tmp_path / "memory"
    record_memory(folder, minilm)
    return folder
