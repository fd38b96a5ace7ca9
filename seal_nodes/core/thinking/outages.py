"""The voice cut off under the agent, ROS-free: wait for the TTS to come back, then say so.

When the ``GoalTracker`` gives up utterances because their TTS went silent or away, nothing the
agent says can be heard until a TTS server is back, so the apology waits for one. A server counts
as back once it is ready and either a new instance joined the graph (a respawn: the dead one's
discovery record can outlive it) or the server was seen down since the cut. A TTS that was only
slow (the same instance, never down) is no restart: nothing is said for it. The wait is bounded:
past ``wait_s`` the outage is reported and dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from seal_nodes.core.thinking.commands import Report, Say

CUT_WORDS = 20  # the most of a cut-off utterance repeated in the apology


@dataclass(frozen=True)
class VoiceBack:
    """The TTS is back after cutting the agent off: the Thinker says what happened."""

    cut: str  # what the agent was saying when its voice went (the unsaid clauses, shortened); "" if nothing
    trace_id: str


@dataclass
class _Outage:
    at: float  # when the utterances were given up
    servers: frozenset[str]  # the TTS server instances that had them
    trace_id: str
    cut: list[str] = field(default_factory=list)
    down_seen: bool = False


class VoiceWatch:
    """At most one outage at a time; later cuts before the voice is back add to it."""

    def __init__(self, wait_s: float) -> None:
        if wait_s <= 0:
            raise ValueError(f"the wait for the voice must be positive, got {wait_s}")
        self.wait_s = wait_s
        self._outage: _Outage | None = None

    @property
    def waiting(self) -> bool:
        return self._outage is not None

    def lost(self, says: list[Say], servers: frozenset[str], now: float) -> None:
        """``says`` were given up with their TTS (``servers``: its instances that had them)."""
        cut = [s.text.strip() for s in says if not s.filler and s.text.strip()]
        if self._outage is None:
            self._outage = _Outage(now, servers, says[0].trace_id if says else "")
        self._outage.servers |= servers
        self._outage.cut += [c for c in cut if c not in self._outage.cut]

    def check(self, ready: bool, servers: frozenset[str], now: float) -> list[VoiceBack | Report]:
        """The TTS as seen now: ``[VoiceBack]`` once a restarted one is ready, a ``Report`` when
        none came back in ``wait_s``; nothing while waiting or with no outage."""
        out = self._outage
        if out is None:
            return []
        out.down_seen = out.down_seen or not ready
        joined = bool(out.servers and servers - out.servers)  # unknown instances: only down-and-up tells
        if ready and (joined or out.down_seen):
            self._outage = None
            return [VoiceBack(_shorten(" ".join(out.cut)), out.trace_id)]
        if now - out.at > self.wait_s:
            self._outage = None
            return [Report(f"no restarted TTS within {self.wait_s:.0f} s of the voice cutting off; "
                           "the user was not told", out.trace_id, {"cut": " ".join(out.cut)})]
        return []


def _shorten(text: str) -> str:
    words = text.split()
    return text if len(words) <= CUT_WORDS else " ".join(words[:CUT_WORDS]) + " …"
