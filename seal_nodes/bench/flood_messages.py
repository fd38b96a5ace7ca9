"""Malformed messages of the right types for every topic the sim graph subscribes to, and a
process that floods them (the independent client of ``seal flood``).

Each message with a header carries ``header.frame_id == MARK`` so the bench tells its own
messages from the graph's on the topics it also measures. Run as a module:
``python -m seal_nodes.bench.flood_messages --topics /audio/mic,/seal/events --seconds 4``
prints ``ready`` once its publishers are matched, floods, then prints a JSON line of counts.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from typing import Callable

from seal_nodes.core import topics

MARK = "flood"
HUGE_BYTES = 2 * 1024 * 1024
HUGE_TEXT = 1024 * 1024
HUGE_ITEMS = 100_000
LONG_NAME = "x" * 100  # each of HUGE_ITEMS names: a message of megabytes, not of gigabytes
BIG_INT32 = 2**31 - 1
BIG_UINT32 = 2**32 - 1
# Manipulate instructions: NaN and out-of-limit targets, empty and huge text.
BAD_INSTRUCTIONS = ("", "x" * HUGE_TEXT, "move joint 1 to nan", "move the gripper to x=1e308 y=-inf z=nan",
                    "rotate joint 4 by 1000 radians", "pick up the red cube " + "inf " * 2000,
                    "\x00\x01\x02", "push the blue cube to the left at 1e400 m/s")


def _audio() -> list:
    from seal_interfaces.msg import AudioChunk

    def chunk(rate: int, channels: int, encoding: str, data: bytes, trace: str = "flood") -> AudioChunk:
        m = AudioChunk(sample_rate=rate, channels=channels, encoding=encoding, trace_id=trace, data=data)
        m.header.frame_id = MARK
        return m
    loud = (b"\xff\x7f\x01\x80" * 160)  # 20 ms of full-scale square wave at 16 kHz: well formed, far too fast
    return [chunk(0, 1, "S16LE", b"\x00" * 640), chunk(BIG_UINT32, 255, "S16LE", b"\x00" * 640),
            chunk(16000, 1, "", b""), chunk(16000, 1, "X" * HUGE_TEXT, b"\x00" * 640),
            chunk(16000, 1, "S16LE", b"\x01" * HUGE_BYTES), chunk(16000, 1, "S16LE", b"\x00" * 641),
            chunk(16000, 1, "S16LE", loud, "t" * HUGE_TEXT), chunk(16000, 1, "S16LE", loud)]


def _strings() -> list:
    from std_msgs.msg import String

    return [String(data=s) for s in ("", "x" * HUGE_TEXT, "\x00" * 64, "pause" * 10_000, ",".join(["w"] * HUGE_ITEMS))]


def _events() -> list:
    from seal_interfaces.msg import Event

    def event(type_: str, text: str = "", payload: str = "", confidence: float = 1.0, source: str = "flood") -> Event:
        m = Event(type=type_, text=text, confidence=confidence, source=source, trace_id="flood", payload_json=payload)
        m.header.frame_id = MARK
        return m
    return [event(""), event("x" * HUGE_TEXT), event("speech_end", "x" * HUGE_TEXT),
            event("speech_end", "hi", "{" * HUGE_TEXT), event("voice", "", "[]"),
            event("speech_end", "hi", "{", math.nan),
            event("object_seen", "cube", '{"position": [NaN, Infinity, 1e999]}', math.inf),
            event("forget", "", '{"user": ' + '"x' * 10_000 + '}'), event("noise", source="s" * HUGE_TEXT),
            event("voice", "", json.dumps({"embedding": [1e308] * HUGE_ITEMS}))]


def _images() -> list:
    from sensor_msgs.msg import Image

    def image(h: int, w: int, step: int, enc: str, n: int) -> Image:
        m = Image(height=h, width=w, step=step, encoding=enc, data=b"\x7f" * n)
        m.header.frame_id = MARK
        return m
    return [image(BIG_UINT32, BIG_UINT32, BIG_UINT32, "rgb8", 12), image(0, 0, 0, "rgb8", 0),
            image(224, 224, 672, "rgb8", HUGE_BYTES), image(224, 224, 672, "bogus", 224 * 672),
            image(224, 224, 1, "rgb8", 224), image(224, 224, 672, "x" * HUGE_TEXT, 224 * 672)]


def _joint_states() -> list:
    from sensor_msgs.msg import JointState

    from seal_nodes.core.arm.robot import JOINT_NAMES

    def state(names: list[str], pos: list[float], vel: list[float] | None = None) -> JointState:
        m = JointState(name=names, position=pos, velocity=vel or [])
        m.header.frame_id = MARK
        return m
    n = len(JOINT_NAMES)
    return [state(JOINT_NAMES, [math.nan] * n), state(JOINT_NAMES, [math.inf] * n), state(JOINT_NAMES, [0.0] * 3),
            state([LONG_NAME] * HUGE_ITEMS, [0.0] * HUGE_ITEMS), state([], []),
            state(JOINT_NAMES, [-math.inf] * n, [math.nan] * n)]


def _trajectories() -> list:
    from builtin_interfaces.msg import Duration
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    from seal_nodes.core.arm.robot import JOINT_NAMES

    def traj(names: list[str], points: list[tuple[list[float], int]]) -> JointTrajectory:
        m = JointTrajectory(joint_names=names, points=[
            JointTrajectoryPoint(positions=p, time_from_start=Duration(sec=s)) for p, s in points])
        m.header.frame_id = MARK
        return m
    n = len(JOINT_NAMES)
    return [traj(JOINT_NAMES, [([math.nan] * n, 1)]), traj(JOINT_NAMES, [([math.inf] * n, 1)]),
            traj(JOINT_NAMES, [([0.0] * n, BIG_INT32)]), traj(JOINT_NAMES, [([0.0] * n, -5)]),
            traj(JOINT_NAMES, [([0.0] * n, 1)] * 20_000), traj([LONG_NAME] * 10_000, [([0.0], 1)]),
            traj([], []), traj(JOINT_NAMES, [([0.0] * 3, 1)]), traj(JOINT_NAMES * 2, [([0.0] * 2 * n, 1)])]


def _object_poses() -> list:
    from geometry_msgs.msg import Pose
    from seal_interfaces.msg import ObjectPoses

    def poses(names: list[str], n: int, v: float) -> ObjectPoses:
        m = ObjectPoses(names=names, poses=[Pose() for _ in range(n)])
        for p in m.poses:
            p.position.x = v
        m.header.frame_id = MARK
        return m
    return [poses(["red_cube"], 1, math.nan), poses(["red_cube", "bin"], 2, math.inf), poses(["red_cube"], 5, 0.0),
            poses([LONG_NAME] * HUGE_ITEMS, 0, 0.0), poses(["green_cube"], 1, 1e308)]


VARIANTS: dict[topics.Topic, Callable[[], list]] = {
    topics.MIC: _audio, topics.SPEAKER: _audio, topics.TTS_CONTROL: _strings, topics.BIAS_WORDS: _strings,
    topics.EVENTS: _events, topics.CAMERA: _images, topics.JOINT_STATES: _joint_states,
    topics.ARM_TRAJECTORY: _trajectories, topics.OBJECT_POSES: _object_poses,
}
GOALS = "goals"  # the Manipulate and Speak action servers


def _goal_flood(node, deadline: float) -> int:
    """Malformed Manipulate and Speak goals in bursts; each accepted goal is cancelled at once."""
    from rclpy.action import ActionClient
    from seal_interfaces.action import Manipulate, Speak

    manip = ActionClient(node, Manipulate, topics.MANIPULATE.name)
    speak = ActionClient(node, Speak, topics.SPEAK.name)
    manip.wait_for_server(timeout_sec=5.0)
    speak.wait_for_server(timeout_sec=5.0)

    def cancel_when_accepted(future) -> None:
        handle = future.result()
        if handle is not None and handle.accepted:
            handle.cancel_goal_async()
    sent = 0
    bad = itertools.cycle(BAD_INSTRUCTIONS)
    while time.monotonic() < deadline:
        for _ in range(10):  # a burst
            manip.send_goal_async(Manipulate.Goal(instruction=next(bad), trace_id="flood")) \
                .add_done_callback(cancel_when_accepted)
            speak.send_goal_async(Speak.Goal(text="x" * HUGE_TEXT, utterance_id="u" * HUGE_TEXT, trace_id="flood"))
            sent += 2
        time.sleep(0.1)
    return sent


def flood(names: list[str], seconds: float, rate: float) -> dict[str, int]:
    """Publish every variant of each named topic round robin at ``rate`` messages/s per topic."""
    import threading

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.serialization import serialize_message
    from rclpy._rclpy_pybind11 import RCLError

    from seal_nodes.nodes.common import publisher

    rclpy.init(args=[])
    node = rclpy.create_node("flood")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    by_name = {t.name: t for t in VARIANTS}
    # Serialized once: the client spends its time sending, not converting Python messages.
    pubs = [(t.name, publisher(node, t), itertools.cycle([serialize_message(m) for m in VARIANTS[t]()]))
            for t in (by_name[n] for n in names if n != GOALS)]
    wait = time.monotonic() + 5.0  # until the graph's subscribers are matched
    while any(p.get_subscription_count() == 0 for _, p, _ in pubs) and time.monotonic() < wait:
        time.sleep(0.05)
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    counts = {name: 0 for name, _, _ in pubs} | {"publish_failed": 0}
    goals = None
    if GOALS in names:
        goals = threading.Thread(target=lambda: counts.__setitem__(GOALS, _goal_flood(node, deadline)), daemon=True)
        goals.start()
    lock = threading.Lock()

    def publish(name: str, pub, msgs) -> None:  # one thread a topic: a slow topic holds back no other
        period, t = 1.0 / rate, time.monotonic()
        while time.monotonic() < deadline:
            try:
                pub.publish(next(msgs))
                outcome = name
            except RCLError:  # the writer's queue is full (a reliable reader behind): a flood goes on
                outcome = "publish_failed"
            with lock:
                counts[outcome] += 1
            t += period
            time.sleep(max(0.0, t - time.monotonic()))
    threads = [threading.Thread(target=publish, args=p, daemon=True) for p in pubs]
    for thread in threads:
        thread.start()
    for thread in threads + ([goals] if goals is not None else []):
        thread.join(timeout=seconds + 10.0)
    executor.shutdown(timeout_sec=1.0)
    spin.join(timeout=2.0)
    node.destroy_node()
    rclpy.try_shutdown()
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m seal_nodes.bench.flood_messages", description=__doc__)
    ap.add_argument("--topics", required=True, help=f"comma-separated topic names and/or {GOALS!r}")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rate", type=float, default=200.0, help="messages per second per topic")
    ns = ap.parse_args(argv)
    names = [n for n in ns.topics.split(",") if n]
    unknown = set(names) - {t.name for t in VARIANTS} - {GOALS}
    if unknown:
        ap.error(f"unknown topics {sorted(unknown)}; known: {[t.name for t in VARIANTS]} and {GOALS!r}")
    print(json.dumps(flood(names, ns.seconds, ns.rate)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
