"""Failures become tests: every case ``seal diagnose`` wrote for a fault, kept here once fixed,
is played against the thinker as it is now and must still do what the case expects."""
from __future__ import annotations

from pathlib import Path

import pytest

from seal_nodes.tools.diagnose import check_case

pytestmark = pytest.mark.unit

CASES = sorted((Path(__file__).parent / "regression_cases").glob("*.yaml"))


def test_there_are_cases():
    assert CASES


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_a_fixed_fault_stays_fixed(case):
    assert check_case(case) == []
