"""The thinker's outstanding action goals on disk, and what a restarted thinker does with them; ROS-free.

A goal is written to the journal as it is sent and cleared at its result, so a thinker killed
mid-action (kill -9) leaves its goals behind. The respawned thinker reads them at start-up and,
for each, once its executor's server is ready, asks that server to cancel the goal by its id and
for its result (which comes once the goal has ended):

* Cancel, not carry on: the turn that asked for the action, its follow-ups and the user's
  "stop" died with the old thinker; an arm moving for a request nobody tracks any more is not
  what a safe robot does. A cancelled arm goal holds its position.
* The result says what to tell the user: finished before the cancel landed (succeeded), failed,
  or interrupted (cancelled, or unknown to a server that restarted too). No answer within
  ``wait_s``: the user is told that the outcome is unknown.

The file is a small JSON list, replaced atomically (``os.replace``): a kill -9 mid-write leaves
the old list or the new one, never half of one.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

JOURNAL_FILE = "thinker_goals.json"  # in the thinker's state folder (the memory folder)

SUCCEEDED, FAILED, INTERRUPTED, UNKNOWN = "succeeded", "failed", "interrupted", "unknown"


@dataclass(frozen=True)
class Entry:
    goal_id: str  # the thinker's id (g1, …; a respawned thinker counts afresh)
    uuid: str  # the action goal's id on its server, 32 hex digits: the entry's key
    kind: str  # the executor (arm, gui)
    action: str  # pick(object=red_cube)
    trace_id: str
    sent_unix: float  # wall clock: the journal outlives the process


def outcome(known: bool, canceled: bool, success: bool) -> str:
    """What became of a goal, from its server's answer: ``known`` (the server knew the goal and it
    ended), ``canceled`` (ended by the cancel), ``success`` (its result says so)."""
    if not known or canceled:
        return INTERRUPTED
    return SUCCEEDED if success else FAILED


class GoalJournal:
    """The outstanding goals, mirrored to ``path`` on every change; I/O errors are kept for
    ``take_error`` (the goal goes on without its record rather than the loop stopping)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._entries: dict[str, Entry] = {}
        self._error = ""

    def load(self) -> tuple[list[Entry], str]:
        """The entries a previous thinker left, and a problem with the file ("" if none). A file
        that cannot be read is set aside, so one bad write never blocks every later start."""
        if not self.path.exists():
            return [], ""
        try:
            entries = [_entry(item) for item in json.loads(self.path.read_text(encoding="utf-8"))]
        except (OSError, ValueError, TypeError, KeyError) as exc:
            self._write()
            return [], f"goal journal {self.path} unreadable, ignored: {exc}"
        self._entries = {e.uuid: e for e in entries}
        return entries, ""

    def record(self, entry: Entry) -> None:
        self._entries[entry.uuid] = entry
        self._write()

    def clear(self, uuid: str) -> None:
        if self._entries.pop(uuid, None) is not None:
            self._write()

    def take_error(self) -> str:
        err, self._error = self._error, ""
        return err

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps([asdict(e) for e in self._entries.values()]), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            self._error = f"goal journal {self.path} not written: {exc}"


def _entry(item: dict) -> Entry:
    entry = Entry(**{k: item[k] for k in Entry.__dataclass_fields__})
    if not all(isinstance(getattr(entry, k), str) for k in ("goal_id", "uuid", "kind", "action", "trace_id")):
        raise ValueError(f"an entry's ids and action must be strings: {item}")
    if not isinstance(entry.sent_unix, (int, float)) or len(entry.uuid) != 32:
        raise ValueError(f"bad sent_unix or uuid in {item}")
    return entry


@dataclass
class _Leftover:
    entry: Entry
    asked_at: float | None = None  # when the cancel and the result request last went to its server


class Recovery:
    """The goals a previous thinker left out: which to ask about now, and which ran out of time."""

    def __init__(self, entries: list[Entry], wait_s: float, max_age_s: float, clock: Callable[[], float] = time.time,
                 ask_again_s: float = 2.0) -> None:
        self.clock = clock
        # A server's answer to a client it has not discovered yet can be lost (goals.py's notes):
        # unanswered, the cancel and the result request go again; both are safe to repeat.
        self.ask_again_s = ask_again_s
        now = clock()
        self.deadline = now + wait_s
        # A goal sent long ago belongs to an earlier run of the stack, not to this respawn.
        self.stale = [e for e in entries if now - e.sent_unix > max_age_s]
        self._left = {e.uuid: _Leftover(e) for e in entries if now - e.sent_unix <= max_age_s}

    @property
    def pending(self) -> bool:
        return bool(self._left)

    def due(self, ready: Callable[[str], bool]) -> list[Entry]:
        """Goals whose server is ready, not asked yet or unanswered for ``ask_again_s``: the caller
        cancels each and asks its result."""
        now, out = self.clock(), []
        for left in self._left.values():
            if (left.asked_at is None or now - left.asked_at >= self.ask_again_s) and ready(left.entry.kind):
                left.asked_at = now
                out.append(left.entry)
        return out

    def resolved(self, uuid: str) -> Entry | None:
        """The server answered about goal ``uuid``: its entry, once (None if already settled)."""
        left = self._left.pop(uuid, None)
        return left.entry if left else None

    def expired(self) -> list[Entry]:
        """Goals still unanswered past the wait: given up, the outcome unknown."""
        if self.clock() < self.deadline:
            return []
        out = [left.entry for left in self._left.values()]
        self._left.clear()
        return out
