"""The store a configuration asks for: the SQLite file alone, or the file with its vectors in Qdrant."""
from __future__ import annotations

from pathlib import Path

from seal_nodes.core.memory.store import Store


def make_store(path: str | Path, qdrant_url: str = "", qdrant_path: str | Path = "",
               collection: str = "seal_memory") -> Store:
    """The memory at ``path``. ``qdrant_url`` (a server) or ``qdrant_path`` (a local folder, one
    process) puts its vectors in the Qdrant ``collection``; neither keeps them in the file's scan."""
    if not qdrant_url and not qdrant_path:
        return Store(path)
    # imported here: qdrant-client is slow to import (grpc, its models), which a file-only memory need not pay
    from seal_nodes.core.memory.qdrant import QdrantStore
    return QdrantStore(path, url=qdrant_url or None, qdrant_path=qdrant_path or None, collection=collection)
