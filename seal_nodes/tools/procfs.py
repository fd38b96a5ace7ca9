"""Processes as Linux's ``/proc`` shows them: the fields of ``/proc/PID/stat`` the tools read."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcStat:
    pid: int
    name: str  # the command name (may hold spaces and parentheses)
    state: str  # R, S, D, Z (exited, not yet reaped), …
    ppid: int
    pgid: int
    cpu_ticks: int  # user + system time, in clock ticks (os.sysconf("SC_CLK_TCK") a second)

    @property
    def cpu_s(self) -> float:
        return self.cpu_ticks / os.sysconf("SC_CLK_TCK")


def parse_stat(pid: int, text: str) -> ProcStat:
    """One ``/proc/PID/stat`` line; raises ValueError on a malformed one."""
    try:
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()  # fixed fields after the name's last ')'
        return ProcStat(pid, name, fields[0], int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12]))
    except (IndexError, ValueError) as exc:
        raise ValueError(f"/proc/{pid}/stat is malformed: {text[:80]!r}") from exc


def read_stat(pid: int, proc: str | os.PathLike = "/proc") -> ProcStat | None:
    """``pid``'s stat, or None if it is gone (or unreadable)."""
    try:
        return parse_stat(pid, (Path(proc) / str(pid) / "stat").read_text())
    except (OSError, ValueError):
        return None


def all_stats(proc: str | os.PathLike = "/proc") -> list[ProcStat]:
    """Every process's stat (those that end while being read are left out)."""
    stats = (read_stat(int(entry.name), proc) for entry in Path(proc).iterdir() if entry.name.isdigit())
    return [s for s in stats if s is not None]
