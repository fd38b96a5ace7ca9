"""The event-driven thinking loop (interactive ReAct), ROS-free.

Two doors in, one list of commands out:

* ``handle(event)`` folds a perception or executor event into the tagged context;
* ``tick()`` polls the running model generation, parses what it streamed so far and checks the
  clocks (filler deadline, thinking budgets, a stalled model).

Both return the commands decided, in order: thoughts to publish, speech clauses to say,
actions to start, pauses and cancellations. The node (or ``seal think``) executes them; the
executors' outcomes come back as events (``agent_speech_end``, ``action_result``).

How the talk's interactive ReAct maps onto it:

* think while listening: a partial transcript starts a ``think_only`` generation; the final
  transcript revises the user line in place and the thought is kept, not restarted;
* interruption: new user input mid-thought cancels the generation, the open thought is closed
  with ``<interrupted/>``, the input is appended, and a new generation continues from there;
  speech cut by a barge-in is replaced by what the TTS actually played;
* speak while thinking: each finished clause of ``<assistant>`` goes to the TTS at once while
  the model keeps generating;
* fast → slow → continuous: parser-decidable requests (commands, greetings, "please hold") are
  answered by the fast path without the model; if the first words would miss the 500 ms
  budget, or the first thought runs past ~50 tokens, a filler is spoken; past ~500 tokens of
  thought the model is made to summarise aloud ("thinking out loud"), then go on.

Understanding (with an ``IntentReader`` and ``understanding`` on): each final user turn is read
against the scene first — sure: act and say so; unsure which: ask one question back and take
yes/no/a correction as the next turn; questions about the agent and the table are answered from
state (``dialogue.py``). What is left goes to the model, whose words are checked before they are
spoken, and a turn still without a real answer after ``answer_budget_s`` is answered by the
grounded fallback. Every user turn ends with a ``TurnDone`` (``turn_done`` on /seal/events).

This module is the loop (events, clocks, turns, emitting); ``commands.py`` holds what it returns,
``turn.py`` one user turn's bookkeeping, and mixins of ``Thinker`` the larger concerns:
``grounded.py`` the dialogue around the intent step, ``streaming.py`` the model's generation,
``remembering.py`` memory, ``learning.py`` skills, ``restarts.py`` telling the user about a
restarted voice or thinker.
"""
from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from seal_nodes.core import events as ev
from seal_nodes.core.actions import MEMORY, SYSTEM, TARGETS, Action, ActionError, validate
from seal_nodes.core.thinking import tagstream as ts
from seal_nodes.core.thinking.commands import (Act, CancelActions, CancelSpeech, Command, PauseSpeech, Publish, Report,
                                               ResumeSpeech, Say, TurnDone)
from seal_nodes.core.thinking.context import ACT, HINT, OBSERVE, SAY, THINK, USER, WAIT, Context, Segment
from seal_nodes.core.thinking.dialogue import Done
from seal_nodes.core.thinking.fast_path import (NOT_CAUGHT, NOT_UNDERSTOOD, REFUSED_UNSEEN, CommandBackend,
                                                ReasoningInput, Trigger, parse_action)
from seal_nodes.core.thinking.fillers import FillerChooser
from seal_nodes.core.thinking.grounded import GroundedDialogue, Pending
from seal_nodes.core.thinking.intent import IntentReader
from seal_nodes.core.thinking.lm.base import ANSWER, FREE, THINK_ONLY, Generation, LanguageModel
from seal_nodes.core.memory.reader import Acquaintance, MemoryReader
from seal_nodes.core.skills.model import Skill
from seal_nodes.core.thinking.learning import Learning
from seal_nodes.core.thinking.remembering import RECALLED, Remembering
from seal_nodes.core.thinking.restarts import Restarts
from seal_nodes.core.thinking.streaming import GenerationLog, ModelStream
from seal_nodes.core.thinking.turn import Turn
from seal_nodes.core.thinking.utterances import ClauseSplitter, Spoken

LOG_KEPT = 20  # actions remembered for "what did you do, and why?"


@dataclass
class ThinkerConfig:
    keep_thought_turns: int = 2
    max_context_chars: int = 8000
    first_word_budget_ms: float = 500.0  # user stops → first audio (the talk's target)
    voice_lead_ms: float = 150.0  # the TTS's own time to first audio, spent inside that budget
    fast_think_tokens: int = 50  # the quick first thought
    slow_think_tokens: int = 500  # one round of deep thought before a spoken summary
    max_turn_tokens: int = 2000  # then the model must answer
    max_tokens: int = 600  # per generation request
    think_while_listening: bool = True
    listen_min_words: int = 4  # a partial this long starts thinking
    stall_s: float = 10.0  # a generation silent this long is given up
    fast_path: bool = True  # parser-decidable requests skip the model
    system_extra: str = ""  # what the agent knows for this deployment or conversation
    history_segments: int = 5000  # the transcript kept for seal think / reports (oldest dropped)
    user_quiet_s: float = 6.0  # an onset with no word from perception since: the user is not talking
    understanding: bool = True  # read user turns with the IntentReader, if one is given (False: the fast path only)
    answer_budget_s: float = 5.0  # with understanding: a user turn not answered by then gets the grounded fallback

    def __post_init__(self) -> None:
        if not 0.5 <= self.answer_budget_s <= 60.0:
            raise ValueError(f"answer_budget_s must be within 0.5..60 s, got {self.answer_budget_s}")


class Thinker(GroundedDialogue, ModelStream, Remembering, Learning, Restarts):
    def __init__(
        self,
        model: LanguageModel | None,
        known_objects: set[str],
        clock_ns: Callable[[], int] = ev.now_ns,
        config: ThinkerConfig | None = None,
        executors: tuple[str, ...] = ("arm", "system"),
        intent: IntentReader | None = None,
        memory: MemoryReader | None = None,
        user: str | None = None,
    ) -> None:
        self.model = model
        self.cfg = config or ThinkerConfig()
        self.intent = intent
        self.grounded = intent is not None and self.cfg.understanding
        self.known_objects = set(known_objects)
        self.known_targets = set(TARGETS)  # where things can be put
        self.scene: dict[str, dict] = {}  # object name → its last object_seen payload (where it is)
        self.executors = executors
        self.context = Context(keep_thought_turns=self.cfg.keep_thought_turns, max_chars=self.cfg.max_context_chars)
        self.history: list[Segment] = []  # everything, never compacted: the transcript
        # Without a model the command parser answers everything (strict); in front of one it
        # answers only what it can decide.
        self.fast = CommandBackend(strict=model is None) if (self.cfg.fast_path or model is None) else None
        # After the intent step: the rules decide small talk and "please hold"; with no model
        # behind them, small talk of any length.
        self.rules = CommandBackend(strict=False, small_talk_words=5 if model else None) if self.fast else None
        self.pending: Pending | None = None  # the question back waiting for its answer
        self.log: list[Done] = []  # the actions started, for "what did you do, and why?"
        self.goal_turns: dict[str, tuple[Turn | None, int, Done]] = {}  # goal id → its turn, index, log entry
        self.system_text = ""  # the running generation's system prompt (a parrot of it is not spoken)
        self.recent_lines: deque[str] = deque(maxlen=3)  # the agent's latest real lines (not said again)
        self.fillers = FillerChooser()
        self._clock = clock_ns
        self._t0 = clock_ns()
        self._ids = itertools.count(1)
        self.speaking: dict[str, Spoken] = {}  # utterance_id → its segment's record
        self.actions: dict[str, Segment] = {}  # goal_id → its <action> segment
        self.partial_text = ""
        self.held = False  # the voice is paused while perception decides: interruption or not?
        self.held_maybe = False  # ...on a voice_maybe, not yet confirmed by a speech_start
        self.user_talking = False
        self.onset_trace = ""  # the user onset being listened to
        self.user_heard_ns = 0  # last speech_start / fragment
        self.held_says: list[Say] = []  # clauses decided while the user talks
        # the running generation
        self.gen: Generation | None = None
        self.gen_log: GenerationLog | None = None  # set with gen: its record
        self.parser = ts.TagStreamParser()
        self.gen_trace = ""
        self.gen_force = FREE
        self.open_seg: Segment | None = None
        self.open_spoken: Spoken | None = None
        self.splitter = ClauseSplitter()
        self.last_piece_ns = 0
        self.turn: Turn | None = None
        self.last_acted: Turn | None = None  # the last turn that started actions (a revision may complete it)
        self.listening: Segment | None = None  # the partial user line being thought about
        self.listen_thought: Segment | None = None
        self.deferred: list[tuple[Trigger, str]] = []  # observations waiting for the generation to end
        self.first_say_ms: list[float | None] = []  # per user turn, for seal think and the bench
        self.filler_turns = 0
        # what the knowledge base says (remembering.py)
        self.memory: MemoryReader | None = None
        self.user = user  # who is talking, if known (a launch parameter, a name said)
        self.met: Acquaintance | None = None  # what memory knew of them when they said their name
        self.profile: list[str] = []  # their stated preferences and facts, dated lines
        self.recalled = ""  # the automatic search's hits for the current turn
        self.recalls: dict[str, tuple[Segment, Turn | None]] = {}  # goal id → the recall action and its turn
        self.use_memory(memory)
        # what it learns on screen (learning.py)
        self.lesson = ""
        self.skills_found: dict[str, Skill] = {}

    # --- the loop: events -------------------------------------------------------------------
    def handle(self, event: ev.Event) -> list[Command]:
        """Fold one event in; never raises on bad events (they become Reports)."""
        if not isinstance(event.text, str) or not isinstance(event.payload, dict):
            return [Report(f"malformed {event.type} event: text must be a string, payload an object", event.trace_id)]
        handler = self._HANDLERS.get(event.type)
        if handler is None:
            if event.type in ev.KNOWN_TYPES:
                return []  # known but not acted on by this thinker (e.g. music, scene_change)
            return [Report(f"unknown event type {event.type!r} ignored", event.trace_id)]
        try:
            return handler(self, event)
        except (KeyError, TypeError, ValueError) as exc:
            return [Report(f"bad {event.type} event: {exc}", event.trace_id)]

    def _on_speech_start(self, event: ev.Event) -> list[Command]:
        self.user_talking = True
        self.user_heard_ns = self._clock()
        self.onset_trace = event.trace_id
        self.held_maybe = False  # a hold a voice_maybe made is this onset's now
        # The user starts talking over the agent: fall silent at once (the 100 ms barge-in
        # budget), but only *pause*: perception decides next whether it was a real
        # interruption (cancel) or an "uh-huh", a cough (resume where the voice stopped).
        if self.speaking and not self.held:
            self.held = True
            return [PauseSpeech("user onset")]
        return []

    def _on_voice_maybe(self, event: ev.Event) -> list[Command]:
        # Perhaps the user, before the VAD confirms: a pause is cheap, a late stop is not. Not
        # confirmed (no speech_start came), the voice goes on from where it paused.
        if event.payload.get("state") == "end":
            if self.held and self.held_maybe:
                self.held = self.held_maybe = False
                return [ResumeSpeech("not the user")]
            return []
        if self.speaking and not self.held:
            self.held = self.held_maybe = True
            return [PauseSpeech("maybe the user")]
        return []

    def _on_interrupt(self, event: ev.Event) -> list[Command]:
        # A real interjection: stop the voice and drop what was about to be said. What was
        # really said comes back with agent_speech_end and replaces what was meant. A thought
        # in progress goes on (thinking while listening) until the new words are known.
        self.held = False
        out: list[Command] = []
        for say in self.held_says:
            out += self._speech_result(say.utterance_id, "", interrupted=True)
        self.held_says = []
        if self.parser.kind == ts.SAY:
            out += self._stop_generation(interrupted=True)
        if self.speaking:
            out.append(CancelSpeech("user interrupt"))
        return out

    def _on_not_a_turn(self, event: ev.Event) -> list[Command]:
        # backchannel, or a noise the VAD took for an onset: carry on speaking
        if event.type == ev.NOISE and event.payload.get("source") != "transient":
            return []  # background noise level, not an onset
        self.user_talking = False
        out: list[Command] = []
        if self.held:
            self.held = False
            out.append(ResumeSpeech(f"user {event.type}"))
        released, self.held_says = self.held_says, []
        return out + list(released)

    def _on_fragment(self, event: ev.Event) -> list[Command]:
        self.partial_text = event.text
        self.user_talking = True
        self.user_heard_ns = self._clock()
        if self.listening is not None:
            self.listening.text = event.text
            return []
        if (self.model is None or not self.cfg.think_while_listening or self.gen is not None
                or len(event.text.split()) < self.cfg.listen_min_words or self._fast_decides(event.text)):
            return []
        # Think while listening: the partial becomes the user line, and a thought starts on it.
        self.listening = Segment(USER, event.text, trace_id=event.trace_id)
        out: list[Command] = [self._append(self.listening)]
        return out + self._start(THINK_ONLY, event.trace_id)

    def _on_speech_end(self, event: ev.Event) -> list[Command]:
        partial, self.partial_text = self.partial_text, ""
        self.user_talking = False
        out: list[Command] = []
        if self.held:  # a turn perception did not flag as an interrupt still ends the voice
            out += self._on_interrupt(event)
        for say in self.held_says:  # meant before the user's new words: never said
            out += self._speech_result(say.utterance_id, "", interrupted=True)
        self.held_says = []
        text = event.text.strip()
        trace = event.trace_id
        listening, self.listening = self.listening, None
        prev = self.context.last(USER)
        if not text:
            if listening is not None:
                out += self._stop_generation(interrupted=True)
            out += self._fast_only(Trigger("user", ""), trace)
            return out + [TurnDone(trace, "apologized", [], [])]
        force, revises = FREE, ""
        if listening is not None:
            # The thought started on the partial is kept: the user line is revised under it.
            kept_thought = self.parser.kind is None and self.listen_thought is not None
            extends = _extends(listening.text, text)
            out += self._stop_generation(interrupted=not kept_thought)
            listening.text = text
            listening.trace_id = trace
            out.append(Publish(listening, revised=True))
            force = ANSWER if kept_thought and extends else FREE
        elif prev is not None and prev.trace_id and prev.trace_id == event.payload.get("revises"):
            # the user only paused mid-sentence: the whole sentence replaces its first half
            out += self._stop_generation(interrupted=True)
            prev.text = text
            out.append(Publish(prev, revised=True))
            revises = prev.trace_id
        else:
            out += self._stop_generation(interrupted=True)  # new input mid-thought: keep it, marked
            out.append(self._append(Segment(USER, text, trace_id=trace)))
        out += self._begin_turn(text, trace, event, partial)
        turn = self.turn
        turn.revises = revises
        out += self._recollect(turn)
        learned, hints = self._learned(turn)
        out += hints
        decided = self._forget_request(turn) or self._meeting(turn) or self._noted(turn) or learned
        out += decided or self._respond(Trigger("user", turn.user_text), trace, force)
        turn = self.turn
        if turn is not None and turn.trace_id == trace and self.gen is None:
            out += self._finish_reply(turn)  # decided without the model
        return out

    def _on_silence(self, event: ev.Event) -> list[Command]:
        out: list[Command] = [self._append(Segment(HINT, event.text or "No voice for a while.", trace_id=event.trace_id))]
        if self.model is None or self.gen is not None or self.speaking:
            return out
        return out + self._start(FREE, event.trace_id)

    def _on_object_seen(self, event: ev.Event) -> list[Command]:
        name = event.payload.get("name") or event.text
        if name:
            self.known_objects.add(str(name))
            self.scene[str(name)] = dict(event.payload)
        return []

    def _on_agent_speech_end(self, event: ev.Event) -> list[Command]:
        p = event.payload
        return self._speech_result(str(p["utterance_id"]), str(p.get("spoken_text", "")), bool(p.get("interrupted")))

    def _on_action_feedback(self, event: ev.Event) -> list[Command]:
        return []  # progress is shown by the executor; the context only keeps outcomes

    def _on_action_result(self, event: ev.Event) -> list[Command]:
        p = event.payload
        goal_id = str(p["goal_id"])
        act = self.actions.pop(goal_id, None)
        action_text = act.text if act else str(p.get("action", ""))
        status = "succeeded" if p.get("success") else ("canceled" if p.get("canceled") else "failed")
        observed = Segment(OBSERVE, f"{action_text} {status}: {event.text}", trace_id=event.trace_id)
        out: list[Command] = [self._append(observed)]
        owner = self._action_done(goal_id, status, event.text)
        if owner is not None and owner.queue:
            if status == "succeeded":  # a compound request goes on with its next action
                seg, index = owner.queue.pop(0)
                out += self._act(seg, owner, index)
            else:
                owner.queue = []
        trig = Trigger("observation", event.text, {"action": action_text, "success": bool(p.get("success")),
                                                   "canceled": bool(p.get("canceled")), "lost": bool(p.get("lost"))})
        if self.gen is not None:  # let the model finish its sentence; it sees the outcome next
            self.deferred.append((trig, event.trace_id))
        else:
            out += self._respond(trig, event.trace_id, FREE)
        if status == "failed":
            out += self._skill_failed(action_text, event.trace_id)
        return out + (self._maybe_done(owner) if owner is not None else [])

    def _action_done(self, goal_id: str, status: str, message: str) -> Turn | None:
        """Record an action's outcome in the log and in its turn; the turn, if it has one."""
        entry = self.goal_turns.pop(goal_id, None)
        if entry is None:
            return None
        owner, index, done = entry
        done.status, done.message = status, message
        if owner is not None:
            owner.success[index] = status == "succeeded"
            owner.running.discard(goal_id)
        return owner

    _HANDLERS: ClassVar[dict[str, Callable[[Thinker, ev.Event], list[Command]]]] = {
        ev.SPEECH_START: _on_speech_start,
        ev.VOICE_MAYBE: _on_voice_maybe,
        ev.INTERRUPT: _on_interrupt,
        ev.BACKCHANNEL: _on_not_a_turn,
        ev.NOISE: _on_not_a_turn,
        ev.SPEECH_FRAGMENT: _on_fragment,
        ev.SPEECH_END: _on_speech_end,
        ev.SILENCE: _on_silence,
        ev.OBJECT_SEEN: _on_object_seen,
        ev.USER_IDENTIFIED: Remembering._on_user_identified,
        ev.AGENT_SPEECH_END: _on_agent_speech_end,
        ev.ACTION_FEEDBACK: _on_action_feedback,
        ev.ACTION_RESULT: _on_action_result,
    }

    # --- the loop: time ---------------------------------------------------------------------
    def tick(self) -> list[Command]:
        """Poll the generation and the clocks; cheap when nothing runs."""
        out: list[Command] = self._memory_tick()
        now = self._clock()
        if self.gen is not None:
            pieces = self.gen.poll()
            if pieces:
                self.last_piece_ns = now
            for piece in pieces:
                out += self._on_piece(piece)
                if self.gen is None:
                    break  # a piece ended it (an action refused, a budget reached)
            if self.gen is not None and self.gen.done:
                out += self._end_generation()
            elif self.gen is not None and now - self.last_piece_ns > self.cfg.stall_s * 1e9:
                name = getattr(self.model, "name", "model")
                out.append(Report(f"{name} produced nothing for {self.cfg.stall_s:.0f} s; generation given up",
                                  self.gen_trace))
                out += self._stop_generation(interrupted=True)
                out += self._rescue(self.gen_trace) + self._finish_reply(self.turn)
        if self.user_talking and now - self.user_heard_ns > self.cfg.user_quiet_s * 1e9:
            # perception never ended that turn (it crashed, or lost the end): speak again, and
            # ask for the words that were lost
            self.user_talking = False
            released, self.held_says = self.held_says, []
            out += released + self.hearing_lost(self.onset_trace)
        turn = self.turn
        if turn is not None and self._awaits_answer(turn) and now >= turn.answer_due_ns:
            # Never a filler followed by silence: past the budget the grounded step answers.
            out.append(Report(f"no answer to {turn.user_text!r} within {self.cfg.answer_budget_s:g} s; "
                              "the grounded fallback answers", turn.trace_id, {"reason": "answer budget"}))
            out += self._stop_generation(interrupted=True)
            out += self._fallback(turn) + self._end_turn()
            turn = self.turn
        if (turn is not None and not turn.said_anything and not turn.filler and now >= turn.filler_due_ns
                and self.parser.kind != ts.SAY):  # words already on their way need no filler
            out += self._filler(turn)
        if self.gen is None and self.deferred and not self.user_talking:
            trig, trace = self.deferred.pop(0)
            out += self._respond(trig, trace, FREE)
        return out

    def next_wakeup_ns(self) -> int | None:
        """When ``tick`` next has something to do, if known (for simulated clocks)."""
        times = []
        if self.gen is not None:
            due = self.gen.next_due_ns()
            times.append(due if due is not None else self._clock() + 5_000_000)
        if self.turn is not None and not self.turn.said_anything and not self.turn.filler:
            times.append(self.turn.filler_due_ns)
        if self.turn is not None and self._awaits_answer(self.turn):
            times.append(self.turn.answer_due_ns)
        return min(times) if times else None

    def _awaits_answer(self, turn: Turn) -> bool:
        """A user turn the model is working on that has had no real answer, action or question yet."""
        return (self.grounded and self.gen is not None and not turn.replied
                and not (turn.said_real or turn.acted or turn.asked))

    # --- who answers: the grounded dialogue, the fast path or the model ---------------------
    def _respond(self, trigger: Trigger, trace_id: str, force: str) -> list[Command]:
        """The fast path if it can decide, else the model."""
        if trigger.kind == RECALLED:  # the model searched its memory: it goes on with what it found
            return self._start(force, trace_id)
        if self.grounded and trigger.kind == "user" and self.turn is not None:
            return self._understand(self.turn, force)
        if self.fast is not None:
            decided = self._fast_only(trigger, trace_id)
            # Action outcomes are the fast path's to report (it knows every action's wording).
            if decided or self.model is None or trigger.kind == "observation":
                return decided
        return self._start(force, trace_id)

    def _fast_decides(self, text: str) -> bool:
        """Would the fast path answer this (a command, a greeting)? Then the model has nothing
        to think about, and the 2 cores are better left to perception."""
        if self.fast is None:
            return False
        request = ReasoningInput("", Trigger("user", text), set(self.known_objects))
        return any(True for _ in self.fast.respond(request))

    def _fast_only(self, trigger: Trigger, trace_id: str, backend: CommandBackend | None = None) -> list[Command]:
        fast = backend or self.fast or CommandBackend(strict=True)
        request = ReasoningInput(self.context.render(), trigger, set(self.known_objects), self.scene)
        out: list[Command] = []
        turn = self.turn if trigger.kind == "user" else None
        try:
            for seg in fast.respond(request):
                seg.trace_id = trace_id
                if turn is not None and turn.introduced and seg.kind == SAY and not turn.said_anything:
                    seg.text = self._greet(turn, seg.text)  # "Hi, I'm Ana, pick up …": by name
                out += self._emit(seg)
                if turn is not None and seg.text in (NOT_CAUGHT, NOT_UNDERSTOOD):
                    turn.outcome = "apologized"
                elif turn is not None and seg.kind == THINK and REFUSED_UNSEEN in seg.text:
                    turn.outcome = "refused"
        except Exception as exc:  # the parser is ours, but the loop must survive anything
            out.append(Report(f"fast path failed: {exc}", trace_id))
        return out

    # --- turns, fillers, apologies ----------------------------------------------------------
    def _begin_turn(self, text: str, trace_id: str, event: ev.Event, partial: str) -> list[Command]:
        out: list[Command] = []
        prev = self.turn
        if prev is not None and not prev.replied:  # replaced by the user's new words
            prev.replied = True
            if prev.said_real or prev.actions or prev.asked:
                out += self._maybe_done(prev)
            else:
                prev.done = True  # nothing was said or done for it: no turn to report
        now = self._clock()
        # The user stopped when perception says (the event's stamp), if that is believable.
        end = event.stamp_ns if now - 3_000_000_000 <= event.stamp_ns <= now else now
        due = end + int((self.cfg.first_word_budget_ms - self.cfg.voice_lead_ms) * 1e6)
        # Other transcripts of the same words help the intent step (Whisper's n-best, the last
        # partial where it heard the words differently, not just fewer of them).
        alternatives = [a for a in event.payload.get("alternatives", []) if isinstance(a, str) and a.strip()]
        if _heard_otherwise(partial, text):
            alternatives.append(partial.strip())
        self.turn = Turn(text, trace_id, end, due, answer_due_ns=end + int(self.cfg.answer_budget_s * 1e9),
                          alternatives=tuple(alternatives), asked_by=text)
        self.first_say_ms.append(None)
        return out

    def _answered(self, turn: Turn) -> bool:
        """Has the turn had its answer? With understanding, a filler is no answer."""
        if self.grounded:
            return turn.said_real or turn.acted or turn.asked
        return turn.said_anything or turn.acted

    def _end_turn(self) -> list[Command]:
        out = self._finish_reply(self.turn)
        self.turn = None
        return out

    def _finish_reply(self, turn: Turn | None) -> list[Command]:
        """The reply to ``turn`` is decided; it is done once its actions' results are in."""
        if turn is None or turn.replied:
            return []
        turn.replied = True
        return self._maybe_done(turn)

    def _maybe_done(self, turn: Turn) -> list[Command]:
        if turn.done or not turn.replied or turn.running or turn.queue:
            return []
        turn.done = True
        outcome = "acted" if turn.actions else turn.outcome or ("answered" if turn.said_real else "apologized")
        return [TurnDone(turn.trace_id, outcome, list(turn.actions), [bool(s) for s in turn.success],
                         turn.understood)]

    def _filler(self, turn: Turn) -> list[Command]:
        turn.filler = True
        if self.gen is None:
            return []  # nothing is being thought about: no need to buy time
        self.filler_turns += 1
        return self._emit(Segment(SAY, self.fillers.choose(turn.user_text), trace_id=turn.trace_id), filler=True)

    def _apology(self, trace_id: str) -> list[Command]:
        if self.turn is not None and not self.turn.replied:
            self.turn.outcome = "apologized"
        return self._emit(Segment(SAY, "Sorry, I lost my train of thought. Could you say that again?",
                                  trace_id=trace_id))

    # --- emitting finished segments (fast path, fillers, model actions) ---------------------
    def _emit(self, seg: Segment, filler: bool = False) -> list[Command]:
        if seg.kind == SAY:
            if not seg.text.strip():
                return []
            uid = f"u{next(self._ids)}"
            spoken = Spoken(seg, [uid], closed=True)
            self.speaking[uid] = spoken
            if not filler:
                self.recent_lines.append(seg.text)
            return [self._append(seg)] + self._say(Say(seg.text, uid, seg.trace_id, filler=filler))
        if seg.kind == ACT:
            return self._act(seg)
        if seg.kind in (THINK, WAIT):
            return [self._append(seg)]
        return [Report(f"unsupported segment kind {seg.kind!r}", seg.trace_id)]

    def _say(self, say: Say) -> list[Command]:
        self._mark_said(real=not say.filler)
        if self.user_talking:
            self.held_says.append(say)  # not over the user: said if it was only a backchannel
            return []
        return [say]

    def _mark_said(self, real: bool) -> None:
        turn = self.turn
        if turn is not None:
            if turn.first_say_ns is None:
                turn.first_say_ns = self._clock()
                self.first_say_ms[-1] = round((turn.first_say_ns - turn.end_ns) / 1e6, 1)
            turn.said_anything = True
            turn.said_real = turn.said_real or real
            turn.think_tokens = 0

    def _check(self, seg: Segment) -> Action:
        """The action in an ``<action>`` segment, if it may run here; else ActionError/ValueError."""
        action = validate(parse_action(seg.text), self.known_objects, skills=self._skills_callable())
        if action.executor not in self.executors:
            raise ActionError(f"{action.name} needs the {action.executor} executor, not running here")
        return action

    def _act(self, seg: Segment, owner: Turn | None = None, index: int | None = None) -> list[Command]:
        """Start the action (of ``owner``'s, at ``index`` of its planned actions; default: the
        current turn's, appended), or refuse it."""
        trace_id = seg.trace_id
        owner = owner or self.turn
        if owner is not None and owner.done:
            owner = None  # a turn already reported (an action after its reply, from another trigger)
        try:
            action = self._check(seg)
        except (ActionError, ValueError) as exc:
            if owner is not None:
                owner.queue = []
                owner.outcome = owner.outcome if owner.actions else "refused"
            # Refused actions are never executed; the refusal goes into the context and the
            # generation that proposed it ends: the next one sees the refusal.
            out: list[Command] = self._stop_generation(interrupted=False)
            out += [self._append(Segment(OBSERVE, f"refused {seg.text}: {exc}", trace_id=trace_id)),
                    Report(f"action refused: {exc}", trace_id, {"action": seg.text})]
            trig = Trigger("refusal", str(exc), {"reason_for_user": _user_reason(exc)})
            return out + self._fast_only(trig, trace_id)
        if action.executor == MEMORY:
            return self._recall(seg, action, owner)
        if owner is not None and index is None:
            index = len(owner.actions)
            owner.actions.append(seg.text)
            owner.success.append(None)
        if action.executor == SYSTEM:  # stop
            self.actions.clear()
            self.pending = None
            for turn, _, _ in self.goal_turns.values():
                if turn is not None:
                    turn.queue = []  # the rest of a compound request is dropped too
            if owner is not None and index is not None:
                owner.success[index] = True
            return [self._append(seg), CancelActions("user asked to stop"), CancelSpeech("user asked to stop")]
        goal_id = f"g{next(self._ids)}"
        self.actions[goal_id] = seg
        done = Done(action, owner.asked_by if owner is not None else "")
        self.log = self.log[1 - LOG_KEPT:] + [done]
        self.goal_turns[goal_id] = (owner, index or 0, done)
        if owner is not None:
            owner.acted = True
            owner.running.add(goal_id)
        return [self._append(seg), Act(action, self._instruction(action), goal_id, trace_id)]

    def _speech_result(self, uid: str, spoken_text: str, interrupted: bool) -> list[Command]:
        spoken = self.speaking.pop(uid, None)
        if not self.speaking:
            self.held = False
        if spoken is None:
            return []
        if spoken.resolve(uid, spoken_text, interrupted):
            seg = spoken.segment
            if not seg.text and spoken.finished:  # never said a word: it did not happen
                self.context.remove(seg)
                self.history = [s for s in self.history if s is not seg]
            # The talk: what the agent actually said before the barge-in replaces what it meant.
            return [Publish(seg, revised=True)]
        return []

    # --- helpers ----------------------------------------------------------------------------
    def _t_ms(self) -> float:
        return (self._clock() - self._t0) / 1e6

    def _append(self, seg: Segment) -> Publish:
        seg.t_ms = seg.t_ms or self._t_ms()
        self.context.append(seg)
        if not any(s is seg for s in self.history[-50:]):  # identity: equal texts are different segments
            self.history.append(seg)
            if len(self.history) > self.cfg.history_segments:  # a node runs for hours
                del self.history[: len(self.history) // 5]
        return Publish(seg)

    def transcript(self) -> str:
        """The whole conversation in the talk's tagged format (thoughts of every turn kept)."""
        return "\n".join(s.render() for s in self.history)

    def close(self) -> None:
        if self.gen is not None:
            self.gen.cancel()
            self.gen = None
        if self.memory is not None:
            self.memory.close()


def _heard_otherwise(partial: str, final: str) -> bool:
    """Is the partial another hearing of the final's words (most of them, not its prefix)?"""
    p = [w.strip(".,!?").lower() for w in partial.split()]
    f = [w.strip(".,!?").lower() for w in final.split()]
    return bool(p) and len(p) >= 0.7 * len(f) and p != f[:len(p)]


def _extends(partial: str, final: str) -> bool:
    """Did the final transcript only complete the partial (the thought on it still holds)?"""
    p = [w.strip(".,!?").lower() for w in partial.split()]
    f = [w.strip(".,!?").lower() for w in final.split()]
    keep = max(1, len(p) - 1)  # the partial's last word may still change
    return f[:keep] == p[:keep]


def _user_reason(exc: Exception) -> str:
    msg = str(exc)
    if msg.startswith("unknown object"):
        name = msg.split("'")[1] if "'" in msg else "that"
        return f"I don't see {name.replace('_', ' ')} here."
    return ""
