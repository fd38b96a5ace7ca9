"""The grounded dialogue: a final user turn is read against the scene before any model sees it.

Sure: act and say so; unsure which: ask one question back and take yes, no or a correction as the
next turn; questions about the agent and the table are answered from state (``dialogue.py``); a
turn the model leaves without an answer gets the grounded fallback. It is the dialogue policy, so it
reads on its own, apart from the loop's plumbing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from seal_nodes.core.actions import Action, ActionError, instruction_for
from seal_nodes.core.thinking import dialogue, social
from seal_nodes.core.thinking.commands import Command, Report
from seal_nodes.core.thinking.context import ACT, SAY, THINK, Segment
from seal_nodes.core.thinking.fast_path import (NOT_CAUGHT, Trigger, follow_up, format_action, parse_action,
                                                parse_command)
from seal_nodes.core.thinking.frames import Frame, frame_of_action, merge
from seal_nodes.core.thinking.intent import ACT as SURE
from seal_nodes.core.thinking.intent import COMMAND, CONFIRM, IntentReader, Reading, clean
from seal_nodes.core.thinking.misheard import ACTION_VERBS
from seal_nodes.core.thinking.references import scene_objects
from seal_nodes.core.thinking.turn import Turn

MAX_ASKS = 2  # questions about one request before the agent says what it can do instead


@dataclass
class Pending:
    """A request the agent asked back about: "do you want me to …?" (``actions``, waiting for yes or
    no) or "which cube …?" (no actions yet; the reply fills the slots ``frame`` misses)."""

    actions: tuple[Action, ...]
    understood: str
    user_text: str
    frame: Frame | None = None  # the request's slots, which the reply can fill or correct
    asks: int = 1  # questions asked about this request so far


class GroundedDialogue:
    """Mixed into ``Thinker``. Relies on its state (``intent``, ``cfg``, ``grounded``, ``model``,
    ``rules``, ``turn``, ``pending``, ``last_acted``, ``context``, ``known_objects``, ``scene``,
    ``executors``, ``log``, ``goal_turns``) and its steps (``_emit``, ``_append``, ``_act``,
    ``_check``, ``_start``, ``_fast_only``, ``_maybe_done``, ``_apology``)."""

    def use_intent(self, intent: IntentReader | None) -> None:
        """Put the intent step in front of the model (None: take it away). A node does it once the
        reader is warm, so that no turn waits for its encoder to load."""
        self.intent = intent
        self.grounded = intent is not None and self.cfg.understanding

    def _understand(self, turn: Turn, force: str) -> list[Command]:
        """A final user turn, read against the scene before any model sees it."""
        if self.pending is None and self._recited(turn):  # a reply to a question may be a bare list
            thought = Segment(THINK, "The recogniser wrote only its word list: I did not hear the request.",
                              trace_id=turn.trace_id)
            turn.outcome = "apologized"
            return [self._append(thought)] + self._emit(Segment(SAY, NOT_CAUGHT, trace_id=turn.trace_id))
        out = self._read(turn)
        text, trace = turn.user_text, turn.trace_id
        pending, self.pending = self.pending, None
        if pending is not None:
            answered = self._answer_back(turn, pending)
            if answered is not None:
                return out + answered
        answer = dialogue.state_answer(clean(text), self._state())
        if answer:
            return out + self._emit(Segment(SAY, answer, trace_id=trace))
        # The reading knows no conversation: "then the red one" is the last request on another object,
        # unless the words say their own action and are read clearly ("the blue cube, pick it up").
        words = set(re.findall(r"[a-z]+", text.lower()))
        own_verb = turn.reading is not None and turn.reading.band == SURE and bool(words & set(ACTION_VERBS))
        again = None if own_verb else follow_up(text, self.context.render())
        if again is not None:
            return out + self._carry_out(turn, [again], instruction_for(again))
        named = parse_command(text)
        unseen = named is not None and named.args.get("object", "") not in ("", *self.known_objects)
        # a line naming no action or object is small talk rather than a request to guess at
        plain = turn.reading is not None and turn.reading.band != SURE and not self._turn_frame(turn).says_anything()
        act = self._social_act(turn) if plain else ""
        if act and (act in social.ABOUT_ME or self.model is None):  # about itself: from state, never a model
            return out + self._answer(turn, self._social_reply(act))
        decided = [] if unseen else self._on_reading(turn)  # "the purple cube": the rules say it is not here
        if decided:
            return out + decided
        if self.rules is not None:
            decided = self._fast_only(Trigger("user", text), trace, self.rules)
            if decided:
                return out + decided
        if self.model is not None:
            return out + self._start(force, trace)
        return out + self._grounded_rest(turn)

    def _recited(self, turn: Turn) -> bool:
        """Take the recogniser's recited prompt out of the turn; True when nothing else was heard."""
        words = dialogue.scene_words(self.known_objects)
        text, recited = dialogue.strip_recital(turn.user_text, words)
        if recited:
            turn.user_text = text
            turn.alternatives = tuple(a for a in (dialogue.strip_recital(x, words)[0] for x in turn.alternatives) if a)
        return recited and not text

    def _read(self, turn: Turn) -> list[Command]:
        if self.intent is None:
            return []
        try:
            turn.reading = self.intent.read(turn.user_text, scene_objects(self.known_objects, self.scene),
                                            turn.alternatives, self.executors)
        except Exception as exc:  # the reader is ours, but the loop must survive anything
            return [Report(f"intent step failed: {exc}", turn.trace_id)]
        return []

    def _on_reading(self, turn: Turn) -> list[Command]:
        """Sure: act and say so; unsure which: ask back, or ask for what the words left out; else
        nothing (others answer)."""
        u = turn.reading
        if u is None:
            return []
        best = u.best if u.best is not None and u.best.actions else None
        frame = self._turn_frame(turn)
        said = frame.to_action() if not frame.negated else None
        if best is not None and u.band == CONFIRM and frame.named and said is not None and best.actions == (said,):
            best = Reading(best.actions, best.confidence, "words and meaning", best.heard)  # two readings agree
        elif best is not None and u.band == SURE:
            pass
        elif said is not None and (frame.named or u.kind == COMMAND):
            # every slot named in plain words, which meaning did not read for sure: ask about the words
            return self._confirm(turn, Reading((said,), best.confidence if best else 0.0, "words", turn.user_text))
        # meaning's guess is asked about unless the words leave the object vague or their verb names
        # another action: then the question is for the missing slot
        elif best is not None and u.band == CONFIRM and not (frame.action and frame.vague) and \
                not (frame.named and any(a.name != frame.action for a in best.actions)):
            return self._confirm(turn, best)
        else:
            return self._ask_slot(turn, frame, turn.user_text) if u.kind == COMMAND or frame.action else []
        what = ", then ".join(format_action(a) for a in best.actions)
        thought = Segment(THINK, f"The user wants {what}: {best.describe()} {_note(best)}. Start it now and say so.",
                          trace_id=turn.trace_id)
        return [self._append(thought)] + self._carry_out(turn, list(best.actions), best.describe())

    def _confirm(self, turn: Turn, best: Reading) -> list[Command]:
        """Ask before acting: "Do you want me to pick up the blue cube?"."""
        what = ", then ".join(format_action(a) for a in best.actions)
        thought = Segment(THINK, f"The user wants {what}, I think {_note(best)}; I ask before acting.",
                          trace_id=turn.trace_id)
        single = frame_of_action(best.actions[0]) if len(best.actions) == 1 else None
        self.pending = Pending(best.actions, best.describe(), turn.user_text, single)
        turn.asked, turn.outcome, turn.understood = True, "asked", best.describe()
        return [self._append(thought)] + self._emit(Segment(SAY, self._greet(turn, dialogue.ask_back(
            best.describe())), trace_id=turn.trace_id))

    def _turn_frame(self, turn: Turn) -> Frame:
        if turn.frame is None:
            turn.frame = self._frame(turn.user_text)
        return turn.frame

    def _social_act(self, turn: Turn) -> str:
        if turn.social is None:
            turn.social = self.intent.social_act(turn.user_text) if self.intent is not None else ""
        return turn.social

    def _frame(self, text: str) -> Frame:
        if self.intent is None:
            return Frame()
        return self.intent.frame(text, scene_objects(self.known_objects, self.scene))

    def _ask_slot(self, turn: Turn, frame: Frame, asked_by: str, asks: int = 1) -> list[Command]:
        """Ask for what the request left out ("Which cube should I pick up?"); [] when it names
        neither an action nor an object, or was asked about twice already."""
        if frame.missing() in ((), ("action", "object")) or asks > MAX_ASKS:
            return []
        self.pending = Pending((), "", asked_by, frame, asks)
        turn.asked, turn.outcome = True, "asked"
        thought = Segment(THINK, f"The request leaves out {' and '.join(frame.missing())}; I ask for it.",
                          trace_id=turn.trace_id)
        line = dialogue.ask_slot(frame, self._state())
        return [self._append(thought)] + self._emit(Segment(SAY, self._greet(turn, line), trace_id=turn.trace_id))

    def _answer_back(self, turn: Turn, pending: Pending) -> list[Command] | None:
        """The reply to a question back: yes → do it; a plain no → don't; else None (a new turn,
        where "no, the red one" is a follow-up on the request asked about)."""
        if self.intent is None:
            return None
        kind = self.intent.answer_kind(turn.user_text)
        rest = self.intent.reply_rest(turn.user_text)
        said = self._frame(rest)
        if kind == "yes" and pending.actions and not said.says_anything():
            turn.asked_by = pending.user_text
            return self._carry_out(turn, list(pending.actions), pending.understood)
        if kind == "no" and not rest:
            turn.outcome = "answered"
            return self._emit(Segment(SAY, dialogue.WONT, trace_id=turn.trace_id))
        if pending.frame is not None and said.says_anything():
            # "the red one", "to the left", "pick it up", "no, the green one": the reply fills the
            # request's slots or corrects one
            merged = merge(pending.frame, said)
            action = merged.to_action()
            if action is not None:
                turn.asked_by = pending.user_text
                return self._carry_out(turn, [action], instruction_for(action))
            asked = self._ask_slot(turn, merged, pending.user_text, pending.asks + 1)
            if asked:
                return asked
        if kind != "no" or follow_up(turn.user_text, self.context.render()) is not None:
            return None
        u = turn.reading
        if u is not None and u.best is not None and u.best.actions and u.band in (SURE, CONFIRM) \
                and u.best.actions != pending.actions:
            return None  # a new request: read as one
        turn.outcome = "answered"
        return self._emit(Segment(SAY, dialogue.WONT, trace_id=turn.trace_id))

    def _carry_out(self, turn: Turn, actions: list[Action], understood: str) -> list[Command]:
        """Start a request's first action and say what it is doing; the rest follow one by one."""
        old = self.last_acted
        if (turn.revises and old is not None and old.trace_id == turn.revises
                and old.actions == [format_action(a) for a in actions]):
            return self._carry_on(old, turn)
        self.last_acted = turn
        turn.understood = understood
        segs = [Segment(ACT, format_action(a), trace_id=turn.trace_id) for a in actions]
        for seg in segs:  # all or nothing: a compound request with one impossible step is refused whole
            try:
                self._check(seg)
            except (ActionError, ValueError):
                return self._act(seg, turn)
        first = len(turn.actions)
        turn.actions += [s.text for s in segs]
        turn.success += [None] * len(segs)
        turn.queue += [(seg, first + i) for i, seg in enumerate(segs[1:], 1)]
        out = self._act(segs[0], turn, first)
        return out + self._emit(Segment(SAY, self._greet(turn, dialogue.announce(actions)), trace_id=turn.trace_id))

    def _carry_on(self, old: Turn, turn: Turn) -> list[Command]:
        """The whole sentence asks for what its first half already started: not twice. The
        request goes on under the new words, and its turn_done carries their trace."""
        old.trace_id, old.user_text = turn.trace_id, turn.user_text
        turn.replied = turn.done = True  # folded into the request it completes
        self.turn = old
        out: list[Command] = [self._append(Segment(
            THINK, f"The whole sentence asks for {', '.join(old.actions)}, which I already started.",
            trace_id=turn.trace_id))]
        if old.done:  # its results are already in: report them under the new words
            old.done = False
            out += self._maybe_done(old)
        return out

    def _greet(self, turn: Turn, line: str) -> str:
        """A greeting in front of a request ("hi there, could you …") is returned, by name if given."""
        greeting = self._greeting_for(turn)
        return f"{greeting} {line}" if greeting else line

    def _grounded_rest(self, turn: Turn) -> list[Command]:
        """No model answered: what the agent can honestly say."""
        u = turn.reading
        act = self._social_act(turn) if u is not None else ""
        if act:
            return self._answer(turn, self._social_reply(act))
        turn.outcome = "apologized"
        if u is None or not any(ch.isalnum() for ch in turn.user_text):
            line = NOT_CAUGHT
        elif u.kind == "question":
            line = dialogue.DONT_KNOW
        else:
            line = dialogue.capabilities(self._state())
        return self._emit(Segment(SAY, line, trace_id=turn.trace_id))

    def _answer(self, turn: Turn, line: str) -> list[Command]:
        turn.outcome = "answered"
        return self._emit(Segment(SAY, line, trace_id=turn.trace_id))

    def _social_reply(self, act: str) -> str:
        state = self._state()
        return social.reply(act, lambda: dialogue.introduce(state), lambda: dialogue.capabilities(state))

    def _fallback(self, turn: Turn) -> list[Command]:
        """The grounded answer to a turn the model left without one (its reading was already
        neither sure nor worth a question back, or the model would not have been asked)."""
        if turn.said_real or turn.acted or turn.asked:
            return []
        return self._grounded_rest(turn)

    def _rescue(self, trace_id: str) -> list[Command]:
        """The model failed the user turn: the grounded fallback answers it (with understanding), else an apology."""
        turn = self.turn
        if self.grounded and turn is not None and not turn.replied:
            return self._fallback(turn)
        return self._apology(trace_id)

    def _state(self) -> dialogue.State:
        turns = {id(t): t for t, _, _ in self.goal_turns.values() if t is not None}
        queued = [parse_action(seg.text) for t in turns.values() for seg, _ in t.queue]
        return dialogue.State(self.known_objects, self.scene, self.executors, self.log, queued)


def _note(reading: Reading) -> str:
    return f"({reading.source}, {reading.confidence:.2f})"
