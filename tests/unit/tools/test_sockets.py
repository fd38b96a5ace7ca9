"""The socket inventory's /proc parsing: addresses, ports, listening state, loopback."""
from __future__ import annotations

import os
import socket

import pytest

from seal_nodes.tools.sockets import Socket, inventory, parse_proc_net

pytestmark = pytest.mark.unit

TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 100 0 0 10 0
"""
UDP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  5: 0000000000000000FFFF00000100007F:1CE8 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 777 2 0 0
  6: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 778 2 0 0
"""


def test_parse_proc_net_reads_addresses_ports_and_states():
    rows = parse_proc_net(TCP, "tcp")
    assert rows == {4242: ("127.0.0.1", 8080, "0A"), 4343: ("0.0.0.0", 22, "0A")}
    assert Socket("n", 1, "tcp", *rows[4242]).listening and Socket("n", 1, "tcp", *rows[4242]).loopback
    assert not Socket("n", 1, "tcp", *rows[4343]).loopback
    rows6 = parse_proc_net(UDP6, "udp6")
    assert rows6[777] == ("127.0.0.1", 7400, "07")  # an IPv4-mapped address reads as IPv4
    assert rows6[778] == ("::1", 80, "07")
    assert not Socket("n", 1, "udp6", *rows6[778]).listening  # UDP never listens


def test_inventory_finds_this_process_sockets():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        udp.bind(("127.0.0.1", 0))
        found = {(s.protocol, s.port, s.listening) for s in inventory({"me": os.getpid()})}
        assert ("tcp", tcp.getsockname()[1], True) in found
        assert ("udp", udp.getsockname()[1], False) in found
