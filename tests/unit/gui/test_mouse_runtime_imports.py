"""The mouse policy's run-time path loads no torch (training only), and the GUI node no MuJoCo world."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]


def loaded(modules: str, roots: tuple[str, ...]) -> list[str]:
    """Modules under ``roots`` that a fresh interpreter holds after importing ``modules``."""
    code = f"import sys, {modules}; print(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def test_mouse_runtime_imports_neither_torch_nor_the_browser_world():
    assert loaded("vla_policy.mouse.runtime", ("torch", "sim_worlds")) == []


def test_gui_node_with_the_learned_policy_loads_neither_torch_nor_mujoco():
    # The node drives the browser world (sim_worlds.gui) by design; torch and the tabletop never.
    found = loaded("seal_nodes.nodes.gui, vla_policy.mouse.runtime", ("torch", "sim_worlds", "mujoco"))
    assert found and all(m == "sim_worlds" or m.startswith("sim_worlds.gui") for m in found), found
