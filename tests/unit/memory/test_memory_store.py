"""The memory file: round trips, keyed replacement, scopes, renaming, forgetting, bad files, a kill mid-write."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seal_nodes.core.memory.store import SCHEMA_VERSION, Episode, Note, Store, StoreError, contextual, header

pytestmark = pytest.mark.unit

T = 1_765_000_000 * 10**9


def _episode(id_: str = "e1", user: str = "Ana", at: int = T, task: str = "place") -> Episode:
    return Episode(id_, user, at, at + 10**9, task, "succeeded", f"/tmp/{id_}.jsonl")


def _unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "memory.sqlite3")
    yield s
    s.close()


def test_round_trip_survives_reopening(tmp_path):
    path = tmp_path / "m" / "memory.sqlite3"
    s = Store(path)
    s.ensure_user("Ana")
    s.add_voiceprint("Ana", _unit(1, 0, 0))
    notes = [Note("preference", "Ana prefers the blue bin", "place", "stated", key="preference:the blue bin"),
             Note("failure", "pick up the green cube failed once: slipped", "pick", "failed", shared=True)]
    ids = s.save_episode(_episode(), notes, np.stack([_unit(1, 0, 0), _unit(0, 1, 0)]))
    s.close()

    s = Store(path)
    entries = s.entries(ids)
    assert [(e.user, e.kind, e.text, e.shared) for e in entries] == [
        ("Ana", "preference", "Ana prefers the blue bin", False),
        ("Ana", "failure", "pick up the green cube failed once: slipped", True)]
    assert entries[0].header == header("Ana", T + 10**9, "place", "stated") and entries[0].created_ns == T + 10**9
    assert entries[0].date.startswith("2025-12-")
    assert s.episodes("Ana") == [_episode()] and s.episodes("Bob") == []
    assert s.users() == [("Ana", False)]
    np.testing.assert_allclose(s.voiceprints()["Ana"], [_unit(1, 0, 0)])
    vec_ids, rows = s.vectors()
    assert list(vec_ids) == ids and rows.shape == (2, 3)
    assert s.match('"blue"') == [ids[0]]
    assert set(s.match('"ana"')) == set(ids)  # the header's name is indexed too
    s.close()


def test_file_is_wal_versioned_and_marked(store):
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_contextual_text_is_header_then_note():
    note = Note("fact", "Ana's office is room 4", "question", "stated")
    text = contextual("Ana", T, note)
    assert text.startswith("Ana, 2025-12-") and text.endswith("question, stated. Ana's office is room 4")


def test_a_keyed_note_replaces_the_earlier_one_in_both_indexes(store):
    first = store.save_episode(_episode(), [Note("failure", "pick failed once: slipped", "pick", "failed",
                                                 key="e1:failed:pick")], np.stack([_unit(1, 0)]))
    again = store.save_episode(_episode(), [Note("failure", "pick failed twice: dropped", "pick", "failed",
                                                 key="e1:failed:pick")], np.stack([_unit(0, 1)]))
    assert first == again and store.count() == 1
    assert store.entries(first)[0].text == "pick failed twice: dropped"
    assert store.match('"slipped"') == [] and store.match('"dropped"') == first
    ids, rows = store.vectors()
    np.testing.assert_allclose(rows, [_unit(0, 1)])


def test_unkeyed_notes_accumulate_and_a_note_without_embedding_is_text_only(store):
    store.save_episode(_episode(), [Note("request", "Ana asked to push the red cube", "push", "succeeded")])
    store.save_episode(_episode("e2"), [Note("request", "Ana asked to push the red cube", "push", "succeeded")],
                       np.stack([_unit(1, 1)]))
    assert store.count() == 2 and len(store.match('"push"')) == 2
    assert len(store.vectors()[0]) == 1


def test_scopes_user_and_task(store):
    a = store.save_episode(_episode("e1", "Ana"), [Note("preference", "Ana likes the blue bin", "place", "stated")],
                           np.stack([_unit(1, 0)]))
    b = store.save_episode(_episode("e2", "Bob"), [Note("preference", "Bob likes the red bin", "place", "stated")],
                           np.stack([_unit(1, 0)]))
    shared = store.save_episode(_episode("e3", "Bob", task="pick"),
                                [Note("failure", "pick of the bin failed once", "pick", "failed", shared=True)],
                                np.stack([_unit(1, 0)]))
    assert set(store.match('"bin"', user="Ana")) == set(a + shared)
    assert set(store.match('"bin"', user="Bob")) == set(b + shared)
    assert set(store.match('"bin"')) == set(a + b + shared)
    assert set(store.match('"bin"', tasks=("pick",))) == set(shared)
    assert set(store.vectors("Ana")[0]) == set(a + shared)
    assert set(store.vectors(None, ("place",))[0]) == set(a + b)
    assert store.latest("Bob", ("preference",), 5) == b


def test_vectors_see_what_another_connection_wrote(tmp_path):
    path = tmp_path / "memory.sqlite3"
    reader, writer = Store(path), Store(path)
    assert len(reader.vectors()[0]) == 0
    ids = writer.save_episode(_episode(), [Note("fact", "Ana's office is room 4", "question", "stated")],
                              np.stack([_unit(1, 0)]))
    assert list(reader.vectors()[0]) == ids
    writer.forget_user("Ana")
    assert len(reader.vectors()[0]) == 0
    reader.close()
    writer.close()


def test_forget_user_removes_rows_and_returns_raw_files(store):
    store.ensure_user("Ana")
    store.add_voiceprint("Ana", _unit(1, 0))
    store.save_episode(_episode("e1", "Ana"), [Note("fact", "Ana's office is room 4", "question", "stated")],
                       np.stack([_unit(1, 0)]))
    kept = store.save_episode(_episode("e2", "Bob"), [Note("fact", "Bob's office is room 5", "question", "stated")])
    assert store.forget_user("Ana") == ["/tmp/e1.jsonl"]
    assert store.match('"office"') == kept and store.users() == [] and store.voiceprints() == {}
    assert store.episodes() == [_episode("e2", "Bob")] and len(store.vectors()[0]) == 0


def test_rename_moves_a_guest_and_merges_keyed_entries(store):
    store.ensure_user("guest-1", guest=True)
    store.add_voiceprint("guest-1", _unit(1, 0))
    store.save_episode(_episode("e1", "guest-1"), [
        Note("preference", "guest-1 prefers the red bin", "place", "stated", key="preference:the red bin"),
        Note("fact", "guest-1's office is room 4", "question", "stated", key="fact:office")])
    mine = store.save_episode(_episode("e2", "Ana"), [
        Note("fact", "Ana's office is room 9", "question", "stated", key="fact:office")])
    moved = store.rename_user("guest-1", "Ana")
    assert [text.split(". ", 1)[0].split(",")[0] for _, text in moved] == ["Ana"]
    assert {e.text for e in store.entries(store.match('"office" OR "bin"', user="Ana"))} == {
        "guest-1 prefers the red bin", "Ana's office is room 9"}  # Ana's own fact won
    assert store.entries(mine)[0].text == "Ana's office is room 9"
    assert store.users() == [("Ana", False)] and list(store.voiceprints()) == ["Ana"]
    assert {e.user for e in store.episodes()} == {"Ana"}


def test_rename_of_one_episode_leaves_the_others(store):
    store.save_episode(_episode("e1", "someone"), [Note("request", "asked for the cube", "pick", "succeeded")])
    other = store.save_episode(_episode("e2", "someone"), [Note("request", "asked for a song", "question", "answered")])
    store.rename_user("someone", "Ana", episode="e1")
    assert store.entries(other)[0].user == "someone"
    assert [e.user for e in store.episodes()] == ["Ana", "someone"]


def test_set_embeddings_replaces_rows(store):
    ids = store.save_episode(_episode(), [Note("fact", "Ana's office is room 4", "question", "stated")],
                             np.stack([_unit(1, 0)]))
    store.set_embeddings(ids, np.stack([_unit(0, 1)]))
    np.testing.assert_allclose(store.vectors()[1], [_unit(0, 1)])
    with pytest.raises(ValueError, match="1 ids but 2"):
        store.set_embeddings(ids, np.stack([_unit(0, 1), _unit(1, 0)]))


def test_bad_input_is_refused_clearly(store, tmp_path):
    with pytest.raises(ValueError, match="2 notes but 1 embeddings"):
        store.save_episode(_episode(), [Note("fact", "a", "q", "s"), Note("fact", "b", "q", "s")],
                           np.stack([_unit(1, 0)]))
    assert store.count() == 0  # nothing half-written
    assert store.entries([]) == [] and store.entries([12345]) == []


def test_files_it_cannot_use_are_refused_with_the_way_out(tmp_path):
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="move it away"):
        Store(junk)
    other = tmp_path / "other.sqlite3"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not a SEAL memory"):
        Store(other)
    newer = tmp_path / "newer.sqlite3"
    Store(newer).close()
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer than this SEAL"):
        Store(newer)


_WRITER = """
import sys
import numpy as np
from seal_nodes.core.memory.store import Episode, Note, Store
store = Store(sys.argv[1])
n = store.count()
while True:
    n += 1
    notes = [Note("request", f"asked for cube {n} and {k}", "pick", "succeeded") for k in range(20)]
    store.save_episode(Episode(f"e{n}", "Ana", n, n, "pick", "succeeded", ""), notes,
                       np.ones((20, 8), dtype=np.float32))
    print(store.count(), flush=True)
"""


def test_a_writer_killed_mid_write_leaves_every_committed_entry(tmp_path):
    path = tmp_path / "memory.sqlite3"
    Store(path).close()
    repo = Path(__file__).resolve().parents[3]
    for _ in range(3):
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                                  cwd=repo)
        committed = [int(writer.stdout.readline()) for _ in range(5)][-1]
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        entries = db.execute("SELECT count(*) FROM entries").fetchone()[0]
        assert entries >= committed and entries % 20 == 0  # whole episodes only
        assert db.execute("SELECT count(*) FROM entries_fts").fetchone()[0] == entries
        db.close()
        store = Store(path)
        assert len(store.vectors()[0]) == entries
        store.close()
