"""``seal test-load``'s parts: the junit counts, the leftover-process sweep, the table."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from seal_nodes.bench import suite_load

pytestmark = pytest.mark.unit

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1"
skipped="2" tests="6"><testcase classname="tests.a" name="test_ok"/><testcase classname="tests.a" name="test_bad">
<failure message="x"/></testcase><testcase classname="tests.b" name="test_err"><error message="y"/></testcase>
<testcase classname="tests.b" name="test_skip"><skipped/></testcase></testsuite></testsuites>"""


def test_junit_counts_and_failed_ids(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    summary = suite_load.junit_summary(path)
    assert (summary["tests"], summary["failed"], summary["errors"], summary["skipped"]) == (6, 1, 1, 2)
    assert summary["failed_ids"] == ["tests.a::test_bad", "tests.b::test_err"]


def test_a_missing_junit_file_reads_as_no_tests(tmp_path: Path) -> None:
    summary = suite_load.junit_summary(tmp_path / "none.xml")
    assert summary["tests"] == 0 and summary["report"] == "missing"


def test_an_orphaned_grandchild_is_found_named_and_killed() -> None:
    # In its own process: becoming a subreaper would change where this pytest's orphans go.
    script = textwrap.dedent("""
        import subprocess, sys
        from seal_nodes.bench import suite_load
        assert suite_load.become_subreaper()
        # sh exits, leaving one child running and one that ends at once (a zombie here)
        subprocess.run(["sh", "-c", "sleep 600 & true & exit 0"], check=True)
        import time
        deadline = time.monotonic() + 30
        while not any(s == "Z" for _, _, s in suite_load.children(__import__("os").getpid())):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        running, exited = suite_load.reap_leftovers(keep=set())
        print(",".join(running) + "|" + ",".join(exited))
        assert not suite_load.children(__import__("os").getpid())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    running, exited = out.stdout.strip().split("|")
    assert running == "sleep" and exited  # the exited one is a forked sh, named as it was


def test_the_table_names_every_failure_and_leftover() -> None:
    run = {"rc": 1, "tests": 6, "failed": 1, "errors": 0, "skipped": 0, "duration_s": 120.0,
           "load_avg_after": (4.2, 3.0, 2.0), "failed_ids": ["tests.a::test_bad"], "left_behind": ["chromium"],
           "orphans_exited": ["pulseaudio", "chromium", "chromium"]}
    result = {"hog": {"busy_processes": 2, "nice": 0}, "runs_asked": 3, "runs": [run], "passed": False}
    text = suite_load.table(result)
    assert "tests.a::test_bad" in text and "FAILED" in text and "1 of 3 runs" in text
    assert "| chromium | chromium ×2, pulseaudio |" in text
