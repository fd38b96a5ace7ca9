"""Events → episodes: the raw record on disk and the summaries in the store.

An episode is one conversation with one person: user turns (a final transcript, then whatever
followed it up to ``turn_done``) until the person changes or the loop stays idle for
``idle_gap_s``. Each finished turn is written at once: its events are appended to the episode's
JSONL file (named for when, who and the first request) and its rule summaries go into the
store, so a crash loses at most the turn in progress. A language-model summary, if a summariser
is given, runs on a worker thread when the episode closes.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from seal_nodes.core import events as ev
from seal_nodes.core.memory import summaries
from seal_nodes.core.memory.store import Episode, Note, Store, header
from seal_nodes.core.memory.summaries import Summariser, Turn
from seal_nodes.core.memory.users import GUEST_PREFIX, UserRegistry, name_from_text

ANONYMOUS = "someone"  # the user of turns nobody could name or recognise
VOICE_MARGIN = 0.1  # a voice this close to the current speaker's threshold (or to a better match) stays theirs
# What the raw record keeps: the conversation, what was done, what went wrong.
RECORDED = frozenset({ev.SPEECH_END, ev.AGENT_SPEECH_END, ev.ACTION_RESULT, ev.ERROR, ev.TURN_DONE,
                      ev.INTERRUPT, ev.BACKCHANNEL, ev.LAUGH})


class Encoder(Protocol):
    def encode_many(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class RecorderConfig:
    idle_gap_s: float = 120.0  # this long without a recorded event ends the episode
    turn_timeout_s: float = 60.0  # a turn with no turn_done for this long is closed as unfinished

    def __post_init__(self) -> None:
        if not 0.0 < self.turn_timeout_s <= self.idle_gap_s:
            raise ValueError("need 0 < turn_timeout_s <= idle_gap_s")


@dataclass
class _Open:
    """The episode being recorded."""

    id: str
    user: str
    started_ns: int
    last_ns: int
    turns: list[Turn] = field(default_factory=list)  # finished ones, in order
    pending: dict[str, Turn] = field(default_factory=dict)  # trace_id → turn awaiting turn_done
    path: Path | None = None


def as_event(event: ev.Event | Mapping[str, Any]) -> dict:
    """An event, object or dict as the thinker sees it, as a plain dict; ValueError when malformed."""
    if isinstance(event, ev.Event):
        raw: Mapping[str, Any] = event.__dict__
    elif isinstance(event, Mapping):
        raw = event
    else:
        raise ValueError(f"an event is an Event or a dict, got {type(event).__name__}")
    kind, stamp, payload = raw.get("type"), raw.get("stamp_ns", 0), raw.get("payload") or {}
    if not isinstance(kind, str) or not kind:
        raise ValueError("event without a type")
    if isinstance(stamp, bool) or not isinstance(stamp, int) or stamp < 0:
        raise ValueError(f"{kind}: stamp_ns must be a non-negative int, got {stamp!r}")
    if not isinstance(payload, Mapping):
        raise ValueError(f"{kind}: payload must be a dict")
    return {"type": kind, "stamp_ns": stamp, "text": str(raw.get("text") or ""),
            "trace_id": str(raw.get("trace_id") or ""), "source": str(raw.get("source") or ""),
            "payload": dict(payload)}


def _listed(payload: dict, key: str) -> list:
    value = payload.get(key)
    return value if isinstance(value, list) else []


def slug(text: str, words: int = 6) -> str:
    """Lower-case words joined by dashes, safe in a file name."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())[:words])[:48] or "turn"


class EpisodeRecorder:
    """Fed the loop's events in order (``feed``) and the clock (``tick``); writes episodes."""

    def __init__(self, store: Store, folder: str | Path, encoder: Encoder | None = None,
                 users: UserRegistry | None = None, user: str | None = None, summariser: Summariser | None = None,
                 cfg: RecorderConfig | None = None) -> None:
        """``folder``: where the raw episode files go; ``encoder``: embeds the entries (None:
        BM25 only); ``user``: who is talking until someone says otherwise (a launch parameter)."""
        self.store = store
        self.folder = Path(folder)
        self.encoder = encoder
        self.users = users or UserRegistry(store)
        self.user = self.users.add(user) if user else ANONYMOUS
        self.summariser = summariser
        self.cfg = cfg or RecorderConfig()
        self.problems: deque[str] = deque(maxlen=50)  # what went wrong writing, for the node to report
        self._episode: _Open | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memory-lm") if summariser else None
        self._jobs: list[Future] = []

    # --- who --------------------------------------------------------------------------------
    def set_user(self, name: str, now_ns: int | None = None) -> list[int]:
        """Someone else is talking now (voice, face, a parameter): the current episode ends."""
        key = self.users.add(name)
        written: list[int] = []
        if key != self.user:
            written = self._close_episode(now_ns if now_ns is not None else ev.now_ns())
            self.user = key
        return written

    def _named(self, name: str, now_ns: int) -> list[int]:
        """The speaker said their name. An unnamed speaker becomes them (a guest wholly, an
        anonymous one for this episode); a named one hands over to a new episode."""
        key = self.users.add(name)
        if key == self.user:
            return []
        if self.user != ANONYMOUS and not self.user.startswith(GUEST_PREFIX):
            return self.set_user(key, now_ns)
        old, self.user = self.user, key
        episode = self._episode
        if old == ANONYMOUS:
            moved = self.store.rename_user(old, key, episode=episode.id) if episode is not None else []
        else:
            moved = self.users.rename(old, key)
        if episode is not None:
            episode.user = key
            for turn in [*episode.turns, *episode.pending.values()]:
                turn.user = key
            self._rename_raw(episode, old, key)
        self._reembed(moved)
        return []

    def _rename_raw(self, episode: _Open, old: str, new: str) -> None:
        """The episode's raw file is named for who it is with: it follows the rename (the store's
        row takes the new path with the episode's next save)."""
        path = episode.path
        if path is None:
            return
        renamed = path.with_name(path.name.replace(f"_{slug(old, 3)}_", f"_{slug(new, 3)}_", 1))
        if renamed == path or renamed.exists():
            return
        try:
            path.rename(renamed)
        except OSError as exc:
            self.problems.append(f"raw episode file not renamed: {exc}")
            return
        episode.path = renamed
        self.store.save_episode(self._row(episode), [])

    def voice(self, trace_id: str, embedding: np.ndarray, now_ns: int) -> tuple[str, str]:
        """The voice of the user turn ``trace_id``: (who spoke it, how that was decided). Voiceprints
        grow with sure matches; a voice nobody has becomes a guest; another person's voice starts an
        episode of their own, and a voice close to the current speaker's stays theirs (one unsure
        turn must not split a conversation). ValueError for an unusable embedding."""
        scores = self.users.scores(embedding)
        users = self.users
        best = max(scores, key=scores.__getitem__) if scores else None
        current = self.user
        own = scores.get(current)
        if own is not None and own >= users.threshold - VOICE_MARGIN and scores[best] - own < VOICE_MARGIN:
            if own >= users.threshold:
                users.enroll(current, embedding)
            return current, "voice"
        known = best is not None and scores[best] >= users.threshold
        if own is None and current != ANONYMOUS and not known:  # the first voice after "I'm Ana" is Ana's
            return users.enroll(current, embedding), "named" if not current.startswith(GUEST_PREFIX) else "guest"
        who = users.enroll(best if known else users.new_guest(), embedding)
        if current == ANONYMOUS:
            self._named(who, now_ns)  # the episode so far was theirs
        else:
            self._switch(who, trace_id, now_ns)
        return who, "voice" if known else "new voice"

    def _switch(self, user: str, trace_id: str, now_ns: int) -> None:
        """Someone else spoke turn ``trace_id``: it moves with them into an episode of their own."""
        episode = self._episode
        turn = episode.pending.pop(trace_id, None) if episode is not None else None
        self.set_user(user, now_ns)
        if turn is None:
            return
        turn.user = user
        self._episode = _Open(self._episode_id(turn.started_ns), user, turn.started_ns, now_ns,
                              pending={turn.trace_id: turn})

    def current_episode(self) -> str:
        """The id of the episode being recorded, "" between episodes."""
        return self._episode.id if self._episode is not None else ""

    @staticmethod
    def _episode_id(now_ns: int) -> str:
        return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now_ns / 1e9))}-{uuid.uuid4().hex[:6]}"

    def _reembed(self, entries: list[tuple[int, str]]) -> None:
        """Contextual embeddings name the user: renamed entries get new ones."""
        if not entries or self.encoder is None:
            return
        try:
            self.store.set_embeddings([i for i, _ in entries], self.encoder.encode_many([t for _, t in entries]))
        except Exception as exc:  # noqa: BLE001 - the old rows stay usable; BM25 has the new name
            self.problems.append(f"renamed entries not re-embedded: {exc}")

    # --- events -----------------------------------------------------------------------------
    def feed(self, event: ev.Event | Mapping[str, Any]) -> list[int]:
        """Record one event; the ids of the entries it caused to be written."""
        e = as_event(event)
        if e["type"] not in RECORDED:
            return []
        now = e["stamp_ns"]
        written = self.tick(now)
        if e["type"] == ev.SPEECH_END:
            return written + self._on_user(e)
        episode = self._episode
        if episode is None:
            return written  # nothing to attach it to: the agent talking to no one recorded
        episode.last_ns = max(episode.last_ns, now)
        turn = episode.pending.get(e["trace_id"])
        if turn is None and e["type"] != ev.TURN_DONE and episode.pending:
            turn = list(episode.pending.values())[-1]  # an action's own trace: the latest turn asked for it
        if turn is None:
            return written
        turn.events.append(e)
        if e["type"] == ev.TURN_DONE:
            p = e["payload"]
            turn.outcome = str(p.get("outcome", ""))
            turn.actions = [str(a) for a in _listed(p, "actions") if a]
            turn.success = [bool(s) for s in _listed(p, "success")]
            turn.understood = str(p.get("understood", ""))
            written += self._finish_turn(turn, now)
        return written

    def _on_user(self, e: dict) -> list[int]:
        now, text = e["stamp_ns"], " ".join(e["text"].split())
        written: list[int] = []
        name = name_from_text(text)
        if name is not None:
            written += self._named(name, now)
        episode = self._episode
        revises = str(e["payload"].get("revises") or "")
        if episode is not None and revises in episode.pending:
            turn = episode.pending.pop(revises)  # the user only paused: the same turn, whole sentence
            turn.text, turn.trace_id = text, e["trace_id"] or turn.trace_id
            turn.events.append(e)
            episode.pending[turn.trace_id] = turn
            episode.last_ns = now
            return written
        if episode is None:
            episode = self._episode = _Open(self._episode_id(now), self.user, now, now)
        episode.last_ns = now
        trace = e["trace_id"] or uuid.uuid4().hex[:16]
        episode.pending[trace] = Turn(trace, self.user, now, text, [e])
        return written

    def tick(self, now_ns: int) -> list[int]:
        """Close turns that never got their turn_done, and the episode once idle."""
        episode = self._episode
        if episode is None:
            return []
        written: list[int] = []
        for turn in list(episode.pending.values()):
            if now_ns - turn.started_ns > self.cfg.turn_timeout_s * 1e9:
                written += self._finish_turn(turn, now_ns)
        if now_ns - episode.last_ns > self.cfg.idle_gap_s * 1e9:
            written += self._close_episode(now_ns)
        return written

    def close(self, timeout_s: float = 60.0) -> list[int]:
        """End the episode in progress and wait for the summaries still being written."""
        written = self._close_episode(ev.now_ns())
        for job in self._jobs:
            try:
                written += job.result(timeout=timeout_s)
            except Exception as exc:  # noqa: BLE001 - the worker's failure is reported, not raised
                self.problems.append(f"episode summary failed: {exc}")
        self._jobs = []
        if self._worker is not None:
            self._worker.shutdown(wait=False)
            self._worker = None
        return written

    # --- writing ----------------------------------------------------------------------------
    def _finish_turn(self, turn: Turn, now_ns: int) -> list[int]:
        episode = self._episode
        if episode is None:
            return []
        episode.pending.pop(turn.trace_id, None)
        turn.ended_ns = max(now_ns, turn.started_ns)
        notes = summaries.rules(turn, episode.turns, episode.id)
        episode.turns.append(turn)
        try:
            self._append_raw(episode, turn)
        except OSError as exc:
            self.problems.append(f"raw episode file not written: {exc}")
        return self._save(episode, notes)

    def _close_episode(self, now_ns: int) -> list[int]:
        episode = self._episode
        if episode is None:
            return []
        written: list[int] = []
        for turn in list(episode.pending.values()):
            written += self._finish_turn(turn, now_ns)
        self._episode = None
        if self._worker is not None and episode.turns:
            self._jobs = [j for j in self._jobs if not j.done()] + [self._worker.submit(self._summarise, episode)]
        return written

    def _summarise(self, episode: _Open) -> list[int]:
        reply = self.summariser(summaries.lm_prompt(episode.turns))  # type: ignore[misc]
        row = self._row(episode)
        return self._save(episode, summaries.lm_notes(reply, row.task, row.outcome, episode.id))

    def _row(self, episode: _Open) -> Episode:
        outcomes = [summaries.turn_outcome(t) for t in episode.turns]
        tasks = [summaries.task_type(t) for t in episode.turns]
        task = next((t for t in tasks if t not in ("question", "conversation")), tasks[0] if tasks else "conversation")
        outcome = "failed" if "failed" in outcomes else "succeeded" if "succeeded" in outcomes else \
            (outcomes[-1] if outcomes else "unfinished")
        ended = max([t.ended_ns for t in episode.turns] + [episode.started_ns])
        return Episode(episode.id, episode.user, episode.started_ns, ended, task, outcome,
                       str(episode.path) if episode.path else "")

    def _save(self, episode: _Open, notes: list[Note]) -> list[int]:
        row = self._row(episode)
        embeddings = None
        if notes and self.encoder is not None:
            try:
                texts = [self.store.indexed(header(row.user, row.ended_ns, n.task, n.outcome), n.text) for n in notes]
                embeddings = self.encoder.encode_many(texts)
            except Exception as exc:  # noqa: BLE001 - any encoder failure leaves BM25 to find them
                self.problems.append(f"entries stored without embeddings: {exc}")
        return self.store.save_episode(row, notes, embeddings)

    def _append_raw(self, episode: _Open, turn: Turn) -> None:
        """Append the turn's events to the episode's JSONL file, created on its first turn."""
        if episode.path is None:
            stamp = time.strftime("%Y-%m-%d_%H%M%S", time.localtime(episode.started_ns / 1e9))
            folder = self.folder / "episodes"
            folder.mkdir(parents=True, exist_ok=True)
            base = f"{stamp}_{slug(episode.user, 3)}_{slug(turn.text)}"
            path, n = folder / f"{base}.jsonl", 2
            while path.exists():
                path, n = folder / f"{base}-{n}.jsonl", n + 1
            episode.path = path
            head = {"episode": episode.id, "user": episode.user, "started_ns": episode.started_ns}
            lines = [json.dumps(head, ensure_ascii=False)]
        else:
            lines = []
        lines += [json.dumps({**e, "user": turn.user}, ensure_ascii=False, default=str) for e in turn.events]
        with open(episode.path, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()

    # --- forgetting -------------------------------------------------------------------------
    def forget(self, user: str) -> int:
        """Delete everything about ``user``: the open episode if theirs, the store's rows and the
        raw files; how many files went."""
        key = self.users.add(user)
        if self._episode is not None and self._episode.user == key:
            path, self._episode = self._episode.path, None
            if path is not None:
                path.unlink(missing_ok=True)
        return forget_files(self.folder, self.store.forget_user(key))


def forget_files(folder: str | Path, paths: list[str]) -> int:
    """Delete the raw files ``paths`` that lie inside ``folder``; how many were there."""
    root = Path(folder).resolve()
    gone = 0
    for p in paths:
        path = Path(p).resolve()
        if p and path.is_relative_to(root) and path.is_file():
            path.unlink()
            gone += 1
    return gone


def read_raw(path: str | Path) -> list[dict]:
    """An episode file's lines; a line torn by a crash mid-write is skipped."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
