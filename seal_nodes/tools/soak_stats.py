"""What a soak run samples and concludes, ROS-free: a process's resources from /proc, growth of a
series after warm-up, events that lost their partner."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

Series = list[tuple[float, float]]  # (seconds since the start, value)


@dataclass(frozen=True)
class ProcSample:
    rss_kb: int
    threads: int
    fds: int


def read_proc(pid: int, proc: str | os.PathLike = "/proc") -> ProcSample | None:
    """RSS, threads and open file descriptors of ``pid``; None when it is gone or unreadable."""
    base = Path(proc) / str(pid)
    try:
        fields = dict(line.split(":", 1) for line in (base / "status").read_text().splitlines() if ":" in line)
        fds = len(os.listdir(base / "fd"))
        return ProcSample(int(fields["VmRSS"].split()[0]), int(fields["Threads"]), fds)
    except (OSError, KeyError, ValueError, IndexError):
        return None


def growth_after_warmup(series: Series, warmup_s: float) -> float | None:
    """Relative change from the first sample at or after ``warmup_s`` to the last one (0.05 = +5 %);
    None with fewer than two such samples or a zero base."""
    after = [v for t, v in series if t >= warmup_s]
    if len(after) < 2 or after[0] == 0:
        return None
    return (after[-1] - after[0]) / after[0]


def unpaired(starts: list[str], ends: list[str], open_last: int = 0) -> list[str]:
    """Keys that started and never ended (an event whose partner was lost), in start order;
    the last ``open_last`` starts may still be running and are not counted."""
    left = list(ends)
    missing = []
    for key in starts[:len(starts) - open_last] if open_last else starts:
        if key in left:
            left.remove(key)
        else:
            missing.append(key)
    return missing
