"""The memory with its vectors in Qdrant: the SQLite file keeps the rows and BM25, a Qdrant
collection answers the nearest-neighbour searches, so the vector side can outgrow one machine.

The file stays the record: each embedding is also kept in its BLOB column, so the collection is
an index that ``sync`` rebuilds, export reads the file alone, and a failed Qdrant write never
loses an entry (BM25 still finds it; the failure waits in ``problems``). Hits are checked against
the file, so a point that a failed write left behind never returns a moved or forgotten entry.
One collection per memory file: a point's id is its entry's id. Local mode (``qdrant_path``)
serves one process; robots that share vectors share a server (``url``).
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qdrant_client import QdrantClient, models

from seal_nodes.core.memory.store import Episode, Note, Store, StoredEntry, StoreError, User, Voiceprint

_BATCH = 256  # points per upsert or scroll page, rows per read of the file during a sync
_INDEXED = {"user": models.PayloadSchemaType.KEYWORD, "task": models.PayloadSchemaType.KEYWORD,
            "shared": models.PayloadSchemaType.BOOL}
_Row = tuple[int, str, str, bool, np.ndarray]  # entry id, user, task, shared, embedding


class QdrantStoreError(StoreError):
    """Qdrant failed; the message says what the memory file holds meanwhile."""


@dataclass
class _Local:
    """A local-mode folder opened by this process: Qdrant locks it to one client, and the memory
    opens it from several stores (recorder, lookups, searches)."""

    client: QdrantClient
    lock: threading.RLock
    stores: int = 0


_LOCAL: dict[str, _Local] = {}
_LOCAL_LOCK = threading.Lock()


def _open_local(folder: Path) -> tuple[str, _Local]:
    key = str(folder.resolve())
    with _LOCAL_LOCK:
        if key not in _LOCAL:
            folder.mkdir(parents=True, exist_ok=True)
            try:
                _LOCAL[key] = _Local(QdrantClient(path=key), threading.RLock())
            except RuntimeError as exc:  # the folder's lock is held
                raise StoreError(f"Qdrant folder {key} is open in another process; local mode serves one process: "
                                 "share a Qdrant server (url) instead") from exc
        shared = _LOCAL[key]
        shared.stores += 1
        return key, shared


def _close_local(key: str) -> None:
    with _LOCAL_LOCK:
        shared = _LOCAL[key]
        shared.stores -= 1
        if shared.stores == 0:
            del _LOCAL[key]
            shared.client.close()


def _filter(user: str | None, tasks: tuple[str, ...]) -> models.Filter | None:
    """``Store.match``'s scope as a Qdrant filter."""
    must: list[models.Condition] = []
    if user is not None:
        must.append(models.Filter(should=[models.FieldCondition(key="user", match=models.MatchValue(value=user)),
                                          models.FieldCondition(key="shared", match=models.MatchValue(value=True))]))
    if tasks:
        must.append(models.FieldCondition(key="task", match=models.MatchAny(any=list(tasks))))
    return models.Filter(must=must) if must else None


def _point(row: _Row) -> models.PointStruct:
    entry_id, user, task, shared, vector = row
    return models.PointStruct(id=entry_id, vector=vector.tolist(),
                              payload={"user": user, "task": task, "shared": bool(shared), "entry": entry_id})


class QdrantStore(Store):
    """``Store`` with ``nearest`` and ``vectors`` answered by a Qdrant collection (cosine)."""

    def __init__(self, path: str | Path, url: str | None = None, qdrant_path: str | Path | None = None,
                 collection: str = "seal_memory", timeout_s: float = 5.0) -> None:
        """``url``: a Qdrant server; ``qdrant_path``: a folder for local mode (no server); exactly
        one. A missing or empty collection is filled from the file's embeddings."""
        if (url is None) == (qdrant_path is None):
            raise ValueError("QdrantStore needs exactly one of url (a Qdrant server) or qdrant_path (a local folder)")
        if not collection:
            raise ValueError("QdrantStore needs a collection name")
        super().__init__(path, timeout_s)
        self.collection = collection
        self.problems: deque[str] = deque(maxlen=50)  # what went wrong with Qdrant, for the node to report
        self._where = f"Qdrant {url}" if url is not None else f"local Qdrant {qdrant_path}"
        self._local_key: str | None = None
        self._client: QdrantClient | None = None
        try:
            if qdrant_path is not None:
                self._local_key, shared = _open_local(Path(qdrant_path))
                self._client, self._qlock = shared.client, shared.lock
            else:  # the client's version check only warns, later, from a thread: the first call below fails now
                self._client = QdrantClient(url=url, timeout=max(1, round(timeout_s)), check_compatibility=False)
                self._qlock = threading.RLock()
            self._dim = self._read_dim()
            self._check_count()
        except Exception as exc:
            self.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"{self._where} is not usable ({exc}); check it, or leave Qdrant out to search "
                             "the file's own vectors") from exc

    @property
    def client(self) -> QdrantClient:
        """The Qdrant client (shared by this process's stores of one local folder)."""
        if self._client is None:
            raise StoreError(f"{self.path}: the store is closed")
        return self._client

    def close(self) -> None:
        super().close()
        if self._client is None:
            return
        if self._local_key is not None:
            _close_local(self._local_key)
        else:
            self._client.close()
        self._client = None

    # --- the collection ---------------------------------------------------------------------
    def _read_dim(self) -> int | None:
        """The collection's vector size; None while it does not exist."""
        with self._qlock:
            if not self.client.collection_exists(self.collection):
                return None
            params = self.client.get_collection(self.collection).config.params.vectors
        if not isinstance(params, models.VectorParams) or params.distance != models.Distance.COSINE:
            raise StoreError(f"{self._where}: collection {self.collection} is not a SEAL memory index (one unnamed "
                             "cosine vector per point); choose another collection")
        return params.size

    def _create(self, dim: int) -> None:
        with self._qlock:
            try:
                self.client.create_collection(self.collection, vectors_config=models.VectorParams(
                    size=dim, distance=models.Distance.COSINE))
            except Exception:
                if not self.client.collection_exists(self.collection):  # else another process made it first
                    raise
            if self._local_key is None:  # local mode has no payload indexes
                for field, schema in _INDEXED.items():
                    self.client.create_payload_index(self.collection, field, schema)
        self._dim = self._read_dim()

    def _check_count(self) -> None:
        """Fill a missing or empty collection; note one that disagrees with the file (``sync`` mends it)."""
        points = 0 if self._dim is None else self.client.count(self.collection, exact=True).count
        if points == 0:
            self.sync()
            return
        with self._lock:
            rows = self._db.execute("SELECT count(*) FROM entries WHERE embedding IS NOT NULL AND "
                                    "length(embedding) = ?", (4 * (self._dim or 0),)).fetchone()[0]
        if rows != points:
            self.problems.append(f"{self._where}: collection {self.collection} holds {points} points, {self.path} "
                                 f"{rows} embedded entries; sync() makes them agree if the collection is this file's")

    def _fits(self, vector: np.ndarray) -> bool:
        return vector.shape == (self._dim,) and bool(np.all(np.isfinite(vector)))

    def _index(self, rows: list[_Row]) -> None:
        """Upsert the points of entries the file now holds with these embeddings; a row that
        does not fit the collection (another encoder's size) drops its entry's old point."""
        if not rows:
            return
        rows = [(i, u, t, s, np.asarray(v, dtype=np.float32).ravel()) for i, u, t, s, v in rows]
        bad: list[int] = []
        try:
            if self._dim is None:
                self._create(len(rows[-1][4]))
            good = [r for r in rows if self._fits(r[4])]
            bad = [r[0] for r in rows if not self._fits(r[4])]
            with self._qlock:
                if good:
                    self.client.upsert(self.collection, [_point(r) for r in good])
                if bad:
                    self.client.delete(self.collection, models.PointIdsList(points=bad))
        except Exception as exc:  # noqa: BLE001 - the file has them: BM25 finds them, sync() indexes them
            self.problems.append(f"entries {[r[0] for r in rows]} not indexed in {self._where} ({exc}); "
                                 "BM25 still finds them, sync() indexes them")
            return
        if bad:
            self.problems.append(f"entries {bad} left out of {self._where}: their embeddings are not {self._dim} "
                                 "finite values (another encoder?); BM25 still finds them")

    def _drop(self, ids: list[int]) -> None:
        if not ids or self._dim is None:
            return
        try:
            with self._qlock:
                self.client.delete(self.collection, models.PointIdsList(points=ids))
        except Exception as exc:  # noqa: BLE001 - searches check hits against the file
            self.problems.append(f"points {ids} not deleted from {self._where} ({exc}); sync() deletes them")

    def _points(self, scope: models.Filter | None, with_vectors: bool) -> Iterator[models.Record]:
        offset = None
        while True:
            with self._qlock:
                page, offset = self.client.scroll(self.collection, scroll_filter=scope, limit=_BATCH, offset=offset,
                                                  with_payload=False, with_vectors=with_vectors)
            yield from page
            if offset is None:
                return

    def sync(self) -> int:
        """Make the collection hold exactly the file's embedded entries (a new collection, one a
        failed write left behind, an import); how many points it holds. Points whose ids the file
        has no embedding for are deleted: the collection must be this file's alone."""
        skipped: list[int] = []
        written = 0
        with self._lock:
            try:
                self._dim = self._read_dim()
                newest = self._db.execute("SELECT embedding FROM entries WHERE embedding IS NOT NULL "
                                          "ORDER BY id DESC LIMIT 1").fetchone()
                if self._dim is None:
                    if newest is None:
                        return 0
                    self._create(len(newest[0]) // 4)
                stale = {int(p.id) for p in self._points(None, with_vectors=False)}
                cursor = self._db.execute("SELECT id, user, task, shared, embedding FROM entries "
                                          "WHERE embedding IS NOT NULL ORDER BY id")
                while batch := cursor.fetchmany(_BATCH):
                    rows = [(i, u, t, bool(s), np.frombuffer(b, dtype=np.float32)) for i, u, t, s, b in batch]
                    good = [r for r in rows if self._fits(r[4])]
                    skipped += [r[0] for r in rows if not self._fits(r[4])]
                    if good:
                        with self._qlock:
                            self.client.upsert(self.collection, [_point(r) for r in good])
                    stale -= {r[0] for r in good}
                    written += len(good)
                if stale:
                    with self._qlock:
                        self.client.delete(self.collection, models.PointIdsList(points=sorted(stale)))
            except StoreError:
                raise
            except Exception as exc:
                raise QdrantStoreError(f"sync of {self.path} with {self._where} failed ({exc}); the file is "
                                       "unchanged") from exc
        if skipped:
            self.problems.append(f"entries {skipped} left out of {self._where}: their embeddings are not "
                                 f"{self._dim} finite values (another encoder?); BM25 still finds them")
        return written

    # --- writes: the file first, then the collection -----------------------------------------
    def save_episode(self, episode: Episode, notes: list[Note], embeddings: np.ndarray | None = None) -> list[int]:
        with self._lock:
            ids = super().save_episode(episode, notes, embeddings)
            if embeddings is None:  # a keyed note replaced an entry that may have had a point
                self._drop([i for i, note in zip(ids, notes) if note.key])
            else:
                self._index([(i, episode.user, note.task, note.shared, row)
                             for i, note, row in zip(ids, notes, embeddings)])
        return ids

    def set_embeddings(self, ids: list[int], embeddings: np.ndarray) -> None:
        """As ``Store.set_embeddings``; ValueError, and nothing written, when a row's size is
        not the collection's."""
        if self._dim is not None:
            sizes = {np.asarray(row).size for row in embeddings}
            if sizes - {self._dim}:
                raise ValueError(f"embeddings of {sorted(sizes)} values; the Qdrant collection {self.collection} "
                                 f"holds {self._dim}")
        with self._lock:
            super().set_embeddings(ids, embeddings)
            entries = {e.id: e for e in self.entries(list(ids))}
            self._index([(i, entries[i].user, entries[i].task, entries[i].shared, row)
                         for i, row in zip(ids, embeddings) if i in entries])

    def rename_user(self, old: str, new: str, episode: str | None = None,
                    now_ns: int | None = None) -> list[tuple[int, str]]:
        if old == new:
            return []
        where, args = ("user = ?", [old]) if episode is None else ("user = ? AND episode = ?", [old, episode])
        with self._lock:
            before = {i for (i,) in self._db.execute(f"SELECT id FROM entries WHERE {where}", args)}
            moved = super().rename_user(old, new, episode, now_ns)
            kept = [i for i, _ in moved]
            gone = sorted(before - set(kept))  # keyed twins of the new user's own entries
            if self._dim is not None and before:
                try:
                    with self._qlock:
                        if kept:
                            self.client.set_payload(self.collection, {"user": new}, points=models.Filter(
                                must=[models.HasIdCondition(has_id=kept)]))
                        if gone:
                            self.client.delete(self.collection, models.PointIdsList(points=gone))
                except Exception as exc:  # noqa: BLE001 - searches check hits against the file
                    self.problems.append(f"points of {old} not moved to {new} in {self._where} ({exc}); "
                                         "sync() moves them")
        return moved

    def forget_user(self, name: str) -> list[str]:
        """As ``Store.forget_user``. The vectors go first: when Qdrant fails nothing is forgotten
        yet, and the QdrantStoreError says so (a retry does it all)."""
        with self._lock:
            try:
                if self._read_dim() is not None:
                    with self._qlock:
                        self.client.delete(self.collection, models.FilterSelector(filter=models.Filter(
                            must=[models.FieldCondition(key="user", match=models.MatchValue(value=name))])))
            except StoreError:
                raise
            except Exception as exc:
                raise QdrantStoreError(f"{name} not forgotten: {self._where} failed ({exc}); nothing was deleted "
                                       f"from {self.path}, try again") from exc
            return super().forget_user(name)

    def restore(self, users: list[User], voiceprints: list[Voiceprint], episodes: list[Episode],
                entries: list[StoredEntry]) -> None:
        with self._lock:
            super().restore(users, voiceprints, episodes, entries)
            try:
                self.sync()
            except QdrantStoreError as exc:
                self.problems.append(f"imported entries not indexed: {exc}")

    # --- search -----------------------------------------------------------------------------
    def _in_file(self, ids: list[int], user: str | None, tasks: tuple[str, ...]) -> list[int]:
        """``ids`` that the file holds embedded and in scope, in their order."""
        scope, args = self._scope(user, tasks)
        present: set[int] = set()
        with self._lock:
            for at in range(0, len(ids), 500):
                part = ids[at:at + 500]
                present.update(i for (i,) in self._db.execute(
                    f"SELECT e.id FROM entries e WHERE e.embedding IS NOT NULL AND e.id IN "
                    f"({','.join('?' * len(part))}){scope}", [*part, *args]))
        return [i for i in ids if i in present]

    def _search_dim(self) -> int | None:
        if self._dim is None:  # another process may have made the collection since
            self._dim = self._read_dim()
        return self._dim

    def nearest(self, query: np.ndarray, user: str | None = None, tasks: tuple[str, ...] = (), limit: int = 50,
                min_cosine: float = -1.0) -> list[int]:
        """As ``Store.nearest``, answered by Qdrant (the scope as a filter, ``min_cosine`` as its
        score threshold); QdrantStoreError when Qdrant fails."""
        try:
            dim = self._search_dim()
        except StoreError:
            raise
        except Exception as exc:
            raise QdrantStoreError(f"search in {self._where} failed: {exc}") from exc
        if dim is None or limit <= 0:
            return []
        q = np.asarray(query, dtype=np.float32)
        if q.shape != (dim,):
            raise ValueError(f"query embedding of shape {q.shape}; the Qdrant collection {self.collection} "
                             f"holds {dim} values")
        try:
            with self._qlock:
                found = self.client.query_points(self.collection, query=q.tolist(), query_filter=_filter(user, tasks),
                                                 limit=limit, score_threshold=min_cosine if min_cosine > -1 else None,
                                                 with_payload=False).points
        except Exception as exc:
            raise QdrantStoreError(f"search in {self._where} failed: {exc}") from exc
        return self._in_file([int(p.id) for p in found], user, tasks)

    def vectors(self, user: str | None = None, tasks: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
        """(ids, rows) of the points in scope, by id; rows as Qdrant keeps them (unit length)."""
        if self._search_dim() is None:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        found = {int(p.id): p.vector for p in self._points(_filter(user, tasks), with_vectors=True)}
        ids = self._in_file(sorted(found), user, tasks)
        rows = np.array([found[i] for i in ids], dtype=np.float32).reshape(len(ids), self._dim or 0)
        return np.array(ids, dtype=np.int64), rows
