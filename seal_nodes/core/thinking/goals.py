"""The goals the thinker has out with its executors (the TTS, the arm, the GUI), ROS-free.

One ``Goal`` record per Speak / Manipulate / GuiAct goal. The ``GoalTracker`` owns the records
and decides what happens to them: when a goal goes out, when a cancel is applied, when an
executor that went silent or away is given up, and which event each outcome feeds back to the
Thinker. It reaches each executor through an ``ActionPort``; the node implements that over an
rclpy ActionClient and turns the client's futures into tracker calls.

Every outcome of a goal (its result, a rejection, a give-up, a drop) is reported exactly once:
afterwards the goal is ``DONE`` and whatever its executor still sends about it is ignored.

An executor's answer to a goal request can be lost while the goal runs: Fast DDS drops a service
response when the server has not yet discovered the client's response reader ("failed to send
response (timeout)", common on a loaded machine right after start-up), and rclpy's action server
runs the goal all the same. Unanswered speech is therefore sent again every ``resend_s`` within
its silence budget; the TTS answers every copy of an utterance_id with the one utterance.

Utterances given up with their TTS leave an outage (``outages.VoiceWatch``): once a restarted
TTS is ready the tracker hands the Thinker a ``VoiceBack`` so the user hears what happened. With a
``GoalJournal`` every action goal is on disk from its sending to its outcome (``journal.py``).
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Protocol, Union

from seal_nodes.core import events as ev
from seal_nodes.core.thinking.commands import Act, Report, Say
from seal_nodes.core.thinking.fast_path import format_action
from seal_nodes.core.thinking.journal import Entry, GoalJournal
from seal_nodes.core.thinking.outages import VoiceBack, VoiceWatch

SPEECH = "speech"  # the TTS; action goals are of their executor's kind (ARM, GUI)

WAITING = "waiting"  # speech held back until the TTS server is up
SENT = "sent"  # on its way; the executor has not accepted it yet
ACCEPTED = "accepted"
DONE = "done"  # reported (finished, rejected, dropped or given up)


@dataclass(eq=False)
class Goal:
    kind: str  # SPEECH or an executor (ARM, GUI)
    command: Union[Say, Act]  # the Thinker command it carries out
    state: str = WAITING
    sent_at: float = 0.0  # when it was last sent
    heard_at: float = 0.0  # the executor's last sign of life: accepted, a word finished
    spoken: str = ""  # speech: what it had said by its last report
    cancel_requested: bool = False  # a cancel asked for before the executor accepted it
    cancelled: bool = False  # a cancel was asked for (applied or pending)
    handle: object | None = None  # the port's goal handle, once accepted
    servers: frozenset[str] = frozenset()  # the executor's server instances when it accepted the goal
    uuid: str = field(default_factory=lambda: uuid.uuid4().hex)  # an action goal's id on its server

    @property
    def id(self) -> str:
        return self.command.utterance_id if isinstance(self.command, Say) else self.command.goal_id

    @property
    def trace_id(self) -> str:
        return self.command.trace_id

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.id


class ActionPort(Protocol):
    """One executor's action client as the tracker uses it.

    ``send`` only sends: the executor's answers come back later as ``GoalTracker.accepted``,
    ``speech_feedback`` / ``action_feedback`` and ``finished`` calls. Speech whose answer is
    overdue is sent again, as a new goal of the same utterance: each copy's answers come back for
    the one ``Goal``.
    """

    name: str  # the action's name in reports: Speak, Manipulate, GuiAct

    def server_is_ready(self) -> bool: ...

    def send(self, goal: Goal) -> None: ...

    def cancel(self, goal: Goal) -> None:
        """Ask the executor to cancel an accepted goal (``goal.handle`` is set)."""
        ...


@dataclass(frozen=True)
class Notice:
    """An event the node passes on: to the Thinker (``feed``) and/or to observers (``publish``)."""

    event: ev.Event
    feed: bool = True
    publish: bool = False


Outcome = Union[Notice, Report, VoiceBack]


class GoalTracker:
    """Owns the goals in flight; every method returns the outcomes the node must pass on, in order."""

    def __init__(self, ports: dict[str, ActionPort], server_wait_s: float, speech_silence_s: float,
                 source: str = "thinker", clock: Callable[[], float] = time.monotonic,
                 resend_s: float = 1.0, voice_wait_s: float = 60.0, journal: GoalJournal | None = None) -> None:
        if SPEECH not in ports:
            raise ValueError("the tracker needs a port for speech")
        self.ports = ports
        # How long a goal waits for a (re)starting or vanished executor before it is given up.
        self.server_wait_s = server_wait_s
        # An utterance is accepted at once and then reports every word it finishes; this long
        # without either, its TTS is taken to be gone (a crashed server never answers, and its
        # respawned successor does not know the goal).
        self.speech_silence_s = speech_silence_s
        # Speech still unanswered this long after it went out is sent again (see the module notes).
        # Only speech: Manipulate and GuiAct goals carry no id their servers could merge copies by.
        self.resend_s = resend_s
        self.source = source  # who action results come from on /seal/events
        self.clock = clock
        self._goals: dict[tuple[str, str], Goal] = {}  # in the order the Thinker decided them
        self._lost_since = {kind: 0.0 for kind in ports}  # when a busy server was last seen gone
        self._servers: dict[str, frozenset[str]] = {}  # each executor's server instances, as last seen
        # After a voice cut-off: how long to wait for a restarted TTS to say so on.
        self.voice = VoiceWatch(voice_wait_s)
        self.journal = journal

    def goals(self, kind: str | None = None) -> list[Goal]:
        return [g for g in self._goals.values() if kind is None or g.kind == kind]

    @property
    def speaking(self) -> bool:
        """An utterance is out with the TTS (sent or playing)."""
        return any(g.state in (SENT, ACCEPTED) for g in self.goals(SPEECH))

    @property
    def cancelling_speech(self) -> bool:
        """An utterance cancelled by a barge-in has not reported its end yet (its audio may
        still be queued in the TTS: resuming the voice now could play it)."""
        return any(g.cancelled and g.state in (SENT, ACCEPTED) for g in self.goals(SPEECH))

    def live(self, goal: Goal) -> bool:
        return self._goals.get(goal.key) is goal

    # --- commands from the Thinker ------------------------------------------------------------
    def say(self, say: Say) -> list[Outcome]:
        """Clauses go out at once, so the TTS plays them back to back; they wait for a TTS that is down."""
        goal = Goal(SPEECH, say)
        self._goals[goal.key] = goal
        self.send_waiting()
        return []

    def act(self, act: Act) -> list[Outcome]:
        goal = Goal(act.action.executor, act)
        port = self.ports[goal.kind]
        if not port.server_is_ready():
            return [self._finish(goal, False, False, f"no {port.name} action server is running")]
        self._goals[goal.key] = goal
        if self.journal is not None:  # on disk before it can start: a kill -9 from here on leaves it
            self.journal.record(Entry(act.goal_id, goal.uuid, goal.kind, format_action(act.action), act.trace_id,
                                      time.time()))
        self._send(goal)
        return []

    def send_waiting(self) -> None:
        port = self.ports[SPEECH]
        for goal in self.goals(SPEECH):
            if goal.state == WAITING:
                if not port.server_is_ready():
                    return  # tick() retries, and gives up after server_wait_s
                self._send(goal)

    def cancel_speech(self) -> list[Outcome]:
        """Barge-in: stop the voice now; utterances still waiting were never said."""
        out: list[Outcome] = []
        for goal in self.goals(SPEECH):
            if goal.state == WAITING:
                out.append(self._finish(goal, False, True, ""))
            else:
                self._cancel(goal)
        return out

    def cancel_actions(self) -> list[Outcome]:
        for goal in self.goals():
            if goal.kind != SPEECH:
                self._cancel(goal)
        return []

    # --- what the executors answer -----------------------------------------------------------
    def accepted(self, goal: Goal, handle: object | None) -> list[Outcome]:
        """The executor answered the goal request: ``handle`` once accepted, None if rejected."""
        if not self.live(goal) or goal.state == ACCEPTED:
            return []  # given up meanwhile, or the answer to a copy sent again after the first was taken
        if handle is None:
            if goal.kind == SPEECH:
                return [Report(f"{self.ports[SPEECH].name} goal rejected", goal.trace_id),
                        self._finish(goal, False, True, "")]
            return [self._finish(goal, False, False, "goal rejected by the executor")]
        goal.state, goal.handle, goal.heard_at = ACCEPTED, handle, self.clock()
        goal.servers = self._servers.get(goal.kind, frozenset())
        if goal.cancel_requested:
            goal.cancel_requested = False
            self.ports[goal.kind].cancel(goal)
        return []

    def speech_feedback(self, goal: Goal, spoken: str) -> None:
        """The TTS finished another word; ``spoken`` is all it has said so far."""
        if self.live(goal):
            goal.heard_at, goal.spoken = self.clock(), spoken

    def action_feedback(self, goal: Goal, phase: str, **payload: object) -> list[Outcome]:
        """Progress is for observers only: the Thinker's context keeps outcomes."""
        event = ev.Event(ev.ACTION_FEEDBACK, ev.now_ns(), text=phase, trace_id=goal.trace_id,
                         payload={"goal_id": goal.id, **payload})
        return [Notice(event, feed=False, publish=True)]

    def finished(self, goal: Goal, ok: bool, cut: bool, text: str) -> list[Outcome]:
        """The goal's result: speech (completed, interrupted, what was spoken) or an action's
        (success, canceled, the executor's message). Nothing if it was given up meanwhile."""
        if not self.live(goal):
            return []
        return [self._finish(goal, ok, cut, text)]

    def servers_seen(self, kind: str, ids: frozenset[str]) -> list[Outcome]:
        """The executor's server instances on the graph now. A goal accepted by instances that
        are all gone, or that a new instance has joined (a respawn: its predecessor's discovery
        record can outlive it by seconds), was lost with its server: given up at once, as
        ``lost``, so the user hears it rather than waiting on a result that never comes. The TTS's
        instances are only noted (an outage's end); its silence budget gives its utterances up."""
        self._servers[kind] = ids
        if kind == SPEECH:
            return []
        out: list[Outcome] = []
        for goal in self.goals(kind):
            if goal.state != ACCEPTED:
                continue
            if not goal.servers:  # accepted before its server was seen: that one is it
                goal.servers = ids
            elif ids - goal.servers or not ids & goal.servers:
                why = f"the {self.ports[kind].name} server restarted; the goal was lost"
                out.append(self._finish(goal, False, False, why, lost=True))
        return out

    # --- the clock ---------------------------------------------------------------------------
    def tick(self) -> list[Outcome]:
        """Give up on goals whose executor went silent, went away or never answered; send waiting
        speech, and speech whose answer is overdue again."""
        now = self.clock()
        out: list[Outcome] = []
        speech = self.goals(SPEECH)
        silent = any(g.state in (SENT, ACCEPTED) and now - g.heard_at > self.speech_silence_s for g in speech)
        if silent or self._lost(SPEECH, bool(speech), now):
            why = (f"no word from the TTS for {self.speech_silence_s:.0f} s" if silent
                   else f"{self.ports[SPEECH].name} server gone for {self.server_wait_s:.0f} s")
            out.append(Report(f"{why}; utterances given up", ""))
            servers = frozenset().union(*(g.servers for g in speech)) or self._servers.get(SPEECH, frozenset())
            self.voice.lost([g.command for g in speech if isinstance(g.command, Say)], servers, now)
            out += [self._give_up(g, why) for g in speech]
        for kind, port in self.ports.items():
            if kind == SPEECH:
                continue
            mine = self.goals(kind)
            if self._lost(kind, bool(mine), now):
                out += [self._give_up(g, f"{port.name} server gone for {self.server_wait_s:.0f} s") for g in mine]
        for goal in self.goals():  # sent to a server that died before accepting it
            if goal.kind != SPEECH and goal.state == SENT and now - goal.sent_at > self.server_wait_s:
                name = self.ports[goal.kind].name
                out.append(self._give_up(goal, f"no answer from the {name} server in {self.server_wait_s:.0f} s"))
        port = self.ports[SPEECH]
        for goal in self.goals(SPEECH):
            if goal.state == SENT and now - goal.sent_at >= self.resend_s and port.server_is_ready():
                goal.sent_at = now  # heard_at stays: the silence budget bounds the copies
                port.send(goal)
        self.send_waiting()
        out += self.voice.check(port.server_is_ready(), self._servers.get(SPEECH, frozenset()), now)
        if self.journal is not None and (err := self.journal.take_error()):
            out.append(Report(err, ""))
        return out

    # --- inside ------------------------------------------------------------------------------
    def _send(self, goal: Goal) -> None:
        goal.state, goal.sent_at = SENT, self.clock()
        goal.heard_at = goal.sent_at
        self.ports[goal.kind].send(goal)

    def _cancel(self, goal: Goal) -> None:
        goal.cancelled = True
        if goal.state == ACCEPTED:
            self.ports[goal.kind].cancel(goal)
        else:
            goal.cancel_requested = True  # applied once the executor accepts it

    def _lost(self, kind: str, busy: bool, now: float) -> bool:
        """The server of a busy kind has been gone for server_wait_s."""
        if not busy or self.ports[kind].server_is_ready():
            self._lost_since[kind] = 0.0
            return False
        self._lost_since[kind] = self._lost_since[kind] or now
        if now - self._lost_since[kind] < self.server_wait_s:
            return False
        self._lost_since[kind] = 0.0
        return True

    def _give_up(self, goal: Goal, why: str) -> Outcome:
        """Its executor will never answer: what an utterance had said by its last report is what
        the user heard; an action failed for ``why``."""
        if goal.kind == SPEECH:
            return self._finish(goal, False, True, goal.spoken)
        return self._finish(goal, False, False, why)

    def _finish(self, goal: Goal, ok: bool, cut: bool, text: str, lost: bool = False) -> Notice:
        """Retire the goal and turn its outcome into the event the Thinker is fed (``lost``: its
        executor restarted under it)."""
        self._goals.pop(goal.key, None)
        goal.state = DONE
        cmd = goal.command
        if self.journal is not None and isinstance(cmd, Act):
            self.journal.clear(goal.uuid)
        if isinstance(cmd, Say):
            return Notice(ev.Event(ev.AGENT_SPEECH_END, ev.now_ns(), text=text, source="tts", trace_id=cmd.trace_id,
                                   payload={"utterance_id": cmd.utterance_id, "completed": ok,
                                            "interrupted": cut, "spoken_text": text}))
        # observers (demo, bench) see action outcomes on /seal/events too
        return Notice(ev.Event(ev.ACTION_RESULT, ev.now_ns(), text=text, source=self.source, trace_id=cmd.trace_id,
                               payload={"goal_id": cmd.goal_id, "action": str(cmd.action), "success": ok,
                                        "canceled": cut, "instruction": cmd.instruction,
                                        **({"lost": True} if lost else {})}),
                      publish=True)
