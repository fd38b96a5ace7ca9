"""Hybrid search over the entries: BM25 (FTS5) and MiniLM cosine, fused by reciprocal rank.

Two uses, as the talk names them: ``for_turn`` at the start of a user turn (the user's entries
and the shared ones that match what they said, their stated preferences always among the
candidates) and ``recall`` when the model searches by itself. With the user known, their own
entries outrank other users' shared ones that the lists placed alike. Both are bounded, carry
each entry's date, and never raise on what a user or a model may type: the words become quoted FTS
terms, and a query embedding that fails leaves BM25 alone.
"""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from seal_nodes.core.memory.store import Entry, Store

MAX_K = 50
MAX_QUERY_CHARS = 1000
MAX_TERMS = 16
_STOPWORDS = frozenset("""
a an and are as at be but by can could did do does for from had has have he her him his how i i'm if in
into is it its me my of on or our please she so that the their them then there these they this to was we
were what when where which who why will with would you your
""".split())
PROFILE_KINDS = ("preference", "fact")
Key = TypeVar("Key")


class QueryEncoder(Protocol):
    def encode(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float  # the fused reciprocal-rank score
    found_by: tuple[str, ...]  # "bm25", "vector", "profile"

    @property
    def date(self) -> str:
        return self.entry.date


def fts_query(text: str) -> str:
    """The FTS5 expression for free text: its words, each quoted, OR-ed; "" when there are none.

    Quoting makes FTS5 read every word as a plain term, so quotes, ``*``, ``NEAR``, ``AND``,
    column filters and parentheses in the input are words or nothing, never syntax."""
    words = re.findall(r"\w+", str(text)[:MAX_QUERY_CHARS].lower())
    terms = [w for w in dict.fromkeys(words) if w not in _STOPWORDS] or list(dict.fromkeys(words))
    return " OR ".join(f'"{w}"' for w in terms[:MAX_TERMS])


def _tasks(task: str | Sequence[str] | None) -> tuple[str, ...]:
    if task is None:
        return ()
    if isinstance(task, str):
        return (task,) if task else ()
    return tuple(str(t) for t in task if t)


def bounded(k: object, default: int = 5) -> int:
    """``k`` as a result count in 0..MAX_K (``default`` when it is not a number)."""
    try:
        return max(0, min(int(k), MAX_K))  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return default


def query_vector(encoder: QueryEncoder, text: str) -> np.ndarray:
    """The unit embedding of ``text`` (cut to MAX_QUERY_CHARS); ValueError when it is not finite."""
    q = np.asarray(encoder.encode(str(text)[:MAX_QUERY_CHARS]), dtype=np.float32).ravel()
    if not np.all(np.isfinite(q)):
        raise ValueError("query embedding is not finite")
    return q / (np.linalg.norm(q) or 1.0)


def rrf(ranked: Mapping[str, Sequence[Key]], rrf_k: int = 60) -> tuple[dict[Key, float], dict[Key, tuple[str, ...]]]:
    """Reciprocal rank fusion of named ranked lists: each key's summed 1 / (rrf_k + rank), and
    the names of the lists that found it."""
    scores: dict[Key, float] = {}
    found: dict[Key, tuple[str, ...]] = {}
    for name, keys in ranked.items():
        for rank, key in enumerate(keys):
            scores[key] = scores.get(key, 0.0) + 1.0 / (rrf_k + rank + 1)
            found[key] = found.get(key, ()) + (name,)
    return scores, found


class Retriever:
    def __init__(self, store: Store, encoder: QueryEncoder | None = None, rrf_k: int = 60, depth: int = 50,
                 min_cosine: float = 0.2, others_weight: float = 0.5) -> None:
        """``rrf_k``: the fusion's rank damping (60 as in the RRF paper); ``depth``: candidates
        per ranked list; ``min_cosine``: vector matches weaker than this are not candidates;
        ``others_weight``: what another user's shared entry counts in the fusion of a search for
        a known user (their own history first: the robot's experience with others looks alike
        and would crowd it out)."""
        self.store = store
        self.encoder = encoder
        self.rrf_k = rrf_k
        self.depth = depth
        self.min_cosine = min_cosine
        self.others_weight = others_weight
        self.last_problem = ""  # why the last search fell back (for the node's log)

    # --- the two ranked lists ---------------------------------------------------------------
    def bm25(self, query: str, user: str | None = None, task: str | Sequence[str] | None = None) -> list[int]:
        expression = fts_query(query)
        if not expression:
            return []
        try:
            return self.store.match(expression, user, _tasks(task), self.depth)
        except sqlite3.Error as exc:
            self.last_problem = f"BM25 search failed: {exc}"
            return []

    def vector(self, query: str, user: str | None = None, task: str | Sequence[str] | None = None) -> list[int]:
        if self.encoder is None or not str(query).strip():
            return []
        try:
            q = query_vector(self.encoder, query)
            return self.store.nearest(q, user, _tasks(task), self.depth, self.min_cosine)
        except Exception as exc:  # noqa: BLE001 - any encoder failure degrades to BM25 only
            self.last_problem = f"vector search skipped: {exc}"
            return []

    # --- fused ------------------------------------------------------------------------------
    def _fuse(self, ranked: dict[str, list[int]], k: int, user: str | None = None) -> list[Hit]:
        scores, found = rrf(ranked, self.rrf_k)
        entries = {e.id: e for e in self.store.entries(list(scores))}
        if user is not None:
            for entry_id, entry in entries.items():
                if entry.user != user:
                    scores[entry_id] *= self.others_weight
        order = sorted(entries, key=lambda i: (-scores[i], -entries[i].created_ns, -i))[:k]
        return [Hit(entries[i], scores[i], found[i]) for i in order]

    def recall(self, query: str, user: str | None = None, k: int = 5,
               task: str | Sequence[str] | None = None) -> list[Hit]:
        """The ``k`` entries that best match ``query``; ``user``: theirs and the shared ones only."""
        self.last_problem = ""
        k = bounded(k)
        query = "" if query is None else str(query)
        if k == 0 or not query.strip():
            return []
        return self._fuse({"bm25": self.bm25(query, user, task), "vector": self.vector(query, user, task)}, k,
                          None if user is None else str(user))

    def for_turn(self, user: str | None, text: str, k: int = 5,
                 task: str | Sequence[str] | None = None) -> list[Hit]:
        """What to put in the context as ``user``'s turn starts: the entries that match their
        words, with their preferences and stated facts as a third ranked list (newest first)."""
        self.last_problem = ""
        k = bounded(k)
        text = "" if text is None else str(text)
        if k == 0:
            return []
        ranked = {"bm25": self.bm25(text, user, task), "vector": self.vector(text, user, task)}
        if user is not None:
            try:
                ranked["profile"] = self.store.latest(str(user), PROFILE_KINDS, self.depth)
            except sqlite3.Error as exc:
                self.last_problem = f"profile lookup failed: {exc}"
        return self._fuse(ranked, k, None if user is None else str(user))


def render(hits: list[Hit], max_chars: int = 800) -> str:
    """The hits as dated lines for the model's context, cut to ``max_chars`` at a line."""
    lines: list[str] = []
    used = 0
    for hit in hits:
        line = f"- {hit.date}: {hit.entry.text}"
        if used + len(line) + 1 > max_chars:
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)
