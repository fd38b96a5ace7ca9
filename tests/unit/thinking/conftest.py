"""Fixtures shared by the goal tracker's tests (test_goals.py, test_restarts.py)."""
from __future__ import annotations

import pytest

from seal_nodes.core.thinking.goals import SPEECH
from seal_nodes.core.actions import ARM, GUI
from tests.unit.thinking.test_goals import Clock, FakeActionClient


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ports() -> dict[str, FakeActionClient]:
    return {SPEECH: FakeActionClient("Speak"), ARM: FakeActionClient("Manipulate"), GUI: FakeActionClient("GuiAct")}
