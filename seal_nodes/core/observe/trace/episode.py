"""A recording as an episode: one row per user turn, per action, per perception event.

A turn is everything with the trace id of a ``speech_end`` (the thinker and the voice reuse it);
an action is everything with one ``goal_id`` (feedback, result) plus the arm commands and camera
frames of its time span. Latency samples are kept per path for the budget table; two budgets
are measured from the recording itself: ``speech_start_ms`` (perception's onset estimate →
``speech_start`` received) and ``first_audio_ms`` (end of the user's speech → first reply chunk;
in a recording without /audio/speaker, → the voice's ``agent_speech_start``).
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from seal_nodes.core import events as ev
from seal_nodes.core.observe.trace.reader import AudioRec, EventRec, FrameRec, Recording, ThoughtRec, load_frames
from seal_nodes.core.observe.trace.schema import SCHEMAS

ACTION_TYPES = {ev.ACTION_FEEDBACK, ev.ACTION_RESULT}


@dataclass
class Turn:
    trace_id: str
    start_ns: int
    user_text: str = ""
    outcome: str = ""  # turn_done's outcome; "" when the thinker never reported the turn done
    actions: list[str] = field(default_factory=list)
    said: list[EventRec] = field(default_factory=list)  # agent_speech_end: what was really heard
    events: list[EventRec] = field(default_factory=list)
    thoughts: list[ThoughtRec] = field(default_factory=list)
    mic: list[AudioRec] = field(default_factory=list)  # the user's audio of this turn
    voice: list[AudioRec] = field(default_factory=list)  # the agent's audio played for it (/audio/speaker)
    measured: dict[str, float] = field(default_factory=dict)  # budget path → ms
    speech_end: EventRec | None = None


@dataclass
class ActionRun:
    goal_id: str
    trace_id: str
    start_ns: int
    name: str = ""
    result: EventRec | None = None
    feedback: list[EventRec] = field(default_factory=list)
    commands: int = 0  # arm trajectory messages while it ran
    frames: list[tuple[str, FrameRec]] = field(default_factory=list)  # ("start" | "end", frame)

    @property
    def end_ns(self) -> int:
        if self.result is not None:
            return self.result.log_ns
        return self.feedback[-1].log_ns if self.feedback else self.start_ns

    @property
    def failed(self) -> bool:
        return self.result is not None and not self.result.payload.get("success") \
            and not self.result.payload.get("canceled")


@dataclass
class Episode:
    recording: Recording
    turns: list[Turn]
    actions: list[ActionRun]
    others: list[EventRec]  # perception, errors, unknown types: one row each
    samples: dict[str, list[float]]  # latency path → samples (ms)
    unknown_types: list[str]

    def rows(self) -> list[tuple[int, str, object]]:
        """(time, kind, item) in time order; kind is "turn", "action" or "event"."""
        out: list[tuple[int, str, object]] = [(t.start_ns, "turn", t) for t in self.turns]
        out += [(a.start_ns, "action", a) for a in self.actions]
        out += [(e.log_ns, "event", e) for e in self.others]
        return sorted(out, key=lambda r: r[0])


def _turns(rec: Recording) -> dict[str, Turn]:
    turns: dict[str, Turn] = {}
    for e in rec.events:
        if e.type == ev.SPEECH_END and e.trace_id not in turns:
            turns[e.trace_id] = Turn(e.trace_id, e.log_ns)
    for e in rec.events:
        turn = turns.get(e.trace_id)
        if turn is None or e.type in ACTION_TYPES:
            continue
        turn.events.append(e)
        turn.start_ns = min(turn.start_ns, e.log_ns)
        if e.type == ev.SPEECH_END:
            turn.user_text, turn.speech_end = e.text, e
        elif e.type == ev.TURN_DONE:
            turn.outcome = str(e.payload.get("outcome", "")) or "done"
            turn.actions = [str(a) for a in e.payload.get("actions", [])]
        elif e.type == ev.AGENT_SPEECH_END:
            turn.said.append(e)
    for t in rec.thoughts:
        if t.trace_id in turns:
            turns[t.trace_id].thoughts.append(t)
    return turns


def _measure(turn: Turn, rec: Recording) -> None:
    start = next((e for e in turn.events if e.type == ev.SPEECH_START), None)
    end = turn.speech_end
    onset = (start.payload.get("onset_ns") if start else None) or (end.payload.get("onset_ns") if end else None)
    offset = end.payload.get("offset_ns") if end else None
    if start is not None and isinstance(onset, int):
        turn.measured["speech_start_ms"] = max(0.0, (start.log_ns - onset) / 1e6)
    if isinstance(offset, int):
        reply = next((a.stamp_ns for a in rec.speaker if a.trace_id == turn.trace_id and a.stamp_ns > offset), None)
        if not rec.speaker:  # no audio recorded (an offline scenario run): when the voice began playing
            reply = next((e.stamp_ns for e in turn.events if e.type == ev.AGENT_SPEECH_START and e.stamp_ns > offset),
                         None)
        if reply is not None:
            turn.measured["first_audio_ms"] = (reply - offset) / 1e6
    if isinstance(onset, int) and isinstance(offset, int):
        turn.mic = [a for a in rec.mic if onset - 200_000_000 <= a.stamp_ns <= offset + 200_000_000]
    turn.voice = [a for a in rec.speaker if a.trace_id == turn.trace_id]


def _actions(rec: Recording) -> list[ActionRun]:
    runs: dict[str, ActionRun] = {}
    for e in rec.events:
        if e.type not in ACTION_TYPES:
            continue
        gid = str(e.payload.get("goal_id", "")) or f"{e.trace_id}?"
        run = runs.setdefault(gid, ActionRun(gid, e.trace_id, e.log_ns))
        if e.type == ev.ACTION_RESULT:
            run.result = e
            run.name = str(e.payload.get("action", "")) or run.name
        else:
            run.feedback.append(e)
    acts = {t.trace_id: t.text for t in rec.thoughts if t.kind == "act"}
    ordered = sorted(runs.values(), key=lambda r: r.start_ns)
    moments = [(run, label, t) for run in ordered for label, t in (("start", run.start_ns), ("end", run.end_ns))]
    frames = load_frames(rec, [t for _, _, t in moments]) if moments else []
    for (run, label, _), frame in zip(moments, frames):
        if frame is not None:
            run.frames.append((label, frame))
    for run in ordered:
        run.name = run.name or acts.get(run.trace_id, run.goal_id)
        lo, hi = bisect_left(rec.trajectory_ns, run.start_ns), bisect_right(rec.trajectory_ns, run.end_ns)
        run.commands = hi - lo
    return ordered


def build_episode(rec: Recording) -> Episode:
    turns = _turns(rec)
    samples: dict[str, list[float]] = {}
    for s in rec.latency:
        samples.setdefault(s.path, []).append(s.ms)
    for turn in turns.values():
        _measure(turn, rec)
        for path, ms in turn.measured.items():
            samples.setdefault(path, []).append(ms)
    others = [e for e in rec.events if e.trace_id not in turns and e.type not in ACTION_TYPES]
    unknown = sorted({e.type for e in rec.events if e.type not in SCHEMAS})
    return Episode(rec, sorted(turns.values(), key=lambda t: t.start_ns), _actions(rec), others, samples, unknown)
