"""Process supervisor: prefixed output, respawn, reporting, escalation, no leftovers."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from seal_nodes.launcher.supervisor import Supervisor
from seal_nodes.launcher.yaml_launch import NodeSpec

pytestmark = [pytest.mark.unit,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux /proc")]

FIXTURES = Path(__file__).with_name("fixtures")
CHILD = str(FIXTURES / "launch_child.py")


def resolve(spec: NodeSpec) -> list[str]:
    return [sys.executable, CHILD, *spec.args]


def node(name: str, *args: str, respawn: bool = False, delay: float = 0.0) -> NodeSpec:
    return NodeSpec(pkg="test", exec="child", name=name, args=list(args), respawn=respawn,
                    respawn_delay=delay)


def alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def until(cond: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.events: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()

    def log(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)

    def on_event(self, kind: str, spec: NodeSpec, info: dict) -> None:
        with self._lock:
            self.events.append((kind, info["label"], info))

    def kinds(self, label: str) -> list[str]:
        with self._lock:
            return [k for k, lbl, _ in self.events if lbl == label]

    def has_line(self, text: str) -> bool:
        with self._lock:
            return any(text in line for line in self.lines)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def make(rec: Recorder):
    sups: list[Supervisor] = []

    def build(specs, **kw) -> Supervisor:
        sup = Supervisor(specs, resolve, log=rec.log, on_event=rec.on_event, **kw)
        sups.append(sup)
        return sup

    yield build
    for sup in sups:  # never leave processes behind, even when a test fails
        sup.stop(timeout=0.5)


def test_output_is_prefixed_per_node(make, rec):
    sup = make([node("talker", "echo", "hello"), node("other", "echo", "bye")])
    sup.start()
    until(lambda: all(rec.has_line(t) for t in
                      ("[talker] hello out", "[talker] hello err", "[other] bye out")))
    st = sup.status()
    assert set(st) == {"talker", "other"} and all(s.alive and s.pid for s in st.values())
    sup.stop(timeout=5)
    assert not any(s.alive for s in sup.status().values())
    assert rec.kinds("talker") == ["started", "stopped"]
    assert sup.status()["talker"].returncode == 0  # exited cleanly on SIGINT


def test_crash_with_respawn_is_restarted_and_reported(make, rec):
    sup = make([node("thinker", "crash", "3", respawn=True, delay=0.1)])
    sup.start()
    until(lambda: sup.status()["thinker"].restarts >= 1)
    exited = [i for k, _, i in rec.events if k == "exited"]
    assert exited[0]["returncode"] == 3 and exited[0]["respawn"] is True
    assert rec.has_line("[launch] thinker exited with code 3; respawning in 0.1 s (restart 1)")
    assert rec.has_line("[thinker] crashing")
    assert not sup.wait(timeout=0.2)  # still supervising


def test_crash_loop_backs_off_and_max_restarts_gives_up(make, rec):
    sup = make([node("loop", "crash", "1", respawn=True)], min_backoff=0.05, backoff_factor=2.0,
               max_restarts=3)
    sup.start()
    assert sup.wait(timeout=20)
    delays = [i["delay"] for k, _, i in rec.events if k == "exited" and i["respawn"]]
    assert delays[0] == 0.0 and delays[1:] == sorted(delays[1:]) and delays[-1] > delays[1]
    assert rec.kinds("loop")[-1] == "gave_up" and sup.status()["loop"].restarts == 3


def test_crash_without_respawn_is_only_reported(make, rec):
    sup = make([node("once", "crash", "7"), node("stays", "echo", "x")])
    sup.start()
    until(lambda: "exited" in rec.kinds("once"))
    time.sleep(0.3)  # would be long enough for a (wrong) zero-delay respawn
    st = sup.status()["once"]
    assert (st.alive, st.restarts, st.returncode) == (False, 0, 7)
    assert rec.kinds("once") == ["started", "exited"]
    assert rec.has_line("[launch] once exited with code 7")
    assert sup.status()["stays"].alive


def test_wait_returns_when_all_nodes_finish(make):
    sup = make([node("a", "crash", "0"), node("b", "crash", "2")])
    sup.start()
    assert sup.wait(timeout=15)
    assert {k: s.returncode for k, s in sup.status().items()} == {"a": 0, "b": 2}


def test_stop_kills_children_and_grandchildren(make, rec, tmp_path: Path):
    pidfile = tmp_path / "pids"
    sup = make([node("gp", "grandparent", str(pidfile)), node("plain", "echo", "p")])
    sup.start()
    until(lambda: pidfile.exists() and pidfile.read_text().endswith("\n"))
    child, grandchild = map(int, pidfile.read_text().split())
    plain = sup.status()["plain"].pid
    assert alive(child) and alive(grandchild) and alive(plain)
    sup.stop(timeout=0.5)  # both in gp's group ignore SIGINT; grandchild also ignores SIGTERM
    for pid in (child, grandchild, plain):
        assert not exists(pid), f"pid {pid} left behind (alive={alive(pid)})"
    assert rec.has_line("sending SIGKILL to gp")


def test_respawn_kills_leftovers_of_crashed_instance(make, tmp_path: Path):
    pidfile = tmp_path / "pids"
    sup = make([node("orphaner", "crash_orphan", str(pidfile), respawn=True, delay=0.2)],
               max_restarts=1)
    sup.start()
    until(lambda: sup.status()["orphaner"].restarts >= 1)
    until(lambda: pidfile.exists() and len(pidfile.read_text().splitlines()) >= 2)
    first_gc = int(pidfile.read_text().splitlines()[0].split()[1])
    until(lambda: not alive(first_gc))
    last_gc = int(pidfile.read_text().splitlines()[-1].split()[1])
    sup.stop(timeout=0.3)
    assert not exists(first_gc) and not exists(last_gc)


@pytest.mark.parametrize("mode,code", [("ignore_int", -signal.SIGTERM), ("ignore_all", -signal.SIGKILL)])
def test_stubborn_child_is_killed_by_escalation(make, rec, mode, code):
    sup = make([node("stubborn", mode)])
    sup.start()
    pid = sup.status()["stubborn"].pid
    until(lambda: rec.has_line("[stubborn] ready"))  # signal handlers are installed
    sup.stop(timeout=0.5)
    assert not exists(pid)
    assert sup.status()["stubborn"].returncode == code
    assert rec.kinds("stubborn") == ["started", "stopped"]


def test_start_failure_raises_and_cleans_up(rec):
    calls = []

    def bad_resolve(spec: NodeSpec) -> list[str]:
        calls.append(spec.name)
        if spec.name == "second":
            return ["/nonexistent/definitely-not-here"]
        return resolve(spec)

    sup = Supervisor([node("first", "echo", "x"), node("second")], bad_resolve, log=rec.log)
    with pytest.raises(FileNotFoundError):
        sup.start()
    pid = sup.status()["first"].pid
    assert pid and not exists(pid)


@pytest.fixture
def runner():
    """The launch runner fixture in its own process; killed and reaped after the test."""
    proc = subprocess.Popen([sys.executable, str(FIXTURES / "launch_runner.py")], stdout=subprocess.PIPE, text=True)
    yield proc
    proc.kill()
    proc.wait()
    proc.stdout.close()


def _read_pids(proc: subprocess.Popen) -> list[int]:
    for line in proc.stdout:
        if line.startswith("PIDS "):
            return [int(p) for p in line.split()[1:]]
    raise AssertionError("runner printed no PIDS line")


def test_run_until_signal_stops_everything_on_sigint(runner):
    pids = _read_pids(runner)
    assert all(alive(p) for p in pids)
    runner.send_signal(signal.SIGINT)
    assert runner.wait(timeout=30) == 0
    for p in pids:
        assert not exists(p)


def test_children_die_when_supervisor_is_sigkilled(runner):
    pids = _read_pids(runner)
    runner.kill()
    runner.wait()
    # Orphans are reparented to the nearest subreaper (possibly this pytest process) and may
    # linger as zombies there; what matters is that they are not running.
    until(lambda: not any(alive(p) for p in pids))
    for p in pids:
        try:
            os.waitpid(p, os.WNOHANG)
        except ChildProcessError:
            pass
