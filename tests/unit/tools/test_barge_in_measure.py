"""``seal bench``'s barge-in figures from topic traffic: when the voice fell silent, and when it was
stopped for a confirmed onset."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from seal_nodes.core import events as ev
from seal_nodes.stack.measure import barge_in_pause_ms, barge_in_stop_ms
from seal_nodes.stack.session import Received, SpokenTurn

pytestmark = pytest.mark.unit

MS = 1_000_000
RATE = 22050
CHUNK = RATE // 50  # 20 ms


class _Session:
    """What the barge-in measures read of a StackSession: the events and the speaker chunks received."""

    def __init__(self, events: list[Received], chunks: list[Received]) -> None:
        self._events, self._chunks = events, chunks

    def events(self, type_: str | None = None, since_ns: int = 0) -> list[Received]:
        return [r for r in self._events if (type_ is None or r.msg.type == type_) and r.t_ns >= since_ns]

    def messages(self, topic: object) -> list[Received]:
        return self._chunks


def _stamp(ns: int) -> SimpleNamespace:
    return SimpleNamespace(stamp=SimpleNamespace(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000))


def _chunk(stamp_ms: float, trace: str = "reply") -> Received:
    return Received(0, SimpleNamespace(trace_id=trace, header=_stamp(int(stamp_ms * MS)), sample_rate=RATE,
                                       channels=1, data=bytes(2 * CHUNK)))


def _event(t_ms: float, type_: str, payload: str = "") -> Received:
    return Received(int(t_ms * MS), SimpleNamespace(type=type_, trace_id="user", payload_json=payload))


TURN = SpokenTurn("Thank you.", onset_ns=1000 * MS, offset_ns=1600 * MS)


def test_a_pause_before_the_confirmation_is_timed_apart_from_the_confirmed_stop():
    # a maybe at 1010 ms: the voice plays to 1020 ms, pauses, resumes at 1200 ms for two chunks;
    # the onset was confirmed at 1090 ms
    chunks = [_chunk(t) for t in (960, 980, 1000, 1200, 1220)] + [_chunk(1240, trace="other")]
    session = _Session([_event(1010, ev.VOICE_MAYBE, '{"state":"start"}'), _event(1090, ev.SPEECH_START)], chunks)
    assert barge_in_pause_ms(session, TURN, "reply") == 20.0
    assert barge_in_stop_ms(session, TURN, "reply") == 240.0  # the last chunk played, after the resume


def test_an_underrun_before_the_pause_was_asked_for_is_not_the_pause():
    # the voice stalls at 1020-1030 ms (synthesis behind), the onset is confirmed at 1060 ms, the voice stops at 1090
    chunks = [_chunk(t) for t in (1000, 1030, 1050, 1070)]
    session = _Session([_event(1005, ev.VOICE_MAYBE, '{"state":"end"}'), _event(1060, ev.SPEECH_START)], chunks)
    assert barge_in_pause_ms(session, TURN, "reply") == 90.0
    assert barge_in_stop_ms(session, TURN, "reply") == 90.0


def test_a_stop_before_the_confirmation_counts_from_the_confirmation():
    session = _Session([_event(1070, ev.SPEECH_START)], [_chunk(t) for t in (980, 1000, 1020)])
    assert barge_in_pause_ms(session, TURN, "reply") == 40.0
    assert barge_in_stop_ms(session, TURN, "reply") == 70.0  # stopped for good only once confirmed
    # never confirmed: the chunks alone
    assert barge_in_stop_ms(_Session([], [_chunk(t) for t in (980, 1000, 1020)]), TURN, "reply") == 40.0


def test_nothing_interrupted_gives_no_figure():
    session = _Session([_event(1050, ev.SPEECH_START)], [_chunk(t) for t in (900, 920)])
    assert barge_in_pause_ms(session, TURN, "reply") is None
    assert barge_in_stop_ms(session, TURN, "reply") is None
