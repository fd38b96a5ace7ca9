"""Run the stack as a black box: launch the graph, speak into /audio/mic, watch every topic.

``StackSession`` is what ``seal demo``, ``seal bench`` and the end-to-end tests share. It talks
to the graph only through topics, like any integrating application would.
"""
from __future__ import annotations

import bisect
import os
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import rclpy
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.serialization import deserialize_message, serialize_message
from rcl_interfaces.msg import Log

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.audio.frames import AudioFrame
from seal_nodes.core.observe.transcript import TRANSCRIPT, transcript_line
from seal_nodes.ros_env import ros_environment
from seal_nodes.stack import graph
from seal_nodes.tools.recording import McapRecorder, launch_metadata
from seal_nodes.tools.spoken import RATE, Utterance, synthesize_piper
from seal_nodes.tools.waiting import wait_until

CHUNK = RATE // 50  # 20 ms
CHUNK_NS = CHUNK * 1_000_000_000 // RATE

# High-rate streams: what ``keep_s`` trims.
STREAMS = frozenset({topics.MIC, topics.CAMERA, topics.JOINT_STATES, topics.LATENCY, topics.OBJECT_POSES})

# Everything a run is judged by and recorded from.
WATCHED = (topics.MIC, topics.SPEAKER, topics.EVENTS, topics.THOUGHTS, topics.LATENCY, topics.JOINT_STATES,
           topics.CAMERA, topics.ARM_TRAJECTORY, topics.OBJECT_POSES)


@dataclass
class Received:
    t_ns: int  # receipt wall time
    msg: object


@dataclass
class SpokenTurn:
    """An utterance the session played, with the wall times of its true onset and offset."""

    text: str
    onset_ns: int = 0
    offset_ns: int = 0
    played: threading.Event = field(default_factory=threading.Event)


def transcript_log(thought: object) -> Log:
    """A ``/seal/thoughts`` message as a log line in the talk's tagged format (Foxglove's Log panel)."""
    return Log(stamp=thought.header.stamp, level=Log.INFO, name=thought.trace_id or "thinker",
               msg=transcript_line(thought.kind, thought.text))


class MicFeeder:
    """A live microphone made of a buffer: CHUNK samples at real-time pace, silence when idle."""

    def __init__(self, publish: Callable[[AudioFrame], None]) -> None:
        self._publish = publish
        self._queue: list[tuple[np.ndarray, SpokenTurn | None, int, int]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def say(self, pcm: np.ndarray, turn: SpokenTurn | None = None, onset: int = 0, offset: int = 0) -> None:
        with self._lock:
            self._queue.append((pcm.astype(np.int16), turn, onset, offset))

    def _run(self) -> None:
        t0, k = time.time_ns(), 0
        cur, pos = None, 0
        while not self._stop.is_set():
            stamp = t0 + k * CHUNK_NS
            if cur is None:
                with self._lock:
                    if self._queue:
                        cur, pos = self._queue.pop(0), 0
                        _, turn, onset, offset = cur
                        if turn is not None:  # true onset/offset in wall time of this stream
                            turn.onset_ns = stamp + int(onset * 1e9 / RATE)
                            turn.offset_ns = stamp + int(offset * 1e9 / RATE)
            if cur is None:
                block = np.zeros(CHUNK, np.int16)
            else:
                block = cur[0][pos:pos + CHUNK]
                pos += CHUNK
                if len(block) < CHUNK:
                    block = np.concatenate([block, np.zeros(CHUNK - len(block), np.int16)])
                if pos >= len(cur[0]):
                    if cur[1] is not None:
                        cur[1].played.set()
                    cur = None
            due = stamp + CHUNK_NS  # a microphone delivers a chunk once it is complete
            delay = (due - time.time_ns()) / 1e9
            if delay > 0:
                time.sleep(delay)
            self._publish(AudioFrame(block, RATE, stamp))
            k += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)


class StackSession:
    """Launch the sim graph, wait until it is ready, play audio, collect every message."""

    def __init__(self, launch_file: str | Path = graph.LAUNCH_DIR / "sim.launch.yaml",
                 launch_args: dict[str, str] | None = None, record: Path | None = None,
                 node_log: Path | None = None, domain_id: int | None = None,
                 echo: Callable[[str], None] | None = None, keep_s: float | None = None) -> None:
        self.launch_file, self.launch_args = Path(launch_file), dict(launch_args or {})
        # A long run (a soak) keeps only the last keep_s of the high-rate streams in memory; the
        # arrival times of every message, the events and the thoughts are always kept.
        self.keep_ns = None if keep_s is None else int(keep_s * 1e9)
        self._memory_dir: tempfile.TemporaryDirectory | None = None
        if "memory_dir" not in self.launch_args and "memory_dir" in graph.declared_args(self.launch_file):
            # a session of its own remembers nothing of others
            self._memory_dir = tempfile.TemporaryDirectory(prefix="seal-memory-")
            self.launch_args["memory_dir"] = self._memory_dir.name
        self.record_path, self.node_log_path, self.echo = record, node_log, echo
        self.domain_id = domain_id
        self.received: dict[topics.Topic, list[Received]] = defaultdict(list)
        self.arrivals: dict[topics.Topic, list[int]] = defaultdict(list)  # receipt times of every message
        self.lock = threading.Lock()
        self.node_events: list[tuple[str, dict]] = []
        self._recorder: McapRecorder | None = None
        self._spoken: dict[str, Utterance] = {}  # text → rendered speech
        self._publishers: dict[str, Any] = {}
        self._log_file = None

    # --- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> StackSession:
        if self.domain_id is not None:
            os.environ["ROS_DOMAIN_ID"] = str(self.domain_id)
        for key, value in ros_environment("localhost", self.domain_id).items():
            os.environ.setdefault(key, value)
        self.launch_desc = desc = graph.load(self.launch_file, self.launch_args)
        if self.node_log_path:
            self._log_file = open(self.node_log_path, "w", buffering=1)
        self.supervisor = graph.make_supervisor(desc, domain_id=self.domain_id, log=self._log,
                                                on_event=lambda kind, spec, info: self.node_events.append((kind, info)))
        self.supervisor.start()
        try:
            self._start_ros()
        except BaseException:
            self.supervisor.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "feeder", None):
            self.feeder.stop()
        self.supervisor.stop(timeout=5.0)
        if self._memory_dir is not None:
            self._memory_dir.cleanup()
        if getattr(self, "executor", None):
            self.executor.shutdown(timeout_sec=5.0)
            self._spin_thread.join(timeout=5.0)
            self.node.destroy_node()
            rclpy.try_shutdown(context=self.context)
        if self._recorder:
            self._recorder.close()
        if self._log_file:
            self._log_file.close()

    def _log(self, line: str) -> None:
        if self._log_file:
            self._log_file.write(line + "\n")
        if self.echo and (line.startswith("[launch]") or "ERROR" in line or "Traceback" in line):
            self.echo(line)

    def _start_ros(self) -> None:
        from seal_interfaces.action import Manipulate, Speak

        from seal_nodes.nodes.common import frame_to_msg, interface_type, publisher, subscription

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("seal_session", context=self.context)
        if self.record_path:
            self._recorder = McapRecorder(self.record_path)
            for name, data in launch_metadata(self.launch_desc).items():
                self._recorder.add_metadata(name, data)
        for topic in WATCHED:
            if self._recorder:
                self._recorder.add_channel(topic.name, topic.type)
            subscription(self.node, topic, self._make_callback(topic, interface_type(topic.type)), raw=True)
        if self._recorder:  # the thoughts as transcript lines, as the live view shows them
            self._recorder.add_channel(TRANSCRIPT, "rcl_interfaces/msg/Log")
        mic_pub = publisher(self.node, topics.MIC)
        self.feeder = MicFeeder(lambda frame: mic_pub.publish(frame_to_msg(frame)))
        self.mic_pub = self._publishers[topics.MIC.name] = mic_pub
        self.speak_client = ActionClient(self.node, Speak, topics.SPEAK.name)
        self.manip_client = ActionClient(self.node, Manipulate, topics.MANIPULATE.name)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._spin_thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._spin_thread.start()

    def _make_callback(self, topic: topics.Topic, cls: type) -> Callable[[bytes], None]:
        def callback(data: bytes) -> None:
            now = time.time_ns()
            with self.lock:
                self.arrivals[topic].append(now)
                if self._recorder:
                    self._recorder.write(topic.name, data, now)
            if topic == topics.CAMERA and len(self.received[topic]) and \
                    now - self.received[topic][-1].t_ns < 250_000_000:
                return  # keep ~4 frames/s for pictures; all of them are in the recording
            msg = deserialize_message(data, cls)
            with self.lock:
                kept = self.received[topic]
                kept.append(Received(now, msg))
                if self.keep_ns is not None and topic in STREAMS and now - kept[0].t_ns > 2 * self.keep_ns:
                    del kept[:bisect.bisect_left([r.t_ns for r in kept], now - self.keep_ns)]
                if topic == topics.THOUGHTS and self._recorder:
                    self._recorder.write(TRANSCRIPT, serialize_message(transcript_log(msg)), now)
        return callback

    def publisher(self, topic: topics.Topic) -> Any:
        """This session's publisher on ``topic``, made once and kept until close: destroying a
        publisher while the executor spins races rclpy's wait set (InvalidHandle in the spin thread)."""
        from seal_nodes.nodes.common import publisher

        if topic.name not in self._publishers:
            self._publishers[topic.name] = publisher(self.node, topic)
        return self._publishers[topic.name]

    # --- waiting ----------------------------------------------------------------------------
    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Until every node is up: state and camera flowing, action servers and listeners matched."""
        deadline = time.monotonic() + timeout_s
        checks = {
            "joint states": lambda: bool(self.messages(topics.JOINT_STATES)),
            "camera": lambda: bool(self.messages(topics.CAMERA)),
            "object poses": lambda: bool(self.messages(topics.OBJECT_POSES)),
            "speak server": self.speak_client.server_is_ready,
            "manipulate server": self.manip_client.server_is_ready,
            "audio perception": lambda: self.mic_pub.get_subscription_count() >= 1,
            "thinker": lambda: self.node.count_subscribers(topics.EVENTS.name) >= 2,  # thinker + this session
        }
        while True:
            missing = [name for name, ok in checks.items() if not ok()]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"stack not ready after {timeout_s:.0f} s; waiting for {', '.join(missing)}")
            time.sleep(0.1)
        self.feeder.start()
        time.sleep(0.5)  # a little silence first, as from a real microphone

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        wait_until(predicate, timeout_s, what)

    def speak(self, utt: Utterance) -> SpokenTurn:
        """Play an utterance into /audio/mic (after whatever is already queued)."""
        turn = SpokenTurn(utt.text)
        self.feeder.say(utt.pcm, turn, utt.onset, utt.offset)
        return turn

    def say(self, text: str) -> SpokenTurn:
        """Speak ``text`` (piper's joe voice, rendered once per text) into /audio/mic."""
        if text not in self._spoken:
            self._spoken[text] = synthesize_piper(text)
        return self.speak(self._spoken[text])

    # --- views ------------------------------------------------------------------------------
    def messages(self, topic: topics.Topic) -> list[Received]:
        with self.lock:
            return list(self.received[topic])

    def rate_hz(self, topic: topics.Topic, window_s: float = 2.0) -> float:
        """Messages per second on ``topic`` over the last ``window_s``."""
        cutoff = time.time_ns() - int(window_s * 1e9)
        with self.lock:
            return sum(1 for t in self.arrivals[topic] if t >= cutoff) / window_s

    def events(self, type_: str | None = None, since_ns: int = 0) -> list[Received]:
        return [r for r in self.messages(topics.EVENTS)
                if (type_ is None or r.msg.type == type_) and r.t_ns >= since_ns]

    def agent_idle(self, since_ns: int, quiet_s: float = 1.0) -> bool:
        """No speech queued or playing and nothing heard for ``quiet_s`` since ``since_ns``."""
        starts = self.events(ev.AGENT_SPEECH_START, since_ns)
        ends = self.events(ev.AGENT_SPEECH_END, since_ns)
        if len(ends) < len(starts):
            return False
        last = max([r.t_ns for r in self.events(None, since_ns)] + [since_ns])
        speaker = self.messages(topics.SPEAKER)
        if speaker:
            last = max(last, speaker[-1].t_ns)
        return time.time_ns() - last > quiet_s * 1e9
