"""What the running sim graph exposes to the network: every socket of every node process.

Listening TCP sockets must be on loopback; UDP sockets off loopback are listed (Fast DDS's send
sockets, see docs/running.md#what-the-graph-exposes-on-the-network). From a second network
namespace, joined to this one by a veth pair, no datagram reaches a port the graph receives on.

The robot network (docs/running.md#network): between two namespaces joined by a veth pair, a graph
launched with ``discovery_range:=SUBNET`` reaches an rclpy subscriber on
the other side; launched with the defaults it reaches nobody there.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from seal_nodes.core import topics
from seal_nodes.ros_env import callers_environment, ros_environment
from seal_nodes.tools.sockets import inventory
from seal_nodes.tools.waiting import wait_until

pytestmark = pytest.mark.integration

HOST_ADDR, PEER_PREFIX = "10.213.7.1", "10.213.7."  # the veth pair's addresses (a private /24)


def node_sockets(stack) -> list:
    pids = {label: s.pid for label, s in stack.supervisor.status().items() if s.pid}
    assert pids, "no node process running"
    return inventory(pids)


def test_listening_sockets_are_on_loopback_and_the_rest_is_listed(stack):
    sockets = node_sockets(stack)
    for s in sockets:
        print(f"{s.owner:18} {s.protocol:4} {s.local}:{s.port} {'LISTEN' if s.listening else s.state}")
    assert sockets, "the DDS participants hold sockets"
    exposed = [s for s in sockets if s.listening and not s.loopback]
    assert not exposed, f"TCP listening off loopback: {exposed}"
    # Every node receives DDS traffic (discovery and data) on loopback only.
    owners = {s.owner for s in sockets}
    receiving = {s.owner for s in sockets if s.protocol == "udp" and s.loopback}
    assert receiving == owners, f"nodes without a loopback UDP socket: {owners - receiving}"


def _netns_usable() -> bool:
    if shutil.which("ip") is None or os.geteuid() != 0:
        return False
    name = f"seal-check-{uuid.uuid4().hex[:6]}"
    ok = subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
    return ok


def ip(*args: str, netns: str | None = None) -> None:
    """Run ``ip ARGS``, inside ``netns`` when given."""
    cmd = ["ip", "-n", netns, *args] if netns else ["ip", *args]
    subprocess.run(cmd, check=True, capture_output=True)


@contextlib.contextmanager
def joined_namespace() -> Iterator[str]:
    """A network namespace joined to this one by a veth pair; this side is ``HOST_ADDR``."""
    tag = uuid.uuid4().hex[:6]
    ns, host_if, peer_if = f"seal-peer-{tag}", f"sealh{tag}", f"sealp{tag}"
    ip("netns", "add", ns)
    try:
        ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
        ip("link", "set", peer_if, "netns", ns)
        ip("addr", "add", f"{HOST_ADDR}/24", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("link", "set", "lo", "up", netns=ns)
        ip("link", "set", peer_if, "up", netns=ns)
        # one source address per probe: the kernel rate-limits port-unreachable replies per peer
        for i in range(2, 250):
            ip("addr", "add", f"{PEER_PREFIX}{i}/24", "dev", peer_if, netns=ns)
        ip("route", "add", "default", "via", HOST_ADDR, netns=ns)
        yield ns
    finally:
        subprocess.run(["ip", "link", "delete", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def require_netns() -> None:
    if not _netns_usable():
        pytest.skip("needs root with CAP_SYS_ADMIN for `ip netns`")


@pytest.fixture
def peer_namespace():
    require_netns()
    with joined_namespace() as ns:
        yield ns


PROBE = """
import json, socket, sys
out = {}
for i, (addr, port) in enumerate(json.loads(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.213.7.%d" % (2 + i % 248), 0))
    s.settimeout(1.0)
    s.connect((addr, port))
    s.send(b"seal network probe")
    try:
        s.recv(64)
        out[f"{addr}:{port}"] = "answered"
    except ConnectionRefusedError:
        out[f"{addr}:{port}"] = "refused"  # ICMP port unreachable: no socket took it
    except socket.timeout:
        out[f"{addr}:{port}"] = "delivered"  # a socket took it (or the reply was lost)
    s.close()
print(json.dumps(out))
"""


def test_a_datagram_from_another_namespace_reaches_no_dds_receive_port(stack, peer_namespace):
    sockets = [s for s in node_sockets(stack) if s.protocol == "udp"]
    # The veth side's address stands for "this host" to the peer: a socket bound to 0.0.0.0
    # takes datagrams sent to it; one bound to 127.0.0.1 cannot.
    targets = sorted({(HOST_ADDR, s.port) for s in sockets if s.loopback})
    assert targets
    run = subprocess.run(["ip", "netns", "exec", peer_namespace, sys.executable, "-c", PROBE, json.dumps(targets)],
                         capture_output=True, text=True, timeout=len(targets) * 2 + 30)
    assert run.returncode == 0, run.stderr
    outcome = json.loads(run.stdout)
    print(outcome)
    reached = {k: v for k, v in outcome.items() if v != "refused"}
    assert not reached, f"DDS receive ports reachable from another namespace: {reached}"
    # The send-only sockets on 0.0.0.0 take a datagram at the kernel level; listed, not asserted.
    wildcard = sorted({s.port for s in sockets if s.local == "0.0.0.0"})
    print("send sockets bound to 0.0.0.0 (Fast DDS never reads them):", wildcard)


# --- The robot network: the graph reaches another host --------------------------------------
#
# Two namespaces joined by a veth pair and nothing else stand for the robot and another machine on
# its network. The graph runs in one, so the robot network's multicast discovery stays on the pair
# and never reaches this machine's own interfaces.

ROBOT_NETWORK = ("discovery_range:=SUBNET",)  # docs/running.md#network: the loopback profile goes with LOCALHOST
ROBOT_ADDR, OTHER_ADDR = "10.213.8.1", "10.213.8.2"

# The other host shares no memory with the robot: its participant speaks UDP only, so whatever it
# receives came over the veth pair.
OTHER_HOST_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor><transport_id>udp</transport_id><type>UDPv4</type></transport_descriptor>
    </transport_descriptors>
    <participant profile_name="other_host" is_default_profile="true">
      <rtps>
        <useBuiltinTransports>false</useBuiltinTransports>
        <userTransports><transport_id>udp</transport_id></userTransports>
      </rtps>
    </participant>
  </profiles>
</dds>
"""

# `seal launch` (graph.load, make_supervisor, run_until_signal) cut to the sim node: the smallest
# part of the sim graph that publishes a topic without being asked.
LAUNCH_SIM_NODE = """
import sys
from seal_nodes.launcher.supervisor import run_until_signal
from seal_nodes.stack import graph
desc = graph.load(graph.LAUNCH_DIR / "sim.launch.yaml", sys.argv[1:])
desc.nodes = [n for n in desc.nodes if n.name == "sim"]
sys.exit(run_until_signal(graph.make_supervisor(desc)))
"""

# A plain rclpy subscriber: "received" as soon as one message arrives, "nothing" after the window.
LISTEN = """
import sys, time
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
rclpy.init()
node = rclpy.create_node("network_listener")
got = []
node.create_subscription(JointState, sys.argv[1], got.append, qos_profile_sensor_data)
deadline = time.monotonic() + float(sys.argv[2])
while not got and time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.2)
print("received" if got else "nothing", flush=True)
"""


@contextlib.contextmanager
def two_hosts() -> Iterator[tuple[str, str]]:
    """The robot's namespace and another host's, joined by a veth pair (``ROBOT_ADDR``, ``OTHER_ADDR``)."""
    tag = uuid.uuid4().hex[:6]
    robot, other = f"seal-robot-{tag}", f"seal-other-{tag}"
    made: list[str] = []
    try:
        for ns in (robot, other):
            ip("netns", "add", ns)
            made.append(ns)
        ip("link", "add", f"sealr{tag}", "netns", robot, "type", "veth", "peer", "name", f"sealo{tag}", "netns", other)
        ends = ((robot, f"sealr{tag}", ROBOT_ADDR), (other, f"sealo{tag}", OTHER_ADDR))
        for ns, dev, addr in ends:
            ip("addr", "add", f"{addr}/24", "dev", dev, netns=ns)
            ip("link", "set", "lo", "up", netns=ns)
            ip("link", "set", dev, "up", netns=ns)
        # Fast DDS reads the interfaces once, when a participant starts, and skips one that is not
        # RUNNING; the kernel marks a veth running (operstate UP) a moment after `up`.
        for ns, dev, _ in ends:
            wait_until(lambda: link_running(ns, dev), timeout_s=30, what=f"{dev} running in {ns}")
        yield robot, other
    finally:
        for ns in made:  # deleting a namespace deletes its end of the veth pair, and so the pair
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def link_running(ns: str, dev: str) -> bool:
    """Whether ``dev`` in ``ns`` is up with carrier (operstate UP: IFF_RUNNING)."""
    out = subprocess.run(["ip", "-n", ns, "-json", "link", "show", "dev", dev], capture_output=True, text=True)
    return out.returncode == 0 and json.loads(out.stdout)[0].get("operstate") == "UP"


@pytest.fixture
def robot_and_other_host():
    require_netns()
    with two_hosts() as pair:
        yield pair


def plain_environment() -> dict[str, str]:
    """This run's environment without the DDS choices: each process below makes its own."""
    env = callers_environment()
    for key in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_DEFAULT_PROFILES_FILE", "RMW_IMPLEMENTATION"):
        env.pop(key, None)
    return env


@contextlib.contextmanager
def sim_graph_in(ns: str, launch_args: tuple[str, ...], log_path: Path) -> Iterator[subprocess.Popen]:
    """The sim node of ``launch/sim.launch.yaml`` launched with ``launch_args`` inside ``ns``."""
    args = [*launch_args, "camera_hz:=2.0"]  # the camera is not what this test watches
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", LAUNCH_SIM_NODE, *args],
                                env=plain_environment(), stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            # The launcher stops its node on SIGTERM; a node also dies with its launcher (PDEATHSIG).
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    print(log_path.read_text()[-2000:])


def listen(ns: str, env: dict[str, str], window_s: float) -> str:
    """Run the rclpy subscriber on ``/joint_states`` inside ``ns``: 'received' or 'nothing'."""
    run = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", LISTEN, topics.JOINT_STATES.name,
                          str(window_s)], env={**plain_environment(), **env}, capture_output=True, text=True,
                         timeout=window_s + 60)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.strip()


def other_host_environment(tmp_path: Path) -> dict[str, str]:
    profile = tmp_path / "other_host.xml"
    profile.write_text(OTHER_HOST_PROFILE)
    return {"RMW_IMPLEMENTATION": "rmw_fastrtps_cpp", "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET",
            "FASTDDS_DEFAULT_PROFILES_FILE": str(profile)}


def test_with_the_robot_network_argument_another_host_receives_the_graphs_topic(robot_and_other_host, tmp_path):
    robot, other = robot_and_other_host
    with sim_graph_in(robot, ROBOT_NETWORK, tmp_path / "launch.log") as launcher:
        # The window covers the node's start on a loaded machine; the listener ends at the first message.
        heard = listen(other, other_host_environment(tmp_path), window_s=120)
        assert launcher.poll() is None, "the launcher exited"
    assert heard == "received", f"{ROBOT_NETWORK}: nothing reached the other host"


# The defaults, and SUBNET with the loopback profile kept: it binds every transport to loopback.
@pytest.mark.parametrize("launch_args", [(), ("discovery_range:=SUBNET", "use_fastdds_profile:=true")],
                         ids=["defaults", "subnet-with-the-loopback-profile"])
def test_without_the_robot_network_another_host_receives_nothing_while_this_host_does(
        robot_and_other_host, tmp_path, launch_args):
    robot, other = robot_and_other_host
    with sim_graph_in(robot, launch_args, tmp_path / "launch.log") as launcher:
        # On the robot itself (the localhost defaults) the topic arrives: the graph is up and publishing.
        assert listen(robot, ros_environment("localhost"), window_s=120) == "received"
        # Discovery and data have their chance: several SPDP announcement periods.
        heard = listen(other, other_host_environment(tmp_path), window_s=20)
        assert launcher.poll() is None, "the launcher exited"
    assert heard == "nothing", f"{launch_args or 'the defaults'}: the graph reached another host"
