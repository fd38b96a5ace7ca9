"""The running model generation: its stream parsed as it arrives into thoughts, spoken clauses
(said while the model keeps generating) and actions, with the token budgets that make the model
summarise aloud or answer. Mixed into ``Thinker``: the loop starts, stops and polls it."""
from __future__ import annotations

from dataclasses import dataclass, field

from seal_nodes.core.actions import ACTION_SET
from seal_nodes.core.thinking import dialogue
from seal_nodes.core.thinking import tagstream as ts
from seal_nodes.core.thinking.commands import Command, Generated, Publish, Report, Say
from seal_nodes.core.thinking.context import ACT, SAY, THINK, USER, WAIT, Segment
from seal_nodes.core.thinking.fast_path import describe_place
from seal_nodes.core.thinking.lm.base import ANSWER, FREE, SUMMARY, THINK_ONLY, Prompt
from seal_nodes.core.thinking.lm.grammar import prompt_text
from seal_nodes.core.thinking.prompting import system_prompt
from seal_nodes.core.thinking.utterances import ClauseSplitter, Spoken

# Of a generation's prompt, grammar and output, this much each goes in its record (the prompt's tail):
# three of them JSON-escaped at worst stay within an event's payload bound (core/bounds.py).
RECORD_CHARS = 12_000


@dataclass
class GenerationLog:
    """What the running generation was given and has written so far, for its ``Generated`` record."""

    prompt: Prompt
    started_ns: int
    sent: tuple[str, str] | None = None  # (text, grammar) as the backend sent them, where it says
    pieces: int = 0
    chars: int = 0
    raw: list[str] = field(default_factory=list)

    def add(self, piece: str) -> None:
        self.pieces += 1
        if self.chars < RECORD_CHARS:
            self.raw.append(piece)
            self.chars += len(piece)


class ModelStream:
    """Mixed into ``Thinker``. Relies on its state (``model``, ``cfg``, ``grounded``, ``turn``, ``context``,
    ``known_objects``, ``scene``, ``executors``, ``speaking``, ``recent_lines``, ``_clock``, ``_ids``, and the
    running generation's ``gen``, ``gen_log``, ``parser``, ``gen_trace``, ``gen_force``, ``open_seg``, ``open_spoken``,
    ``splitter``, ``last_piece_ns``, ``system_text``, ``listen_thought``) and its steps (``_emit``, ``_append``,
    ``_say``, ``_filler``, ``_t_ms``, ``_answered``, ``_end_turn``, ``_fallback``, ``_rescue``)."""

    def _start(self, force: str, trace_id: str) -> list[Command]:
        out = self._stop_generation(interrupted=True) if self.gen is not None else []
        if self.model is None:
            return out
        allowed = tuple(n for n, s in ACTION_SET.items() if s.executor in self.executors)
        system = system_prompt(self.known_objects, self.executors,
                               {name: describe_place(p) for name, p in self.scene.items()})
        if self.cfg.system_extra:
            system = f"{system}\n{self.cfg.system_extra}"
        remembered = self._memory_prompt()
        if remembered:
            system = f"{system}\n{remembered}"
        prompt = Prompt(system=system, transcript=self.context.render(),
                        force=force, max_tokens=self.cfg.max_tokens, objects=tuple(sorted(self.known_objects)),
                        actions=allowed)
        try:
            self.gen = self.model.start(prompt)
        except Exception as exc:  # a model that cannot start must not take the loop down
            self.gen = None
            return out + [Report(f"{self.model.name} could not start: {exc}", trace_id)] + self._rescue(trace_id)
        self.system_text = system
        self.gen_log = GenerationLog(prompt, self._clock(), getattr(self.gen, "sent", None))
        self.parser = ts.TagStreamParser()
        self.gen_trace, self.gen_force = trace_id, force
        self.last_piece_ns = self._clock()
        self.listen_thought = None
        return out

    def _on_piece(self, piece: str) -> list[Command]:
        out: list[Command] = []
        self.gen_log.add(piece)
        turn = self.turn
        if turn is not None:
            turn.tokens += 1
            if self.parser.kind == ts.THINK or (self.parser.kind is None and "<think>" in piece):
                turn.think_tokens += 1
        for pe in self.parser.feed(piece):
            out += self._on_parse(pe)
            if self.gen is None:
                break  # it ended the generation (a refused action, a rejected clause, <wait>)
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
                self.recent_lines.append(seg.text)
                out.append(Publish(seg))
            return out
        seg, self.open_seg = self.open_seg, None
        if pe.kind == ts.WAIT:  # say nothing, listen: this generation is over
            out = self._emit(Segment(WAIT, "", trace_id=trace))
            if self.turn is not None and not self.turn.replied:
                self.turn.outcome = self.turn.outcome or "answered"  # asked to hold: waiting is the answer
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
            if self.grounded:
                problem = self._speech_problem(f"{seg.text} {clause}" if spoken.clauses else clause)
                if problem:
                    return out + self._reject(clause, problem)
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

    def _speech_problem(self, text: str) -> str:
        turn = self.turn
        user = self.context.last(USER)
        user_text = turn.user_text if turn is not None else (user.text if user is not None else "")
        return dialogue.speech_problem(text, user_text=user_text, system=self.system_text,
                                       last_said=self.recent_lines)

    def _reject(self, clause: str, problem: str) -> list[Command]:
        """A model clause failed the check: it is not spoken, the generation ends, and a user
        turn still without an answer gets the grounded one."""
        name = getattr(self.model, "name", "model")
        out: list[Command] = [Report(f"{name} output rejected ({problem}): {clause!r}", self.gen_trace,
                                     {"reason": problem, "clause": clause})]
        out += self._stop_generation(interrupted=True)
        turn = self.turn
        if turn is not None and not turn.replied:
            out += self._fallback(turn) + self._end_turn()
        return out


    def _stop_generation(self, interrupted: bool) -> list[Command]:
        """Cancel the generation; the open segment is kept, marked ``<interrupted/>``."""
        if self.gen is None:
            return []
        self.gen.cancel()
        self.gen = None
        out: list[Command] = [self._generated("stopped")]
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
        out.append(self._generated("failed" if gen is not None and gen.error else "done"))
        self.open_seg, self.open_spoken = None, None
        if gen is not None and gen.error:
            name = getattr(self.model, "name", "model")
            out.append(Report(f"{name} failed: {gen.error}", self.gen_trace))
            if self.turn is not None and not self._answered(self.turn):
                out += self._rescue(self.gen_trace)
        if self.gen_force == THINK_ONLY:
            return out  # the user is still talking; the answer comes with the final transcript
        turn = self.turn
        if turn is not None and not self._answered(turn) and not (gen is not None and gen.error):
            # The model ended without a word or an action (off-protocol output, only thought):
            # the user must not be left in silence.
            out.append(Report(f"{getattr(self.model, 'name', 'model')} gave no answer to {turn.user_text!r}",
                              self.gen_trace))
            out += self._rescue(self.gen_trace)
        return out + self._end_turn()

    def _generated(self, ended: str) -> Generated:
        """The record of the generation that just ended: what the model was given (the exact
        request where the backend says it) and everything it wrote. Made at its end, off the
        path to the first words."""
        log = self.gen_log
        prompt, grammar = log.sent or (prompt_text(log.prompt), "")  # llama.cpp: the request as sent
        return Generated(self.gen_trace, getattr(self.model, "name", "model"), self.gen_force,
                         prompt[-RECORD_CHARS:], grammar[:RECORD_CHARS], "".join(log.raw)[:RECORD_CHARS],
                         log.pieces, (self._clock() - log.started_ns) / 1e6, ended)
