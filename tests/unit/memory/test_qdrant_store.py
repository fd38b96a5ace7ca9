"""The memory with its vectors in Qdrant (local mode, no server): the same answers as the file's own
scan, scopes as filters, forgetting and renaming, reopening, dimension and failure handling."""
from __future__ import annotations

import socket

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from seal_nodes.core.memory.backends import make_store
from seal_nodes.core.memory.episodes import EpisodeRecorder
from seal_nodes.core.memory.qdrant import QdrantStore, QdrantStoreError
from seal_nodes.core.memory.retrieval import Retriever
from seal_nodes.core.memory.store import Episode, Note, Store, StoreError, contextual

pytestmark = pytest.mark.unit

T = 1_765_000_000 * 10**9
S = 10**9
NOTES = [  # (user, note)
    ("Ana", Note("preference", "Ana prefers the blue bin", "place", "stated", key="preference:blue bin")),
    ("Ana", Note("fact", "Ana's office is room 4", "question", "stated", key="fact:office")),
    ("Ana", Note("request", 'Ana asked "push the red cube left"; done', "push", "succeeded")),
    ("Ana", Note("failure", "pick up the green cube failed twice: slipped", "pick", "failed", shared=True)),
    ("Bob", Note("preference", "Bob likes jazz while working", "conversation", "stated")),
    ("Bob", Note("preference", "Bob prefers the red bin", "place", "stated")),
    ("Bob", Note("fact", "Bob's desk is by the window, near the azure container", "question", "stated")),
]
QUERIES = ["which container", "music", "where is the office", "grip problems", "blue bin", "trash"]


def _fill(store: Store, encoder, notes=NOTES) -> list[int]:
    ids = []
    for n, (user, note) in enumerate(notes):
        at = T + n * 60 * S
        episode = Episode(f"e{n}", user, at, at, note.task, note.outcome, "")
        vectors = None if encoder is None else encoder.encode_many([contextual(user, at, note)])
        ids += store.save_episode(episode, [note], vectors)
    return ids


class _OtherEncoder:
    """An encoder of another size than the stored rows'."""

    def encode(self, text: str) -> np.ndarray:
        return np.ones(3, dtype=np.float32) / np.sqrt(3)


@pytest.fixture
def qstore(tmp_path):
    s = QdrantStore(tmp_path / "memory.sqlite3", qdrant_path=tmp_path / "qdrant")
    yield s
    s.close()


def _points(store: QdrantStore, user: str | None = None) -> dict[int, dict]:
    scope = None if user is None else models.Filter(must=[models.FieldCondition(
        key="user", match=models.MatchValue(value=user))])
    found, _ = store.client.scroll(store.collection, scroll_filter=scope, limit=1000)
    return {int(p.id): p.payload for p in found}


# --- the same answers as the file's own scan ---------------------------------------------------
def test_recall_finds_what_the_sqlite_store_finds(tmp_path, qstore, concepts):
    plain = Store(tmp_path / "plain.sqlite3")
    try:
        assert _fill(plain, concepts) == _fill(qstore, concepts)
        for query in QUERIES:
            for user in (None, "Ana", "Bob"):
                expected = Retriever(plain, concepts).recall(query, user, k=5)
                got = Retriever(qstore, concepts).recall(query, user, k=5)
                assert [h.entry.id for h in got] == [h.entry.id for h in expected], (query, user)
                assert [h.found_by for h in got] == [h.found_by for h in expected], (query, user)
                q = concepts.encode(query)
                assert qstore.nearest(q, user, min_cosine=0.2) == plain.nearest(q, user, min_cosine=0.2)
        assert Retriever(qstore, concepts).recall("which container", "Bob")[0].entry.text.startswith("Bob's desk")
    finally:
        plain.close()
    assert not qstore.problems


def test_points_carry_the_scope_and_filters_apply_it(qstore, concepts):
    ids = _fill(qstore, concepts)
    assert _points(qstore)[ids[3]] == {"user": "Ana", "task": "pick", "shared": True, "entry": ids[3]}
    bin_ = concepts.encode("bin")
    assert set(qstore.nearest(bin_, "Ana", min_cosine=0.5)) == {ids[0]}
    assert set(qstore.nearest(bin_, "Bob", min_cosine=0.5)) == {ids[5], ids[6]}
    assert set(qstore.nearest(bin_, None, ("place",), min_cosine=0.5)) == {ids[0], ids[5]}
    assert qstore.nearest(concepts.encode("grip"), "Bob", min_cosine=0.5) == [ids[3]]  # shared: everyone's
    assert qstore.nearest(concepts.encode("grip"), "Bob", ("place",), min_cosine=0.5) == []
    assert len(qstore.nearest(bin_, limit=2)) == 2 and qstore.nearest(bin_, limit=0) == []
    vec_ids, rows = qstore.vectors("Ana")
    assert list(vec_ids) == ids[:4] and rows.shape == (4, 5)
    np.testing.assert_allclose(rows[0], concepts.encode(contextual("Ana", T, NOTES[0][1])), atol=1e-6)


def test_a_keyed_note_saved_without_an_embedding_takes_its_point_away(qstore, concepts):
    ids = _fill(qstore, concepts)
    note = Note("preference", "Ana prefers the azure bin", "place", "stated", key="preference:blue bin")
    assert qstore.save_episode(Episode("e9", "Ana", T, T, "place", "stated", ""), [note]) == [ids[0]]
    assert ids[0] not in _points(qstore) and ids[0] not in qstore.nearest(concepts.encode("bin"))


# --- forgetting, renaming, reopening -----------------------------------------------------------
def test_forget_user_removes_their_points(qstore, concepts):
    ids = _fill(qstore, concepts)
    qstore.forget_user("Ana")
    assert set(_points(qstore)) == set(ids[4:])
    assert qstore.nearest(concepts.encode("grip"), min_cosine=0.5) == []  # her shared entry went too
    assert qstore.entries(ids[:4]) == []


def test_rename_user_moves_their_points(qstore, concepts):
    notes = [("guest-1", Note("preference", "guest-1 prefers the blue bin", "place", "stated", key="preference:bin")),
             ("guest-1", Note("preference", "guest-1 likes jazz", "conversation", "stated")),
             ("Cleo", Note("preference", "Cleo prefers the azure bin", "place", "stated", key="preference:bin"))]
    ids = _fill(qstore, concepts, notes)
    moved = qstore.rename_user("guest-1", "Cleo")
    assert [i for i, _ in moved] == [ids[1]]
    points = _points(qstore)
    assert ids[0] not in points  # the keyed twin: Cleo's own entry stays
    assert points[ids[1]]["user"] == "Cleo" and points[ids[2]]["user"] == "Cleo"
    assert qstore.nearest(concepts.encode("music"), "Cleo", min_cosine=0.5) == [ids[1]]
    assert qstore.nearest(concepts.encode("music"), "guest-1", min_cosine=0.5) == []
    assert qstore.rename_user("Cleo", "Cleo") == [] and _points(qstore)[ids[1]]["user"] == "Cleo"


def test_the_recorder_renames_and_reembeds_through_qdrant(qstore, tmp_path, concepts):
    rec = EpisodeRecorder(qstore, tmp_path, encoder=concepts)
    for e in [("speech_end", "I like jazz", "a"), ("turn_done", "", "a"), ("speech_end", "I'm Ana, by the way", "b"),
              ("turn_done", "", "b")]:
        rec.feed({"type": e[0], "stamp_ns": T, "text": e[1], "trace_id": e[2], "payload": {"outcome": "answered"}})
    rec.close()
    assert not rec.problems and not qstore.problems
    ids, rows = qstore.vectors("Ana")
    jazz = next(e for e in qstore.entries([int(i) for i in ids]) if e.text == "someone likes jazz")
    np.testing.assert_allclose(rows[list(ids).index(jazz.id)], concepts.encode(f"{jazz.header} {jazz.text}"),
                               atol=1e-6)
    assert _points(qstore)[jazz.id]["user"] == "Ana"


def test_reopening_the_local_folder_keeps_the_vectors(tmp_path, concepts):
    first = QdrantStore(tmp_path / "m.sqlite3", qdrant_path=tmp_path / "q")
    ids = _fill(first, concepts)
    first.close()
    raw = QdrantClient(path=str(tmp_path / "q"))  # the folder itself, without the file
    assert raw.count("seal_memory").count == len(ids)
    raw.close()
    again = QdrantStore(tmp_path / "m.sqlite3", qdrant_path=tmp_path / "q")
    try:
        assert set(again.nearest(concepts.encode("music"), "Bob", min_cosine=0.5)) == {ids[4]}
        assert not again.problems
    finally:
        again.close()


def test_a_file_without_a_collection_is_indexed_on_open(tmp_path, concepts):
    plain = Store(tmp_path / "m.sqlite3")
    ids = _fill(plain, concepts)
    plain.close()
    store = QdrantStore(tmp_path / "m.sqlite3", qdrant_path=tmp_path / "q", collection="robot_2")
    try:
        assert set(_points(store)) == set(ids)
        assert store.nearest(concepts.encode("music"), min_cosine=0.5) == [ids[4]]
    finally:
        store.close()


def test_an_import_is_indexed(tmp_path, qstore, concepts):
    plain = Store(tmp_path / "plain.sqlite3")
    try:
        _fill(plain, concepts)
        qstore.restore(plain.user_records(), plain.voiceprint_records(), plain.episodes(), plain.stored_entries())
    finally:
        plain.close()
    music = qstore.nearest(concepts.encode("music"), "Bob", min_cosine=0.5)
    assert [e.text for e in qstore.entries(music)] == ["Bob likes jazz while working"]
    assert len(_points(qstore)) == qstore.count() == len(NOTES) and not qstore.problems


def test_stores_of_one_process_share_a_local_folder(tmp_path, concepts):
    writer = QdrantStore(tmp_path / "m.sqlite3", qdrant_path=tmp_path / "q")
    reader = QdrantStore(tmp_path / "m.sqlite3", qdrant_path=tmp_path / "q")
    try:
        ids = _fill(writer, concepts)
        assert reader.nearest(concepts.encode("music"), min_cosine=0.5) == [ids[4]]
    finally:
        writer.close()
    assert reader.nearest(concepts.encode("music"), min_cosine=0.5) == [ids[4]]  # the folder stays open for it
    reader.close()


# --- sizes and failures ------------------------------------------------------------------------
def test_a_dimension_mismatch_is_a_clear_error(qstore, concepts):
    ids = _fill(qstore, concepts)
    with pytest.raises(ValueError, match="holds 5 values"):
        qstore.nearest(np.ones(3, dtype=np.float32) / np.sqrt(3))
    retriever = Retriever(qstore, _OtherEncoder())
    assert retriever.recall("blue bin", "Ana") and "holds 5 values" in retriever.last_problem  # BM25 answers
    with pytest.raises(ValueError, match=r"embeddings of \[3\] values"):
        qstore.set_embeddings([ids[0]], np.ones((1, 3), dtype=np.float32))
    assert ids[0] in _points(qstore)
    note = Note("fact", "Ana's desk is azure", "question", "stated", key="fact:office")
    assert qstore.save_episode(Episode("e9", "Ana", T, T, "question", "stated", ""), [note],
                               np.ones((1, 7), dtype=np.float32)) == [ids[1]]
    assert qstore.entries([ids[1]])[0].text == "Ana's desk is azure"  # the file has it
    assert ids[1] not in _points(qstore) and "not 5 finite values" in qstore.problems[-1]


def test_a_qdrant_failure_leaves_the_file_whole_and_sync_mends_it(qstore, concepts):
    ids = _fill(qstore, concepts)
    qstore.client.delete_collection(qstore.collection)  # the index lost under the store
    note = Note("preference", "Ana likes jazz", "conversation", "stated")
    new = qstore.save_episode(Episode("e9", "Ana", T, T, "conversation", "stated", ""), [note],
                              concepts.encode_many([contextual("Ana", T, note)]))
    assert qstore.entries(new)[0].text == "Ana likes jazz" and qstore.count() == len(ids) + 1
    assert "not indexed" in qstore.problems[-1] and "sync()" in qstore.problems[-1]
    assert qstore.match('"jazz"', "Ana") == new
    with pytest.raises(QdrantStoreError, match="search in local Qdrant"):
        qstore.nearest(concepts.encode("music"))
    assert qstore.sync() == len(ids) + 1
    assert qstore.nearest(concepts.encode("music"), "Ana", min_cosine=0.5) == new


def test_sync_drops_points_the_file_does_not_have(qstore, concepts):
    ids = _fill(qstore, concepts)
    qstore.client.upsert(qstore.collection, [models.PointStruct(id=999, vector=[1, 0, 0, 0, 0], payload={
        "user": "Ana", "task": "place", "shared": False, "entry": 999})])
    assert qstore.nearest(concepts.encode("bin"), "Ana", min_cosine=0.5) == [ids[0]]  # hits are checked
    qstore.sync()
    assert set(_points(qstore)) == set(ids)


def test_forget_fails_loud_and_whole_when_qdrant_is_gone(qstore, concepts):
    ids = _fill(qstore, concepts)
    qstore.client.close()
    with pytest.raises(QdrantStoreError, match="Ana not forgotten.*nothing was deleted"):
        qstore.forget_user("Ana")
    assert len(qstore.entries(ids)) == len(ids) and len(qstore.episodes("Ana")) == 4


def test_opening_refuses_what_it_cannot_use(tmp_path):
    with pytest.raises(ValueError, match="exactly one"):
        QdrantStore(tmp_path / "m.sqlite3")
    with pytest.raises(ValueError, match="exactly one"):
        QdrantStore(tmp_path / "m.sqlite3", url="http://localhost:6333", qdrant_path=tmp_path / "q")
    raw = QdrantClient(path=str(tmp_path / "q"))
    raw.create_collection("other", vectors_config=models.VectorParams(size=5, distance=models.Distance.EUCLID))
    raw.close()
    with pytest.raises(StoreError, match="not a SEAL memory index"):
        QdrantStore(tmp_path / "m.sqlite3", qdrant_path=tmp_path / "q", collection="other")
    store = QdrantStore(tmp_path / "m.sqlite3", qdrant_path=tmp_path / "q")  # the refused one let go of the folder
    store.close()


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreError, match=f"Qdrant http://127.0.0.1:{port} is not usable"):
        QdrantStore(tmp_path / "m.sqlite3", url=f"http://127.0.0.1:{port}", timeout_s=1.0)


def test_make_store_picks_the_backend(tmp_path):
    plain = make_store(tmp_path / "a.sqlite3")
    assert type(plain) is Store
    plain.close()
    local = make_store(tmp_path / "b.sqlite3", qdrant_path=tmp_path / "q", collection="b")
    assert isinstance(local, QdrantStore) and local.collection == "b"
    local.close()
    with pytest.raises(ValueError, match="exactly one"):
        make_store(tmp_path / "c.sqlite3", qdrant_url="http://localhost:6333", qdrant_path=tmp_path / "q")
