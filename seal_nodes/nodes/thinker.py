"""Thinker node: /seal/events in → Speak / Manipulate goals out, every segment on /seal/thoughts."""
from __future__ import annotations

import time
from collections import deque

from seal_nodes.nodes.common import (
    EVENT_QOS, EVENTS_TOPIC, THOUGHTS_TOPIC, SealNode, msg_to_event, ns_to_stamp, run,
)

from action_msgs.msg import GoalStatus  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup  # noqa: E402
from seal_interfaces.action import Manipulate, Speak  # noqa: E402
from seal_interfaces.msg import Event, Thought  # noqa: E402

from seal_nodes.core import events as ev  # noqa: E402
from seal_nodes.core.reasoning import make_backend  # noqa: E402
from seal_nodes.core.thinker import (  # noqa: E402
    Act, CancelActions, CancelSpeech, Publish, Report, Say, Thinker,
)


class ThinkerNode(SealNode):
    def __init__(self) -> None:
        super().__init__("thinker")
        backend = self.declare_parameter("backend", "commands").value
        objects = self.declare_parameter("known_objects", ["red_cube", "green_cube", "blue_cube"]).value
        self.thinker = Thinker(make_backend(backend), set(objects))
        # One callback group: the Thinker is not thread-safe and need not be.
        group = MutuallyExclusiveCallbackGroup()
        self.speak = ActionClient(self, Speak, "speak", callback_group=group)
        self.manipulate = ActionClient(self, Manipulate, "manipulate", callback_group=group)
        self.thought_pub = self.create_publisher(Thought, THOUGHTS_TOPIC, EVENT_QOS)
        self.create_subscription(Event, EVENTS_TOPIC, self.on_event, EVENT_QOS, callback_group=group)
        self.say_queue: deque[Say] = deque()
        self.active_speech = None  # (Say, goal handle or None while pending)
        self.active_goals: dict[str, object] = {}  # goal_id → ClientGoalHandle
        self.server_wait_s = float(self.declare_parameter("server_wait_s", 5.0).value)
        self.speech_wait_since = 0.0
        self.cancel_on_accept = False
        self.create_timer(0.1, self.next_speech, callback_group=group)
        self.get_logger().info(f"thinker ready: backend={backend} objects={sorted(objects)}")

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
        self.execute(self.thinker.handle(event))

    # --- commands out -----------------------------------------------------------------------
    def execute(self, commands: list) -> None:
        for cmd in commands:
            if isinstance(cmd, Publish):
                seg = cmd.segment
                # A revision (what was really said before a barge-in) goes out as "interrupted".
                t = Thought(kind="interrupted" if cmd.revised else seg.kind, text=seg.text, trace_id=seg.trace_id)
                t.header.stamp = ns_to_stamp(ev.now_ns())
                self.thought_pub.publish(t)
            elif isinstance(cmd, Say):
                self.say_queue.append(cmd)
                self.next_speech()
            elif isinstance(cmd, Act):
                self.send_action(cmd)
            elif isinstance(cmd, CancelSpeech):
                self.cancel_speech()
            elif isinstance(cmd, CancelActions):
                for handle in list(self.active_goals.values()):
                    handle.cancel_goal_async()
            elif isinstance(cmd, Report):
                self.report_error(cmd.text, cmd.trace_id, **cmd.payload)

    def cancel_speech(self) -> None:
        """Barge-in: stop the voice now; queued utterances were never said, and the context says so."""
        dropped, self.say_queue = list(self.say_queue), deque()
        if self.active_speech is not None:
            if self.active_speech[1] is None:
                self.cancel_on_accept = True  # goal still on its way to the TTS
            else:
                self.active_speech[1].cancel_goal_async()
        for say in dropped:
            self.fold_speech_result(say, completed=False, interrupted=True, spoken="")

    def next_speech(self) -> None:
        if self.active_speech is not None or not self.say_queue:
            return
        if not self.speak.server_is_ready():
            # Just started, or TTS restarting: keep the utterance a while (retried by the timer).
            waited = time.monotonic() - self.speech_wait_since if self.speech_wait_since else 0.0
            self.speech_wait_since = self.speech_wait_since or time.monotonic()
            if waited < self.server_wait_s:
                return
            say = self.say_queue.popleft()
            self.speech_wait_since = 0.0
            self.report_error("no Speak action server; utterance dropped", say.trace_id, text=say.text)
            self.fold_speech_result(say, completed=False, interrupted=True, spoken="")
            return self.next_speech()
        self.speech_wait_since = 0.0
        say = self.say_queue.popleft()
        self.active_speech = (say, None)
        goal = Speak.Goal(text=say.text, utterance_id=say.utterance_id, trace_id=say.trace_id)
        self.speak.send_goal_async(goal).add_done_callback(lambda f, s=say: self.on_speak_accepted(s, f))

    def on_speak_accepted(self, say: Say, future) -> None:
        handle = future.result()
        if not handle.accepted:
            self.report_error("Speak goal rejected", say.trace_id)
            self.active_speech = None
            self.fold_speech_result(say, False, True, "")
            return self.next_speech()
        self.active_speech = (say, handle)
        if self.cancel_on_accept:
            self.cancel_on_accept = False
            handle.cancel_goal_async()
        handle.get_result_async().add_done_callback(lambda f, s=say: self.on_speak_result(s, f))

    def on_speak_result(self, say: Say, future) -> None:
        res = future.result().result
        self.active_speech = None
        self.fold_speech_result(say, res.completed, res.interrupted, res.spoken_text)
        self.next_speech()

    def fold_speech_result(self, say: Say, completed: bool, interrupted: bool, spoken: str) -> None:
        event = ev.Event(ev.AGENT_SPEECH_END, ev.now_ns(), text=spoken, source="tts", trace_id=say.trace_id,
                         payload={"utterance_id": say.utterance_id, "completed": completed,
                                  "interrupted": interrupted, "spoken_text": spoken})
        self.execute(self.thinker.handle(event))

    def send_action(self, act: Act) -> None:
        if not self.manipulate.server_is_ready():
            self.fold_action_result(act, False, "no Manipulate action server is running", canceled=False)
            return
        goal = Manipulate.Goal(instruction=act.instruction, trace_id=act.trace_id)
        self.manipulate.send_goal_async(goal, feedback_callback=lambda fb, a=act: self.on_feedback(a, fb)) \
            .add_done_callback(lambda f, a=act: self.on_goal_accepted(a, f))

    def on_goal_accepted(self, act: Act, future) -> None:
        handle = future.result()
        if not handle.accepted:
            self.fold_action_result(act, False, "goal rejected by the executor", canceled=False)
            return
        self.active_goals[act.goal_id] = handle
        handle.get_result_async().add_done_callback(lambda f, a=act: self.on_goal_result(a, f))

    def on_feedback(self, act: Act, feedback_msg) -> None:
        fb = feedback_msg.feedback
        self.publish_event(ev.Event(ev.ACTION_FEEDBACK, ev.now_ns(), text=fb.phase, trace_id=act.trace_id,
                                    payload={"goal_id": act.goal_id, "progress": float(fb.progress)}))

    def on_goal_result(self, act: Act, future) -> None:
        wrapped = future.result()
        self.active_goals.pop(act.goal_id, None)
        canceled = wrapped.status == GoalStatus.STATUS_CANCELED
        self.fold_action_result(act, bool(wrapped.result.success), wrapped.result.message, canceled)

    def fold_action_result(self, act: Act, success: bool, message: str, canceled: bool) -> None:
        event = ev.Event(ev.ACTION_RESULT, ev.now_ns(), text=message, source=self.get_name(), trace_id=act.trace_id,
                         payload={"goal_id": act.goal_id, "action": str(act.action), "success": success,
                                  "canceled": canceled, "instruction": act.instruction})
        self.publish_event(event)  # observers (demo, bench) see outcomes on /seal/events too
        self.execute(self.thinker.handle(event))


def main(args=None) -> None:
    run(ThinkerNode)


if __name__ == "__main__":
    main()
