"""``seal flood``: does bad input stay cheap? The sim graph's rates under a flood of malformed messages.

Starts the sim launch file, then floods each subscribed topic in turn (and the Manipulate and
Speak action servers), then all of them at once, from an independent process
(``seal_nodes.bench.flood_messages``). Measures the camera, /joint_states, /sim/object_poses and
each node's /diagnostics rate before, during and from 1 s after each flood; checks that no node
exited, that a well-formed trajectory sent during the trajectory flood is still followed, and
that no arm command or joint state outside the robot's limits results. Writes JSON and a table.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from typing import Callable

import numpy as np

from seal_nodes.bench.flood_messages import GOALS, MARK, VARIANTS
from seal_nodes.core import topics
from seal_nodes.ros_env import ros_environment
from seal_nodes.stack import graph
from seal_nodes.tools.latency import machine_info, write_report
from seal_nodes.tools.procfs import read_stat

RATES = (topics.CAMERA, topics.JOINT_STATES, topics.OBJECT_POSES)
GOAL_PASS = 0.8  # every rate during and after a flood at least this share of its baseline
LIMIT_SLACK = 0.02  # rad: measured joints may overshoot a limit this much (the simulator's contact softness)


def _frame_id(raw: bytes) -> bytes:
    """header.frame_id of a serialized message that starts with a std_msgs/Header (CDR)."""
    n = int.from_bytes(raw[12:16], "little")
    return raw[16:16 + max(0, n - 1)] if 0 < n < 256 else b""


class Probe:
    """The bench's own node: arrival times of the graph's messages (its own flood filtered out)."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.serialization import deserialize_message
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import JointState
        from trajectory_msgs.msg import JointTrajectory

        from seal_nodes.core.arm.robot import ARM_JOINTS, robot_model
        from seal_nodes.nodes.common import publisher, subscription

        model = robot_model()
        self.lower = np.array([model.joint(j).range[0] for j in ARM_JOINTS] + [0.0])
        self.upper = np.array([model.joint(j).range[1] for j in ARM_JOINTS] + [1.0])
        self.lock = threading.Lock()
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.out_of_limits: list[str] = []
        self.q: np.ndarray | None = None
        self.context = rclpy.Context()
        rclpy.init(args=[], context=self.context)
        self.node = rclpy.create_node("seal_flood_probe", context=self.context)
        mark = MARK.encode()

        def counter(name: str):
            def cb(raw: bytes) -> None:
                if _frame_id(raw) != mark:
                    with self.lock:
                        self.arrivals[name].append(time.monotonic())
            return cb

        def joints(raw: bytes) -> None:
            if _frame_id(raw) == mark:
                return
            msg = deserialize_message(raw, JointState)
            q = np.asarray(msg.position, dtype=float)
            with self.lock:
                self.arrivals[topics.JOINT_STATES.name].append(time.monotonic())
                self.q = q
                if q.shape == self.lower.shape and \
                        (np.any(q < self.lower - LIMIT_SLACK) or np.any(q > self.upper + LIMIT_SLACK)):
                    self.out_of_limits.append(f"joint state {np.round(q, 3).tolist()}")

        def commands(raw: bytes) -> None:
            if _frame_id(raw) == mark:
                return
            msg = deserialize_message(raw, JointTrajectory)
            for p in msg.points:
                q = np.asarray(p.positions, dtype=float)
                if q.shape != self.lower.shape or not np.all(np.isfinite(q)) or np.any(q < self.lower) \
                        or np.any(q > self.upper):
                    with self.lock:
                        self.out_of_limits.append(f"command {np.round(q, 3).tolist()}")

        def diagnostics(raw: bytes) -> None:
            msg = deserialize_message(raw, DiagnosticArray)
            with self.lock:
                for s in msg.status:
                    self.arrivals["diag:" + s.name.split(":")[0]].append(time.monotonic())

        subscription(self.node, topics.CAMERA, counter(topics.CAMERA.name), raw=True)
        subscription(self.node, topics.OBJECT_POSES, counter(topics.OBJECT_POSES.name), raw=True)
        subscription(self.node, topics.JOINT_STATES, joints, raw=True)
        subscription(self.node, topics.ARM_TRAJECTORY, commands, raw=True)
        subscription(self.node, topics.DIAGNOSTICS, diagnostics, raw=True)
        self.traj_pub = publisher(self.node, topics.ARM_TRAJECTORY)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def rates(self, t0: float, t1: float) -> dict[str, float]:
        with self.lock:
            return {name: round(sum(1 for t in ts if t0 <= t < t1) / (t1 - t0), 2)
                    for name, ts in sorted(self.arrivals.items())}

    def send_target(self, q: np.ndarray, seconds: float = 1.0) -> None:
        """A well-formed one-point trajectory (what vla_policy sends)."""
        from builtin_interfaces.msg import Duration
        from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

        from seal_nodes.core.arm.robot import JOINT_NAMES

        msg = JointTrajectory(joint_names=JOINT_NAMES, points=[JointTrajectoryPoint(
            positions=[float(v) for v in q],
            time_from_start=Duration(sec=int(seconds), nanosec=int(seconds % 1 * 1e9)))])
        self.traj_pub.publish(msg)

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=1.0)
        self.thread.join(timeout=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def cpu_seconds(pids: dict[str, int | None]) -> dict[str, float]:
    """CPU time (user + system) each process has used so far."""
    stats = {label: read_stat(pid) for label, pid in pids.items() if pid is not None}
    return {label: stat.cpu_s for label, stat in stats.items() if stat is not None}


def run_flood(names: list[str], seconds: float, rate: float,
              on_ready: Callable[[], None] = lambda: None) -> tuple[float, float, dict[str, int], float]:
    """Flood ``names`` from a separate process (``on_ready``: called as it starts publishing);
    (start, end) of the flood on this clock, the messages sent per topic, the client's CPU seconds."""
    import json

    # A session of its own, as an independent client has: with autogroup the kernel shares CPU
    # time out by session, and in ours the flood would take it from the probe that measures.
    proc = subprocess.Popen([sys.executable, "-m", "seal_nodes.bench.flood_messages", "--topics", ",".join(names),
                             "--seconds", str(seconds), "--rate", str(rate)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.wait(timeout=30)
        raise RuntimeError(f"flood client did not start: {line!r}")
    on_ready()
    t0 = time.monotonic()
    counts = json.loads(proc.stdout.readline() or "{}")
    t1 = time.monotonic()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped above
    return t0, t1, counts, usage.ru_utime + usage.ru_stime


def _wait_ready(probe: Probe, n_nodes: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with probe.lock:
            nodes = sum(1 for k in probe.arrivals if k.startswith("diag:"))
            ok = bool(probe.arrivals[topics.CAMERA.name]) and probe.q is not None and nodes >= n_nodes
        if ok:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the graph was not up within {timeout_s:.0f} s")


def _cpu_share(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Each process's CPU use between two ``cpu_seconds`` readings, in cores."""
    return {k: round((after[k] - before[k]) / seconds, 2) for k in after if k in before}


def _phase(probe: Probe, pids: dict[str, int | None], names: list[str], seconds: float, rate: float,
           baseline: dict) -> dict:
    target = None
    if topics.ARM_TRAJECTORY.name in names and probe.q is not None:
        target = probe.q.copy()
        target[0] = float(np.clip(target[0] + 0.3, probe.lower[0] + 0.1, probe.upper[0] - 0.1))
        threading.Timer(seconds / 2, probe.send_target, (target,)).start()  # mid-flood
    cpu0: dict[str, float] = {}
    t0, t1, counts, client_cpu_s = run_flood(names, seconds, rate, lambda: cpu0.update(cpu_seconds(pids)))
    cpu = _cpu_share(cpu0, cpu_seconds(pids), time.monotonic() - t0)
    time.sleep(3.0)
    during, after = probe.rates(t0 + 0.5, t1), probe.rates(t1 + 1.0, t1 + 3.0)
    keys = [t.name for t in RATES if baseline.get(t.name, 0) > 0]
    worst = min([during.get(k, 0.0) / baseline[k] for k in keys] + [after.get(k, 0.0) / baseline[k] for k in keys])
    out = {"topics": names, "sent": counts, "seconds": round(t1 - t0, 2), "during_hz": during, "after_hz": after,
           "worst_share": round(worst, 3), "node_cpu_cores": cpu,
           "client_cpu_cores": round(client_cpu_s / (t1 - t0), 2)}
    if target is not None:
        with probe.lock:
            q = probe.q
        out["good_trajectory_followed"] = bool(q is not None and abs(q[0] - target[0]) < 0.05)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal flood", description=__doc__)
    ap.add_argument("--json", required=True, help="where to write the results")
    ap.add_argument("--seconds", type=float, default=4.0, help="each topic's flood")
    ap.add_argument("--all-seconds", type=float, default=20.0, help="the flood of every topic at once")
    ap.add_argument("--rate", type=float, default=200.0, help="malformed messages per second per topic")
    ap.add_argument("--only", default="", help="comma-separated topics (and/or 'goals') to flood one by one; "
                                               "default: all of them")
    ap.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID of the graph (default: the caller's)")
    ap.add_argument("--launch", nargs="*", default=[], metavar="name:=value", help="sim launch arguments")
    ns = ap.parse_args(argv)
    singles = [n for n in ns.only.split(",") if n] or [topic.name for topic in VARIANTS] + [GOALS]
    if ns.domain_id is not None:  # the probe and the flood client follow the graph
        os.environ["ROS_DOMAIN_ID"] = str(ns.domain_id)
    for key, value in ros_environment("localhost", ns.domain_id).items():
        os.environ.setdefault(key, value)
    desc = graph.load(graph.LAUNCH_DIR / "sim.launch.yaml", ns.launch)
    node_events: list[tuple[str, dict]] = []
    supervisor = graph.make_supervisor(desc, domain_id=ns.domain_id, log=lambda line: None,
                                       on_event=lambda kind, spec, info: node_events.append((kind, info)))
    supervisor.start()
    probe = None
    try:
        probe = Probe()
        _wait_ready(probe, len(desc.nodes), 180.0)
        time.sleep(2.0)
        pids = {label: s.pid for label, s in supervisor.status().items()}
        t, cpu0 = time.monotonic(), cpu_seconds(pids)
        time.sleep(3.0)
        baseline = probe.rates(t, t + 3.0)
        baseline_cpu = _cpu_share(cpu0, cpu_seconds(pids), time.monotonic() - t)
        phases = {name: _phase(probe, pids, [name], ns.seconds, ns.rate, baseline) for name in singles}
        everything = [topic.name for topic in VARIANTS] + [GOALS]
        phases["all"] = _phase(probe, pids, everything, ns.all_seconds, ns.rate, baseline)
        with probe.lock:
            out_of_limits = list(probe.out_of_limits)
    finally:
        if probe is not None:
            probe.close()
        supervisor.stop(timeout=5.0)
    exits = [info for kind, info in node_events if kind in ("exited", "gave_up")]
    result = {
        "run": {**machine_info(), "load_avg_1m": round(os.getloadavg()[0], 2), "rate_per_topic": ns.rate,
                "launch": ns.launch},
        "baseline_hz": baseline, "baseline_node_cpu_cores": baseline_cpu, "phases": phases, "node_exits": exits,
        "out_of_limits": out_of_limits[:20], "out_of_limits_count": len(out_of_limits),
        "pass": not exits and not out_of_limits and all(p["worst_share"] >= GOAL_PASS for p in phases.values()),
    }
    write_report(ns.json, result, format_table(result))
    return 0


def format_table(result: dict) -> str:
    base = result["baseline_hz"]
    cols = [topics.CAMERA.name, topics.JOINT_STATES.name, topics.OBJECT_POSES.name]
    lines = [f"flood: {result['run']['rate_per_topic']:.0f} malformed msg/s per topic, "
             f"load {result['run']['load_avg_1m']} on {result['run']['cpus']} CPUs",
             "", "| flood | " + " | ".join(f"{c} during / after (Hz)" for c in cols)
             + " | worst share | good traj | nodes' CPU (cores) | flood client's CPU (cores) |",
             "|---" * (len(cols) + 5) + "|",
             "| (baseline) | " + " | ".join(f"{base.get(c, 0):.1f}" for c in cols)
             + f" | | | {sum(result['baseline_node_cpu_cores'].values()):.2f} | |"]
    for name, p in result["phases"].items():
        cells = [f"{p['during_hz'].get(c, 0):.1f} / {p['after_hz'].get(c, 0):.1f}" for c in cols]
        traj = {True: "followed", False: "NOT followed"}.get(p.get("good_trajectory_followed"), "")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {p['worst_share']:.2f} | {traj} | "
                     f"{sum(p['node_cpu_cores'].values()):.2f} | {p['client_cpu_cores']:.2f} |")
    lines += ["", f"node exits: {len(result['node_exits'])}; arm commands or states outside limits: "
              f"{result['out_of_limits_count']}; pass (every rate >= {GOAL_PASS:.0%} of baseline): "
              f"{result['pass']}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
