"""Sim tests: a fresh tabletop world per test (rendered headless: EGL is chosen before mujoco loads)."""

import pytest


@pytest.fixture
def world():
    from sim_worlds.tabletop.world import TabletopWorld

    w = TabletopWorld(seed=0)
    yield w
    w.close()
