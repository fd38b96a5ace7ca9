"""The mouse policy's run-time path loads no torch (training only), and the GUI node no MuJoCo world."""
from __future__ import annotations

import pytest

from tests.helpers.imports import loaded

pytestmark = pytest.mark.unit


def test_mouse_runtime_imports_neither_torch_nor_the_browser_world():
    assert loaded("vla_policy.mouse.runtime", ("torch", "sim_worlds")) == []


def test_gui_node_with_the_learned_policy_loads_neither_torch_nor_mujoco():
    # The node drives the browser world (sim_worlds.gui) by design; torch and the tabletop never.
    found = loaded("seal_nodes.nodes.gui, vla_policy.mouse.runtime", ("torch", "sim_worlds", "mujoco"))
    assert found and all(m == "sim_worlds" or m.startswith("sim_worlds.gui") for m in found), found
