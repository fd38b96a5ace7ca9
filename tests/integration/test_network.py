"""What the running sim graph exposes to the network: every socket of every node process.

Listening TCP sockets must be on loopback; UDP sockets off loopback are listed (Fast DDS's send
sockets, see docs/running.md#what-the-graph-exposes-on-the-network). From a second network
namespace, joined to this one by a veth pair, no datagram reaches a port the graph receives on.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from typing import Iterator

import pytest

from seal_nodes.tools.sockets import inventory

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


@contextlib.contextmanager
def joined_namespace() -> Iterator[str]:
    """A network namespace joined to this one by a veth pair; this side is ``HOST_ADDR``."""
    tag = uuid.uuid4().hex[:6]
    ns, host_if, peer_if = f"seal-peer-{tag}", f"sealh{tag}", f"sealp{tag}"

    def ip(*args: str, netns: bool = False) -> None:
        cmd = ["ip", "netns", "exec", ns, "ip", *args] if netns else ["ip", *args]
        subprocess.run(cmd, check=True, capture_output=True)
    ip("netns", "add", ns)
    try:
        ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
        ip("link", "set", peer_if, "netns", ns)
        ip("addr", "add", f"{HOST_ADDR}/24", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("link", "set", "lo", "up", netns=True)
        ip("link", "set", peer_if, "up", netns=True)
        # one source address per probe: the kernel rate-limits port-unreachable replies per peer
        for i in range(2, 250):
            ip("addr", "add", f"{PEER_PREFIX}{i}/24", "dev", peer_if, netns=True)
        ip("route", "add", "default", "via", HOST_ADDR, netns=True)
        yield ns
    finally:
        subprocess.run(["ip", "link", "delete", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


@pytest.fixture
def peer_namespace():
    if not _netns_usable():
        pytest.skip("needs root with CAP_SYS_ADMIN for `ip netns`")
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
