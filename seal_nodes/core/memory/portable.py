"""Export and import: a person's memory, or all of it, as one JSON Lines file.

The first line names the format and its version; every later line is one record with a
"type": user, voiceprint, episode, entry, or raw (an episode file's lines, so an export is
complete without the folder it came from). Vectors are base64 little-endian float32. An import
reads and checks the whole file before it writes anything, then writes the raw files and puts
the rows in with one transaction.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seal_nodes.core.memory import location
from seal_nodes.core.memory.store import SCHEMA_VERSION, Entry, Episode, StoredEntry, Store, User, Voiceprint

FORMAT = "seal-memory-export"
VERSION = 1
_RAW_NAME = re.compile(r"\w[\w.-]*\.jsonl")  # a plain file name: nothing that climbs out of episodes/


class PortableError(ValueError):
    """The export file cannot be read; the message says where and why."""


@dataclass(frozen=True)
class Counts:
    users: int = 0
    voiceprints: int = 0
    episodes: int = 0
    entries: int = 0
    raw_files: int = 0
    raw_missing: int = 0  # episodes whose raw file was not there to export

    def __str__(self) -> str:
        text = (f"{self.users} users, {self.voiceprints} voiceprints, {self.episodes} episodes, "
                f"{self.entries} entries, {self.raw_files} raw files")
        return text + (f" ({self.raw_missing} raw files missing)" if self.raw_missing else "")


def _b64(vector: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")


def _raw_lines(folder: Path, raw_path: str) -> list[str] | None:
    """The lines of an episode's raw file, if it is there and inside the memory folder."""
    if not raw_path:
        return None
    path = Path(raw_path).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        return None
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def export(store: Store, folder: str | Path, dest_path: str | Path, user: str | None = None) -> Counts:
    """Write everything ``store`` holds (``user``: about that user only) and the raw episode
    files under ``folder`` to ``dest_path``, replaced whole or not at all; what went in."""
    folder, dest = Path(folder), Path(dest_path)
    users = [u for u in store.user_records() if user is None or u.name == user]
    voiceprints = store.voiceprint_records(user)
    episodes = store.episodes(user)
    entries = store.stored_entries(user)
    if user is not None and not (users or episodes or entries):
        raise PortableError(f"nothing is stored about {user!r}")
    records: list[dict[str, Any]] = [{"format": FORMAT, "version": VERSION, "schema": SCHEMA_VERSION,
                                      "exported_ns": time.time_ns(), "user": user}]
    records += [{"type": "user", "name": u.name, "guest": u.guest, "created_ns": u.created_ns,
                 "last_seen_ns": u.last_seen_ns} for u in users]
    records += [{"type": "voiceprint", "user": v.user, "created_ns": v.created_ns, "vector": _b64(v.vector)}
                for v in voiceprints]
    raws: list[dict[str, Any]] = []
    missing = 0
    for ep in episodes:
        lines = _raw_lines(folder, ep.raw_path)
        missing += bool(ep.raw_path) and lines is None
        name = Path(ep.raw_path).name if lines is not None and _RAW_NAME.fullmatch(Path(ep.raw_path).name) \
            else f"{ep.id}.jsonl"
        records.append({"type": "episode", "id": ep.id, "user": ep.user, "started_ns": ep.started_ns,
                        "ended_ns": ep.ended_ns, "task": ep.task, "outcome": ep.outcome})
        if lines is not None:
            raws.append({"type": "raw", "episode": ep.id, "name": name, "lines": lines})
    for row in entries:
        e = row.entry
        record = {"type": "entry", "user": e.user, "episode": e.episode, "kind": e.kind, "key": row.key,
                  "task": e.task, "outcome": e.outcome, "shared": e.shared, "text": e.text, "header": e.header,
                  "created_ns": e.created_ns}
        if row.embedding is not None:
            record["embedding"] = _b64(row.embedding)
        records.append(record)
    records += raws
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    with open(partial, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(partial, dest)
    return Counts(len(users), len(voiceprints), len(episodes), len(entries), len(raws), missing)


class _Record:
    """One parsed line, its fields read with a check each."""

    def __init__(self, where: str, data: dict[str, Any]) -> None:
        self.where, self.data = where, data

    def fail(self, why: str) -> PortableError:
        return PortableError(f"{self.where}: {self.data.get('type')} record {why}")

    def text(self, name: str) -> str:
        value = self.data.get(name)
        if not isinstance(value, str):
            raise self.fail(f"needs {name!r} as text, got {value!r:.60}")
        return value

    def stamp(self, name: str) -> int:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(f"needs {name!r} as a non-negative integer, got {value!r:.60}")
        return value

    def flag(self, name: str) -> bool:
        value = self.data.get(name)
        if not isinstance(value, bool):
            raise self.fail(f"needs {name!r} as true or false, got {value!r:.60}")
        return value

    def vector(self, name: str) -> np.ndarray:
        try:
            raw = base64.b64decode(self.text(name), validate=True)
        except binascii.Error as exc:
            raise self.fail(f"has {name!r} that is not base64 ({exc})") from exc
        if not raw or len(raw) % 4:
            raise self.fail(f"has {name!r} that is not float32 values ({len(raw)} bytes)")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)

    def lines(self, name: str) -> list[str]:
        value = self.data.get(name)
        if not isinstance(value, list) or not all(isinstance(line, str) for line in value):
            raise self.fail(f"needs {name!r} as a list of text lines")
        return value


@dataclass
class _Parsed:
    users: list[User]
    voiceprints: list[Voiceprint]
    episodes: list[Episode]
    entries: list[StoredEntry]
    raws: dict[str, tuple[str, list[str]]]  # episode id → (file name, lines)


def _check_header(src: Path, line: str) -> None:
    try:
        head = json.loads(line)
    except json.JSONDecodeError:
        head = None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise PortableError(f"{src} is not a SEAL memory export (its first line does not name {FORMAT!r})")
    version = head.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PortableError(f"{src}: the header's version {version!r} is not a format version")
    if version > VERSION:
        raise PortableError(f"{src} is export format v{version}, newer than this SEAL's v{VERSION}: "
                            "import it with a SEAL at least as new as the one that wrote it")


def _parse(src: Path) -> _Parsed:
    try:
        lines = src.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise PortableError(f"{src} is not a SEAL memory export (not UTF-8 text: {exc})") from exc
    if not lines:
        raise PortableError(f"{src} is empty, not a SEAL memory export")
    _check_header(src, lines[0])
    out = _Parsed([], [], [], [], {})
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PortableError(f"{src}:{n}: not a JSON record ({exc.msg}); the file is damaged") from exc
        if not isinstance(data, dict):
            raise PortableError(f"{src}:{n}: a record is a JSON object")
        r = _Record(f"{src}:{n}", data)
        kind = data.get("type")
        if kind == "user":
            out.users.append(User(r.text("name"), r.flag("guest"), r.stamp("created_ns"), r.stamp("last_seen_ns")))
        elif kind == "voiceprint":
            out.voiceprints.append(Voiceprint(r.text("user"), r.vector("vector"), r.stamp("created_ns")))
        elif kind == "episode":
            out.episodes.append(Episode(r.text("id"), r.text("user"), r.stamp("started_ns"), r.stamp("ended_ns"),
                                        r.text("task"), r.text("outcome"), ""))
        elif kind == "entry":
            entry = Entry(0, r.text("user"), r.text("episode"), r.text("kind"), r.text("task"), r.text("outcome"),
                          r.flag("shared"), r.text("text"), r.text("header"), r.stamp("created_ns"))
            embedding = r.vector("embedding") if "embedding" in data else None
            out.entries.append(StoredEntry(entry, r.text("key"), embedding))
        elif kind == "raw":
            name = r.text("name")
            if not _RAW_NAME.fullmatch(name):
                raise r.fail(f"has file name {name!r}: a raw file is a plain name ending in .jsonl")
            out.raws[r.text("episode")] = (name, r.lines("lines"))
        else:
            raise PortableError(f"{src}:{n}: unknown record type {kind!r}")
    names = {u.name for u in out.users}
    for v in out.voiceprints:
        if v.user not in names:
            raise PortableError(f"{src}: a voiceprint of {v.user!r}, who has no user record")
    stray = set(out.raws) - {ep.id for ep in out.episodes}
    if stray:
        raise PortableError(f"{src}: raw files of episodes it does not hold: {sorted(stray)}")
    return out


def _target(raw: Path, name: str, local: Episode | None) -> Path:
    """Where an imported raw file goes: over its own episode's file, else a free name."""
    if local is not None and local.raw_path and Path(local.raw_path).resolve().is_relative_to(raw.resolve()):
        return Path(local.raw_path)
    path, stem, n = raw / name, name.removesuffix(".jsonl"), 2
    while path.exists():
        path, n = raw / f"{stem}-{n}.jsonl", n + 1
    return path


def import_(store: Store, folder: str | Path, src_path: str | Path) -> Counts:
    """Read the export ``src_path`` into ``store``, its raw files into ``folder``'s episodes/.
    An episode the store holds in a later state is kept; entries merge as ``Store.restore``
    says. PortableError for a file that is not an export this SEAL reads; nothing is written then."""
    parsed = _parse(Path(src_path))
    raw = location.raw_dir(folder).resolve()
    local = {ep.id: ep for ep in store.episodes()}
    episodes: list[Episode] = []
    created: list[Path] = []
    try:
        for ep in parsed.episodes:
            mine = local.get(ep.id)
            if mine is not None and mine.ended_ns > ep.ended_ns:
                continue  # this store saw more of the episode than the export did
            raw_path = mine.raw_path if mine is not None else ""
            if ep.id in parsed.raws:
                name, lines = parsed.raws[ep.id]
                path = _target(raw, name, mine)
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.exists():
                    created.append(path)
                path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
                raw_path = str(path)
            episodes.append(Episode(ep.id, ep.user, ep.started_ns, ep.ended_ns, ep.task, ep.outcome, raw_path))
        store.restore(parsed.users, parsed.voiceprints, episodes, parsed.entries)
    except BaseException:
        for path in created:  # the rows did not go in: neither do files nothing points to
            path.unlink(missing_ok=True)
        raise
    return Counts(len(parsed.users), len(parsed.voiceprints), len(episodes), len(parsed.entries),
                  sum(ep.id in parsed.raws for ep in episodes))
