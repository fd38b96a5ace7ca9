"""Telling the user what a restart under the agent did to the task: its voice (the TTS) came back
after cutting it off, the thinker itself was respawned with goals out (``journal.py``), or its
hearing stopped in the middle of the user's words."""
from __future__ import annotations

from seal_nodes.core.actions import Action
from seal_nodes.core.thinking.commands import Command, Report
from seal_nodes.core.thinking.context import OBSERVE, SAY, THINK, Segment
from seal_nodes.core.thinking.dialogue import Done
from seal_nodes.core.thinking.fast_path import after_restart, parse_action, voice_restarted
from seal_nodes.core.thinking.outages import VoiceBack
from seal_nodes.core.thinking.turn import Turn


LOST_WORDS = "Sorry, I lost what you were saying. Could you say it again?"


class Restarts:
    """Mixed into ``Thinker``. Relies on its ``goal_turns``, ``_emit`` and ``_append``."""

    goal_turns: dict[str, tuple[Turn | None, int, Done]]

    def voice_back(self, back: VoiceBack) -> list[Command]:
        """The TTS restarted under the agent's words: say so, what was cut off and what still runs."""
        running: list[Action] = [done.action for _, _, done in self.goal_turns.values()]
        out = self._emit(Segment(THINK, "My voice cut off and its server restarted; the user may have missed "
                                        "what I said. Tell them.", trace_id=back.trace_id))
        return out + self._emit(Segment(SAY, voice_restarted(back.cut, running), trace_id=back.trace_id))

    def restarted(self, action_text: str, outcome: str, trace_id: str) -> list[Command]:
        """This thinker was respawned while ``action_text`` was out; ``outcome`` is what its server
        said of it (journal.py: succeeded, failed, interrupted, unknown)."""
        try:
            action = parse_action(action_text)
        except ValueError as exc:
            return [Report(f"a journalled goal's action is unreadable: {exc}", trace_id)]
        out = [self._append(Segment(OBSERVE, f"{action_text} {outcome}: the thinker restarted while it ran",
                                    trace_id=trace_id))]
        return out + self._emit(Segment(SAY, after_restart(action, outcome), trace_id=trace_id))

    def hearing_lost(self, trace_id: str) -> list[Command]:
        """Perception went silent in the middle of the user's words (it crashed and restarted, or
        lost the end of the turn): the words are gone, so the user is asked for them again."""
        out = self._emit(Segment(THINK, "My hearing stopped in the middle of the user's words; ask again.",
                                 trace_id=trace_id))
        return out + self._emit(Segment(SAY, LOST_WORDS, trace_id=trace_id))
