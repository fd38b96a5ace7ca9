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
        assert policy == os.SCHED_FIFO
    elif said.startswith("nice"):
        assert nice == int(said.split()[1]) < before
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # only the calling thread changed
