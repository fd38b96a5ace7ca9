"""Timed conversation scenarios for the thinker, and the world that plays them (ROS-free).

A scenario file (YAML or JSON; format in ``scenarios/README.md``) lists what the other side
does and when: user lines (turned into ``speech_start``, ``speech_fragment`` partials and a
final ``speech_end``, or a barge-in / backchannel when the agent is talking), silence hints,
action results, raw events. ``ScenarioWorld`` plays it against a ``Thinker`` with a simulated
voice (words at a set pace, pause / resume / cancel with truthful spoken text) and simulated
executors, on a simulated clock (scripted model: exact and instant) or the wall clock (real
models: real latencies).
"""
from __future__ import annotations

import heapq
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from seal_nodes.core import events as ev
from seal_nodes.core.thinking.commands import (Act, CancelActions, CancelSpeech, PauseSpeech, Publish, Report,
                                               ResumeSpeech, Say)
from seal_nodes.core.thinking.thinker import Thinker
from seal_nodes.core.voice.speech_tags import parse_speech

USER_WORDS_PER_S = 2.6  # a relaxed speaking pace (~155 words a minute)
FRAGMENT_EVERY_MS = 300  # perception's partial transcript period
DECISION_MS = 300  # perception's interrupt/backchannel decision after an onset over the agent
SILENCE_TEXT = "There has been no voice from the other party for {s:g} seconds."
_ENTRY_KEYS = ("user", "silence", "action_result", "object_seen", "event")


class ScenarioError(ValueError):
    """A scenario file that cannot be played; the message says where and why."""


@dataclass
class Scenario:
    name: str
    entries: list[dict]
    script: list[str] = field(default_factory=list)  # streams for the scripted model
    known_objects: list[str] = field(default_factory=lambda: ["red_cube", "green_cube", "blue_cube"])
    voice: dict = field(default_factory=dict)  # words_per_s, first_audio_ms
    actions: dict = field(default_factory=dict)  # duration_ms, success, message; auto: false → results from entries
    end_ms: float | None = None
    description: str = ""
    system: str = ""  # what the agent knows for this conversation (added to its instructions)
    thinker: dict = field(default_factory=dict)  # ThinkerConfig overrides
    tokens_per_s: float | None = None  # the scripted model's pace, if the scenario needs one


def load_scenario(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        raw_text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario {p}: {exc}") from exc
    try:
        if p.suffix == ".json":
            data = json.loads(raw_text)
        else:
            import yaml

            data = yaml.safe_load(raw_text)
    except Exception as exc:
        raise ScenarioError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {exc}") from exc
    return parse_scenario(data, str(p))


def parse_scenario(data: Any, where: str = "scenario") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: the top level must be a mapping")
    entries = data.get("events")
    if not isinstance(entries, list) or not entries:
        raise ScenarioError(f"{where}: 'events' must be a non-empty list")
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("t_ms"), (int, float)):
            raise ScenarioError(f"{where}: event {i} needs a numeric t_ms")
        kinds = [k for k in _ENTRY_KEYS if k in e]
        if len(kinds) != 1:
            raise ScenarioError(f"{where}: event {i} must have exactly one of {_ENTRY_KEYS}, has {kinds}")
        if "user" in e and not isinstance(e["user"], str):
            raise ScenarioError(f"{where}: event {i}: user must be a string")
    script = data.get("script", [])
    if not isinstance(script, list) or not all(isinstance(s, str) for s in script):
        raise ScenarioError(f"{where}: 'script' must be a list of strings")
    return Scenario(name=str(data.get("name", where)), entries=sorted(entries, key=lambda e: e["t_ms"]),
                    script=script, known_objects=list(data.get("known_objects", Scenario("", []).known_objects)),
                    voice=dict(data.get("voice", {})), actions=dict(data.get("actions", {})),
                    end_ms=data.get("end_ms"), description=str(data.get("description", "")),
                    system=str(data.get("system", "")), thinker=dict(data.get("thinker", {})),
                    tokens_per_s=data.get("tokens_per_s"))


def user_duration_ms(text: str) -> float:
    return max(400.0, len(text.split()) / USER_WORDS_PER_S * 1000.0)


class SimClock:
    def __init__(self, start_ns: int = 1_000_000_000_000) -> None:
        self.t = start_ns

    def __call__(self) -> int:
        return self.t


class WallClock:
    def __call__(self) -> int:
        return time.monotonic_ns()


@dataclass
class _Utterance:
    say: Say
    words: list[str]
    played_ms: float = 0.0  # of its duration
    duration_ms: float = 0.0


class VoiceSim:
    """A TTS stand-in for offline scenarios: one utterance at a time at ``words_per_s``, the
    first after idle ``first_audio_ms`` late; pause/resume/cancel; reports what was played."""

    def __init__(self, words_per_s: float = 2.8, first_audio_ms: float = 120.0) -> None:
        self.words_per_s = words_per_s
        self.first_audio_ms = first_audio_ms
        self.queue: list[_Utterance] = []
        self.paused = False
        self.lead_ms = 0.0  # silence still to pass before the current utterance's audio
        self.first_audio_at: dict[str, float] = {}  # utterance id → scenario ms its audio began

    def say(self, say: Say) -> bool:
        """Queue an utterance; False (nothing queued) for text the TTS would refuse."""
        try:
            words = parse_speech(say.text).clean_text.split()
        except ValueError:
            return False
        if not self.queue:
            self.lead_ms = self.first_audio_ms
        self.queue.append(_Utterance(say, words, duration_ms=len(words) / self.words_per_s * 1000.0))
        return True

    @property
    def busy(self) -> bool:
        return bool(self.queue)

    def advance(self, dt_ms: float, now_ms: float) -> list[tuple[Say, str, bool]]:
        """Play ``dt_ms`` of audio; returns finished utterances as (say, spoken, interrupted)."""
        done: list[tuple[Say, str, bool]] = []
        while self.queue and dt_ms > 0 and not self.paused:
            if self.lead_ms > 0:
                step = min(self.lead_ms, dt_ms)
                self.lead_ms -= step
                dt_ms -= step
                continue
            u = self.queue[0]
            self.first_audio_at.setdefault(u.say.utterance_id, now_ms - dt_ms)
            step = min(u.duration_ms - u.played_ms, dt_ms)
            u.played_ms += step
            dt_ms -= step
            if u.played_ms >= u.duration_ms - 1e-6:
                self.queue.pop(0)
                done.append((u.say, " ".join(u.words), False))
        return done

    def next_change_ms(self) -> float | None:
        if not self.queue or self.paused:
            return None
        return self.lead_ms + self.queue[0].duration_ms - self.queue[0].played_ms

    def cancel(self) -> list[tuple[Say, str, bool]]:
        out = []
        for i, u in enumerate(self.queue):
            n = int(u.played_ms / 1000.0 * self.words_per_s) if i == 0 else 0
            out.append((u.say, " ".join(u.words[:n]), True))
        self.queue, self.paused, self.lead_ms = [], False, 0.0
        return out


class ScenarioWorld:
    """Plays a scenario against a thinker and records what happened."""

    def __init__(self, scenario: Scenario, thinker: Thinker, clock: Callable[[], int], simulated: bool) -> None:
        self.sc = scenario
        self.thinker = thinker
        self.clock = clock
        self.simulated = simulated
        self.t0 = clock()
        v = scenario.voice
        self.voice = VoiceSim(float(v.get("words_per_s", 2.8)), float(v.get("first_audio_ms", 120.0)))
        self.auto_actions = bool(scenario.actions.get("auto", True))
        self.running_actions: list[Act] = []
        self.action_done_ms: dict[str, float] = {}  # goal id → when its simulated executor finishes
        self._seq = itertools.count()
        self.timeline: list[tuple[float, int, ev.Event]] = []  # (ms, seq, event) heap
        self.reports: list[str] = []
        self.events_fed: list[dict] = []
        self.commands: list[tuple[float, str, str]] = []  # (ms, command, text)
        self._last_ms = 0.0
        self._pending: list[dict] = list(scenario.entries)  # expanded into events when their time comes

    # --- time ---
    def now_ms(self) -> float:
        return (self.clock() - self.t0) / 1e6

    def _at_ns(self, ms: float) -> int:
        return self.t0 + int(ms * 1e6)

    def _push(self, ms: float, event: ev.Event) -> None:
        heapq.heappush(self.timeline, (ms, next(self._seq), event))

    # --- expanding entries into perception events ---
    def _expand(self, e: dict) -> None:
        t = float(e["t_ms"])
        if "user" in e:
            self._expand_user(t, e)
        elif "silence" in e:
            s = float(e["silence"])
            self._push(t, ev.Event(ev.SILENCE, self._at_ns(t), text=SILENCE_TEXT.format(s=s), source="scenario",
                                   payload={"seconds": s}))
        elif "object_seen" in e:
            name = str(e["object_seen"])
            self._push(t, ev.Event(ev.OBJECT_SEEN, self._at_ns(t), text=name, source="scenario", payload={"name": name}))
        elif "action_result" in e:
            self._push(t, ev.Event("_action_result", self._at_ns(t), payload=dict(e["action_result"] or {})))
        elif "event" in e:
            raw = e["event"]
            if not isinstance(raw, dict):
                self.reports.append(f"scenario event at {t:g} ms is not a mapping; skipped")
                return
            # a trace id ties a replayed turn together (a speech_end that revises an earlier one)
            trace = str(raw.get("trace_id") or ev.new_trace_id())
            self._push(t, ev.Event(str(raw.get("type", "")), self._at_ns(t), text=raw.get("text", ""),
                                   source="scenario", trace_id=trace, payload=raw.get("payload", {})))

    def _expand_user(self, t: float, e: dict) -> None:
        text = e["user"]
        dur = float(e.get("duration_ms", user_duration_ms(text)))
        words = text.split()
        over_agent = self.voice.busy
        trace = ev.new_trace_id()  # one utterance, one trace, as perception gives it
        self._push(t, ev.Event(ev.SPEECH_START, self._at_ns(t), source="scenario", trace_id=trace,
                               payload={"agent_speaking": over_agent, "onset_ns": self._at_ns(t)}))
        if e.get("backchannel"):
            self._push(t + min(dur, DECISION_MS), ev.Event(ev.BACKCHANNEL, self._at_ns(t + dur), text=text,
                                                           source="scenario", trace_id=trace))
            return
        if over_agent:
            self._push(t + DECISION_MS, ev.Event(ev.INTERRUPT, self._at_ns(t), text=" ".join(words[:2]),
                                                 source="scenario", trace_id=trace))
        k = 1
        while k * FRAGMENT_EVERY_MS < dur:
            ms = k * FRAGMENT_EVERY_MS
            n = max(1, int(len(words) * ms / dur))
            self._push(t + ms, ev.Event(ev.SPEECH_FRAGMENT, self._at_ns(t + ms), text=" ".join(words[:n]),
                                        source="scenario", trace_id=trace))
            k += 1
        end = t + dur + float(e.get("end_delay_ms", 0.0))  # perception's end-of-turn delay, if modelled
        self._push(end, ev.Event(ev.SPEECH_END, self._at_ns(t + dur), text=text, source="scenario", trace_id=trace,
                                 payload={"duration_ms": dur, "offset_ns": self._at_ns(t + dur)}))

    # --- the loop ---
    def run(self) -> None:
        end_ms = self.sc.end_ms
        last_entry = self.sc.entries[-1]["t_ms"] if self.sc.entries else 0.0
        hard_end = (end_ms if end_ms is not None else last_entry + 60_000.0)
        while True:
            now = self.now_ms()
            self._advance_time(now)
            while self._pending and self._pending[0]["t_ms"] <= now:
                self._expand(self._pending.pop(0))
            while self.timeline and self.timeline[0][0] <= now:
                _, _, event = heapq.heappop(self.timeline)
                self._feed(event, now)
            self._execute(self.thinker.tick(), now)
            idle = (not self._pending and not self.timeline and self.thinker.gen is None
                    and not self.voice.busy and not self.running_actions and not self.thinker.deferred)
            if (end_ms is None and idle) or now >= hard_end:
                break
            self._wait_until(self._next_ms(now))

    def _next_ms(self, now: float) -> float:
        cands = []
        if self._pending:
            cands.append(self._pending[0]["t_ms"])
        if self.timeline:
            cands.append(self.timeline[0][0])
        wake = self.thinker.next_wakeup_ns()
        if wake is not None:
            cands.append((wake - self.t0) / 1e6)
        change = self.voice.next_change_ms()
        if change is not None:
            cands.append(now + change)
        if self.auto_actions:
            cands += [self.action_done_ms[a.goal_id] for a in self.running_actions]
        if self.sc.end_ms is not None:
            cands.append(self.sc.end_ms)
        nxt = min(cands) if cands else now + 1.0
        return max(nxt, now + (0.001 if self.simulated else 0.5))  # always move on (float rounding)

    def _wait_until(self, ms: float) -> None:
        if self.simulated:
            self.clock.t = max(self.clock.t, self._at_ns(ms))  # type: ignore[attr-defined]
        else:
            time.sleep(max(0.0, min(ms - self.now_ms(), 0.005)))

    def _advance_time(self, now: float) -> None:
        dt = now - self._last_ms
        self._last_ms = now
        for say, spoken, cut in self.voice.advance(dt, now):
            self._speech_end(say, spoken, cut, now)
        for act in list(self.running_actions):
            if self.auto_actions and self.action_done_ms[act.goal_id] <= now:
                self.running_actions.remove(act)
                a = self.sc.actions
                self._feed_result(act, bool(a.get("success", True)), str(a.get("message", "done")), False, now)

    def _speech_end(self, say: Say, spoken: str, interrupted: bool, now: float) -> None:
        e = ev.Event(ev.AGENT_SPEECH_END, self._at_ns(now), text=spoken, source="voice", trace_id=say.trace_id,
                     payload={"utterance_id": say.utterance_id, "completed": not interrupted,
                              "interrupted": interrupted, "spoken_text": spoken})
        self._execute(self.thinker.handle(e), now)

    def _feed(self, event: ev.Event, now: float) -> None:
        if event.type == "_action_result":
            if not self.running_actions:
                self.reports.append(f"action_result at {now:.0f} ms with no action running; skipped")
                return
            act = self.running_actions.pop(0)
            p = event.payload
            self._feed_result(act, bool(p.get("success", True)), str(p.get("text", "")), bool(p.get("canceled")), now)
            return
        self.events_fed.append({"t_ms": round(now, 1), "type": event.type, "text": event.text})
        self._execute(self.thinker.handle(event), now)

    def _feed_result(self, act: Act, success: bool, message: str, canceled: bool, now: float) -> None:
        e = ev.Event(ev.ACTION_RESULT, self._at_ns(now), text=message, source="executor", trace_id=act.trace_id,
                     payload={"goal_id": act.goal_id, "action": str(act.action), "success": success,
                              "canceled": canceled, "instruction": act.instruction})
        self.events_fed.append({"t_ms": round(now, 1), "type": e.type, "text": message})
        self._execute(self.thinker.handle(e), now)

    def _execute(self, commands: list, now: float) -> None:
        for c in commands:
            if isinstance(c, Say):
                self.commands.append((now, "say", c.text))
                if not self.voice.say(c):  # as the TTS node does: an error, and nothing said
                    self.reports.append(f"voice refused {c.text!r}")
                    self._speech_end(c, "", True, now)
            elif isinstance(c, Act):
                self.commands.append((now, "act", str(c.action)))
                self.action_done_ms[c.goal_id] = now + float(self.sc.actions.get("duration_ms", 3000.0))
                self.running_actions.append(c)
            elif isinstance(c, PauseSpeech):
                self.voice.paused = True
            elif isinstance(c, ResumeSpeech):
                self.voice.paused = False
            elif isinstance(c, CancelSpeech):
                for say, spoken, cut in self.voice.cancel():
                    self._speech_end(say, spoken, cut, now)
            elif isinstance(c, CancelActions):
                stopped, self.running_actions = self.running_actions, []
                for act in stopped:
                    self._feed_result(act, False, "canceled", True, now)
            elif isinstance(c, Report):
                self.reports.append(c.text)
            elif isinstance(c, Publish):
                pass

    # --- results ---
    def result(self) -> dict:
        th = self.thinker
        t0_ms = (self.t0 - th._t0) / 1e6  # thinker's t_ms are from its own creation
        segs = [{"t_ms": round(s.t_ms - t0_ms, 1), "kind": s.kind, "text": s.text,
                 **({"interrupted": True} if s.interrupted else {})} for s in th.history]
        return {"scenario": self.sc.name, "transcript": th.transcript(), "segments": segs,
                "first_say_ms": th.first_say_ms, "fillers": th.filler_turns,
                "context_chars": len(th.context.render()), "reports": self.reports,
                "voice_started_ns": {uid: self._at_ns(ms) for uid, ms in self.voice.first_audio_at.items()},
                "commands": [{"t_ms": round(t, 1), "kind": k, "text": x} for t, k, x in self.commands]}
