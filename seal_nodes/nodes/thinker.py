"""Thinker node: /seal/events in → Speak / Manipulate / GuiAct goals out, every segment on /seal/thoughts.

The ROS-free ``Thinker`` decides; this node executes its commands. Executor outcomes (Speak and
Manipulate results) are turned back into events and fed to the Thinker through the same inbox
as perception, in arrival order.
"""
from __future__ import annotations

import time
from collections import deque

from seal_nodes.nodes.common import (
    EVENT_QOS, EVENTS_TOPIC, THOUGHTS_TOPIC, SealNode, msg_to_event, ns_to_stamp, run,
)

from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from seal_interfaces.action import GuiAct, Manipulate, Speak
from seal_interfaces.msg import Event, Thought
from std_msgs.msg import String

from seal_nodes.core import events as ev
from seal_nodes.core.actions import ARM, GUI, SYSTEM
from seal_nodes.core.thinking.context import SAY
from seal_nodes.core.thinking.lm.select import BACKENDS, make_language_model
from seal_nodes.core.thinking.thinker import (
    Act, CancelActions, CancelSpeech, PauseSpeech, Publish, Report, ResumeSpeech, Say, Thinker, ThinkerConfig,
)


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
        )
        if backend not in BACKENDS:
            raise ValueError(f"unknown thinker backend {backend!r}; one of {BACKENDS}")
        # How long an utterance or goal waits for a (re)starting executor before it is given up.
        self.server_wait_s = float(self.declare_parameter("server_wait_s", 5.0).value)
        # An utterance is accepted at once and then reports every word it finishes; this long
        # without either, its TTS is taken to be gone (a crashed server never answers, and its
        # respawned successor does not know the goal).
        self.speech_silence_s = float(self.declare_parameter("speech_silence_s", 3.0).value)
        # Which executors this deployment has: the arm (Manipulate), the GUI (GuiAct), or both.
        executors = tuple(self.declare_parameter("executors", [ARM, SYSTEM]).value)
        self.thinker = Thinker(make_language_model(backend, **model_params), set(objects), config=config,
                               executors=executors)
        self.speak = ActionClient(self, Speak, "speak")
        gui_action = self.declare_parameter("gui_action", "gui_act").value
        self.executor_clients: dict[str, tuple[ActionClient, type, str]] = {  # executor → (client, action type, name)
            ARM: (ActionClient(self, Manipulate, "manipulate"), Manipulate, "Manipulate"),
            GUI: (ActionClient(self, GuiAct, gui_action), GuiAct, "GuiAct"),
        }
        # A pause that perception never resolves (it crashed mid-utterance) must not mute the agent.
        self.hold_timeout_s = float(self.declare_parameter("hold_timeout_s", 3.0).value)
        self.thought_pub = self.create_publisher(Thought, THOUGHTS_TOPIC, EVENT_QOS)
        self.tts_control = self.create_publisher(String, "/tts/control", EVENT_QOS)
        self.held_since = 0.0
        self.create_subscription(Event, EVENTS_TOPIC, self.on_event, EVENT_QOS)
        self.inbox: deque[ev.Event] = deque()
        self.handling = False
        self.say_queue: deque[Say] = deque()  # waiting for a (re)starting TTS
        # Clause goals go out at once: the TTS plays them back to back, without a gap.
        self.active_speech: dict[str, tuple[Say, object | None]] = {}  # uid → (Say, handle once accepted)
        self.speech_heard: dict[str, tuple[float, str]] = {}  # uid → (last report, what it had said)
        self.cancel_speech_on_accept: set[str] = set()
        self.goals: dict[str, tuple[Act, object | None]] = {}  # goal_id → (Act, handle once accepted)
        self.goal_sent_at: dict[str, float] = {}
        self.cancel_goals_on_accept: set[str] = set()
        self.lost_since = {"speak": 0.0, ARM: 0.0, GUI: 0.0}  # when a busy server was last seen gone
        self.create_timer(0.1, self.tick)
        # The model's pieces and the filler clock are polled; 10 ms keeps streaming smooth.
        self.create_timer(0.01, self.think_tick)
        self.get_logger().info(f"thinker ready: backend={backend} objects={sorted(objects)}")

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
            return  # the Speak result is the authoritative record (see on_speak_result)
        try:
            event = msg_to_event(msg)
        except ValueError as exc:
            self.report_error(f"malformed event {msg.type!r} from {msg.source!r}: {exc}", msg.trace_id)
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
        for cmd in commands:
            if isinstance(cmd, Publish):
                seg = cmd.segment
                # A revision of speech (what was really said before a barge-in) goes out as
                # "interrupted"; a revised user line (a sentence completed after a pause) as itself.
                kind = "interrupted" if cmd.revised and seg.kind == SAY else seg.kind
                t = Thought(kind=kind, text=seg.text, trace_id=seg.trace_id)
                t.header.stamp = ns_to_stamp(ev.now_ns())
                self.thought_pub.publish(t)
            elif isinstance(cmd, Say):
                self.say_queue.append(cmd)
                self.next_speech()
            elif isinstance(cmd, Act):
                self.send_action(cmd)
            elif isinstance(cmd, CancelSpeech):
                self.cancel_speech()  # the hold is released once the TTS confirms (on_speak_result)
            elif isinstance(cmd, PauseSpeech):
                self.set_hold(True)
            elif isinstance(cmd, ResumeSpeech):
                self.set_hold(False)
            elif isinstance(cmd, CancelActions):
                self.cancel_actions()
            elif isinstance(cmd, Report):
                self.report_error(cmd.text, cmd.trace_id, **cmd.payload)

    # --- speech -----------------------------------------------------------------------------
    def set_hold(self, hold: bool) -> None:
        """Pause/resume the TTS (/tts/control); a cancel while paused ends the goal truthfully."""
        if hold == bool(self.held_since):
            return
        self.held_since = time.monotonic() if hold else 0.0
        self.tts_control.publish(String(data="pause" if hold else "resume"))

    def cancel_speech(self) -> None:
        """Barge-in: stop the voice now; queued utterances were never said, and the context says so."""
        dropped, self.say_queue = list(self.say_queue), deque()
        for uid, (_, handle) in self.active_speech.items():
            if handle is None:
                self.cancel_speech_on_accept.add(uid)  # goal still on its way to the TTS
            else:
                handle.cancel_goal_async()
        for say in dropped:
            self.fold_speech_result(say, completed=False, interrupted=True, spoken="")

    def next_speech(self) -> None:
        while self.say_queue and self.speak.server_is_ready():  # else tick() retries, gives up after server_wait_s
            say = self.say_queue.popleft()
            self.active_speech[say.utterance_id] = (say, None)
            self.speech_heard[say.utterance_id] = (time.monotonic(), "")
            goal = Speak.Goal(text=say.text, utterance_id=say.utterance_id, trace_id=say.trace_id)
            self.speak.send_goal_async(goal, feedback_callback=lambda fb, s=say: self.on_speak_feedback(s, fb)) \
                .add_done_callback(lambda f, s=say: self.on_speak_accepted(s, f))

    def on_speak_accepted(self, say: Say, future) -> None:
        uid = say.utterance_id
        if uid not in self.active_speech:
            return  # given up by tick() meanwhile
        handle = future.result()
        if not handle.accepted:
            self.report_error("Speak goal rejected", say.trace_id)
            self.forget_speech(uid)
            self.fold_speech_result(say, False, True, "")
            return
        self.active_speech[uid] = (say, handle)
        self.speech_heard[uid] = (time.monotonic(), "")
        if uid in self.cancel_speech_on_accept:
            self.cancel_speech_on_accept.discard(uid)
            handle.cancel_goal_async()
        handle.get_result_async().add_done_callback(lambda f, s=say: self.on_speak_result(s, f))

    def on_speak_feedback(self, say: Say, feedback_msg) -> None:
        if say.utterance_id in self.active_speech:
            self.speech_heard[say.utterance_id] = (time.monotonic(), feedback_msg.feedback.spoken_text)

    def on_speak_result(self, say: Say, future) -> None:
        if say.utterance_id not in self.active_speech:
            return  # given up by tick() meanwhile
        res = future.result().result
        self.forget_speech(say.utterance_id)
        self.fold_speech_result(say, res.completed, res.interrupted, res.spoken_text)
        if not self.thinker.held and not self.active_speech:
            self.set_hold(False)  # released only now: a resume racing the cancel would leak audio
        self.next_speech()

    def forget_speech(self, uid: str) -> None:
        self.active_speech.pop(uid, None)
        self.speech_heard.pop(uid, None)
        self.cancel_speech_on_accept.discard(uid)

    def fold_speech_result(self, say: Say, completed: bool, interrupted: bool, spoken: str) -> None:
        self.feed(ev.Event(ev.AGENT_SPEECH_END, ev.now_ns(), text=spoken, source="tts", trace_id=say.trace_id,
                           payload={"utterance_id": say.utterance_id, "completed": completed,
                                    "interrupted": interrupted, "spoken_text": spoken}))

    # --- actions ----------------------------------------------------------------------------
    def send_action(self, act: Act) -> None:
        client, action_type, name = self.executor_clients[act.action.executor]
        if not client.server_is_ready():
            self.fold_action_result(act, False, f"no {name} action server is running", canceled=False)
            return
        self.goals[act.goal_id] = (act, None)
        self.goal_sent_at[act.goal_id] = time.monotonic()
        goal = action_type.Goal(instruction=act.instruction, trace_id=act.trace_id)
        client.send_goal_async(goal, feedback_callback=lambda fb, a=act: self.on_feedback(a, fb)) \
            .add_done_callback(lambda f, a=act: self.on_goal_accepted(a, f))

    def cancel_actions(self) -> None:
        for goal_id, (_, handle) in self.goals.items():
            if handle is None:
                self.cancel_goals_on_accept.add(goal_id)  # still on its way to the executor
            else:
                handle.cancel_goal_async()

    def on_goal_accepted(self, act: Act, future) -> None:
        if act.goal_id not in self.goals:
            return  # given up by tick() meanwhile
        handle = future.result()
        cancel = act.goal_id in self.cancel_goals_on_accept
        self.cancel_goals_on_accept.discard(act.goal_id)
        if not handle.accepted:
            self.goals.pop(act.goal_id, None)
            self.goal_sent_at.pop(act.goal_id, None)
            self.fold_action_result(act, False, "goal rejected by the executor", canceled=False)
            return
        self.goals[act.goal_id] = (act, handle)
        if cancel:
            handle.cancel_goal_async()
        handle.get_result_async().add_done_callback(lambda f, a=act: self.on_goal_result(a, f))

    def on_feedback(self, act: Act, feedback_msg) -> None:
        fb = feedback_msg.feedback
        payload = {"goal_id": act.goal_id}
        if hasattr(fb, "progress"):  # Manipulate
            payload["progress"] = float(fb.progress)
        else:  # GuiAct: where the pointer is
            payload["pointer"] = [float(fb.pointer_x), float(fb.pointer_y)]
        self.publish_event(ev.Event(ev.ACTION_FEEDBACK, ev.now_ns(), text=fb.phase, trace_id=act.trace_id,
                                    payload=payload))

    def on_goal_result(self, act: Act, future) -> None:
        self.goal_sent_at.pop(act.goal_id, None)
        if self.goals.pop(act.goal_id, None) is None:
            return  # given up by tick() meanwhile
        wrapped = future.result()
        canceled = wrapped.status == GoalStatus.STATUS_CANCELED
        self.fold_action_result(act, bool(wrapped.result.success), wrapped.result.message, canceled)

    def fold_action_result(self, act: Act, success: bool, message: str, canceled: bool) -> None:
        event = ev.Event(ev.ACTION_RESULT, ev.now_ns(), text=message, source=self.get_name(), trace_id=act.trace_id,
                         payload={"goal_id": act.goal_id, "action": str(act.action), "success": success,
                                  "canceled": canceled, "instruction": act.instruction})
        self.publish_event(event)  # observers (demo, bench) see outcomes on /seal/events too
        self.feed(event)

    # --- executors that go away -------------------------------------------------------------
    def tick(self) -> None:
        """Retry waiting speech; give up on utterances and goals whose executor has gone."""
        now = time.monotonic()
        if self.held_since and now - self.held_since > self.hold_timeout_s:
            self.report_error(f"no interrupt/backchannel decision in {self.hold_timeout_s:.0f} s; resuming speech")
            self.thinker.held = False
            self.set_hold(False)
        speak_busy = bool(self.active_speech) or bool(self.say_queue)
        silent = [uid for uid, (t, _) in self.speech_heard.items() if now - t > self.speech_silence_s]
        if silent or self.lost(self.speak, "speak", speak_busy, now):
            why = f"no word from the TTS for {self.speech_silence_s:.0f} s" if silent else \
                f"Speak server gone for {self.server_wait_s:.0f} s"
            self.report_error(f"{why}; utterances given up")
            lost = [(say, self.speech_heard.get(uid, (0.0, ""))[1]) for uid, (say, _) in self.active_speech.items()]
            self.active_speech, self.speech_heard, self.cancel_speech_on_accept = {}, {}, set()
            dropped, self.say_queue = list(self.say_queue), deque()
            for say, heard in lost:  # what it had said by its last report is what the user heard
                self.fold_speech_result(say, completed=False, interrupted=True, spoken=heard)
            for say in dropped:
                self.fold_speech_result(say, completed=False, interrupted=True, spoken="")
        for executor, (client, _, name) in self.executor_clients.items():
            mine = [gid for gid, (act, _) in self.goals.items() if act.action.executor == executor]
            if self.lost(client, executor, bool(mine), now):
                for gid in mine:
                    act, _ = self.goals.pop(gid)
                    self.cancel_goals_on_accept.discard(gid)
                    self.goal_sent_at.pop(gid, None)
                    self.fold_action_result(act, False, f"{name} server gone for {self.server_wait_s:.0f} s",
                                            canceled=False)
        unanswered = [gid for gid, (_, handle) in self.goals.items()
                      if handle is None and now - self.goal_sent_at.get(gid, now) > self.server_wait_s]
        for gid in unanswered:  # sent to a server that died before accepting it
            act, _ = self.goals.pop(gid)
            self.goal_sent_at.pop(gid, None)
            self.cancel_goals_on_accept.discard(gid)
            name = self.executor_clients[act.action.executor][2]
            self.fold_action_result(act, False, f"no answer from the {name} server in {self.server_wait_s:.0f} s",
                                    canceled=False)
        self.next_speech()

    def lost(self, client: ActionClient, name: str, busy: bool, now: float) -> bool:
        if not busy or client.server_is_ready():
            self.lost_since[name] = 0.0
            return False
        self.lost_since[name] = self.lost_since[name] or now
        if now - self.lost_since[name] < self.server_wait_s:
            return False
        self.lost_since[name] = 0.0
        return True


def main(args=None) -> None:
    run(ThinkerNode)


if __name__ == "__main__":
    main()
