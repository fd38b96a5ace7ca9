"""Which network sockets a set of processes holds, read from /proc (Linux).

A process's sockets are the ``socket:[inode]`` links under ``/proc/PID/fd``; their addresses and
states are the rows of ``/proc/PID/net/{tcp,tcp6,udp,udp6}`` with those inodes. ``inventory``
covers each process and its descendants (a browser's or a model server's children too).
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from seal_nodes.tools.procfs import all_stats

PROTOCOLS = ("tcp", "tcp6", "udp", "udp6")
TCP_LISTEN = "0A"  # /proc/net/tcp "st" of a listening socket


@dataclass(frozen=True)
class Socket:
    owner: str  # the node (label) whose process or descendant holds it
    pid: int
    protocol: str  # tcp | tcp6 | udp | udp6
    local: str  # address
    port: int
    state: str  # hex TCP state as /proc shows it (UDP: 07 unconnected, 01 connected)

    @property
    def listening(self) -> bool:
        return self.protocol.startswith("tcp") and self.state == TCP_LISTEN

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self.local).is_loopback


def _address(hex_addr: str) -> str:
    """/proc/net's little-endian hex address words → the address's text."""
    raw = bytes.fromhex(hex_addr)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(words)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def parse_proc_net(text: str, protocol: str) -> dict[int, tuple[str, int, str]]:
    """Rows of one /proc/net table: inode → (local address, port, state)."""
    rows: dict[int, tuple[str, int, str]] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        addr, port = fields[1].split(":")
        rows[int(fields[9])] = (_address(addr), int(port, 16), fields[3])
    return rows


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets open in ``pid`` (an empty set when it is gone or not ours to read)."""
    inodes = set()
    try:
        for fd in os.scandir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(fd.path)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for p in all_stats():
        children.setdefault(p.ppid, []).append(p.pid)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def inventory(processes: dict[str, int]) -> list[Socket]:
    """Every TCP and UDP socket held by each named process or its descendants."""
    found: list[Socket] = []
    for owner, root in processes.items():
        for pid in descendants(root):
            inodes = socket_inodes(pid)
            if not inodes:
                continue
            for protocol in PROTOCOLS:
                try:
                    rows = parse_proc_net(Path(f"/proc/{pid}/net/{protocol}").read_text(), protocol)
                except OSError:
                    continue
                found += [Socket(owner, pid, protocol, *rows[i]) for i in sorted(inodes & rows.keys())]
    return found
