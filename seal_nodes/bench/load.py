"""The CPU load of ``seal bench --load``: a reproducible hog the bench starts and always reaps.

One busy-loop process per core at the default priority (nice 0) and, optionally, a second
offscreen MuJoCo renderer drawing the tabletop as fast as it can (a GPU-less machine renders on
its CPU). Each runs in a session of its own: where the kernel groups CPU time by session
(autogroup, on by default in Ubuntu's kernels), loops sharing the bench's session share one
group's time, however many there are (measured: 10 % of a core each beside the suite), while
every node the launcher starts leads a session of its own. Each ends by itself once its parent
is gone, so a bench killed with SIGKILL leaves no hog behind.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from seal_nodes.core.audio.realtime import autogroup_enabled
from seal_nodes.tools.latency import BUDGETS

# Both poll their parent (its pid comes as argv[1]: it may die before they start): orphaned, they stop.
_BUSY = """
import os, sys
parent = int(sys.argv[1])
while os.getppid() == parent:
    for _ in range(200_000):
        pass
"""
_RENDER = """
import os, sys
os.environ.setdefault("MUJOCO_GL", "egl")
from sim_worlds.tabletop.world import TabletopWorld
parent = int(sys.argv[1])
world = TabletopWorld(seed=1, render=True, mesh_detail=1.0)  # the hog keeps its load: full meshes
while os.getppid() == parent:
    world.render("front")
"""


class CpuHog:
    """``with CpuHog(): ...`` runs the body on a loaded machine; the hog is reaped on any exit."""

    def __init__(self, processes: int | None = None, render: bool = False) -> None:
        self.processes = (os.cpu_count() or 1) if processes is None else processes
        if self.processes < 0:
            raise ValueError(f"processes must be >= 0, got {self.processes}")
        self.render = render
        self.procs: list[subprocess.Popen] = []

    def describe(self) -> dict[str, object]:
        return {"busy_processes": self.processes, "nice": os.getpriority(os.PRIO_PROCESS, 0),
                "offscreen_renderer": self.render, "session_each": True, "autogroup": autogroup_enabled()}

    def start(self) -> None:
        if self.procs:
            raise RuntimeError("the hog is already running")
        scripts = [_BUSY] * self.processes + ([_RENDER] if self.render else [])
        try:
            for script in scripts:
                self.procs.append(subprocess.Popen([sys.executable, "-c", script, str(os.getpid())],
                                                   start_new_session=True, stdin=subprocess.DEVNULL,
                                                   stdout=subprocess.DEVNULL))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill every process and wait for it (no zombies)."""
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait()
        self.procs = []

    def __enter__(self) -> CpuHog:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def histogram(samples: dict[str, list[float]], bins: int = 12) -> dict[str, object]:
    """Counts of each named sample set on shared edges (ms), so the sets read side by side."""
    values = [v for vs in samples.values() for v in vs]
    if not values:
        return {"edges_ms": [], "counts": {name: [] for name in samples}}
    edges = np.histogram_bin_edges(np.asarray(values, dtype=float), bins=bins)
    return {"edges_ms": [round(float(e), 1) for e in edges],
            "counts": {name: np.histogram(np.asarray(vs, dtype=float), bins=edges)[0].tolist()
                       for name, vs in samples.items()}}


MARKS = "#=*+"  # one per sample set


def format_histogram(title: str, hist: dict[str, object], width: int = 30) -> str:
    """A text histogram: one row per bin, one bar per sample set (at most ``len(MARKS)``)."""
    edges, counts = hist["edges_ms"], hist["counts"]
    if not edges:
        return f"{title}: no samples"
    top = max((c for cs in counts.values() for c in cs), default=0) or 1
    lines = [f"{title} (ms; " + ", ".join(f"{mark} {name}" for mark, name in zip(MARKS, counts)) + ")"]
    for i in range(len(edges) - 1):
        bars = " ".join(f"{mark * round(width * cs[i] / top):<{width}} {cs[i]:>4}"
                        for mark, cs in zip(MARKS, counts.values()))
        lines.append(f"{edges[i]:>8.1f}–{edges[i + 1]:<8.1f} {bars}")
    return "\n".join(lines)


def format_side_by_side(idle: dict[str, dict], loaded: dict[str, dict]) -> str:
    """Idle and loaded percentiles per path, with the budget the loaded p99 is held to."""
    def fmt(v: float | None) -> str:
        return "–" if v is None else f"{v:.1f}"

    lines = ["| path | idle p50 | idle p99 | loaded p50 | loaded p99 | n idle/loaded | budget ms | "
             "loaded within budget (p99) |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for path in dict.fromkeys([*idle, *loaded]):
        a, b = idle.get(path, {}), loaded.get(path, {})
        budget = BUDGETS.get(path)
        ok = "–" if budget is None or b.get("p99") is None else ("yes" if b["p99"] <= budget.budget_ms else "NO")
        lines.append(f"| {path} | {fmt(a.get('p50'))} | {fmt(a.get('p99'))} | {fmt(b.get('p50'))} | "
                     f"{fmt(b.get('p99'))} | {a.get('n', 0)}/{b.get('n', 0)} | "
                     f"{fmt(budget.budget_ms) if budget else '–'} | {ok} |")
    return "\n".join(lines)
