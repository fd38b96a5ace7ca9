"""The cross-session benchmark's harness: people come back after restarts and are known again."""
from __future__ import annotations

import pytest

from seal_nodes.bench.memory_sessions import run

pytestmark = pytest.mark.unit


def test_three_people_three_sessions_are_checked_and_known_again(tmp_path):
    result = run(users=3, seed=1, folder=tmp_path)
    checks = result["checks"]
    assert len(checks) == 3 * 2 * 2  # sessions 2 and 3: a welcome and one request each
    assert {(c["user"], c["session"]) for c in checks} == {(u, s) for u in ("Ana", "Bruno", "Carla") for s in (2, 3)}
    assert result["rates"]["welcome"]["all"] == 1.0  # every one of them greeted by name after a restart
    usual = [c for c in checks if c["kind"] == "usual"]
    assert all(c["expected"].startswith("place(object=") for c in usual)
    assert (tmp_path / "memory.sqlite3").is_file()


def test_the_same_seed_plays_the_same_people():
    assert run(users=2, seed=4)["checks"] == run(users=2, seed=4)["checks"]
