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
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Union

from seal_nodes.core import events as ev
from seal_nodes.core.actions import ACTION_SET, SYSTEM, Action, ActionError, instruction_for, validate
from seal_nodes.core.thinking import tagstream as ts
from seal_nodes.core.thinking.context import ACT, HINT, OBSERVE, SAY, THINK, USER, WAIT, Context, Segment
from seal_nodes.core.thinking.fast_path import CommandBackend, ReasoningInput, Trigger, describe_place, parse_action
from seal_nodes.core.thinking.fillers import FillerChooser
from seal_nodes.core.thinking.lm.base import ANSWER, FREE, SUMMARY, THINK_ONLY, Generation, LanguageModel, Prompt
from seal_nodes.core.thinking.prompting import system_prompt
from seal_nodes.core.thinking.utterances import ClauseSplitter, Spoken


@dataclass
class Say:
    text: str
    utterance_id: str
    trace_id: str
    filler: bool = False  # bought time for the model; not its answer


@dataclass
class Act:
    action: Action
    instruction: str
    goal_id: str
    trace_id: str


@dataclass
class CancelSpeech:
    reason: str


@dataclass
class PauseSpeech:
    """Hold the voice (the user started talking over it) until Resume or Cancel."""

    reason: str


@dataclass
class ResumeSpeech:
    reason: str


@dataclass
class CancelActions:
    reason: str


@dataclass
class Publish:
    """A segment appended to the context (or, ``revised``, changed in it) for /seal/thoughts."""

    segment: Segment
    revised: bool = False


@dataclass
class Report:
    """An error the thinker refused or met; the node publishes it as an ``error`` event."""

    text: str
    trace_id: str
    payload: dict = field(default_factory=dict)


Command = Union[Say, Act, CancelSpeech, PauseSpeech, ResumeSpeech, CancelActions, Publish, Report]


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


@dataclass
class _Turn:
    """Timing of the reply to one user turn."""

    user_text: str
    trace_id: str
    end_ns: int  # when the user stopped
    filler_due_ns: int
    first_say_ns: int | None = None
    filler: bool = False
    tokens: int = 0
    think_tokens: int = 0  # since the last thing said
    said_anything: bool = False
    acted: bool = False


class Thinker:
    def __init__(
        self,
        model: LanguageModel | None,
        known_objects: set[str],
        clock_ns: Callable[[], int] = ev.now_ns,
        config: ThinkerConfig | None = None,
        executors: tuple[str, ...] = ("arm", "system"),
    ) -> None:
        self.model = model
        self.cfg = config or ThinkerConfig()
        self.known_objects = set(known_objects)
        self.scene: dict[str, dict] = {}  # object name → its last object_seen payload (where it is)
        self.executors = executors
        self.context = Context(keep_thought_turns=self.cfg.keep_thought_turns, max_chars=self.cfg.max_context_chars)
        self.history: list[Segment] = []  # everything, never compacted: the transcript
        # Without a model the command parser answers everything (strict); in front of one it
        # answers only what it can decide.
        self.fast = CommandBackend(strict=model is None) if (self.cfg.fast_path or model is None) else None
        self.fillers = FillerChooser()
        self._clock = clock_ns
        self._t0 = clock_ns()
        self._ids = itertools.count(1)
        self.speaking: dict[str, Spoken] = {}  # utterance_id → its segment's record
        self.actions: dict[str, Segment] = {}  # goal_id → its <action> segment
        self.partial_text = ""
        self.held = False  # the voice is paused while perception decides: interruption or not?
        self.user_talking = False
        self.user_heard_ns = 0  # last speech_start / fragment
        self.held_says: list[Say] = []  # clauses decided while the user talks
        # the running generation
        self.gen: Generation | None = None
        self.parser = ts.TagStreamParser()
        self.gen_trace = ""
        self.gen_force = FREE
        self.open_seg: Segment | None = None
        self.open_spoken: Spoken | None = None
        self.splitter = ClauseSplitter()
        self.last_piece_ns = 0
        self.turn: _Turn | None = None
        self.listening: Segment | None = None  # the partial user line being thought about
        self.listen_thought: Segment | None = None
        self.deferred: list[tuple[Trigger, str]] = []  # observations waiting for the generation to end
        self.first_say_ms: list[float | None] = []  # per user turn, for seal think and the bench
        self.filler_turns = 0

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
        # The user starts talking over the agent: fall silent at once (the 100 ms barge-in
        # budget), but only *pause*: perception decides next whether it was a real
        # interruption (cancel) or an "uh-huh", a cough (resume where the voice stopped).
        if self.speaking and not self.held:
            self.held = True
            return [PauseSpeech("user onset")]
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
        self.partial_text = ""
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
            return out + self._fast_only(Trigger("user", ""), trace)
        if listening is not None:
            # The thought started on the partial is kept: the user line is revised under it.
            kept_thought = self.parser.kind is None and self.listen_thought is not None
            extends = _extends(listening.text, text)
            out += self._stop_generation(interrupted=not kept_thought)
            listening.text = text
            listening.trace_id = trace
            out.append(Publish(listening, revised=True))
            self._begin_turn(text, trace, event)
            force = ANSWER if kept_thought and extends else FREE
            return out + self._respond(Trigger("user", text), trace, force)
        if prev is not None and prev.trace_id and prev.trace_id == event.payload.get("revises"):
            # the user only paused mid-sentence: the whole sentence replaces its first half
            out += self._stop_generation(interrupted=True)
            prev.text = text
            out.append(Publish(prev, revised=True))
            self._begin_turn(text, trace, event)
            return out + self._respond(Trigger("user", text), trace, FREE)
        out += self._stop_generation(interrupted=True)  # new input mid-thought: keep it, marked
        out.append(self._append(Segment(USER, text, trace_id=trace)))
        self._begin_turn(text, trace, event)
        return out + self._respond(Trigger("user", text), trace, FREE)

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
        trig = Trigger("observation", event.text, {"action": action_text, "success": bool(p.get("success")),
                                                   "canceled": bool(p.get("canceled"))})
        if self.gen is not None:  # let the model finish its sentence; it sees the outcome next
            self.deferred.append((trig, event.trace_id))
            return out
        return out + self._respond(trig, event.trace_id, FREE)

    _HANDLERS: dict[str, Callable[[Thinker, ev.Event], list[Command]]] = {
        ev.SPEECH_START: _on_speech_start,
        ev.INTERRUPT: _on_interrupt,
        ev.BACKCHANNEL: _on_not_a_turn,
        ev.NOISE: _on_not_a_turn,
        ev.SPEECH_FRAGMENT: _on_fragment,
        ev.SPEECH_END: _on_speech_end,
        ev.SILENCE: _on_silence,
        ev.OBJECT_SEEN: _on_object_seen,
        ev.AGENT_SPEECH_END: _on_agent_speech_end,
        ev.ACTION_FEEDBACK: _on_action_feedback,
        ev.ACTION_RESULT: _on_action_result,
    }

    # --- the loop: time ---------------------------------------------------------------------
    def tick(self) -> list[Command]:
        """Poll the generation and the clocks; cheap when nothing runs."""
        out: list[Command] = []
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
                out += self._apology(self.gen_trace)
        if self.user_talking and now - self.user_heard_ns > self.cfg.user_quiet_s * 1e9:
            # perception never ended that turn (it crashed, or lost the end): speak again
            self.user_talking = False
            released, self.held_says = self.held_says, []
            out += released
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
        return min(times) if times else None

    # --- generations --------------------------------------------------------------------------
    def _respond(self, trigger: Trigger, trace_id: str, force: str) -> list[Command]:
        """The fast path if it can decide, else the model."""
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

    def _fast_only(self, trigger: Trigger, trace_id: str) -> list[Command]:
        fast = self.fast or CommandBackend(strict=True)
        request = ReasoningInput(self.context.render(), trigger, set(self.known_objects), self.scene)
        out: list[Command] = []
        try:
            for seg in fast.respond(request):
                seg.trace_id = trace_id
                out += self._emit(seg)
        except Exception as exc:  # the parser is ours, but the loop must survive anything
            out.append(Report(f"fast path failed: {exc}", trace_id))
        return out

    def _start(self, force: str, trace_id: str) -> list[Command]:
        out = self._stop_generation(interrupted=True) if self.gen is not None else []
        if self.model is None:
            return out
        allowed = tuple(n for n, s in ACTION_SET.items() if s.executor in self.executors)
        system = system_prompt(self.known_objects, self.executors,
                               {name: describe_place(p) for name, p in self.scene.items()})
        if self.cfg.system_extra:
            system = f"{system}\n{self.cfg.system_extra}"
        prompt = Prompt(system=system, transcript=self.context.render(),
                        force=force, max_tokens=self.cfg.max_tokens, objects=tuple(sorted(self.known_objects)),
                        actions=allowed)
        try:
            self.gen = self.model.start(prompt)
        except Exception as exc:  # a model that cannot start must not take the loop down
            self.gen = None
            return out + [Report(f"{self.model.name} could not start: {exc}", trace_id)] + self._apology(trace_id)
        self.parser = ts.TagStreamParser()
        self.gen_trace, self.gen_force = trace_id, force
        self.last_piece_ns = self._clock()
        self.listen_thought = None
        return out

    def _on_piece(self, piece: str) -> list[Command]:
        out: list[Command] = []
        turn = self.turn
        if turn is not None:
            turn.tokens += 1
            if self.parser.kind == ts.THINK or (self.parser.kind is None and "<think>" in piece):
                turn.think_tokens += 1
        for pe in self.parser.feed(piece):
            out += self._on_parse(pe)
        if turn is None or self.gen is None:
            return out
        if not turn.said_anything and not turn.filler and turn.think_tokens > self.cfg.fast_think_tokens:
            out += self._filler(turn)  # the quick thought ran long: say something now
        if self.parser.kind == ts.THINK and turn.think_tokens > self.cfg.slow_think_tokens:
            # Continuous thinking: after a long round, say where the thought stands, go on.
            turn.think_tokens = 0
            out += self._stop_generation(interrupted=False)
            out += self._start(SUMMARY, turn.trace_id)
        elif turn.tokens > self.cfg.max_turn_tokens and self.gen_force != ANSWER:
            turn.tokens = 0
            out += self._stop_generation(interrupted=True)
            out += self._start(ANSWER, turn.trace_id)
        return out

    def _on_parse(self, pe: ts.ParseEvent) -> list[Command]:
        trace = self.gen_trace
        if isinstance(pe, ts.Problem):
            return [Report(f"{getattr(self.model, 'name', 'model')} output: {pe.text}", trace)]
        if isinstance(pe, ts.Opened):
            kind = {ts.THINK: THINK, ts.SAY: SAY, ts.ACT: ACT}[pe.kind]
            self.open_seg = Segment(kind, "", trace_id=trace)
            if kind == SAY:
                self.open_seg.t_ms = self._t_ms()
                self.open_spoken = Spoken(self.open_seg)
                self.splitter = ClauseSplitter()
            elif kind == THINK:
                self._append(self.open_seg)  # in the context at once: an interruption keeps it
            return []
        if isinstance(pe, ts.Text):
            if pe.kind == ts.SAY and self.open_seg is not None:
                return self._say_clauses(self.splitter.feed(pe.delta))
            if pe.kind == ts.THINK and self.open_seg is not None:
                self.open_seg.text += pe.delta
            return []
        # Closed
        if pe.kind == ts.SAY:
            out = self._say_clauses(self.splitter.flush())  # the last clause, while still open
            seg, self.open_seg = self.open_seg, None
            spoken, self.open_spoken = self.open_spoken, None
            if seg is None or spoken is None:
                return out
            spoken.closed = True
            if spoken.clauses:
                seg.text = pe.text
                out.append(Publish(seg))
            return out
        seg, self.open_seg = self.open_seg, None
        if pe.kind == ts.WAIT:  # say nothing, listen: this generation is over
            out = self._emit(Segment(WAIT, "", trace_id=trace))
            self.gen_force = FREE
            return out + self._stop_generation(interrupted=False) + self._end_turn()
        if seg is None:
            return []
        seg.text = pe.text
        if pe.kind == ts.THINK:
            seg.interrupted = not pe.complete
            if self.gen_force == THINK_ONLY:
                self.listen_thought = seg
            return [Publish(seg)]
        if not pe.complete:
            return [Report(f"incomplete action {pe.text!r} not executed", trace)]
        return self._emit(Segment(ACT, pe.text, trace_id=trace))

    def _say_clauses(self, clauses: list[str]) -> list[Command]:
        out: list[Command] = []
        seg, spoken = self.open_seg, self.open_spoken
        if seg is None or spoken is None:
            return out
        for clause in clauses:
            if spoken.clauses:
                seg.text = f"{seg.text} {clause}"
            else:  # the first clause puts the segment into the context (published when closed)
                seg.text = clause
                self._append(seg)
            uid = f"u{next(self._ids)}"
            spoken.clauses.append(uid)
            self.speaking[uid] = spoken
            out += self._say(Say(clause, uid, seg.trace_id))
        return out

    def _say(self, say: Say) -> list[Command]:
        self._mark_said()
        if self.user_talking:
            self.held_says.append(say)  # not over the user: said if it was only a backchannel
            return []
        return [say]

    def _mark_said(self) -> None:
        turn = self.turn
        if turn is not None:
            if turn.first_say_ns is None:
                turn.first_say_ns = self._clock()
                self.first_say_ms[-1] = round((turn.first_say_ns - turn.end_ns) / 1e6, 1)
            turn.said_anything = True
            turn.think_tokens = 0

    def _stop_generation(self, interrupted: bool) -> list[Command]:
        """Cancel the generation; the open segment is kept, marked ``<interrupted/>``."""
        if self.gen is None:
            return []
        self.gen.cancel()
        self.gen = None
        out: list[Command] = []
        seg, self.open_seg = self.open_seg, None
        spoken, self.open_spoken = self.open_spoken, None
        kind = self.parser.kind
        self.parser = ts.TagStreamParser()
        if seg is None:
            return out
        if kind == ts.THINK:
            seg.text = " ".join(seg.text.split())
            seg.interrupted = interrupted
            out.append(Publish(seg))
        elif kind == ts.SAY and spoken is not None:
            spoken.closed = True  # the unsent rest of the sentence is dropped, never said
            if spoken.clauses:
                seg.interrupted = True
                out.append(Publish(seg))
        return out

    def _end_generation(self) -> list[Command]:
        out: list[Command] = []
        gen = self.gen
        for pe in self.parser.finish():
            out += self._on_parse(pe)
        self.gen = None
        self.open_seg, self.open_spoken = None, None
        if gen is not None and gen.error:
            name = getattr(self.model, "name", "model")
            out.append(Report(f"{name} failed: {gen.error}", self.gen_trace))
            if self.turn is not None and not self.turn.said_anything:
                out += self._apology(self.gen_trace)
        if self.gen_force == THINK_ONLY:
            return out  # the user is still talking; the answer comes with the final transcript
        turn = self.turn
        if turn is not None and not (turn.said_anything or turn.acted) and not (gen is not None and gen.error):
            # The model ended without a word or an action (off-protocol output, only thought):
            # the user must not be left in silence.
            out.append(Report(f"{getattr(self.model, 'name', 'model')} gave no answer to {turn.user_text!r}",
                              self.gen_trace))
            out += self._apology(self.gen_trace)
        return out + self._end_turn()

    def _end_turn(self) -> list[Command]:
        self.turn = None
        return []

    # --- turns, fillers, apologies ----------------------------------------------------------
    def _begin_turn(self, text: str, trace_id: str, event: ev.Event) -> None:
        now = self._clock()
        # The user stopped when perception says (the event's stamp), if that is believable.
        end = event.stamp_ns if now - 3_000_000_000 <= event.stamp_ns <= now else now
        due = end + int((self.cfg.first_word_budget_ms - self.cfg.voice_lead_ms) * 1e6)
        self.turn = _Turn(text, trace_id, end, due)
        self.first_say_ms.append(None)

    def _filler(self, turn: _Turn) -> list[Command]:
        turn.filler = True
        if self.gen is None:
            return []  # nothing is being thought about: no need to buy time
        self.filler_turns += 1
        seg = Segment(SAY, self.fillers.choose(turn.user_text), trace_id=turn.trace_id)
        out = self._emit(seg)
        for c in out:
            if isinstance(c, Say):
                c.filler = True
        return out

    def _apology(self, trace_id: str) -> list[Command]:
        return self._emit(Segment(SAY, "Sorry, I lost my train of thought. Could you say that again?",
                                  trace_id=trace_id))

    # --- emitting finished segments (fast path, fillers, model actions) ---------------------
    def _emit(self, seg: Segment) -> list[Command]:
        if seg.kind == SAY:
            if not seg.text.strip():
                return []
            uid = f"u{next(self._ids)}"
            spoken = Spoken(seg, [uid], closed=True)
            self.speaking[uid] = spoken
            return [self._append(seg)] + self._say(Say(seg.text, uid, seg.trace_id))
        if seg.kind == ACT:
            return self._act(seg)
        if seg.kind in (THINK, WAIT):
            return [self._append(seg)]
        return [Report(f"unsupported segment kind {seg.kind!r}", seg.trace_id)]

    def _act(self, seg: Segment) -> list[Command]:
        trace_id = seg.trace_id
        try:
            action = validate(parse_action(seg.text), self.known_objects)
            if action.executor not in self.executors:
                raise ActionError(f"{action.name} needs the {action.executor} executor, not running here")
        except (ActionError, ValueError) as exc:
            # Refused actions are never executed; the refusal goes into the context and the
            # generation that proposed it ends: the next one sees the refusal.
            out: list[Command] = self._stop_generation(interrupted=False)
            out += [self._append(Segment(OBSERVE, f"refused {seg.text}: {exc}", trace_id=trace_id)),
                    Report(f"action refused: {exc}", trace_id, {"action": seg.text})]
            trig = Trigger("refusal", str(exc), {"reason_for_user": _user_reason(exc)})
            return out + self._fast_only(trig, trace_id)
        if action.executor == SYSTEM:  # stop
            self.actions.clear()
            return [self._append(seg), CancelActions("user asked to stop"), CancelSpeech("user asked to stop")]
        goal_id = f"g{next(self._ids)}"
        self.actions[goal_id] = seg
        if self.turn is not None:
            self.turn.acted = True
        return [self._append(seg), Act(action, instruction_for(action), goal_id, trace_id)]

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
