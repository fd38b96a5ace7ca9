"""The audio thread asks for real-time scheduling, the node's session for a larger share of the CPU,
and each says what it got (never raises)."""
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from seal_nodes.core.audio.realtime import raise_session_priority, raise_thread_priority

pytestmark = pytest.mark.unit


def test_the_thread_gets_the_best_scheduling_permitted_and_says_which():
    got: list[tuple[str, int, int]] = []

    def audio_thread() -> None:
        tid = threading.get_native_id()
        said = raise_thread_priority()
        got.append((said, os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)))

    before = os.getpriority(os.PRIO_PROCESS, 0)
    thread = threading.Thread(target=audio_thread)
    thread.start()
    thread.join()
    said, policy, nice = got[0]
    assert re.fullmatch(r"SCHED_FIFO priority \d+|nice -?\d+|unchanged \(.+\)", said), said
    if said.startswith("SCHED_FIFO"):
        assert policy == os.SCHED_FIFO | os.SCHED_RESET_ON_FORK
    elif said.startswith("nice"):
        assert nice == int(said.split()[1]) < before
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # only the calling thread changed


def test_threads_started_from_a_real_time_thread_run_as_ordinary_threads():
    got: list[tuple[str, int]] = []

    def child() -> None:
        got.append(("child", os.sched_getscheduler(threading.get_native_id())))

    def audio_thread() -> None:
        got.append((raise_thread_priority(), 0))
        t = threading.Thread(target=child)  # e.g. a decoder pool started lazily by a library
        t.start()
        t.join()

    thread = threading.Thread(target=audio_thread)
    thread.start()
    thread.join()
    if not got[0][0].startswith("SCHED_FIFO"):
        pytest.skip(f"no real-time scheduling here: {got[0][0]}")
    assert got[1] == ("child", os.SCHED_OTHER)


SESSION_CHECK = """
import os, sys
from pathlib import Path
from seal_nodes.core.audio.realtime import raise_session_priority
args = dict(autogroup=Path(sys.argv[1]), switch=Path(sys.argv[2])) if len(sys.argv) > 1 else {}
print(os.getsid(0) == os.getpid(), raise_session_priority(**args), sep="|")
print(raise_session_priority(**args))  # a second call changes nothing more
"""


def _in_own_session(*args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", SESSION_CHECK, *args], capture_output=True, text=True, check=True,
                         start_new_session=True, timeout=60)
    return out.stdout.strip().splitlines()


def _files(tmp_path: Path, autogroup: str, enabled: str = "1") -> tuple[str, str]:
    (tmp_path / "autogroup").write_text(autogroup)
    (tmp_path / "enabled").write_text(enabled)
    return str(tmp_path / "autogroup"), str(tmp_path / "enabled")


def test_a_session_leader_weights_its_own_session_once(tmp_path):
    autogroup, switch = _files(tmp_path, "/autogroup-77 nice 0\n")
    first, second = _in_own_session(autogroup, switch)
    assert first == "True|session nice -5" and second == "session nice -5"
    assert Path(autogroup).read_text() == "-5"


def test_a_session_already_weighted_more_is_left_as_it_is(tmp_path):
    autogroup, switch = _files(tmp_path, "/autogroup-77 nice -10\n")
    assert _in_own_session(autogroup, switch)[0] == "True|session nice -10"
    assert "nice -10" in Path(autogroup).read_text()


def test_nothing_changes_without_autogroup_or_in_a_shared_session(tmp_path):
    autogroup, switch = _files(tmp_path, "/autogroup-77 nice 0\n", enabled="0")
    said = raise_session_priority(Path(autogroup), switch=Path(switch))
    assert said.startswith("unchanged (the kernel does not share")
    autogroup, switch = _files(tmp_path, "/autogroup-77 nice 0\n")
    if os.getsid(0) != os.getpid():  # pytest runs in its caller's session: lifting it would lift them too
        assert raise_session_priority(nice=-5, autogroup=Path(autogroup), switch=Path(switch)).startswith(
            "unchanged (not a session leader")
    assert Path(autogroup).read_text().endswith("nice 0\n")
    said = _in_own_session(str(tmp_path / "missing"), switch)[0]
    assert said.startswith("True|unchanged (cannot read")


def test_the_real_autogroup_gets_what_the_call_says():
    if not Path("/proc/self/autogroup").exists():
        pytest.skip("no autogroup in this kernel")
    leader, said = _in_own_session()[0].split("|")
    assert leader == "True"
    assert re.fullmatch(r"session nice -?\d+|unchanged \(.+\)", said), said
