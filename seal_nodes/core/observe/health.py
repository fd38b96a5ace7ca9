"""A node's health as ROS tools show it (``/diagnostics``): up, backlog, dropped input, last error.

ROS-free: the node feeds what it already counts (its error reports; a throttled report stands
for one dropped input message each), and ``status`` turns the counts into one diagnostic status
(the fields of ``diagnostic_msgs/DiagnosticStatus``).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

# diagnostic_msgs/DiagnosticStatus levels
OK, WARN, ERROR = 0, 1, 2


@dataclass(frozen=True)
class HealthStatus:
    level: int
    name: str
    message: str
    hardware_id: str
    values: list[tuple[str, str]] = field(default_factory=list)


class NodeHealth:
    """What one node reports about itself; safe to feed from any thread.

    ``recent_s``: an error or a dropped input this recent makes the status WARN.
    ``backlog_warn``: a queue this deep makes it WARN too.
    """

    def __init__(self, node: str, *, recent_s: float = 10.0, backlog_warn: int = 100,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if recent_s <= 0 or backlog_warn < 1:
            raise ValueError("recent_s must be > 0 and backlog_warn >= 1")
        self.node, self.recent_s, self.backlog_warn, self._clock = node, recent_s, backlog_warn, clock
        self._born = clock()
        self._lock = threading.Lock()
        self.errors = 0
        self.dropped = 0
        self.last_error = ""
        self._last_error_at: float | None = None
        self._last_drop_at: float | None = None

    def error(self, text: str, *, dropped_input: bool = False) -> None:
        """Count one error report; ``dropped_input``: the report is about an input message thrown away."""
        with self._lock:
            now = self._clock()
            if dropped_input:
                self.dropped += 1
                self._last_drop_at = now
            else:
                self.errors += 1
            self.last_error, self._last_error_at = text, now

    def status(self, backlog: int | None = None) -> HealthStatus:
        """The node's status now; ``backlog``: messages waiting in its input queue, None if it has none."""
        with self._lock:
            now = self._clock()
            problems = []
            if backlog is not None and backlog >= self.backlog_warn:
                problems.append(f"{backlog} messages behind")
            if self._last_drop_at is not None and now - self._last_drop_at < self.recent_s:
                problems.append("dropping input")
            if self._last_error_at is not None and now - self._last_error_at < self.recent_s:
                problems.append(f"error: {self.last_error}")
            values = [("up_s", f"{now - self._born:.1f}"), ("errors", str(self.errors)),
                      ("dropped_input", str(self.dropped)),
                      ("backlog", "" if backlog is None else str(backlog)),
                      ("last_error", self.last_error),
                      ("last_error_age_s", "" if self._last_error_at is None else f"{now - self._last_error_at:.1f}")]
        return HealthStatus(WARN if problems else OK, f"{self.node}: health", "; ".join(problems) or "running",
                            "seal", values)
