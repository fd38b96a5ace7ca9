"""Export and import: a lossless round trip, merging without duplicates, one user's part, refused files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seal_nodes.core.memory import location
from seal_nodes.core.memory.episodes import read_raw
from seal_nodes.core.memory.portable import FORMAT, VERSION, PortableError, export, import_
from seal_nodes.core.memory.store import Episode, Note, Store

pytestmark = pytest.mark.unit

T = 1_765_000_000 * 10**9


def _open(folder) -> Store:
    return Store(location.store_path(folder))


def _snapshot(store: Store) -> dict:
    """What the store holds, less what is local to a file (entry ids, raw paths)."""
    return {
        "users": store.user_records(),
        "voiceprints": [(v.user, v.vector.tolist(), v.created_ns) for v in store.voiceprint_records()],
        "episodes": [(e.id, e.user, e.started_ns, e.ended_ns, e.task, e.outcome) for e in store.episodes()],
        "entries": sorted((s.entry.user, s.entry.episode, s.entry.kind, s.key, s.entry.task, s.entry.outcome,
                           s.entry.shared, s.entry.text, s.entry.header, s.entry.created_ns,
                           None if s.embedding is None else s.embedding.tolist()) for s in store.stored_entries()),
    }


def _raw(store: Store) -> dict[str, list[str]]:
    return {e.id: Path(e.raw_path).read_text(encoding="utf-8").splitlines() for e in store.episodes()}


def test_export_then_import_is_lossless(memory_dir, tmp_path):
    dest, target = tmp_path / "out" / "memory.jsonl", tmp_path / "restored"
    with_source = _open(memory_dir)
    counts = export(with_source, memory_dir, dest)
    assert (counts.users, counts.voiceprints, counts.episodes, counts.raw_files) == (2, 1, 2, 2)
    assert counts.entries == with_source.count() and counts.raw_missing == 0
    head = json.loads(dest.read_text(encoding="utf-8").splitlines()[0])
    assert (head["format"], head["version"]) == (FORMAT, VERSION)

    store = _open(target)
    assert str(import_(store, target, dest)) == str(counts)
    assert _snapshot(store) == _snapshot(with_source)
    assert all(s.embedding is not None and s.embedding.dtype == np.float32 for s in store.stored_entries())
    assert _raw(store) == _raw(with_source)  # every line, byte for byte
    for episode in store.episodes():
        assert episode.raw_path.startswith(str(location.raw_dir(target).resolve()))
    source_ids = {s.entry.text: s.entry.id for s in with_source.stored_entries()}
    assert {s.entry.text for s in store.stored_entries()} == set(source_ids)
    assert store.match('"blue"') and len(store.vectors()[0]) == store.count()  # both indexes rebuilt
    with_source.close()
    store.close()


def test_importing_again_updates_instead_of_doubling(memory_dir, tmp_path):
    dest = tmp_path / "all.jsonl"
    store = _open(memory_dir)
    export(store, memory_dir, dest)
    before, files = _snapshot(store), sorted(location.raw_dir(memory_dir).iterdir())
    import_(store, memory_dir, dest)  # into the very memory it came from
    import_(store, memory_dir, dest)
    assert _snapshot(store) == before
    assert sorted(location.raw_dir(memory_dir).iterdir()) == files  # the same files rewritten, none added
    store.close()


def test_a_keyed_entry_is_replaced_only_by_a_newer_one(tmp_path):
    def one(folder, at: int, text: str) -> Store:
        store = _open(folder)
        store.ensure_user("Ana", now_ns=at)
        store.save_episode(Episode(f"e{at}", "Ana", at, at, "place", "stated", ""),
                           [Note("preference", text, "place", "stated", key="preference:bin")])
        return store

    old, new = one(tmp_path / "old", T, "Ana prefers the red bin"), one(tmp_path / "new", T + 10**9,
                                                                         "Ana prefers the blue bin")
    export(old, tmp_path / "old", tmp_path / "old.jsonl")
    export(new, tmp_path / "new", tmp_path / "new.jsonl")
    import_(new, tmp_path / "new", tmp_path / "old.jsonl")  # older: the newer one stays
    assert [s.entry.text for s in new.stored_entries()] == ["Ana prefers the blue bin"]
    import_(old, tmp_path / "old", tmp_path / "new.jsonl")  # newer: replaces, not added
    assert [s.entry.text for s in old.stored_entries()] == ["Ana prefers the blue bin"]
    assert old.match('"red"') == [] and len(old.match('"blue"')) == 1
    assert [(u.name, u.created_ns, u.last_seen_ns) for u in old.user_records()] == [("Ana", T, T + 10**9)]
    old.close()
    new.close()


def test_one_users_export_holds_only_theirs(memory_dir, tmp_path):
    store = _open(memory_dir)
    counts = export(store, memory_dir, tmp_path / "bob.jsonl", user="Bob")
    records = [json.loads(line) for line in (tmp_path / "bob.jsonl").read_text(encoding="utf-8").splitlines()[1:]]
    assert {r.get("user", r.get("name")) for r in records if r["type"] != "raw"} == {"Bob"}
    assert (counts.users, counts.voiceprints, counts.episodes, counts.raw_files) == (1, 0, 1, 1)
    assert counts.entries == len(store.stored_entries("Bob"))
    with pytest.raises(PortableError, match="nothing is stored about 'Carol'"):
        export(store, memory_dir, tmp_path / "carol.jsonl", user="Carol")
    assert not (tmp_path / "carol.jsonl").exists()
    store.close()


def test_a_missing_raw_file_is_counted_and_the_rows_still_go(memory_dir, tmp_path):
    store = _open(memory_dir)
    Path(store.episodes("Bob")[0].raw_path).unlink()
    counts = export(store, memory_dir, tmp_path / "x.jsonl")
    assert (counts.episodes, counts.raw_files, counts.raw_missing) == (2, 1, 1)
    target = _open(tmp_path / "t")
    import_(target, tmp_path / "t", tmp_path / "x.jsonl")
    assert [e.raw_path for e in target.episodes("Bob")] == [""]
    store.close()
    target.close()


HEADER = json.dumps({"format": FORMAT, "version": VERSION})
USER = json.dumps({"type": "user", "name": "Ana", "guest": False, "created_ns": 1, "last_seen_ns": 2})
EPISODE = json.dumps({"type": "episode", "id": "e1", "user": "Ana", "started_ns": 1, "ended_ns": 2, "task": "pick",
                      "outcome": "failed"})


@pytest.mark.parametrize("lines, why", [
    ([], "is empty"),
    (["SQLite format 3"], "not a SEAL memory export"),
    ([json.dumps({"format": "someone-else", "version": 1})], "not a SEAL memory export"),
    ([json.dumps({"format": FORMAT, "version": VERSION + 1})], f"newer than this SEAL's v{VERSION}"),
    ([json.dumps({"format": FORMAT, "version": "1"})], "is not a format version"),
    ([HEADER, USER, "{not json"], ":3: not a JSON record"),
    ([HEADER, json.dumps({"type": "table"})], "unknown record type 'table'"),
    ([HEADER, json.dumps({"type": "user", "name": "Ana", "guest": 0, "created_ns": 1, "last_seen_ns": 2})],
     "'guest' as true or false"),
    ([HEADER, USER, json.dumps({"type": "voiceprint", "user": "Ana", "created_ns": 1, "vector": "AAA"})],
     "not base64"),
    ([HEADER, json.dumps({"type": "voiceprint", "user": "Bob", "created_ns": 1, "vector": "AACAPw=="})],
     "'Bob', who has no user record"),
    ([HEADER, USER, EPISODE, json.dumps({"type": "raw", "episode": "e1", "name": "../../escape.jsonl",
                                         "lines": []})], "a plain name ending in .jsonl"),
    ([HEADER, json.dumps({"type": "raw", "episode": "e9", "name": "e9.jsonl", "lines": ["{}"]})],
     "episodes it does not hold"),
])
def test_a_foreign_newer_or_damaged_file_is_refused_and_nothing_written(tmp_path, lines, why):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    store = _open(tmp_path / "m")
    with pytest.raises(PortableError, match=why):
        import_(store, tmp_path / "m", src)
    assert (store.user_records(), store.episodes(), store.count()) == ([], [], 0)
    assert not (tmp_path / "m" / "episodes").exists() and not (tmp_path / "escape.jsonl").exists()
    store.close()


def test_a_binary_file_is_refused(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\xff\xfe\x00garbage")
    store = _open(tmp_path / "m")
    with pytest.raises(PortableError, match="not UTF-8"):
        import_(store, tmp_path / "m", src)
    store.close()


def test_a_raw_file_that_collides_with_another_episodes_gets_a_free_name(tmp_path):
    src = tmp_path / "in.jsonl"
    raw = json.dumps({"type": "raw", "episode": "e1", "name": "same.jsonl", "lines": ['{"episode": "e1"}']})
    src.write_text("\n".join([HEADER, USER, EPISODE, raw]) + "\n", encoding="utf-8")
    (tmp_path / "m" / "episodes").mkdir(parents=True)
    (tmp_path / "m" / "episodes" / "same.jsonl").write_text("someone else's\n", encoding="utf-8")
    store = _open(tmp_path / "m")
    import_(store, tmp_path / "m", src)
    path = store.episodes()[0].raw_path
    assert path.endswith("same-2.jsonl") and read_raw(path) == [{"episode": "e1"}]
    assert (tmp_path / "m" / "episodes" / "same.jsonl").read_text(encoding="utf-8") == "someone else's\n"
    store.close()
