"""Preferences across restarts: does the thinker use what a person told it in an earlier session?

Scripted people, three sessions each, every session a fresh ``Thinker``, ``EpisodeRecorder`` and
``MemoryReader`` over the same store file (what a restart of the stack leaves): in the first a
person says their name and which cube they like, and has two things done; in the second they come
back ("Welcome back"?) and ask for their favourite cube in their own words; in the third they ask
for "the usual" (their most frequent request). The thinker runs with the intent step in front of
the command rules (no language model: every decision is the grounded path's), every action
succeeds, and what it proposes is compared with what the person meant. Wordings of the second
and third sessions are split: half were written while building this, half never looked at.
"""
from __future__ import annotations

import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from seal_nodes.core import events as ev
from seal_nodes.core.actions import Action
from seal_nodes.core.memory.episodes import EpisodeRecorder
from seal_nodes.core.memory.reader import MemoryReader
from seal_nodes.core.memory.store import Store
from seal_nodes.core.thinking.commands import Act, Say, TurnDone
from seal_nodes.core.thinking.goals import Notice
from seal_nodes.core.thinking.thinker import Thinker, ThinkerConfig

if TYPE_CHECKING:
    from seal_nodes.core.thinking.intent import IntentReader

NAMES = ("Ana", "Bruno", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam",
         "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wendy", "Yara")
COLORS = ("red", "green", "blue")
OBJECTS = {f"{c}_cube" for c in COLORS}
# (split, wording): how people state a favourite, ask for it, and ask for the usual
STATE = [("dev", "Hi, I'm {name}. My favourite cube is the {color} one."),
         ("dev", "Hello, my name is {name}. I like the {color} cube best."),
         ("held_out", "Hi there, I'm {name}. I really prefer the {color} cube."),
         ("held_out", "Good morning, I'm {name}. My favorite cube is the {color} cube.")]
# "dev" wordings were in front of whoever wrote the rules; the first "held_out" ones were not
# (their first run found "hand me", "the cube I told you about", "same as always" unhandled, and
# they moved to dev); the held-out ones now were written after the rules, never run before.
ASK_FAVOURITE = [("dev", "Please pick up my favourite cube."), ("dev", "Could you grab my favorite cube?"),
                 ("dev", "Pick up the cube I like."), ("dev", "Can you push my favourite cube to the left?"),
                 ("dev", "Grab the one I like best."), ("dev", "Hand me my favourite one, please."),
                 ("dev", "Pick up the cube I told you about."),
                 ("held_out", "Could you pick up the cube I mentioned yesterday?"),
                 ("held_out", "Push the one I prefer to the right."), ("held_out", "Point at my preferred cube."),
                 ("held_out", "Would you lift my favourite block?")]
ASK_USUAL = [("dev", "The usual, please."), ("dev", "Can you do the usual?"), ("dev", "My usual, please."),
             ("dev", "Hi, the usual thing please."), ("dev", "Same as always, please."),
             ("dev", "Do what I usually ask for."),
             ("held_out", "Same as last time, please."), ("held_out", "Could you do my usual thing?"),
             ("held_out", "Just what I always want, please."), ("held_out", "Okay, as usual.")]
GREET = ["Hi, I'm {name}.", "Hello, I'm {name}.", "Hi there, I'm {name} again."]


class Clock:
    """Simulated wall time: sessions a day apart, turns seconds apart."""

    def __init__(self, start_ns: int) -> None:
        self.t = start_ns

    def __call__(self) -> int:
        self.t += 1_000_000
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += int(seconds * 1e9)


@dataclass
class Check:
    user: str
    session: int
    kind: str  # welcome | favourite | usual
    split: str
    said: str
    expected: str
    got: str

    @property
    def ok(self) -> bool:
        return self.got == self.expected if self.kind != "welcome" else self.expected in self.got


@dataclass
class Session:
    thinker: Thinker
    recorder: EpisodeRecorder
    store: Store
    clock: Clock
    said: list[str] = field(default_factory=list)

    def turn(self, text: str, trace: str) -> list[Action]:
        """Play one user turn to its end; the actions the thinker started."""
        self.clock.advance(5.0)
        queue = [ev.Event(ev.SPEECH_END, self.clock(), text=text, trace_id=trace)]
        acted: list[Action] = []
        while queue:
            event = queue.pop(0)
            self.recorder.feed(event)
            cmds = self.thinker.handle(event) if event.type != ev.TURN_DONE else []
            deadline = time.monotonic() + 30.0
            while self.thinker.memory is not None and self.thinker.memory.busy() and time.monotonic() < deadline:
                time.sleep(0.001)
                cmds += self.thinker.tick()
            cmds += self.thinker.tick()
            for c in cmds:
                if isinstance(c, Say):
                    self.said.append(c.text)
                    queue.append(ev.Event(ev.AGENT_SPEECH_END, self.clock(), text=c.text, trace_id=c.trace_id,
                                          payload={"utterance_id": c.utterance_id, "spoken_text": c.text,
                                                   "interrupted": False}))
                elif isinstance(c, Act):
                    acted.append(c.action)
                    queue.append(ev.Event(ev.ACTION_RESULT, self.clock(), text="done", trace_id=c.trace_id,
                                          payload={"goal_id": c.goal_id, "action": str(c.action), "success": True,
                                                   "canceled": False, "instruction": c.instruction}))
                elif isinstance(c, TurnDone):
                    queue.append(c.event(self.clock()))
                elif isinstance(c, Notice) and c.publish:
                    self.recorder.feed(c.event)
        return acted

    def close(self) -> None:
        self.recorder.close()
        self.thinker.close()
        self.store.close()


def _session(path: Path, intent: IntentReader | None, clock: Clock) -> Session:
    store = Store(path)
    recorder = EpisodeRecorder(store, path.parent)
    reader = MemoryReader(path)
    cfg = ThinkerConfig(think_while_listening=False)
    thinker = Thinker(None, set(OBJECTS), clock_ns=clock, config=cfg, intent=intent, memory=reader)
    return Session(thinker, recorder, store, clock)


def _said(action: list[Action]) -> str:
    return ", ".join(str(a) for a in action) or "nothing"


def run(users: int = 24, seed: int = 0, intent: IntentReader | None = None, folder: Path | None = None,
        progress=None) -> dict:
    """The checks of ``users`` people × 3 sessions, and their rates."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="seal-memory-sessions-") as tmp:
        path = Path(folder or tmp) / "memory.sqlite3"
        clock = Clock(1_765_000_000 * 10**9)
        people = []
        for i in range(users):
            favourite = rng.choice(COLORS)
            people.append((NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else str(i)), favourite,
                           rng.choice([c for c in COLORS if c != favourite])))
        checks: list[Check] = []
        for n in range(3):
            clock.advance(86_400)  # a day later, the stack restarted
            for name, favourite, other in people:
                session = _session(path, intent, clock)
                try:
                    checks += _play(session, n + 1, name, favourite, other, rng)
                finally:
                    session.close()
                if progress is not None:
                    progress()
    return {"checks": [c.__dict__ | {"ok": c.ok} for c in checks], **rates(checks)}


def _play(s: Session, n: int, name: str, favourite: str, other: str, rng: random.Random) -> list[Check]:
    """Session ``n`` of a person who likes the ``favourite`` cube and mostly bins the ``other``."""
    fav = f"{favourite}_cube"
    if n == 1:
        split, line = rng.choice(STATE)
        s.turn(line.format(name=name, color=favourite), f"{name}-1a")
        s.turn(f"Put the {other} cube in the bin.", f"{name}-1b")
        s.turn(f"Put the {other} cube in the bin again.", f"{name}-1c")
        return []
    greet = rng.choice(GREET).format(name=name)
    s.turn(greet, f"{name}-{n}a")
    out = [Check(name, n, "welcome", "dev", greet, f"Welcome back, {name}!", s.said[-1] if s.said else "")]
    if n == 2:
        split, ask = rng.choice(ASK_FAVOURITE)
        low = ask.lower()
        want = Action("push", {"object": fav, "direction": "left" if "left" in low else "right"}) if "push" in low \
            else Action("point", {"object": fav}) if "point" in low else Action("pick", {"object": fav})
        got = s.turn(ask, f"{name}-2b")
        return out + [Check(name, n, "favourite", split, ask, str(want), _said(got))]
    split, ask = rng.choice(ASK_USUAL)
    usual = Action("place", {"object": f"{other}_cube", "target": "bin"})
    got = s.turn(ask, f"{name}-3b")
    return out + [Check(name, n, "usual", split, ask, str(usual), _said(got))]


def rates(checks: list[Check]) -> dict:
    by: dict[str, dict[str, float]] = {}
    for kind in ("welcome", "favourite", "usual"):
        for split in ("dev", "held_out", "all"):
            picked = [c for c in checks if c.kind == kind and (split == "all" or c.split == split)]
            if picked:
                by.setdefault(kind, {})[split] = round(sum(c.ok for c in picked) / len(picked), 3)
                by[kind][f"{split}_n"] = len(picked)
    applied = [c for c in checks if c.kind in ("favourite", "usual")]
    return {"rates": by, "preference_applied": round(sum(c.ok for c in applied) / max(1, len(applied)), 3),
            "failures": Counter(f"{c.kind}: {c.said!r} → {c.got}" for c in checks if not c.ok).most_common(10)}
