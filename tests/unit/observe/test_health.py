"""A node's health (/diagnostics) from what it counts: up, backlog, dropped input, last error."""
from __future__ import annotations

import pytest

from seal_nodes.core.observe.health import OK, WARN, NodeHealth
from tests.clock import ManualClock

pytestmark = pytest.mark.unit



def values(status) -> dict[str, str]:
    return dict(status.values)


def test_a_quiet_node_is_ok_and_says_how_long_it_has_been_up():
    clock = ManualClock()
    health = NodeHealth("thinker", clock=clock)
    clock.t += 12.5
    s = health.status()
    assert (s.level, s.name, s.message, s.hardware_id) == (OK, "thinker: health", "running", "seal")
    assert values(s) == {"up_s": "12.5", "errors": "0", "dropped_input": "0", "backlog": "", "last_error": "",
                         "last_error_age_s": ""}


def test_an_error_warns_while_recent_and_stays_counted():
    clock = ManualClock()
    health = NodeHealth("tts", recent_s=10.0, clock=clock)
    health.error("voice 'x' not found")
    s = health.status()
    assert s.level == WARN and s.message == "error: voice 'x' not found"
    clock.t += 10.0
    s = health.status()
    assert s.level == OK and s.message == "running"
    assert values(s)["errors"] == "1" and values(s)["last_error"] == "voice 'x' not found"
    assert values(s)["last_error_age_s"] == "10.0"


def test_dropped_input_is_counted_apart_from_errors():
    clock = ManualClock()
    health = NodeHealth("vla_policy", clock=clock)
    for _ in range(3):
        health.error("bad /joint_states: 7 names, 9 positions", dropped_input=True)
    s = health.status()
    assert s.level == WARN and s.message.startswith("dropping input; error: bad /joint_states")
    assert (values(s)["dropped_input"], values(s)["errors"]) == ("3", "0")


def test_a_deep_backlog_warns():
    health = NodeHealth("audio_perception", backlog_warn=100, clock=ManualClock())
    assert health.status(backlog=99).level == OK
    s = health.status(backlog=100)
    assert (s.level, s.message, values(s)["backlog"]) == (WARN, "100 messages behind", "100")


@pytest.mark.parametrize("kwargs", [{"recent_s": 0}, {"backlog_warn": 0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        NodeHealth("x", **kwargs)
