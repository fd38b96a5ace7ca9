"""``seal test-load``: the test suite run N times in a row beside a CPU hog on every core.

The suite must hold on a busy machine (no test asserts a rate or a latency), and every child a
test starts must be reaped. This process becomes a child subreaper, so anything a run leaves
behind is re-parented here instead of to init: after each run it is listed by name, then killed.
A process still running is a leak (the run fails); one that has exited (a zombie here) was only
orphaned, as a daemon's fork or a browser's helper is when its parent goes first: counted, reaped.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from seal_nodes.bench.load import CpuHog
from seal_nodes.tools.latency import write_report
from seal_nodes.tools.procfs import all_stats

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def become_subreaper() -> bool:
    """Orphans of our descendants come to us (Linux); False where the call is not available."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children(pid: int) -> list[tuple[int, str, str]]:
    """(pid, command name, state letter: Z for exited) of the direct children of ``pid``."""
    return sorted((p.pid, p.name, p.state) for p in all_stats() if p.ppid == pid)


def reap_leftovers(keep: set[int]) -> tuple[list[str], list[str]]:
    """Kill and wait for every child of ours not in ``keep``: the names of those still running,
    and of those that had exited (orphaned, then ended), for the report."""
    left = [(pid, name, state) for pid, name, state in children(os.getpid()) if pid not in keep]
    for pid, _, state in left:
        if state != "Z":
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for pid, _, _ in left:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # not ours to wait for (already reaped)
    running = [name for _, name, state in left if state != "Z"]
    return running, [name for _, name, state in left if state == "Z"]


def _counted(names: list[str]) -> str:
    """``chromium ×3, python`` (most first), or nothing for none."""
    counts = Counter(names)
    return ", ".join(f"{n} ×{c}" if c > 1 else n for n, c in counts.most_common()) or "nothing"


def junit_summary(path: Path) -> dict[str, object]:
    """Counts and failed test ids from a pytest ``--junitxml`` file."""
    if not path.exists():
        return {"tests": 0, "failed": 0, "errors": 0, "skipped": 0, "failed_ids": [], "report": "missing"}
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    count = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    failed = [f"{case.get('classname')}::{case.get('name')}" for case in root.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    return {"tests": count["tests"], "failed": count["failures"], "errors": count["errors"],
            "skipped": count["skipped"], "failed_ids": failed}


def run_suite(pytest_args: list[str], junit: Path, log: Path) -> dict[str, object]:
    """One suite run; its result counts, exit code, duration and the machine's load meanwhile."""
    start = time.monotonic()
    with log.open("w") as out:
        rc = subprocess.call([sys.executable, "-m", "pytest", *pytest_args, f"--junitxml={junit}"],
                             stdout=out, stderr=subprocess.STDOUT)
    return {"rc": rc, "duration_s": round(time.monotonic() - start, 1), "load_avg_after": os.getloadavg(),
            **junit_summary(junit), "log": str(log)}


def table(result: dict) -> str:
    session = ", a session each" if result["hog"].get("session_each") else ""
    title = (f"# Test suite under load: {result['hog']['busy_processes']} busy processes (nice "
             f"{result['hog']['nice']}{session}), {len(result['runs'])} of {result['runs_asked']} runs")
    lines = [title, "",
             "| run | exit | tests | failed | errors | skipped | minutes | load avg (1 min) after | left running |"
             " orphaned, exited |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for i, run in enumerate(result["runs"], 1):
        lines.append(f"| {i} | {run['rc']} | {run['tests']} | {run['failed']} | {run['errors']} | {run['skipped']} | "
                     f"{run['duration_s'] / 60:.1f} | {run['load_avg_after'][0]:.1f} | "
                     f"{_counted(run['left_behind'])} | {_counted(run['orphans_exited'])} |")
    for i, run in enumerate(result["runs"], 1):
        for test in run["failed_ids"]:
            lines.append(f"- run {i} failed: `{test}`")
    lines += ["", f"**{'PASSED' if result['passed'] else 'FAILED'}**: "
              + ("every run passed and left nothing running" if result["passed"] else
                 "a run failed or left a process running (above)")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="seal test-load", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="suite runs in a row (stops at the first failure)")
    parser.add_argument("--processes", type=int, default=None, help="busy processes (default: one per core)")
    parser.add_argument("--json", default="out/test_load/result.json", help="where to write the results")
    parser.add_argument("pytest_args", nargs="*", default=["tests"],
                        help="what pytest runs (after --), default: tests")
    ns = parser.parse_args(argv)
    if ns.runs < 1:
        parser.error("--runs must be at least 1")
    out_dir = Path(ns.json).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    subreaper = become_subreaper()
    hog = CpuHog(processes=ns.processes)
    result: dict[str, object] = {"runs_asked": ns.runs, "pytest_args": ns.pytest_args, "hog": hog.describe(),
                                 "subreaper": subreaper, "runs": []}
    with hog:
        keep = {p.pid for p in hog.procs}
        for i in range(1, ns.runs + 1):
            print(f"[test-load] run {i}/{ns.runs} beside {hog.processes} busy processes …", flush=True)
            run = run_suite(ns.pytest_args, out_dir / f"junit_{i}.xml", out_dir / f"pytest_{i}.log")
            run["left_behind"], run["orphans_exited"] = reap_leftovers(keep)
            result["runs"].append(run)
            print(f"[test-load] run {i}: exit {run['rc']}, {run['failed']} failed, {run['errors']} errors "
                  f"of {run['tests']} in {run['duration_s'] / 60:.1f} min; left running: "
                  f"{_counted(run['left_behind'])}; orphaned and exited: {_counted(run['orphans_exited'])}",
                  flush=True)
            if run["rc"] != 0 or run["left_behind"]:
                break
    runs = result["runs"]
    result["passed"] = len(runs) == ns.runs and all(r["rc"] == 0 and not r["left_behind"] for r in runs)
    write_report(ns.json, result, table(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
