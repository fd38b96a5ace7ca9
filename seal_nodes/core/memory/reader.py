"""The thinker's side of the knowledge base: who someone is, what they like, what they usually ask,
and searches that run beside the loop.

Two connections to the same file: the quick lookups (a user's profile, their past requests) are
plain SQL answered on the caller's thread; hybrid searches (a query embedding and a vector scan)
run on a worker thread with a connection of their own, so a slow search never holds the lock
a lookup waits on. Results come back through ``poll``; a search that is late is simply late.
"""
from __future__ import annotations

import re
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from seal_nodes.core.memory.backends import make_store
from seal_nodes.core.memory.retrieval import PROFILE_KINDS, Hit, QueryEncoder, Retriever, render
from seal_nodes.core.memory.store import Entry, Store, format_date

_DONE = re.compile(r"done: (?P<what>[^;]+?) \(succeeded\)")
MAX_PENDING = 8  # searches queued beyond this are refused: a flood of turns must not pile up work


@dataclass(frozen=True)
class Acquaintance:
    """What the agent knows about a person at a glance."""

    name: str
    returning: bool  # met in an earlier episode
    last_seen: str  # the date of their last episode, "" if none
    last_request: str  # what they last had done, in words ("pick up the blue cube"), "" if nothing


@dataclass(frozen=True)
class Found:
    """A finished search: for a turn (``key`` its trace id) or a recall (``key`` its goal id)."""

    key: str
    hits: list[Hit]
    error: str = ""

    def text(self, max_chars: int = 600) -> str:
        return render(self.hits, max_chars)


class MemoryReader:
    def __init__(self, path: str | Path, encoder: QueryEncoder | None = None, k: int = 5,
                 qdrant_url: str = "") -> None:
        """``qdrant_url``: the server holding the vectors (the memory node's), if not the file."""
        self.lookups = Store(path)
        self.search_store = make_store(path, qdrant_url=qdrant_url)
        self.retriever = Retriever(self.search_store, encoder)
        self.k = k
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memory-search")
        self._jobs: dict[str, Future] = {}

    def use_encoder(self, encoder: QueryEncoder | None) -> None:
        """Embeddings join the searches once an encoder is warm (BM25 alone until then)."""
        self.retriever.encoder = encoder

    # --- quick lookups (SQL on the caller's thread) -------------------------------------------
    def acquaintance(self, name: str, before_ns: int) -> Acquaintance:
        """``name`` as known from episodes that started before ``before_ns`` (this session's own
        turns do not make anyone a returning user)."""
        episodes = [e for e in self.lookups.episodes(name) if e.started_ns < before_ns]
        last = max((e.ended_ns for e in episodes), default=0)
        done = self.requests_done(name, limit=1) if episodes else []
        return Acquaintance(name, bool(episodes), format_date(last) if last else "", done[0] if done else "")

    def profile(self, user: str, limit: int = 5) -> list[Entry]:
        """The user's stated preferences and facts, newest first."""
        return self.lookups.entries(self.lookups.latest(user, PROFILE_KINDS, limit))

    def requests_done(self, user: str, limit: int = 50) -> list[str]:
        """What the user had done successfully, newest first, in the executor's words."""
        done: list[str] = []
        for entry in self.lookups.entries(self.lookups.latest(user, ("request",), limit)):
            done += [m["what"] for m in _DONE.finditer(entry.text)]
        return done[:limit]

    def usual(self, user: str) -> str:
        """The user's most frequent successful request (the newest of equally frequent ones); ""."""
        done = self.requests_done(user)
        if not done:
            return ""
        counts = Counter(done)
        return max(done, key=lambda what: (counts[what], -done.index(what)))

    # --- searches beside the loop -------------------------------------------------------------
    def search_for_turn(self, key: str, user: str, text: str) -> bool:
        """Start the automatic retrieval for a user turn; False when too much is queued."""
        return self._submit(key, lambda: self.retriever.for_turn(user, text, self.k))

    def recall(self, key: str, user: str, query: str) -> bool:
        """Start a search the model asked for; False when too much is queued."""
        return self._submit(key, lambda: self.retriever.recall(query, user, self.k))

    def _submit(self, key: str, search) -> bool:
        if len(self._jobs) >= MAX_PENDING:
            return False
        self._jobs[key] = self._worker.submit(search)
        return True

    def poll(self) -> list[Found]:
        """The searches finished since the last poll."""
        out: list[Found] = []
        for key, job in list(self._jobs.items()):
            if not job.done():
                continue
            del self._jobs[key]
            try:
                out.append(Found(key, job.result()))
            except Exception as exc:  # noqa: BLE001 - a failed search is reported, the loop goes on
                out.append(Found(key, [], f"memory search failed: {exc}"))
        return out

    def busy(self) -> bool:
        return bool(self._jobs)

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
        self.lookups.close()
        self.search_store.close()
