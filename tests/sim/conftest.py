"""Sim tests: headless EGL rendering must be chosen before mujoco is imported."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import pytest  # noqa: E402


@pytest.fixture
def world():
    from sim_worlds.tabletop import TabletopWorld

    w = TabletopWorld(seed=0)
    yield w
    w.close()
