"""The soak run's sampler and series math: /proc reading, growth after warm-up, lost partners."""
from __future__ import annotations

import os

import pytest

from seal_nodes.tools.soak_stats import growth_after_warmup, read_proc, unpaired

pytestmark = pytest.mark.unit


def test_read_proc_of_this_process_and_of_a_fake_proc_tree(tmp_path):
    me = read_proc(os.getpid())
    assert me is not None and me.rss_kb > 0 and me.threads >= 1 and me.fds >= 3
    (tmp_path / "42" / "fd").mkdir(parents=True)
    for fd in ("0", "1", "7"):
        (tmp_path / "42" / "fd" / fd).write_text("")
    (tmp_path / "42" / "status").write_text("Name:\tsim\nVmRSS:\t  123456 kB\nThreads:\t9\n")
    s = read_proc(42, tmp_path)
    assert (s.rss_kb, s.threads, s.fds) == (123456, 9, 3)
    assert read_proc(43, tmp_path) is None  # gone
    (tmp_path / "44" / "fd").mkdir(parents=True)
    (tmp_path / "44" / "status").write_text("Name:\tzombie\nThreads:\t1\n")  # no VmRSS: a zombie
    assert read_proc(44, tmp_path) is None


def test_growth_is_measured_from_the_first_sample_after_warm_up():
    series = [(0.0, 50.0), (30.0, 100.0), (60.0, 100.0), (90.0, 104.0)]
    assert growth_after_warmup(series, 30.0) == pytest.approx(0.04)
    assert growth_after_warmup(series, 0.0) == pytest.approx(1.08)
    assert growth_after_warmup(series, 90.0) is None  # one sample is no trend
    assert growth_after_warmup([(0.0, 0.0), (1.0, 5.0)], 0.0) is None


def test_unpaired_counts_starts_whose_end_never_came():
    assert unpaired(["a", "b", "c"], ["a", "c"]) == ["b"]
    assert unpaired(["a", "a", "b"], ["a", "b"]) == ["a"]  # each end pairs one start
    assert unpaired(["a", "b"], ["a"], open_last=1) == []  # the last may still be running
    assert unpaired([], ["x"]) == []
