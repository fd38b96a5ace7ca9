"""The arm's run-time path loads neither torch (training only) nor the simulator (absent on a robot)."""
from __future__ import annotations

import pytest

from tests.helpers.imports import loaded

pytestmark = pytest.mark.unit


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
