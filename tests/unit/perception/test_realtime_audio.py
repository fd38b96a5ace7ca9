"""The audio thread asks for real-time scheduling and says what it got (never raises)."""
import os
import re
import threading

import pytest

from seal_nodes.core.audio.realtime import raise_thread_priority

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
