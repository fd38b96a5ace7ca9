"""What went wrong in a recorded run, in plain words, with where and why.

Findings: an action that failed, a user turn never answered (no ``turn_done``) or refused /
apologized for, a latency budget missed (and which hop of the turn was late), the user
repeating a request that was not carried out or correcting the agent ("no, not that"), a
node's error. Each finding keeps what a regression case needs: the user's words, the action the
thinker read from them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from seal_nodes.core import events as ev
from seal_nodes.core.observe.trace.episode import Episode, Turn

THINKING = "thinking"  # a fault of the thinking layer: replayed as a `seal think` scenario
ARM = "arm"  # an action the executor could not carry out: replayed with its seed and instruction
OTHER = "other"
_CORRECTION = re.compile(r"^\s*(no|nope|not that|wrong)\b|\bnot (that|this) one\b|\bi said\b|\bi meant\b", re.I)
_READING = re.compile(r"\b(?:wants|asks me to [^:]*:)\s*([a-z_]+\([^)]*\))")
REPEAT_OVERLAP = 0.8  # two consecutive user turns sharing this much of their words: the user said it again
_FILLER = {"please", "the", "a", "an", "can", "could", "you", "would", "now", "again", "i", "said", "robot"}


@dataclass
class Finding:
    kind: str  # action_failed, unanswered, refused, apologized, over_budget, repeated, corrected, error
    layer: str  # THINKING, ARM or OTHER
    at_ns: int
    text: str  # the plain-words explanation
    trace_id: str = ""
    user_texts: list[str] = field(default_factory=list)  # the words to replay, oldest first
    expected_action: str = ""  # what the user asked for, where the recording says it
    instruction: str = ""  # an arm action's instruction
    action: str = ""


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']+", text.lower()) if w not in _FILLER}


def _repeats(before: str, now: str) -> bool:
    a, b = _words(before), _words(now)
    return bool(a and b) and len(a & b) / len(a | b) >= REPEAT_OVERLAP


def _carried_out(turn: Turn) -> bool:
    done = next((e for e in turn.events if e.type == ev.TURN_DONE), None)
    success = done.payload.get("success", []) if done else []
    return turn.outcome == "acted" and bool(success) and all(success)


def _reading(turn: Turn) -> str:
    """The action the thinker read from the turn (its act, else the reading in its thought)."""
    for t in turn.thoughts:
        if t.kind == "act":
            return t.text
    for t in turn.thoughts:
        m = _READING.search(t.text) if t.kind == "think" else None
        if m:
            return m.group(1)
    return ""


def _late_hop(turn: Turn) -> str:
    """Which step of the turn took the time: perception's end of turn, the thinker, the voice
    (its start, then its first audio: synthesis)."""
    end = turn.speech_end
    offset = end.payload.get("offset_ns") if end else None
    if end is None or not isinstance(offset, int):
        return ""
    say = next((t.log_ns for t in turn.thoughts if t.kind in ("say", "act")), None)
    begun = next((e for e in turn.events if e.type == ev.AGENT_SPEECH_START), None)
    start = begun.log_ns if begun is not None else None
    hops = [(f"perception's speech_end (end of turn: {end.payload.get('end_reason', '?')}) came", "the user stopped",
             end.log_ns - offset)]
    if say is not None:
        hops.append(("the thinker's first output came", "speech_end", say - end.log_ns))
        if start is not None:
            hops.append(("the voice's agent_speech_start came", "the thinker's output", start - say))
    if begun is not None:  # both stamped by the voice: when it began the utterance, when its audio plays
        audio = next((a.stamp_ns for a in turn.voice if a.stamp_ns >= begun.stamp_ns), None)
        if audio is not None:
            hops.append(("the voice's first audio (synthesis) played", "its agent_speech_start",
                         audio - begun.stamp_ns))
    what, after, ns = max(hops, key=lambda h: h[2])
    return f"; the slowest hop: {what} {ns / 1e6:.0f} ms after {after}"


def _turn_findings(ep: Episode, budgets: dict[str, float], t0: int) -> list[Finding]:
    out: list[Finding] = []
    prev: Turn | None = None
    for turn in ep.turns:
        at = f"at {(turn.start_ns - t0) / 1e9:.1f} s"
        said = "; ".join(s.text for s in turn.said) or "nothing"
        heard = f"the user's “{turn.user_text}” {at}"
        reading = _reading(turn)
        if not turn.outcome:
            out.append(Finding("unanswered", THINKING, turn.start_ns, f"{heard} was never answered: no turn_done "
                               f"for trace {turn.trace_id} (the agent said: {said})", turn.trace_id, [turn.user_text],
                               reading))
        elif turn.outcome in ("refused", "apologized"):
            why = next((t.text for t in turn.thoughts if t.kind == "think"), "")
            out.append(Finding(turn.outcome, THINKING, turn.start_ns,
                               f"{heard} was {turn.outcome}" + (f": the thinker read {reading}" if reading else "")
                               + f"; the agent said “{said}”" + (f" (its thought: {why})" if why else ""),
                               turn.trace_id, [turn.user_text], reading))
        for path, ms in turn.measured.items():
            if path in budgets and ms > budgets[path]:
                out.append(Finding("over_budget", OTHER, turn.start_ns, f"{path} was {ms:.0f} ms in {heard}, over its "
                                   f"{budgets[path]:.0f} ms budget" + (_late_hop(turn) if path == "first_audio_ms"
                                                                       else ""), turn.trace_id))
        if prev is not None and turn.user_text and prev.user_text:
            # after a request carried out, the same words again are a new request ("once more"), not a repeat
            again = _repeats(prev.user_text, turn.user_text) and not _carried_out(prev)
            if again or _CORRECTION.search(turn.user_text):
                kind = "repeated" if again else "corrected"
                done = ", ".join(prev.actions) or f"it {prev.outcome or 'never answered'}"
                out.append(Finding(kind, THINKING, turn.start_ns, f"{heard} {kind} the turn before "
                                   f"(“{prev.user_text}”; the agent's response: {done})", turn.trace_id,
                                   [prev.user_text, turn.user_text], _reading(turn) if kind == "repeated" else ""))
        prev = turn
    return out


def diagnose(ep: Episode, budgets: dict[str, float]) -> list[Finding]:
    """Every finding in ``ep``, in time order; ``budgets``: latency path → ms."""
    t0 = ep.recording.start_ns
    out = _turn_findings(ep, budgets, t0)
    for run in ep.actions:
        if run.failed and run.result is not None:
            p = run.result.payload
            layer = ARM if run.commands or run.frames else OTHER
            out.append(Finding("action_failed", layer, run.end_ns, f"{run.name} failed at "
                               f"{(run.end_ns - t0) / 1e9:.1f} s: {run.result.text}", run.trace_id,
                               instruction=str(p.get("instruction", "")), action=run.name))
        elif run.result is None:
            out.append(Finding("action_failed", OTHER, run.end_ns, f"{run.name} never reported a result (the "
                               f"recording ends {(ep.recording.events[-1].log_ns - run.end_ns) / 1e9:.1f} s after "
                               f"its last feedback)", run.trace_id, action=run.name))
    for path, samples in ep.samples.items():
        if path in budgets and not any(path in t.measured for t in ep.turns):
            over = [s for s in ep.recording.latency if s.path == path and s.ms > budgets[path]]
            if over:
                worst = max(over, key=lambda s: s.ms)
                out.append(Finding("over_budget", OTHER, worst.log_ns, f"{path}: {len(over)} of {len(samples)} "
                                   f"samples over its {budgets[path]:.0f} ms budget; worst {worst.ms:.1f} ms at "
                                   f"{(worst.log_ns - t0) / 1e9:.1f} s (trace {worst.trace_id})", worst.trace_id))
    for e in ep.recording.events:
        if e.type == ev.ERROR:
            out.append(Finding("error", OTHER, e.log_ns, f"{e.source or 'a node'} reported an error at "
                               f"{(e.log_ns - t0) / 1e9:.1f} s: {e.text}", e.trace_id))
    return sorted(out, key=lambda f: f.at_ns)
