"""A clock a test moves by hand (``clock.t += 0.5``), for code that takes ``clock=``."""
from __future__ import annotations


class ManualClock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t
