"""Latency budgets of DESIGN.md and percentile summaries for the benchmark tables."""
from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seal_nodes.core import topics
from seal_nodes.tools import calibration as cal


@dataclass(frozen=True)
class Budget:
    path: str
    budget_ms: float
    definition: str


BUDGETS: dict[str, Budget] = {b.path: b for b in (
    Budget("speech_start_ms", 100.0, "speech onset in the audio → speech_start event received"),
    Budget("first_audio_ms", 500.0, "end of user speech → first audio chunk of the reply (its play-out stamp)"),
    Budget("barge_in_pause_ms", 50.0,
           "barge-in speech onset → end of the agent's last audio chunk before its voice first falls silent "
           "(a pause on voice_maybe or speech_start, resumed or not)"),
    Budget("barge_in_stop_ms", 100.0,
           "barge-in speech onset → the voice stopped for a confirmed onset (the later of its last audio chunk's "
           "end and speech_start received)"),
    Budget("frame_to_command_ms", 100.0,
           "camera frame stamp (before rendering) → arm command derived from it published"),
    Budget("policy_inference_ms", 10.0, "one policy (backend) step inside the control loop"),
    Budget("ros_hop_ms", 5.0, f"one ROS 2 message between processes ({topics.JOINT_STATES.name} stamp → receipt)"),
)}


def machine_info() -> dict[str, object]:
    """Where a benchmark ran, for its ``run`` record."""
    return {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()}


def summarize(values: list[float]) -> dict[str, float | int | None]:
    """``{"p50", "p99", "n"}`` in ms; percentiles are None when there are no samples."""
    if not values:
        return {"p50": None, "p99": None, "n": 0}
    arr = np.asarray(values, dtype=float)
    return {"p50": round(float(np.percentile(arr, 50)), 2), "p99": round(float(np.percentile(arr, 99)), 2),
            "n": int(arr.size)}


def format_table(results: dict[str, dict], budgets: dict[str, Budget] = BUDGETS) -> str:
    """Human-readable table of results against budgets (markdown, so it reads in a terminal too)."""
    lines = ["| path | p50 ms | p99 ms | n | budget ms | within budget (p99) |",
             "|---|---:|---:|---:|---:|---|"]

    def fmt(v: float | None) -> str:
        return "–" if v is None else f"{v:.1f}"

    for path, stats in results.items():
        budget = budgets.get(path)
        p99 = stats.get("p99")
        ok = "–" if budget is None or p99 is None else ("yes" if p99 <= budget.budget_ms else "NO")
        lines.append(f"| {path} | {fmt(stats.get('p50'))} | {fmt(stats.get('p99'))} | {stats.get('n', 0)} | "
                     f"{fmt(budget.budget_ms) if budget else '–'} | {ok} |")
    return "\n".join(lines)


def write_report(path: str | os.PathLike, result: dict, table: str, calibration: bool = False) -> None:
    """A benchmark's results: ``path`` (JSON), the table beside it (``.md``) and on stdout.

    The JSON's ``host`` says where it ran (CPU model, cores) and, with ``calibration``, how long
    a fixed workload took there (``seal_nodes.tools.calibration``: loads the voice and Whisper).
    """
    result = {**result, "host": {**cal.host(), **({"calibration": cal.calibration()} if calibration else {})}}
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(table)
    print(table)
