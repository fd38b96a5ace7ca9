"""Who is talking: names from what people say, voices matched by cosine, unknown voices as guests."""
from __future__ import annotations

import numpy as np
import pytest

from seal_nodes.core.memory.store import Store
from seal_nodes.core.memory.users import UserRegistry, canonical, name_from_text, split_introduction

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text,name", [
    ("I'm Ana", "Ana"), ("Hi, I'm Ana. Put the cube away.", "Ana"), ("I am Bartholomew", "Bartholomew"),
    ("my name is ana", "Ana"), ("My name's Li", "Li"), ("you can call me jo", "Jo"), ("This is Chen speaking", "Chen"),
    ("I'm Ana from accounting", "Ana"), ("hello there, my name is O'Brien", "O'brien"),
])
def test_names_people_give(text, name):
    assert name_from_text(text) == name


@pytest.mark.parametrize("text", [
    "I'm sorry", "I'm Sorry", "I'm going to the shop", "i'm ana", "I am tired", "this is great", "This is The end",
    "put the cube in the bin", "", "call me", "my name is", "I'm A bit lost", "This is Bob's cube", 42, None,
])
def test_not_names(text):
    assert name_from_text(text) is None


def test_canonical_names():
    assert canonical("  ana ") == "Ana" and canonical("mary ann") == "Mary Ann" and canonical("guest-3") == "guest-3"
    for bad in ("", "   ", "3po", "x" * 41, "a;drop"):
        with pytest.raises(ValueError, match="not a usable name"):
            canonical(bad)


def _voice(seed: int, dim: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=dim)


def _near(v: np.ndarray, seed: int, spread: float = 0.2) -> np.ndarray:
    """Another utterance of the same voice: the same direction, a little noise."""
    u = v / np.linalg.norm(v)
    return u + spread * np.random.default_rng(seed).normal(size=v.size) / np.sqrt(v.size)


@pytest.fixture
def registry(tmp_path):
    store = Store(tmp_path / "memory.sqlite3")
    yield UserRegistry(store, threshold=0.8)
    store.close()


def test_enrolled_voices_are_told_apart(registry):
    ana, bob = _voice(1), _voice(2)
    for n in range(3):
        registry.enroll("ana", _near(ana, 10 + n))
        registry.enroll("Bob", _near(bob, 20 + n))
    assert registry.names() == ["Ana", "Bob"]
    assert registry.identify(_near(ana, 99)) == "Ana" and registry.identify(_near(bob, 98)) == "Bob"
    scores = registry.scores(_near(ana, 97))
    assert scores["Ana"] > 0.9 > scores["Bob"]
    assert registry.identify(_voice(3)) is None  # a stranger


def test_unknown_voices_become_guests_who_are_recognised_later(registry):
    registry.enroll("Ana", _voice(1))
    stranger = _voice(5)
    first = registry.identify_or_guest(stranger)
    second = registry.identify_or_guest(_voice(6))
    assert (first, second) == ("guest-1", "guest-2")
    assert registry.identify_or_guest(_near(stranger, 7)) == "guest-1"
    assert ("guest-1", True) in registry.store.users()


def test_a_named_guest_keeps_their_voice(registry):
    stranger = _voice(5)
    guest = registry.identify_or_guest(stranger)
    registry.rename(guest, "cleo")
    assert registry.identify(_near(stranger, 8)) == "Cleo" and "guest-1" not in registry.names()


def test_voices_persist_in_the_store(tmp_path):
    store = Store(tmp_path / "memory.sqlite3")
    UserRegistry(store).enroll("Ana", _voice(1))
    store.close()
    store = Store(tmp_path / "memory.sqlite3")
    assert UserRegistry(store).identify(_near(_voice(1), 3)) == "Ana"
    store.close()


def test_bad_embeddings_are_refused_clearly(registry):
    registry.enroll("Ana", _voice(1, dim=16))
    with pytest.raises(ValueError, match="16"):
        registry.identify(_voice(1, dim=8))
    with pytest.raises(ValueError, match="zero or not finite"):
        registry.enroll("Bob", np.zeros(16))
    with pytest.raises(ValueError, match="zero or not finite"):
        registry.identify_or_guest(np.full(16, np.nan))
    with pytest.raises(ValueError, match="one non-empty vector"):
        registry.enroll("Bob", np.ones((2, 8)))
    assert registry.names() == ["Ana"]  # no guest made for a bad vector
    with pytest.raises(ValueError, match="threshold"):
        UserRegistry(registry.store, threshold=1.5)


def test_nobody_enrolled_identifies_nobody(registry):
    assert registry.identify(_voice(1)) is None and registry.scores(_voice(1)) == {}


@pytest.mark.parametrize("said, split", [
    ("Hi, I'm Ana My favourite cube is the blue one.", "Hi, I'm Ana. My favourite cube is the blue one."),
    ("my name is bob, pick up the red cube", "my name is bob. pick up the red cube"),
    ("Hi, I'm Ana.", "Hi, I'm Ana."),
    ("I'm sorry, pick it up", "I'm sorry, pick it up"),
])
def test_an_introduction_ends_its_sentence(said, split):
    assert split_introduction(said) == split
