"""The knowledge base on disk: one SQLite file holding users, voiceprints, episodes, entries and skills.

Entries (the summaries) are indexed twice, both times with a contextual header (who, when, what
task, what outcome) in front of the text, as Contextual Retrieval prescribes: in an FTS5 table
(BM25) and as float32 MiniLM rows in a BLOB column (a store opened with
``contextual_headers=False`` indexes the text alone: the benchmark's baseline). One file, WAL,
every write one transaction: a process killed mid-write leaves the last committed state. An
older file is upgraded as it is opened, every migration step in one transaction.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 2
APPLICATION_ID = 0x5345414D  # "SEAM": marks the file as a SEAL memory in the SQLite header

_SCHEMA = """
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    guest INTEGER NOT NULL DEFAULT 0,
    created_ns INTEGER NOT NULL,
    last_seen_ns INTEGER NOT NULL
);
CREATE TABLE voiceprints (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE ON UPDATE CASCADE,
    vector BLOB NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE TABLE episodes (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    started_ns INTEGER NOT NULL,
    ended_ns INTEGER NOT NULL,
    task TEXT NOT NULL,
    outcome TEXT NOT NULL,
    raw_path TEXT NOT NULL
);
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    episode TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    task TEXT NOT NULL,
    outcome TEXT NOT NULL,
    shared INTEGER NOT NULL,
    text TEXT NOT NULL,
    header TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    embedding BLOB
);
CREATE UNIQUE INDEX entries_key ON entries(user, key) WHERE key != '';
CREATE INDEX entries_user ON entries(user, kind, created_ns);
CREATE VIRTUAL TABLE entries_fts USING fts5(body, tokenize = 'porter unicode61 remove_diacritics 2');
"""
# What takes a file from version n - 1 to n; a new file is _SCHEMA (v1) and then every step.
_MIGRATIONS = {
    2: """
CREATE TABLE skills (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    json TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    successes INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    episode TEXT NOT NULL,
    embedding BLOB
);
CREATE VIRTUAL TABLE skills_fts USING fts5(body, tokenize = 'porter unicode61 remove_diacritics 2');
""",
}
_ENTRY_COLUMNS = "id, user, episode, kind, task, outcome, shared, text, header, created_ns"


class StoreError(RuntimeError):
    """The memory file cannot be used; the message says why and the way out."""


@dataclass(frozen=True)
class Note:
    """An entry to write: a summary line and what it is about."""

    kind: str  # preference | fact | request | failure | worked | summary
    text: str
    task: str  # the task type: an action name, "question" or "conversation"
    outcome: str
    key: str = ""  # a later note with the same user and key replaces this one (a count that grew)
    shared: bool = False  # robot experience (what failed, what worked): every user's search sees it


@dataclass(frozen=True)
class Entry:
    id: int
    user: str
    episode: str
    kind: str
    task: str
    outcome: str
    shared: bool
    text: str
    header: str
    created_ns: int

    @property
    def date(self) -> str:
        return format_date(self.created_ns)


@dataclass(frozen=True)
class Episode:
    id: str
    user: str
    started_ns: int
    ended_ns: int
    task: str
    outcome: str
    raw_path: str


@dataclass(frozen=True)
class User:
    name: str
    guest: bool
    created_ns: int
    last_seen_ns: int


@dataclass(frozen=True)
class Voiceprint:
    user: str
    vector: np.ndarray
    created_ns: int


@dataclass(frozen=True)
class StoredEntry:
    """An entry with what only export and import need: its key and its embedding (or None)."""

    entry: Entry
    key: str
    embedding: np.ndarray | None


@dataclass(frozen=True)
class SkillRow:
    """A stored skill: its JSON (``core/skills`` reads it) and the columns searches and lists need."""

    name: str
    json: str
    description: str
    status: str
    successes: int
    failures: int
    created_ns: int
    updated_ns: int
    episode: str


def format_date(stamp_ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp_ns / 1e9))


def header(user: str, stamp_ns: int, task: str, outcome: str) -> str:
    """The context every chunk carries into both indexes."""
    return f"{user}, {format_date(stamp_ns)[:10]}, {task}, {outcome}."


def contextual(user: str, stamp_ns: int, note: Note) -> str:
    """What is indexed and embedded for ``note``: its header, then its text."""
    return f"{header(user, stamp_ns, note.task, note.outcome)} {note.text}"


class _Vectors:
    """The embedded entries in memory, so a query scans one matrix instead of reading BLOBs."""

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.users = np.zeros(0, dtype=object)
        self.tasks = np.zeros(0, dtype=object)
        self.shared = np.zeros(0, dtype=bool)
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.pending: list[tuple[int, str, str, bool, np.ndarray]] = []

    def settle(self) -> None:
        """Fold pending rows in: an id already present is replaced, a new one appended."""
        rows, self.pending = self.pending, []
        if not rows:
            return
        if len(self.ids) == 0:
            self.matrix = np.zeros((0, rows[-1][4].shape[0]), dtype=np.float32)
        dim = self.matrix.shape[1]
        index = {int(i): n for n, i in enumerate(self.ids)}
        fresh = []
        for row in rows:
            if row[4].shape[0] != dim:  # another encoder's row: not comparable with the rest
                continue
            at = index.get(row[0])
            if at is None:
                fresh.append(row)
            else:
                self.users[at], self.tasks[at], self.shared[at], self.matrix[at] = row[1], row[2], row[3], row[4]
        if fresh:
            self.ids = np.concatenate([self.ids, np.array([r[0] for r in fresh], dtype=np.int64)])
            self.users = np.concatenate([self.users, np.array([r[1] for r in fresh], dtype=object)])
            self.tasks = np.concatenate([self.tasks, np.array([r[2] for r in fresh], dtype=object)])
            self.shared = np.concatenate([self.shared, np.array([r[3] for r in fresh], dtype=bool)])
            self.matrix = np.vstack([self.matrix, np.stack([r[4] for r in fresh])])


class Store:
    """The memory file. Thread-safe: one connection behind a lock (the recorder writes from a
    worker thread while retrieval reads)."""

    def __init__(self, path: str | Path, timeout_s: float = 5.0, contextual_headers: bool = True) -> None:
        self.path = Path(path)
        self.contextual_headers = contextual_headers
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), timeout=timeout_s, check_same_thread=False,
                                   isolation_level=None)
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{self.path} is not a usable SQLite file ({exc}); move it away to start "
                             "a new memory") from exc
        except StoreError:
            self._db.close()
            raise
        self._vectors: _Vectors | None = None
        self._seen_version = self._data_version()

    # --- opening ----------------------------------------------------------------------------
    def _marks(self) -> tuple[int, int, int]:
        """(application id, schema version, number of schema objects)."""
        db = self._db
        return (db.execute("PRAGMA application_id").fetchone()[0], db.execute("PRAGMA user_version").fetchone()[0],
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])

    def _open(self) -> None:
        db = self._db
        if self._marks() == (0, 0, 0):  # a new file (only then is its journal mode ours to set)
            db.execute("PRAGMA journal_mode = WAL")
            with self._transaction():
                if self._marks() == (0, 0, 0):  # not created by another process meanwhile
                    self._run(_SCHEMA)
                    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    self._upgrade(1)
        app, version, _ = self._marks()
        if app != APPLICATION_ID:
            raise StoreError(f"{self.path} is an SQLite file but not a SEAL memory; choose another path")
        elif version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has memory schema v{version}, newer than this SEAL's "
                             f"v{SCHEMA_VERSION}: upgrade SEAL, or export it with the newer one")
        elif version < SCHEMA_VERSION:
            self._migrate()
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")  # a committed episode survives power loss too
        db.execute("PRAGMA foreign_keys = ON")

    def _run(self, script: str) -> None:
        for statement in script.split(";"):
            if statement.strip():
                self._db.execute(statement)

    def _migrate(self) -> None:
        """Bring the file up to ``SCHEMA_VERSION``: every step or none (one transaction)."""
        found = self._marks()[1]
        try:
            with self._transaction():
                version = self._marks()[1]  # another process may have upgraded it meanwhile
                if version < 1:
                    raise StoreError(f"{self.path} has memory schema v{version} and no migration to "
                                     f"v{SCHEMA_VERSION} exists: export it with the SEAL that wrote it")
                if version < SCHEMA_VERSION:
                    self._upgrade(version)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path} has memory schema v{found}; upgrading it to v{SCHEMA_VERSION} failed "
                             f"({exc}) and left it as it was: make it writable, or export it with the SEAL that "
                             "wrote it") from exc

    def _upgrade(self, version: int) -> None:
        """Run the migration steps after ``version`` (inside the caller's transaction)."""
        for step in range(version + 1, SCHEMA_VERSION + 1):
            self._run(_MIGRATIONS[step])
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def indexed(self, head: str, text: str) -> str:
        """What both indexes hold for an entry: its header, then its text (the text alone
        without ``contextual_headers``)."""
        return f"{head} {text}" if self.contextual_headers else text

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _data_version(self) -> int:
        return self._db.execute("PRAGMA data_version").fetchone()[0]

    # --- users and voiceprints --------------------------------------------------------------
    def ensure_user(self, name: str, guest: bool = False, now_ns: int | None = None) -> None:
        """Add ``name`` if new; either way mark it seen now."""
        now = time.time_ns() if now_ns is None else now_ns
        with self._lock, self._transaction():
            self._db.execute("INSERT INTO users(name, guest, created_ns, last_seen_ns) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT(name) DO UPDATE SET last_seen_ns = excluded.last_seen_ns",
                             (name, int(guest), now, now))

    def users(self) -> list[tuple[str, bool]]:
        """(name, guest) of every user, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT name, guest FROM users ORDER BY created_ns, name").fetchall()
        return [(name, bool(guest)) for name, guest in rows]

    def add_voiceprint(self, user: str, vector: np.ndarray, now_ns: int | None = None, keep: int = 20) -> None:
        """Store one voice embedding of ``user`` (who must exist); only the newest ``keep`` stay."""
        now = time.time_ns() if now_ns is None else now_ns
        blob = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        with self._lock, self._transaction():
            self._db.execute("INSERT INTO voiceprints(user, vector, created_ns) VALUES (?, ?, ?)", (user, blob, now))
            self._db.execute("DELETE FROM voiceprints WHERE user = ? AND id NOT IN "
                             "(SELECT id FROM voiceprints WHERE user = ? ORDER BY id DESC LIMIT ?)", (user, user, keep))

    def voiceprints(self) -> dict[str, np.ndarray]:
        """Every user's stored voice embeddings, one row each."""
        with self._lock:
            rows = self._db.execute("SELECT user, vector FROM voiceprints ORDER BY id").fetchall()
        found: dict[str, list[np.ndarray]] = {}
        for user, blob in rows:
            found.setdefault(user, []).append(np.frombuffer(blob, dtype=np.float32))
        return {user: np.stack(vectors) for user, vectors in found.items()}

    def rename_user(self, old: str, new: str, episode: str | None = None,
                    now_ns: int | None = None) -> list[tuple[int, str]]:
        """``old``'s data becomes ``new``'s (a guest who said their name; merged if both exist):
        everything, or with ``episode`` that episode's entries only. The moved entries as
        (id, contextual text): their embeddings still carry the old name until ``set_embeddings``."""
        if old == new:
            return []
        self.ensure_user(new, now_ns=now_ns)
        where, args = ("user = ?", [old]) if episode is None else ("user = ? AND episode = ?", [old, episode])
        with self._lock, self._transaction():
            db = self._db
            if episode is None:
                db.execute("UPDATE voiceprints SET user = ? WHERE user = ?", (new, old))
                db.execute("UPDATE episodes SET user = ? WHERE user = ?", (new, old))
            else:
                db.execute("UPDATE episodes SET user = ? WHERE user = ? AND id = ?", (new, old, episode))
            # a keyed entry both have: the new user's own one stays
            doubled = [i for (i,) in db.execute(f"SELECT id FROM entries WHERE {where} AND key != '' AND key IN "
                                                "(SELECT key FROM entries WHERE user = ?)", [*args, new])]
            for entry_id in doubled:
                db.execute("DELETE FROM entries_fts WHERE rowid = ?", (entry_id,))
                db.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
            moved = db.execute(f"SELECT id, task, outcome, text, created_ns FROM entries WHERE {where}",
                               args).fetchall()
            out = []
            for entry_id, task, outcome, text, created in moved:
                head = header(new, created, task, outcome)
                db.execute("UPDATE entries SET user = ?, header = ? WHERE id = ?", (new, head, entry_id))
                db.execute("UPDATE entries_fts SET body = ? WHERE rowid = ?", (self.indexed(head, text), entry_id))
                out.append((entry_id, self.indexed(head, text)))
            if episode is None:
                db.execute("DELETE FROM users WHERE name = ?", (old,))
        self._vectors = None
        return out

    def set_embeddings(self, ids: list[int], embeddings: np.ndarray) -> None:
        """Replace the stored embeddings of entries ``ids`` (one row each)."""
        if len(ids) != len(embeddings):
            raise ValueError(f"{len(ids)} ids but {len(embeddings)} embeddings")
        with self._lock, self._transaction():
            for entry_id, row in zip(ids, embeddings):
                blob = np.ascontiguousarray(row, dtype=np.float32).tobytes()
                self._db.execute("UPDATE entries SET embedding = ? WHERE id = ?", (blob, entry_id))
        self._vectors = None

    def forget_user(self, name: str) -> list[str]:
        """Delete every trace of ``name`` from the file; the raw episode files it named, to delete too."""
        with self._lock, self._transaction():
            db = self._db
            paths = [p for (p,) in db.execute("SELECT raw_path FROM episodes WHERE user = ?", (name,))]
            db.execute("DELETE FROM entries_fts WHERE rowid IN (SELECT id FROM entries WHERE user = ?)", (name,))
            db.execute("DELETE FROM entries WHERE user = ?", (name,))
            db.execute("DELETE FROM episodes WHERE user = ?", (name,))
            db.execute("DELETE FROM users WHERE name = ?", (name,))
        self._vectors = None
        return paths

    # --- episodes and entries ---------------------------------------------------------------
    def save_episode(self, episode: Episode, notes: list[Note], embeddings: np.ndarray | None = None) -> list[int]:
        """Write (or update) ``episode`` and its ``notes`` in one transaction; the entry ids.

        ``embeddings``: one row per note of its ``contextual`` text, or None (the entries are
        then found by BM25 only)."""
        if embeddings is not None and len(embeddings) != len(notes):
            raise ValueError(f"{len(notes)} notes but {len(embeddings)} embeddings")
        user, stamp = episode.user, episode.ended_ns
        ids: list[int] = []
        with self._lock, self._transaction():
            db = self._db
            db.execute("INSERT INTO episodes VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                       "user = excluded.user, ended_ns = excluded.ended_ns, task = excluded.task, "
                       "outcome = excluded.outcome, raw_path = excluded.raw_path",
                       (episode.id, user, episode.started_ns, stamp, episode.task, episode.outcome, episode.raw_path))
            for n, note in enumerate(notes):
                head = header(user, stamp, note.task, note.outcome)
                vector = None if embeddings is None else np.ascontiguousarray(embeddings[n], dtype=np.float32)
                values = (user, episode.id, note.kind, note.key, note.task, note.outcome, int(note.shared),
                          note.text, head, stamp, None if vector is None else vector.tobytes())
                old = db.execute("SELECT id FROM entries WHERE user = ? AND key = ? AND key != ''",
                                 (user, note.key)).fetchone()
                if old is None:
                    entry_id = db.execute("INSERT INTO entries(user, episode, kind, key, task, outcome, shared, "
                                          "text, header, created_ns, embedding) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                                          values).lastrowid
                else:
                    entry_id = old[0]
                    db.execute("UPDATE entries SET user=?, episode=?, kind=?, key=?, task=?, outcome=?, shared=?, "
                               "text=?, header=?, created_ns=?, embedding=? WHERE id = ?", values + (entry_id,))
                    db.execute("DELETE FROM entries_fts WHERE rowid = ?", (entry_id,))
                db.execute("INSERT INTO entries_fts(rowid, body) VALUES (?, ?)",
                           (entry_id, self.indexed(head, note.text)))
                ids.append(entry_id)
                if vector is not None and self._vectors is not None:
                    self._vectors.pending.append((entry_id, user, note.task, note.shared, vector))
        self._seen_version = self._data_version()
        return ids

    def episodes(self, user: str | None = None) -> list[Episode]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM episodes WHERE ? IS NULL OR user = ? ORDER BY started_ns",
                                    (user, user)).fetchall()
        return [Episode(*row) for row in rows]

    def entries(self, ids: list[int]) -> list[Entry]:
        """The entries with ``ids``, in that order (ids no longer there are skipped)."""
        if not ids:
            return []
        with self._lock:
            rows = self._db.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE id IN "
                                    f"({','.join('?' * len(ids))})", list(ids)).fetchall()
        found = {row[0]: Entry(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8], row[9])
                 for row in rows}
        return [found[i] for i in ids if i in found]

    # --- whole rows, for export and import ------------------------------------------------------
    def user_records(self) -> list[User]:
        with self._lock:
            rows = self._db.execute("SELECT name, guest, created_ns, last_seen_ns FROM users "
                                    "ORDER BY created_ns, name").fetchall()
        return [User(n, bool(g), c, s) for n, g, c, s in rows]

    def voiceprint_records(self, user: str | None = None) -> list[Voiceprint]:
        with self._lock:
            rows = self._db.execute("SELECT user, vector, created_ns FROM voiceprints WHERE ? IS NULL OR user = ? "
                                    "ORDER BY id", (user, user)).fetchall()
        return [Voiceprint(u, np.frombuffer(b, dtype=np.float32), c) for u, b, c in rows]

    def stored_entries(self, user: str | None = None) -> list[StoredEntry]:
        """Every entry (``user``: theirs only, not the shared ones of others), oldest first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_ENTRY_COLUMNS}, key, embedding FROM entries WHERE ? IS NULL OR "
                                    "user = ? ORDER BY created_ns, id", (user, user)).fetchall()
        return [StoredEntry(Entry(*r[:6], bool(r[6]), *r[7:10]), r[10],
                            None if r[11] is None else np.frombuffer(r[11], dtype=np.float32)) for r in rows]

    def restore(self, users: list[User], voiceprints: list[Voiceprint], episodes: list[Episode],
                entries: list[StoredEntry]) -> None:
        """Write exported rows back in one transaction. A user merges (earliest created, latest
        seen); an episode replaces the one with its id; a voiceprint already there is not doubled;
        an entry replaces the one with its user and key (the newer stays), or an unkeyed twin
        (same user, episode, kind, text and time); ``entry.id`` is not kept: ids are this file's."""
        with self._lock, self._transaction():
            db = self._db
            for u in users:
                db.execute("INSERT INTO users VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                           "guest = min(guest, excluded.guest), created_ns = min(created_ns, excluded.created_ns), "
                           "last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)",
                           (u.name, int(u.guest), u.created_ns, u.last_seen_ns))
            for v in voiceprints:
                blob = np.ascontiguousarray(v.vector, dtype=np.float32).tobytes()
                if db.execute("SELECT 1 FROM voiceprints WHERE user = ? AND vector = ? AND created_ns = ?",
                              (v.user, blob, v.created_ns)).fetchone() is None:
                    db.execute("INSERT INTO voiceprints(user, vector, created_ns) VALUES (?, ?, ?)",
                               (v.user, blob, v.created_ns))
            for ep in episodes:
                db.execute("INSERT OR REPLACE INTO episodes VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (ep.id, ep.user, ep.started_ns, ep.ended_ns, ep.task, ep.outcome, ep.raw_path))
            for row in entries:
                e = row.entry
                blob = None if row.embedding is None else np.ascontiguousarray(row.embedding, np.float32).tobytes()
                values = (e.user, e.episode, e.kind, row.key, e.task, e.outcome, int(e.shared), e.text, e.header,
                          e.created_ns, blob)
                if row.key:
                    old = db.execute("SELECT id, created_ns FROM entries WHERE user = ? AND key = ?",
                                     (e.user, row.key)).fetchone()
                else:
                    old = db.execute("SELECT id, created_ns FROM entries WHERE user = ? AND episode = ? AND "
                                     "kind = ? AND text = ? AND created_ns = ? AND key = ''",
                                     (e.user, e.episode, e.kind, e.text, e.created_ns)).fetchone()
                if old is None:
                    entry_id = db.execute("INSERT INTO entries(user, episode, kind, key, task, outcome, shared, "
                                          "text, header, created_ns, embedding) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                                          values).lastrowid
                elif old[1] <= e.created_ns:
                    entry_id = old[0]
                    db.execute("UPDATE entries SET user=?, episode=?, kind=?, key=?, task=?, outcome=?, shared=?, "
                               "text=?, header=?, created_ns=?, embedding=? WHERE id = ?", values + (entry_id,))
                    db.execute("DELETE FROM entries_fts WHERE rowid = ?", (entry_id,))
                else:
                    continue
                db.execute("INSERT INTO entries_fts(rowid, body) VALUES (?, ?)",
                           (entry_id, self.indexed(e.header, e.text)))
        self._vectors = None

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM entries").fetchone()[0]

    # --- skills (schema v2): the rows core/skills/library.py keeps --------------------------
    def put_skill(self, row: SkillRow, indexed: str, embedding: np.ndarray | None = None) -> None:
        """Write ``row``, replacing the skill of its name, with ``indexed`` as its BM25 text and
        ``embedding`` (or None) as its vector, in one transaction."""
        blob = None if embedding is None else np.ascontiguousarray(embedding, dtype=np.float32).tobytes()
        values = (row.json, row.description, row.status, row.successes, row.failures, row.created_ns,
                  row.updated_ns, row.episode, blob)
        with self._lock, self._transaction():
            db = self._db
            old = db.execute("SELECT id FROM skills WHERE name = ?", (row.name,)).fetchone()
            if old is None:
                skill_id = db.execute("INSERT INTO skills(name, json, description, status, successes, failures, "
                                      "created_ns, updated_ns, episode, embedding) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                      (row.name, *values)).lastrowid
            else:
                skill_id = old[0]
                db.execute("UPDATE skills SET json=?, description=?, status=?, successes=?, failures=?, "
                           "created_ns=?, updated_ns=?, episode=?, embedding=? WHERE id = ?", (*values, skill_id))
                db.execute("DELETE FROM skills_fts WHERE rowid = ?", (skill_id,))
            db.execute("INSERT INTO skills_fts(rowid, body) VALUES (?, ?)", (skill_id, indexed))

    def update_skill(self, row: SkillRow) -> bool:
        """Rewrite a stored skill's JSON, status and counts (its indexes stay); False when no
        skill has its name."""
        with self._lock, self._transaction():
            cursor = self._db.execute("UPDATE skills SET json=?, status=?, successes=?, failures=?, updated_ns=? "
                                      "WHERE name = ?", (row.json, row.status, row.successes, row.failures,
                                                         row.updated_ns, row.name))
        return cursor.rowcount > 0

    def skill_rows(self, names: list[str] | None = None) -> list[SkillRow]:
        """The skills named (in that order, absent names skipped), or all of them by name."""
        where = "" if names is None else f" WHERE name IN ({','.join('?' * len(names))})"
        with self._lock:
            rows = self._db.execute("SELECT name, json, description, status, successes, failures, created_ns, "
                                    f"updated_ns, episode FROM skills{where} ORDER BY name", names or []).fetchall()
        found = {r[0]: SkillRow(*r) for r in rows}
        return list(found.values()) if names is None else [found[n] for n in names if n in found]

    def match_skills(self, expression: str, statuses: tuple[str, ...], limit: int = 50) -> list[str]:
        """Names of the skills with one of ``statuses`` whose indexed text matches the FTS5
        ``expression``, best BM25 first."""
        with self._lock:
            rows = self._db.execute("SELECT s.name FROM skills_fts JOIN skills s ON s.id = skills_fts.rowid "
                                    f"WHERE skills_fts MATCH ? AND s.status IN ({','.join('?' * len(statuses))}) "
                                    "ORDER BY bm25(skills_fts) LIMIT ?", [expression, *statuses, limit]).fetchall()
        return [r[0] for r in rows]

    def nearest_skills(self, query: np.ndarray, statuses: tuple[str, ...], limit: int = 50,
                       min_cosine: float = -1.0) -> list[str]:
        """Names of the skills with one of ``statuses`` by cosine with the unit vector ``query``,
        best first (vectors of another size are not comparable and left out)."""
        with self._lock:
            rows = self._db.execute("SELECT name, embedding FROM skills WHERE embedding IS NOT NULL AND status IN "
                                    f"({','.join('?' * len(statuses))})", list(statuses)).fetchall()
        query = query.astype(np.float32)
        scored = [(float(np.dot(np.frombuffer(blob, dtype=np.float32), query)), name) for name, blob in rows
                  if len(blob) == 4 * query.shape[0]]
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [name for sim, name in scored[:limit] if sim >= min_cosine]

    # --- search -----------------------------------------------------------------------------
    @staticmethod
    def _scope(user: str | None, tasks: tuple[str, ...]) -> tuple[str, list]:
        sql, args = "", []
        if user is not None:
            sql += " AND (e.user = ? OR e.shared = 1)"
            args.append(user)
        if tasks:
            sql += f" AND e.task IN ({','.join('?' * len(tasks))})"
            args += list(tasks)
        return sql, args

    def match(self, expression: str, user: str | None = None, tasks: tuple[str, ...] = (),
              limit: int = 50) -> list[int]:
        """Entry ids whose indexed text matches the FTS5 ``expression``, best BM25 first.
        ``user``: only theirs and the shared ones; ``tasks``: only these task types."""
        scope, args = self._scope(user, tasks)
        with self._lock:
            rows = self._db.execute("SELECT e.id FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid "
                                    f"WHERE entries_fts MATCH ?{scope} ORDER BY bm25(entries_fts) LIMIT ?",
                                    [expression, *args, limit]).fetchall()
        return [r[0] for r in rows]

    def latest(self, user: str, kinds: tuple[str, ...], limit: int) -> list[int]:
        """The newest entries of ``user`` (theirs only) of these kinds."""
        with self._lock:
            rows = self._db.execute(f"SELECT id FROM entries WHERE user = ? AND kind IN ({','.join('?' * len(kinds))})"
                                    " ORDER BY created_ns DESC, id DESC LIMIT ?", [user, *kinds, limit]).fetchall()
        return [r[0] for r in rows]

    def _current_vectors(self) -> _Vectors:
        with self._lock:
            version = self._data_version()
            if self._vectors is None or version != self._seen_version:  # another process wrote
                self._vectors = self._load_vectors()
                self._seen_version = version
            self._vectors.settle()
            return self._vectors

    @staticmethod
    def _vector_scope(vec: _Vectors, user: str | None, tasks: tuple[str, ...]) -> np.ndarray:
        mask = np.ones(len(vec.ids), dtype=bool)
        if user is not None:
            mask &= (vec.users == user) | vec.shared
        if tasks:
            mask &= np.isin(vec.tasks, list(tasks))
        return mask

    def vectors(self, user: str | None = None, tasks: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
        """(ids, rows) of the embedded entries in scope, as ``match`` scopes them."""
        vec = self._current_vectors()
        mask = self._vector_scope(vec, user, tasks)
        return vec.ids[mask], vec.matrix[mask]

    def nearest(self, query: np.ndarray, user: str | None = None, tasks: tuple[str, ...] = (), limit: int = 50,
                min_cosine: float = -1.0) -> list[int]:
        """Entry ids by cosine with the unit vector ``query``, best first, scoped as ``match``;
        ValueError when its size is not the stored rows'."""
        vec = self._current_vectors()
        if not len(vec.ids):
            return []
        if query.shape != (vec.matrix.shape[1],):
            raise ValueError(f"query embedding of shape {query.shape}; stored rows have {vec.matrix.shape[1]} values")
        # einsum runs on this thread: a BLAS matrix-vector product wakes a thread pool that, on
        # a loaded machine, waits for cores longer than the product takes
        sims = np.einsum("ij,j->i", vec.matrix, query.astype(np.float32))
        sims[~self._vector_scope(vec, user, tasks)] = -np.inf
        top = np.argpartition(-sims, min(limit, len(sims) - 1))[:limit]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [int(vec.ids[i]) for i in top if sims[i] >= min_cosine]

    def _load_vectors(self) -> _Vectors:
        rows = self._db.execute("SELECT id, user, task, shared, embedding FROM entries "
                                "WHERE embedding IS NOT NULL ORDER BY id").fetchall()
        vec = _Vectors()
        vec.pending = [(i, u, t, bool(s), np.frombuffer(b, dtype=np.float32)) for i, u, t, s, b in rows]
        vec.settle()
        return vec


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on an exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type | None, value: BaseException | None, tb: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
