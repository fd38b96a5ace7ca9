"""Shared node plumbing: the topic contract in rclpy terms, message ↔ core conversions, a guarded main()."""
from __future__ import annotations

import importlib
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from rclpy.publisher import Publisher
    from rclpy.subscription import Subscription
    from rclpy.task import Future

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from seal_interfaces.msg import AudioChunk, Event, Latency

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.bounds import MAX_MESSAGE_BYTES, Refusals, check_event, fault_kind
from seal_nodes.core.audio.frames import ENCODING_S16LE, AudioFrame, pcm_from_bytes
from seal_nodes.core.observe.health import HealthStatus, NodeHealth

_RELIABILITY = {topics.RELIABLE: ReliabilityPolicy.RELIABLE, topics.BEST_EFFORT: ReliabilityPolicy.BEST_EFFORT}
_DURABILITY = {topics.VOLATILE: DurabilityPolicy.VOLATILE, topics.TRANSIENT_LOCAL: DurabilityPolicy.TRANSIENT_LOCAL}


def qos_for(topic: topics.Topic) -> QoSProfile:
    """The contract's QoS for ``topic`` as an rclpy profile."""
    q = topic.qos
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=q.depth, reliability=_RELIABILITY[q.reliability],
                      durability=_DURABILITY[q.durability])


def interface_type(type_name: str) -> type:
    """``pkg/msg/Type`` or ``pkg/action/Type`` → the generated class."""
    pkg, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


def publisher(node: Node, topic: topics.Topic, **kwargs: Any) -> "Publisher":
    """A publisher on ``topic`` with the contract's type and QoS."""
    return node.create_publisher(interface_type(topic.type), topic.name, qos_for(topic), **kwargs)


def subscription(node: Node, topic: topics.Topic, callback: Callable, **kwargs: Any) -> "Subscription":
    """A subscription to ``topic`` with the contract's type and QoS (``raw=True``: serialized bytes).

    A SealNode's subscription takes the serialized message and refuses one larger than the
    topic's ``MAX_MESSAGE_BYTES`` before deserializing it; the callback gets the message.
    """
    cls = interface_type(topic.type)
    limit = MAX_MESSAGE_BYTES.get(topic.name)
    if kwargs.get("raw") or limit is None or not isinstance(node, SealNode):
        return node.create_subscription(cls, topic.name, callback, qos_for(topic), **kwargs)

    def sized(raw: bytes) -> None:
        if len(raw) > limit:
            node.refuse(topic.name, f"a message of {len(raw)} bytes (at most {limit})")
        else:
            callback(deserialize_message(raw, cls))
    return node.create_subscription(cls, topic.name, sized, qos_for(topic), raw=True, **kwargs)



def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def event_to_msg(event: ev.Event) -> Event:
    msg = Event()
    msg.header.stamp = ns_to_stamp(event.stamp_ns)
    msg.type = event.type
    msg.text = event.text
    msg.confidence = float(event.confidence)
    msg.source = event.source
    msg.trace_id = event.trace_id
    msg.payload_json = event.payload_json()
    return msg


def event_bounds(msg: Event) -> str:
    """Why ``msg`` breaks the Event contract's bounds ("" when it does not); cheap, before any parsing."""
    return check_event(msg.type, msg.text, msg.source, msg.trace_id, msg.payload_json, msg.confidence)


def msg_to_event(msg: Event) -> ev.Event:
    """Raises ValueError on a malformed payload."""
    return ev.Event(
        type=msg.type,
        stamp_ns=stamp_to_ns(msg.header.stamp),
        text=msg.text,
        confidence=float(msg.confidence),
        source=msg.source,
        trace_id=msg.trace_id,
        payload=ev.Event.parse_payload(msg.payload_json),
    )


def frame_to_msg(frame: AudioFrame) -> AudioChunk:
    msg = AudioChunk()
    msg.header.stamp = ns_to_stamp(frame.stamp_ns)
    msg.sample_rate = int(frame.sample_rate)
    msg.channels = 1
    msg.encoding = ENCODING_S16LE
    msg.trace_id = frame.trace_id
    msg.data = frame.samples.astype("<i2").tobytes()
    return msg


def msg_to_frame(msg: AudioChunk) -> AudioFrame:
    """Raises AudioFormatError on a malformed chunk."""
    pcm = pcm_from_bytes(bytes(msg.data), msg.sample_rate, msg.channels, msg.encoding)
    return AudioFrame(pcm, int(msg.sample_rate), stamp_to_ns(msg.header.stamp), msg.trace_id)


def health_to_msg(status: HealthStatus, stamp_ns: int) -> DiagnosticArray:
    msg = DiagnosticArray()
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.status = [DiagnosticStatus(level=bytes([status.level]), name=status.name, message=status.message,
                                   hardware_id=status.hardware_id,
                                   values=[KeyValue(key=k, value=v) for k, v in status.values])]
    return msg


class SealNode(Node):
    """A Node with the stack's error reporting: bad input becomes an ``error`` event, and the
    node's health (up, backlog, dropped input, last error) goes to ``/diagnostics`` once a second."""

    # Events published before anyone listens (a bad parameter found at start-up) are held this
    # long for the first subscriber instead of vanishing.
    HOLD_UNHEARD_S = 15.0
    DIAGNOSTICS_PERIOD_S = 1.0
    # Refused input (a message out of its topic's bounds) is reported once per window per topic.
    REFUSAL_WINDOW_S = 5.0

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._event_pub = publisher(self, topics.EVENTS)
        self._latency_pub = publisher(self, topics.LATENCY)
        self._lock = threading.Lock()  # reports come from worker threads too
        self._unheard: list[Event] | None = []  # None once start-up holding is over
        self._unheard_timer = self.create_timer(0.2, self._flush_unheard)
        self._born = time.monotonic()
        self._throttle: dict[str, tuple[float, int]] = {}  # key → (last report, reports held back)
        self._refusals = Refusals(self.REFUSAL_WINDOW_S)
        self.health = NodeHealth(name)
        self._diagnostics_pub = publisher(self, topics.DIAGNOSTICS)
        self.create_timer(self.DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)

    def backlog(self) -> int | None:
        """Input messages waiting to be handled; a node with an input queue says how many."""
        return None

    def _publish_diagnostics(self) -> None:
        self._diagnostics_pub.publish(health_to_msg(self.health.status(self.backlog()), ev.now_ns()))
        with self._lock:
            held = self._refusals.flush()
        for key, count in held.items():  # the kind of fault is in the payload; the text says how many
            where = key.partition(": ")[0]
            self._report_refusals(key, f"refused {count} more messages on {where} since the last report", count)

    def publish_event(self, event: ev.Event) -> None:
        if not event.source:
            event.source = self.get_name()
        msg = event_to_msg(event)
        with self._lock:
            if self._unheard is not None and not self._release_unheard():
                self._unheard.append(msg)
                return
        self._event_pub.publish(msg)

    def _flush_unheard(self) -> None:
        with self._lock:
            if self._unheard is None or self._release_unheard():
                self._unheard_timer.cancel()

    def _release_unheard(self) -> bool:
        """Publish held start-up events (in order) once someone listens or the hold expired."""
        if self._event_pub.get_subscription_count() == 0 and time.monotonic() - self._born < self.HOLD_UNHEARD_S:
            return False
        for held in self._unheard or []:
            self._event_pub.publish(held)
        self._unheard = None  # from now on events go straight out
        return True

    def report_error(self, text: str, trace_id: str = "", throttle_key: str = "", throttle_s: float = 2.0,
                     payload: Mapping[str, object] | None = None) -> None:
        """Log and publish a bad-input or failure report (``payload``: the event's); the node carries on.

        With ``throttle_key`` (a bad sensor stream), at most one report per ``throttle_s`` goes
        out for that key, counting the ones it stands for in ``payload["suppressed"]``; each such
        report counts as a dropped input message in the node's health.
        """
        payload = dict(payload or {})
        self.health.error(text, dropped_input=bool(throttle_key))
        if throttle_key:
            now = time.monotonic()
            with self._lock:
                last, suppressed = self._throttle.get(throttle_key, (-1e9, 0))
                if now - last < throttle_s:
                    self._throttle[throttle_key] = (last, suppressed + 1)
                    return
                self._throttle[throttle_key] = (now, 0)
            payload["suppressed"] = suppressed
        self.get_logger().warning(text)
        self.publish_event(ev.Event(ev.ERROR, ev.now_ns(), text=text, trace_id=trace_id, payload=payload))

    def refuse(self, where: str, reason: str) -> None:
        """Drop an input message that breaks its contract (``where``: the topic or action).

        Cheap under a flood: each refusal only counts (health: one dropped input); the log line
        and the ``error`` event go out once per ``REFUSAL_WINDOW_S`` per ``where`` and kind of
        fault, saying how many messages they stand for.
        """
        self.health.error(f"refused {where}: {reason}", dropped_input=True)
        key = f"{where}: {fault_kind(reason)}"
        with self._lock:
            count = self._refusals.refuse(key)
        if count is not None:
            self._report_refusals(key, f"refused {where}: {reason}"
                                  + (f" (and {count - 1} more since the last report)" if count > 1 else ""), count)

    def _report_refusals(self, key: str, text: str, count: int) -> None:
        self.get_logger().warning(text)
        self.publish_event(ev.Event(ev.ERROR, ev.now_ns(), text=text, payload={"refused": count, "fault": key}))

    def publish_latency(self, path: str, ms: float, trace_id: str = "") -> None:
        msg = Latency()
        msg.header.stamp = ns_to_stamp(ev.now_ns())
        msg.path = path
        msg.ms = float(ms)
        msg.trace_id = trace_id
        self._latency_pub.publish(msg)


def in_thread(node: Node, fn: Callable, *args: object) -> "Future":
    """Run ``fn`` on its own thread; the returned Future wakes the node's executor when done.

    Long blocking work (a control loop, an utterance) is awaited from an ``async`` action
    callback, so a SingleThreadedExecutor keeps serving subscriptions and cancel requests.
    (rclpy's MultiThreadedExecutor busy-polls a core here; we do not use it.)
    """
    from rclpy.task import Future

    executor = node.executor
    future: Future = Future(executor=executor)

    def work() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # surfaced by the awaiting callback
            future.set_exception(exc)
        if executor is not None:
            executor.wake()  # else the awaiting coroutine resumes only at the next wake-up

    threading.Thread(target=work, daemon=True).start()
    return future


def _already_stopping(signum: int, _frame: object) -> None:
    print(f"[{sys.argv[0]}] signal {signum} while stopping: finishing the shutdown", file=sys.stderr, flush=True)


def run(node_factory: Callable[[], Node]) -> None:
    """Standard main: init, spin until Ctrl-C / SIGTERM, stop the node's threads, then shut down.

    rclpy's own signal handler would invalidate the context while node threads still publish;
    we take SIGINT/SIGTERM ourselves so ``close()`` runs first.
    """
    import signal

    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    rclpy.init(args=sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    # Both stop the node, whatever this process inherited: a background job of a non-interactive
    # shell (nohup, CI) starts with SIGINT ignored, and Python keeps an inherited SIG_IGN.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    node = None
    try:
        node = node_factory()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while True:  # a bounded wait so Python gets to run the SIGINT/SIGTERM handler
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # A second Ctrl-C or the launcher's SIGTERM while close() joins the node's threads would
        # abandon it halfway (threads inside native code at exit); close() is bounded, SIGKILL is not.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _already_stopping)
        try:
            if node is not None:
                close = getattr(node, "close", None)
                if close:
                    close()  # stop the node's own threads before the context goes
        finally:
            if node is not None:
                node.destroy_node()
            rclpy.try_shutdown()


__all__ = [
    "qos_for", "interface_type", "publisher", "subscription",
    "SealNode", "run", "in_thread", "event_to_msg", "msg_to_event", "event_bounds", "frame_to_msg", "msg_to_frame",
    "ns_to_stamp", "stamp_to_ns", "health_to_msg",
]
