"""One running stack (the sim launch file, every node its own process) shared by a module."""
from __future__ import annotations

import time

import pytest

from seal_nodes.stack.session import StackSession


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    log = tmp_path_factory.mktemp("stack") / "nodes.log"
    with StackSession(node_log=log) as session:
        session.wait_ready(timeout_s=90)
        yield session
    print(log.read_text()[-4000:])


def call(future, timeout_s: float = 30.0):
    """Wait for an rclpy future completed by the session's executor thread."""
    deadline = time.monotonic() + timeout_s
    while not future.done():
        assert time.monotonic() < deadline, "timed out waiting for the action server"
        time.sleep(0.02)
    return future.result()


def wait_event(session: StackSession, type_: str, since_ns: int, timeout_s: float = 15.0, where=lambda r: True):
    """The first event of ``type_`` received after ``since_ns`` that satisfies ``where``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for r in session.events(type_, since_ns):
            if where(r):
                return r
        time.sleep(0.05)
    seen = [(r.msg.type, r.msg.source, r.msg.text) for r in session.events(None, since_ns)]
    raise AssertionError(f"no {type_} event within {timeout_s} s; saw {seen}")
