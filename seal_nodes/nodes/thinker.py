"""Thinker node: /seal/events in → Speak / Manipulate / GuiAct goals out, every segment on /seal/thoughts.

The ROS-free ``Thinker`` decides and the ROS-free ``GoalTracker`` keeps its goals; this node
moves their messages. Executor outcomes (Speak, Manipulate and GuiAct results, give-ups) are
turned back into events and fed to the Thinker through the same inbox as perception, in
arrival order. A finished user turn goes out as a ``turn_done`` event; the action and object
vocabulary goes to /perception/bias_words (at start, when objects change, to late listeners).
With ``memory`` on, it reads the knowledge base the memory node writes (``memory_dir``).
Its outstanding action goals are journalled in that folder: a respawned thinker cancels what its
predecessor left running and tells the user (``core/thinking/journal.py``).
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from pathlib import Path

from seal_nodes.nodes.common import SealNode, event_bounds, msg_to_event, ns_to_stamp, publisher, run, subscription

from action_msgs.msg import GoalStatus
from action_msgs.srv import CancelGoal
from rclpy.action import ActionClient
from seal_interfaces.action import GuiAct, Manipulate, Speak
from seal_interfaces.msg import Event, Thought
from std_msgs.msg import String
from unique_identifier_msgs.msg import UUID

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.actions import ARM, GUI, SYSTEM
from seal_nodes.core.thinking.context import SAY
from seal_nodes.core.thinking.dialogue import bias_words
from seal_nodes.core.language.encoder import SentenceEncoder
from seal_nodes.core.thinking.intent import IntentReader
from seal_nodes.core.memory.location import default_dir, qdrant_url, store_path
from seal_nodes.core.memory.reader import MemoryReader
from seal_nodes.core.memory.store import StoreError
from seal_nodes.core.thinking.references import scene_objects
from seal_nodes.core.thinking.lm.registry import make_model
from seal_nodes.core.thinking.commands import (
    Act, CancelActions, CancelSpeech, Generated, PauseSpeech, Publish, Report, ResumeSpeech, Say, TurnDone,
)
from seal_nodes.core.thinking.thinker import Thinker, ThinkerConfig
from seal_nodes.core.thinking.goals import ACCEPTED, SPEECH, Goal, GoalTracker, Notice
from seal_nodes.core.thinking.journal import JOURNAL_FILE, UNKNOWN, Entry, GoalJournal, Recovery, outcome
from seal_nodes.core.thinking.outages import VoiceBack


class RosActionPort:
    """The tracker's ActionPort over an rclpy ActionClient; the client's futures call back into the node."""

    def __init__(self, node: ThinkerNode, action_type: type, action_name: str, name: str) -> None:
        self.node, self.action_type, self.name = node, action_type, name
        self.client = ActionClient(node, action_type, action_name)
        base = f"/{action_name.lstrip('/')}/_action"
        self.status_topic = f"{base}/status"
        # A goal known by its id alone (one a predecessor of this node sent): cancelled and asked after.
        self.cancel_client = node.create_client(CancelGoal, f"{base}/cancel_goal")
        self.result_client = node.create_client(action_type.Impl.GetResultService, f"{base}/get_result")

    def server_is_ready(self) -> bool:
        return self.client.server_is_ready()

    def server_ids(self) -> frozenset[str]:
        """The action's server instances on the graph: the GIDs of its status publishers."""
        return frozenset(bytes(info.endpoint_gid).hex()
                         for info in self.node.get_publishers_info_by_topic(self.status_topic))

    def send(self, goal: Goal) -> None:
        cmd = goal.command
        fields = ({"text": cmd.text, "utterance_id": cmd.utterance_id} if isinstance(cmd, Say)
                  else {"instruction": cmd.instruction})
        msg = self.action_type.Goal(trace_id=goal.trace_id, **fields)
        # An action goal's id is the one journalled; a copy of speech sent again needs an id of its own.
        uid = None if isinstance(cmd, Say) else UUID(uuid=list(bytes.fromhex(goal.uuid)))
        self.client.send_goal_async(msg, feedback_callback=lambda fb: self.node.on_feedback(goal, fb.feedback),
                                    goal_uuid=uid).add_done_callback(lambda f: self.node.on_accepted(goal, f.result()))

    def cancel(self, goal: Goal) -> None:
        goal.handle.cancel_goal_async()

    def settle(self, entry: Entry) -> None:
        """Cancel a journalled goal by its id and ask its result, which its server sends once the
        goal has ended; the answer goes to ``node.settled``."""
        uid = UUID(uuid=list(bytes.fromhex(entry.uuid)))
        req = CancelGoal.Request()
        req.goal_info.goal_id = uid
        self.cancel_client.call_async(req)
        self.result_client.call_async(self.action_type.Impl.GetResultService.Request(goal_id=uid)) \
            .add_done_callback(lambda f: self.node.settled(entry, f.result()))


WARM_NICENESS = 10  # the intent step's warm-up thread runs behind everything real-time


class ThinkerNode(SealNode):
    def __init__(self) -> None:
        super().__init__("thinker")
        backend = self.declare_parameter("backend", "llama").value
        objects = self.declare_parameter("known_objects", ["red_cube", "green_cube", "blue_cube"]).value
        model_params = {
            "model_path": self.declare_parameter("model_path", "").value,  # llama GGUF / transformers dir
            "llm_threads": int(self.declare_parameter("llm_threads", 1).value),
            "openai_url": self.declare_parameter("openai_url", "").value,
            "openai_model": self.declare_parameter("openai_model", "default").value,
            "script": self.declare_parameter("script", "").value,  # scripted: scenario or stream file
            "tokens_per_s": float(self.declare_parameter("tokens_per_s", 100.0).value),
        }
        config = ThinkerConfig(
            fast_path=bool(self.declare_parameter("fast_path", backend != "scripted").value),
            think_while_listening=bool(self.declare_parameter("think_while_listening", backend != "scripted").value),
            first_word_budget_ms=float(self.declare_parameter("first_word_budget_ms", 500.0).value),
            voice_lead_ms=float(self.declare_parameter("voice_lead_ms", 150.0).value),
            system_extra=str(self.declare_parameter("system_extra", "").value),
            # The intent step (MiniLM, loaded at start); a scripted model's exact lines are its own.
            understanding=bool(self.declare_parameter("understanding", backend != "scripted").value),
            answer_budget_s=float(self.declare_parameter("answer_budget_s", 5.0).value),
        )
        # How long a goal waits for a (re)starting executor, and how long an utterance may go
        # without a word from its TTS, before it is given up (see GoalTracker).
        server_wait_s = float(self.declare_parameter("server_wait_s", 5.0).value)
        speech_silence_s = float(self.declare_parameter("speech_silence_s", 3.0).value)
        # After the voice cut off: how long to wait for a restarted TTS to tell the user.
        voice_wait_s = float(self.declare_parameter("voice_wait_s", 60.0).value)
        # Which executors this deployment has: the arm (Manipulate), the GUI (GuiAct), or both.
        executors = tuple(self.declare_parameter("executors", [ARM, SYSTEM]).value)
        self.thinker = Thinker(make_model(backend, **model_params), set(objects), config=config, executors=executors,
                               memory=self.open_memory(), user=str(self.declare_parameter("user", "").value) or None)
        # The intent step joins once warm (warm_intent, on a thread of its own, one torch thread):
        # turns before that get the fast path and the model rather than wait for MiniLM to load.
        self.warm_reader: IntentReader | None = None
        gui_action = self.declare_parameter("gui_action", topics.GUI_ACT.name).value
        self.goals = GoalTracker({SPEECH: RosActionPort(self, Speak, topics.SPEAK.name, "Speak"),
                                  ARM: RosActionPort(self, Manipulate, topics.MANIPULATE.name, "Manipulate"),
                                  GUI: RosActionPort(self, GuiAct, gui_action, "GuiAct")},
                                 server_wait_s, speech_silence_s, source=self.get_name(),
                                 voice_wait_s=voice_wait_s, journal=self.open_journal())
        # A pause that perception never resolves (it crashed mid-utterance) must not mute the agent.
        self.hold_timeout_s = float(self.declare_parameter("hold_timeout_s", 3.0).value)
        self.thought_pub = publisher(self, topics.THOUGHTS)
        self.tts_control = publisher(self, topics.TTS_CONTROL)
        self.bias_pub = publisher(self, topics.BIAS_WORDS)
        self.bias_sent: tuple[list[str], int] = ([], 0)  # (the words, to how many listeners)
        if config.understanding:
            threading.Thread(target=self.warm_intent, name="warm_intent", daemon=True).start()
        self.held_since = 0.0
        subscription(self, topics.EVENTS, self.on_event)
        self.inbox: deque[ev.Event] = deque()
        self.handling = False
        self.create_timer(0.1, self.tick)
        # The model's pieces and the filler clock are polled; 10 ms keeps streaming smooth.
        self.create_timer(0.01, self.think_tick)
        self.get_logger().info(f"thinker ready: backend={backend} objects={sorted(objects)}")

    def open_memory(self) -> MemoryReader | None:
        """The knowledge base the memory node writes (the same folder); None when off or unusable."""
        folder = str(self.declare_parameter("memory_dir", "").value) or str(default_dir())  # the journal's too
        if not bool(self.declare_parameter("memory", True).value):
            return None
        try:
            return MemoryReader(store_path(folder),
                                qdrant_url=qdrant_url(str(self.declare_parameter("qdrant_url", "").value)))
        except (StoreError, OSError) as exc:  # the loop runs on, remembering nothing
            self.report_error(f"memory off: {exc}")
            return None

    def open_journal(self) -> GoalJournal:
        """The goal journal, and the goals a killed predecessor left in it (``self.recovery``)."""
        folder = str(self.get_parameter("memory_dir").value) or str(default_dir())
        journal = GoalJournal(Path(folder) / JOURNAL_FILE)
        entries, problem = journal.load()
        if problem:
            self.report_error(problem)
        # How long to wait for a left goal's server to answer; goals older than max_age_s are an
        # earlier run's, not this respawn's.
        self.recovery = Recovery(entries, float(self.declare_parameter("recover_wait_s", 30.0).value),
                                 float(self.declare_parameter("journal_max_age_s", 600.0).value))
        for entry in self.recovery.stale:
            self.report_error(f"journalled goal {entry.action} is too old to be this thinker's; dropped",
                              entry.trace_id)
            journal.clear(entry.uuid)
        if self.recovery.pending:
            self.get_logger().warning(f"restarted with {len(entries)} goal(s) out; cancelling them")
        return journal

    def warm_intent(self) -> None:
        """Load the encoder and the scene's wordings (off the executor, which keeps serving); the
        next tick puts the reader in front of the thinker."""
        try:
            # Background work: the voice, the ears and the executor must win the 2 cores meanwhile.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARM_NICENESS)
        except OSError:
            pass
        try:
            reader = IntentReader(SentenceEncoder(threads=1))
            reader.read("pick up the cube", scene_objects(set(self.thinker.known_objects), dict(self.thinker.scene)),
                        executors=self.thinker.executors)
            reader.social_act("hello")
        except Exception as exc:  # the node serves on with the fast path and the model
            self.report_error(f"the intent step cannot load: {exc}")
            return
        self.warm_reader = reader
        if self.thinker.memory is not None:
            self.thinker.memory.use_encoder(reader.encoder)  # searches by meaning too, from now on
        self.get_logger().info("intent step ready")

    def close(self) -> None:
        self.thinker.close()
        if self.thinker.model is not None:
            self.thinker.model.close()

    def think_tick(self) -> None:
        if not self.handling:
            self.execute(self.thinker.tick())

    # --- events in --------------------------------------------------------------------------
    def on_event(self, msg: Event) -> None:
        if msg.source == self.get_name():
            return  # own reports
        if msg.type in (ev.AGENT_SPEECH_START, ev.AGENT_SPEECH_END):
            return  # the Speak result is the authoritative record (see on_result)
        reason = event_bounds(msg)
        if reason:  # before the payload is parsed
            self.refuse(topics.EVENTS.name, reason)
            return
        try:
            event = msg_to_event(msg)
        except ValueError as exc:
            self.refuse(topics.EVENTS.name, f"malformed event {msg.type!r} from {msg.source!r}: {exc}")
            return
        self.feed(event)

    def feed(self, event: ev.Event) -> None:
        """Everything the Thinker sees enters here; outcomes met while handling wait their turn."""
        self.inbox.append(event)
        if self.handling:
            return
        self.handling = True
        try:
            while self.inbox:
                self.execute(self.thinker.handle(self.inbox.popleft()))
        finally:
            self.handling = False

    # --- commands out -----------------------------------------------------------------------
    def execute(self, commands: list) -> None:
        """Carry out the Thinker's commands and pass on the tracker's outcomes."""
        for cmd in commands:
            if isinstance(cmd, Publish):
                seg = cmd.segment
                # A revision of speech (what was really said before a barge-in) goes out as
                # "interrupted"; a revised user line (a sentence completed after a pause) as itself.
                kind = "interrupted" if cmd.revised and seg.kind == SAY else seg.kind
                t = Thought(kind=kind, text=seg.text, trace_id=seg.trace_id)
                t.header.stamp = ns_to_stamp(ev.now_ns())
                self.thought_pub.publish(t)
            elif isinstance(cmd, Notice):
                if cmd.publish:
                    self.publish_event(cmd.event)
                if cmd.feed:
                    self.feed(cmd.event)
            elif isinstance(cmd, Say):
                self.execute(self.goals.say(cmd))
            elif isinstance(cmd, Act):
                self.execute(self.goals.act(cmd))
            elif isinstance(cmd, CancelSpeech):
                self.execute(self.goals.cancel_speech())  # the hold is released once the TTS confirms (on_result)
            elif isinstance(cmd, PauseSpeech):
                self.set_hold(True)
            elif isinstance(cmd, ResumeSpeech):
                self.set_hold(False)
            elif isinstance(cmd, CancelActions):
                self.execute(self.goals.cancel_actions())
            elif isinstance(cmd, Report):
                self.report_error(cmd.text, cmd.trace_id, payload=cmd.payload)
            elif isinstance(cmd, VoiceBack):
                self.execute(self.thinker.voice_back(cmd))
            elif isinstance(cmd, (TurnDone, Generated)):
                self.publish_event(cmd.event(ev.now_ns()))

    # --- speech -----------------------------------------------------------------------------
    def set_hold(self, hold: bool) -> None:
        """Pause/resume the TTS (/tts/control); a cancel while paused ends the goal truthfully."""
        if hold == bool(self.held_since):
            return
        self.held_since = time.monotonic() if hold else 0.0
        self.tts_control.publish(String(data="pause" if hold else "resume"))

    # --- executors' answers ------------------------------------------------------------------
    def on_accepted(self, goal: Goal, handle) -> None:
        # the server that accepted it is among those seen now
        self.execute(self.goals.servers_seen(goal.kind, self.goals.ports[goal.kind].server_ids()))
        self.execute(self.goals.accepted(goal, handle if handle.accepted else None))
        if goal.state == ACCEPTED:
            handle.get_result_async().add_done_callback(lambda f: self.on_result(goal, f.result()))

    def on_feedback(self, goal: Goal, fb) -> None:
        if goal.kind == SPEECH:
            self.goals.speech_feedback(goal, fb.spoken_text)
        elif hasattr(fb, "progress"):  # Manipulate
            self.execute(self.goals.action_feedback(goal, fb.phase, progress=float(fb.progress)))
        else:  # GuiAct: where the pointer is
            self.execute(self.goals.action_feedback(goal, fb.phase,
                                                    pointer=[float(fb.pointer_x), float(fb.pointer_y)]))

    def on_result(self, goal: Goal, wrapped) -> None:
        res = wrapped.result
        if goal.kind != SPEECH:
            canceled = wrapped.status == GoalStatus.STATUS_CANCELED
            self.execute(self.goals.finished(goal, bool(res.success), canceled, res.message))
            return
        outcomes = self.goals.finished(goal, res.completed, res.interrupted, res.spoken_text)
        if not outcomes:
            return  # given up meanwhile
        self.execute(outcomes)
        if not self.thinker.held and not self.goals.cancelling_speech:
            # released only once every cut utterance has ended (a resume racing the cancel would
            # leak its audio), not held for a reply sent since
            self.set_hold(False)
        self.goals.send_waiting()

    def tick(self) -> None:
        """Resume a hold nobody resolved; give up on goals whose executor has gone or restarted;
        retry waiting speech."""
        if self.held_since and time.monotonic() - self.held_since > self.hold_timeout_s:
            self.report_error(f"no interrupt/backchannel decision in {self.hold_timeout_s:.0f} s; resuming speech")
            self.thinker.held = False
            self.set_hold(False)
        # An executor respawned under its goals; the voice's instances matter only once it cut off
        # (each accepted utterance already notes the instance that took it): no graph query a tick.
        for kind, port in self.goals.ports.items():
            if self.goals.voice.waiting if kind == SPEECH else self.goals.goals(kind):
                self.execute(self.goals.servers_seen(kind, port.server_ids()))
        self.execute(self.goals.tick())
        self.recover()
        self.publish_bias_words()
        if self.warm_reader is not None and not self.handling:
            self.thinker.use_intent(self.warm_reader)
            self.warm_reader = None

    def recover(self) -> None:
        """Settle the goals a killed predecessor left out: cancel each once its server is up."""
        if not self.recovery.pending:
            return
        ports = self.goals.ports
        for entry in self.recovery.due(lambda kind: kind in ports and ports[kind].server_is_ready()):
            ports[entry.kind].settle(entry)
        for entry in self.recovery.expired():
            self.report_error(f"no answer about journalled goal {entry.action} from its server", entry.trace_id)
            self.resolve(entry, UNKNOWN)

    def settled(self, entry: Entry, response) -> None:
        """The server's answer about a journalled goal (cancelled by now, unless it had ended)."""
        if self.recovery.resolved(entry.uuid) is None:
            return  # given up meanwhile
        known = response.status not in (GoalStatus.STATUS_UNKNOWN, GoalStatus.STATUS_EXECUTING,
                                         GoalStatus.STATUS_ACCEPTED, GoalStatus.STATUS_CANCELING)
        success = bool(getattr(response.result, "success", False))
        self.resolve(entry, outcome(known, response.status == GoalStatus.STATUS_CANCELED, success))

    def resolve(self, entry: Entry, what: str) -> None:
        self.get_logger().info(f"journalled goal {entry.goal_id} {entry.action}: {what}")
        self.execute(self.thinker.restarted(entry.action, what, entry.trace_id))
        if self.goals.journal is not None:
            self.goals.journal.clear(entry.uuid)

    def publish_bias_words(self) -> None:
        """ASR is always biased toward commands: the vocabulary of the actions and the objects seen."""
        words = bias_words(self.thinker.known_objects, self.thinker.executors)
        listeners = self.bias_pub.get_subscription_count()
        if (words, listeners) != self.bias_sent and listeners:
            self.bias_pub.publish(String(data=",".join(words)))
        self.bias_sent = (words, listeners)


def main(args=None) -> None:
    run(ThinkerNode)


if __name__ == "__main__":
    main()
