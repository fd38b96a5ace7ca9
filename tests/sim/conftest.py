"""Sim tests: headless EGL rendering must be chosen before mujoco is imported."""

import os

import pytest


@pytest.fixture
def world():
    from sim_worlds.tabletop.world import TabletopWorld

    w = TabletopWorld(seed=0)
    yield w
    w.close()
