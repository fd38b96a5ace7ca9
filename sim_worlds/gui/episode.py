"""One goal on the GUI world: screenshot -> controller -> pointer motion or click, until a click,
a cancel, or the step limit. Success is what the page says received the click.

Controllers: ``ExpertController`` (the scripted human-like mouse on the DOM's true boxes),
``TeleportController`` (the baseline: click the expert's aim point at once) and the learned
policy (``vla_policy.mouse.runtime.MousePolicy``), all with ``reset(target, box, pointer)`` and
``act(screen, pointer) -> (next pointer | None, click)``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from sim_worlds.gui.expert import DT, MouseExpert
from sim_worlds.gui.world import Box, GuiError, GuiWorld


class Controller(Protocol):
    def reset(self, instruction: str, target: str, box: Box, pointer: np.ndarray) -> None: ...

    def act(self, screen: np.ndarray, pointer: np.ndarray) -> tuple[np.ndarray | None, bool]: ...


class ExpertController:
    def __init__(self, seed: int = 0, dt: float = DT) -> None:
        self.rng = np.random.default_rng(seed)
        self.dt = dt

    def reset(self, instruction: str, target: str, box: Box, pointer: np.ndarray) -> None:
        self.expert = MouseExpert(box, pointer, self.rng, self.dt)

    def act(self, screen: np.ndarray, pointer: np.ndarray) -> tuple[np.ndarray | None, bool]:
        s = self.expert.step(pointer)
        return (None, True) if s.click else (s.target_pos, False)


class TeleportController:
    """Baseline: the expert's coordinates clicked directly (no motion at all)."""

    def reset(self, instruction: str, target: str, box: Box, pointer: np.ndarray) -> None:
        self.aim = np.array(box.center)
        self.moved = False

    def act(self, screen: np.ndarray, pointer: np.ndarray) -> tuple[np.ndarray | None, bool]:
        if not self.moved:
            self.moved = True
            return self.aim, False
        return None, True


@dataclass
class EpisodeResult:
    success: bool
    target: str
    clicked_target: str
    steps: int
    message: str
    loop_ms: list[float] = field(default_factory=list)  # screenshot start -> command sent, per step
    path: list[tuple[float, float]] = field(default_factory=list)  # pointer after each step
    time_to_click_s: float = float("nan")
    canceled: bool = False


def run_goal(world: GuiWorld, controller: Controller, instruction: str, target: str, max_steps: int = 80,
             cancel: threading.Event | None = None, on_step: Callable[[np.ndarray, np.ndarray, str], None] | None = None,
             ) -> EpisodeResult:
    """Drive the pointer until a click; the page's record decides success.

    Raises GuiError before anything moves if the target is missing or off screen.
    """
    box = world.target_box(target)
    before = len(world.clicked())
    controller.reset(instruction, target, box, world.pointer.copy())
    res = EpisodeResult(False, target, "", 0, "")
    res.path.append(tuple(world.pointer))
    t_start = time.perf_counter()
    for step in range(max_steps):
        if cancel is not None and cancel.is_set():
            res.canceled, res.message = True, "canceled; pointer stopped"
            return res
        t0 = time.perf_counter()
        screen = world.screenshot()
        nxt, click = controller.act(screen, world.pointer.copy())
        if click:
            world.click()
        else:
            world.move_to(*nxt, wait=False)
        res.loop_ms.append((time.perf_counter() - t0) * 1e3)
        res.steps = step + 1
        res.path.append(tuple(world.pointer))
        if on_step is not None:
            on_step(screen, world.pointer.copy(), "click" if click else "move")
        if click:
            res.time_to_click_s = time.perf_counter() - t_start
            clicks = world.clicked()[before:]
            res.clicked_target = clicks[-1]["target"] if clicks else ""
            res.success = res.clicked_target == target
            res.message = (f"clicked {target}" if res.success else
                           f"clicked {res.clicked_target or 'nothing'} instead of {target}")
            return res
    res.message = f"no click within {max_steps} steps"
    return res


def path_check(path: list[tuple[float, float]], max_jump_px: float = 160.0) -> dict:
    """Pointer path quality: largest step, whether speed rises then falls (a bell), jumps."""
    p = np.asarray(path, dtype=float)
    if len(p) < 3:
        return {"max_step_px": 0.0, "jumps": 0, "peak_at": float("nan"), "bell": False}
    steps = np.linalg.norm(np.diff(p, axis=0), axis=1)
    peak = int(np.argmax(steps))
    moving = steps > 0.5
    n_moving = max(int(moving.sum()), 1)
    # Bell-shaped: the peak is neither the first nor the last moving step, speed builds up and dies down.
    bell = 0 < peak < len(steps) - 1 and steps[0] < steps[peak] and steps[-1] < steps[peak]
    return {"max_step_px": float(steps.max()), "jumps": int((steps > max_jump_px).sum()),
            "peak_at": float(peak / n_moving), "bell": bool(bell)}


__all__ = ["ExpertController", "TeleportController", "EpisodeResult", "run_goal", "path_check", "GuiError"]
