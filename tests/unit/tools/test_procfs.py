"""/proc/PID/stat read into ProcStat: names with spaces and parentheses, gone processes, the tree."""
from __future__ import annotations

import os

import pytest

from seal_nodes.tools.procfs import all_stats, parse_stat, read_stat

pytestmark = pytest.mark.unit

# comm "(x) y": the fields after the last ')' are fixed whatever the name holds
LINE = "42 ((x) y) Z 7 40 40 0 -1 4194560 100 0 0 0 13 5 0 0 20 0 1 0 1 0 0"


def test_a_stat_line_is_read_past_a_name_with_spaces_and_parentheses():
    s = parse_stat(42, LINE)
    assert (s.pid, s.name, s.state, s.ppid, s.pgid, s.cpu_ticks) == (42, "(x) y", "Z", 7, 40, 18)


def test_a_malformed_line_is_refused_and_a_gone_process_is_none(tmp_path):
    with pytest.raises(ValueError, match="malformed"):
        parse_stat(1, "1 (x) S")
    assert read_stat(123, tmp_path) is None


def test_this_process_is_found_under_its_parent():
    me = read_stat(os.getpid())
    assert me is not None and me.ppid == os.getppid() and me.state in "RS"
    assert any(s.pid == os.getpid() for s in all_stats() if s.ppid == os.getppid())
