"""The arm's run-time path loads neither torch (training only) nor the simulator (absent on a robot)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]


def loaded(module: str, roots: tuple[str, ...]) -> list[str]:
    """Modules under ``roots`` that a fresh interpreter holds after importing ``module``."""
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["vla_policy.arm.runtime", "vla_policy.arm.backends",
                                    "seal_nodes.nodes.vla_policy"])
def test_runtime_imports_neither_torch_nor_the_simulator(module):
    assert loaded(module, ("torch", "sim_worlds")) == []


def test_the_node_picks_its_backend_by_name():
    from seal_nodes.nodes.vla_policy import BACKENDS, make_backend
    from sim_worlds.tabletop.expert_backend import ExpertBackend
    from vla_policy.arm.backends import LearnedBackend

    assert set(BACKENDS) == {"learned", "expert"}
    assert isinstance(make_backend("expert", 0.05), ExpertBackend)
    assert BACKENDS["learned"] is LearnedBackend
    with pytest.raises(ValueError, match="unknown manipulation backend"):
        make_backend("pi0", 0.05)
