"""The espeak-ng engine of the tts node, in its own module: the piper node of
test_tts_node.py is module-scoped, and two Speak servers on one graph answer each other's
clients."""
from __future__ import annotations

import numpy as np
import pytest
from action_msgs.msg import GoalStatus

from seal_nodes.bench.speech import TtsNodeHarness

pytestmark = pytest.mark.integration

LONG = "This sentence is long enough that cancelling it halfway leaves most words unspoken for sure, " \
       "and it goes on for a while longer."


def chunks(h: TtsNodeHarness, trace: str) -> list:
    return [m for _, m in h.trace_chunks(trace)]


def test_espeak_engine_streams_and_cancels(tmp_path):
    with TtsNodeHarness("espeak", log_path=tmp_path / "tts.log") as h:
        h.wait_ready(60)
        handle = h.send(LONG, "es")
        h.wait(lambda: len(chunks(h, "es")) >= 50, 10, "50 chunks")
        h.call(handle.cancel_goal_async())
        res = h.call(handle.get_result_async())
        assert res.status == GoalStatus.STATUS_CANCELED
        spoken = res.result.spoken_text.split()
        assert spoken and LONG.split()[: len(spoken)] == spoken
        pcm = np.frombuffer(b"".join(bytes(m.data) for m in chunks(h, "es")), "<i2")
        assert np.abs(pcm).max() > 1000
