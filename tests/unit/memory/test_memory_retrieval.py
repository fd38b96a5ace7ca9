"""Hybrid retrieval: escaped FTS queries, rank fusion, what only BM25 or only embeddings find, scopes, fallbacks."""
from __future__ import annotations

import numpy as np
import pytest

from seal_nodes.core.memory.retrieval import MAX_K, Retriever, fts_query, render
from seal_nodes.core.memory.store import Episode, Note, Store, contextual

pytestmark = pytest.mark.unit

T = 1_765_000_000 * 10**9
NOTES = {  # name: (user, note)
    "ana_bin": ("Ana", Note("preference", "Ana prefers the blue bin", "place", "stated", key="preference:blue bin")),
    "ana_office": ("Ana", Note("fact", "Ana's office is room 4", "question", "stated", key="fact:office")),
    "ana_push": ("Ana", Note("request", 'Ana asked "push the red cube left"; done: push the red cube left (succeeded)',
                             "push", "succeeded")),
    "grip": ("Ana", Note("failure", "pick up the green cube failed twice: slipped, fault QX-7731", "pick", "failed",
                         shared=True)),
    "bob_jazz": ("Bob", Note("preference", "Bob likes jazz while working", "conversation", "stated")),
    "bob_bin": ("Bob", Note("preference", "Bob prefers the red bin", "place", "stated")),
}


def _fill(store: Store, encoder) -> dict[str, int]:
    ids = {}
    for n, (name, (user, note)) in enumerate(NOTES.items()):
        at = T + n * 60 * 10**9
        episode = Episode(f"e{n}", user, at, at, note.task, note.outcome, "")
        vectors = None if encoder is None else encoder.encode_many([contextual(user, at, note)])
        ids[name] = store.save_episode(episode, [note], vectors)[0]
    return ids


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "memory.sqlite3")
    yield s
    s.close()


def _names(ids: dict[str, int], hits) -> list[str]:
    back = {v: k for k, v in ids.items()}
    return [back[h.entry.id] for h in hits]


# --- escaping --------------------------------------------------------------------------------
@pytest.mark.parametrize("text,expression", [
    ("blue bin", '"blue" OR "bin"'),
    ('the "blue" bin*', '"blue" OR "bin"'),
    ("NEAR(blue bin, 2) AND NOT red OR x:y", '"near" OR "blue" OR "bin" OR "2" OR "not" OR "red" OR "x" OR "y"'),
    ("the of a", '"the" OR "of" OR "a"'),  # only stopwords: they are all there is
    ("", ""), ("  ***  ", ""), ('"', ""), ("^-(){}[]:", ""),
    ("café naïve", '"café" OR "naïve"'),
])
def test_fts_query_makes_every_word_a_plain_term(text, expression):
    assert fts_query(text) == expression


def test_fts_query_is_bounded():
    assert fts_query(" ".join(f"w{n}" for n in range(100))).count(" OR ") == 15


ODD = ['"', '""', "'", "*", "blue*", "NEAR", "NEAR(", "AND", "OR NOT", "(", ")", "{x}", "col:blue", "^blue",
       "-", "\x00", "🙂", "a" * 50_000, "   ", "\n\t", "SELECT * FROM entries; --", "bin' OR 1=1 --"]


@pytest.mark.parametrize("query", ODD)
def test_odd_queries_never_raise(store, concepts, query):
    _fill(store, concepts)
    r = Retriever(store, concepts)
    assert len(r.recall(query, user="Ana")) <= 5
    assert len(r.for_turn("Ana", query)) <= 5


def test_odd_arguments_never_raise(store, concepts):
    ids = _fill(store, concepts)
    r = Retriever(store, concepts)
    assert r.recall(None) == [] and r.recall("bin", k=0) == [] and r.recall("bin", k=-3) == []
    assert len(r.recall("bin", k=10**9)) <= MAX_K and len(r.recall("bin", k="7")) <= 7
    assert len(r.recall("bin office jazz slipped push cube", k="many")) == 5  # not a number: the default
    assert _names(ids, r.recall("slipped", user="nobody-we-know")) == ["grip"]  # the shared entries match
    assert r.recall(12345) == [] and r.for_turn(None, None) == []
    assert r.recall("bin", task=["place", ""]) and r.recall("bin", task="") and r.recall("bin", task=())


# --- fusion ----------------------------------------------------------------------------------
def test_rank_fusion_prefers_what_both_lists_found(store, concepts):
    ids = _fill(store, concepts)
    r = Retriever(store, concepts)
    a, b, c = ids["ana_bin"], ids["ana_office"], ids["grip"]
    hits = r._fuse({"bm25": [a, b], "vector": [c, b]}, 3)
    assert [h.entry.id for h in hits] == [b, c, a]  # a and c tie: the newer entry first
    assert hits[0].found_by == ("bm25", "vector") and hits[0].score == pytest.approx(2 / 62)
    assert hits[1].score == hits[2].score == pytest.approx(1 / 61) and hits[1].date == hits[1].entry.date
    assert r._fuse({"bm25": [999_999, a]}, 5)[0].entry.id == a  # an id deleted meanwhile is skipped


def test_a_known_users_own_entries_outrank_other_users_shared_ones(store, concepts):
    ids = _fill(store, concepts)
    note = Note("failure", "pick up the red cube failed once: slipped", "pick", "failed", shared=True)
    bob_slip = store.save_episode(Episode("e9", "Bob", T, T, "pick", "failed", ""), [note],
                                  concepts.encode_many([contextual("Bob", T, note)]))[0]
    r = Retriever(store, concepts)
    assert [h.entry.id for h in r._fuse({"bm25": [bob_slip, ids["ana_bin"]]}, 2)] == [bob_slip, ids["ana_bin"]]
    hits = r._fuse({"bm25": [bob_slip, ids["ana_bin"]]}, 2, user="Ana")
    assert [h.entry.id for h in hits] == [ids["ana_bin"], bob_slip] and hits[1].score == pytest.approx(0.5 / 61)
    assert [h.entry.id for h in r._fuse({"bm25": [ids["grip"], bob_slip]}, 2, user="Bob")] == [bob_slip, ids["grip"]]
    assert [h.entry.id for h in r.recall("slipped", user="Ana", k=2)][0] == ids["grip"]
    assert [h.entry.id for h in r.recall("slipped", user="Bob", k=2)][0] == bob_slip


def test_a_code_only_bm25_finds(store, concepts):
    ids = _fill(store, concepts)
    r = Retriever(store, concepts)
    hits = r.recall("QX-7731")
    assert _names(ids, hits) == ["grip"] and hits[0].found_by == ("bm25",)  # its embedding resembles nothing


def test_a_paraphrase_only_embeddings_find(store, concepts):
    ids = _fill(store, concepts)
    r = Retriever(store, concepts)
    assert r.bm25("which receptacle", "Ana") == []
    hits = r.recall("which receptacle", user="Ana")
    assert _names(ids, hits) == ["ana_bin"] and hits[0].found_by == ("vector",)


def test_minilm_finds_a_paraphrase_and_bm25_an_exact_code(store, minilm):
    ids = _fill(store, minilm)
    r = Retriever(store, minilm)
    assert r.bm25("which container does she favour", "Ana") == []
    assert _names(ids, r.recall("which container does she favour", user="Ana"))[0] == "ana_bin"
    assert _names(ids, r.recall("what songs does he enjoy", user="Bob"))[0] == "bob_jazz"
    hits = r.recall("QX-7731")
    assert _names(ids, hits)[0] == "grip" and "bm25" in hits[0].found_by


# --- scopes and fallbacks --------------------------------------------------------------------
def test_a_user_sees_their_entries_and_the_shared_ones_only(store, concepts):
    ids = _fill(store, concepts)
    r = Retriever(store, concepts)
    everything = "bin office jazz slipped push cube"
    assert set(_names(ids, r.recall(everything, user="Ana", k=10))) == {"ana_bin", "ana_office", "ana_push", "grip"}
    assert set(_names(ids, r.recall(everything, user="Bob", k=10))) == {"bob_jazz", "bob_bin", "grip"}
    assert set(_names(ids, r.recall(everything, k=10))) == set(NOTES)
    assert set(_names(ids, r.recall(everything, user="Ana", task="place", k=10))) == {"ana_bin"}
    assert set(_names(ids, r.recall(everything, task=("place", "pick"), k=10))) == {"ana_bin", "bob_bin", "grip"}


def test_for_turn_brings_the_users_preferences_whatever_they_say(store, concepts):
    ids = _fill(store, concepts)
    r = Retriever(store, concepts)
    hits = r.for_turn("Ana", "put it where I like", k=3)
    assert _names(ids, hits)[:2] == ["ana_office", "ana_bin"]  # profile, newest first
    assert all(h.found_by == ("profile",) for h in hits[:2])
    assert "bob_bin" not in _names(ids, r.for_turn("Ana", "the red bin", k=10))
    assert set(_names(ids, r.for_turn("Bob", "", k=10))) == {"bob_jazz", "bob_bin"}


class _BrokenEncoder:
    def encode(self, text: str) -> np.ndarray:
        raise RuntimeError("model not loaded")


class _WrongSizeEncoder:
    def encode(self, text: str) -> np.ndarray:
        return np.ones(7, dtype=np.float32)


@pytest.mark.parametrize("encoder", [_BrokenEncoder(), _WrongSizeEncoder()])
def test_a_failing_query_embedding_leaves_bm25(store, concepts, encoder):
    ids = _fill(store, concepts)
    r = Retriever(store, encoder)
    hits = r.recall("blue bin", user="Ana")
    assert _names(ids, hits)[0] == "ana_bin" and all(h.found_by == ("bm25",) for h in hits)
    assert r.last_problem.startswith("vector search skipped")


def test_without_an_encoder_or_embeddings_it_is_bm25(store):
    ids = _fill(store, None)
    assert _names(ids, Retriever(store).recall("office", user="Ana")) == ["ana_office"]
    assert _names(ids, Retriever(store, _WrongSizeEncoder()).recall("office", user="Ana")) == ["ana_office"]


def test_render_is_dated_and_bounded(store, concepts):
    _fill(store, concepts)
    hits = Retriever(store, concepts).for_turn("Ana", "bin", k=5)
    text = render(hits)
    assert text.splitlines()[0].startswith("- 2025-12-") and "Ana prefers the blue bin" in text
    assert len(render(hits, max_chars=60)) <= 60 and render([], 100) == ""
