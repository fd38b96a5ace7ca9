"""Where the memory lives: one folder with the store file and the raw episode files.

The memory node, the thinker and ``seal memory`` all find it here, so they agree without
being told: ``$SEAL_MEMORY_DIR``, else ``~/.local/share/seal/memory``.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV = "SEAL_MEMORY_DIR"
QDRANT_ENV = "SEAL_MEMORY_QDRANT_URL"  # a Qdrant server for the vectors (robots sharing one); empty: the file
STORE_FILE = "memory.sqlite3"
RAW_FOLDER = "episodes"  # inside the memory folder: where EpisodeRecorder(store, folder) writes


def default_dir() -> Path:
    value = os.environ.get(ENV, "").strip()
    return Path(value).expanduser() if value else Path.home() / ".local" / "share" / "seal" / "memory"


def qdrant_url(given: str = "") -> str:
    """The Qdrant server the memory's vectors live on: ``given``, else ``$SEAL_MEMORY_QDRANT_URL``; "" for none."""
    return given.strip() or os.environ.get(QDRANT_ENV, "").strip()


def store_path(folder: str | Path) -> Path:
    return Path(folder) / STORE_FILE


def raw_dir(folder: str | Path) -> Path:
    return Path(folder) / RAW_FOLDER
