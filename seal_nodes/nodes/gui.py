"""gui: the ``GuiAct`` action server, a mouse driven like a person's on a real browser page.

A thin node over ``sim_worlds.gui`` (page server, headless Chromium over CDP, the goal loop) and
``vla_policy.mouse.runtime`` (the learned mouse policy). Each goal: the instruction is parsed to
a target (unknown → aborted with the reason), the target is checked on the page (missing or off
screen → aborted with the reason), then every new screenshot gives one pointer step or the click
(``backend``: learned | expert | baseline), with feedback (pointer, phase) per step. Success is
what the page recorded as clicked. Cancel stops the pointer where it is. With the learned
backend, a wording the parser cannot read (``Unrecognised``) is taken when it is near a phrasing
the policy was trained on (``sim_worlds.gui.wording.read_target``, ``ground_floor``): the policy
acts on the wording itself; the nearest phrasing's target is checked on the page and for success.

With ``app`` set (``weather``, ``booking``: the multi-step apps of ``sim_worlds.gui.apps``) the
node drives that app through Playwright by anchors instead (``seal_nodes.core.skills.operator``):
steps named in words (click, type, read), lessons that become skills, and skill replays. A
compiled lesson goes out as a ``skill_learned`` event (the memory node stores it), a replay's
outcome as ``skill_outcome``.

Screenshots (rgb8, half scale) go out on ``/screen/image_raw`` every step of a goal and at
``screen_hz`` while idle, for ``vision_perception`` in ``mode:=screen`` (``ui_change``).
``/gui/page`` (``std_msgs/String``): ``seed:N`` loads generated page N (``seed:N offscreen:TARGET``
puts that target below the visible part), ``app:NAME seed:N`` serves an app with a new layout,
anything else is a URL.
"""
from __future__ import annotations

import sys
import threading
import time

from seal_nodes.nodes.common import SealNode, in_thread, ns_to_stamp, publisher, run, subscription

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from sensor_msgs.msg import Image
from std_msgs.msg import String
from seal_interfaces.action import GuiAct

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.bounds import MAX_GUI_INSTRUCTION_CHARS, MAX_PAGE_CHARS, check_goal_text, check_text
from seal_nodes.core.skills.model import PageError
from sim_worlds.gui.browser import BrowserError
from sim_worlds.gui.episode import ExpertController, TeleportController, run_goal
from sim_worlds.gui.targets import UnknownTarget
from sim_worlds.gui.wording import GROUND_FLOOR, read_target
from sim_worlds.gui.world import GuiError, GuiWorld


class GuiNode(SealNode):
    def __init__(self) -> None:
        super().__init__("gui")
        self.backend = str(self.declare_parameter("backend", "learned").value)
        self.page_seed = int(self.declare_parameter("page_seed", 0).value)
        self.page_url = str(self.declare_parameter("page_url", "").value)
        self.max_steps = int(self.declare_parameter("max_steps", 80).value)
        self.max_hz = float(self.declare_parameter("max_hz", 20.0).value)
        self.screen_hz = float(self.declare_parameter("screen_hz", 4.0).value)
        weights = str(self.declare_parameter("weights_dir", "").value)
        self.ground_floor = float(self.declare_parameter("ground_floor", GROUND_FLOOR).value)
        self.app = str(self.declare_parameter("app", "").value)
        self.app_seed = int(self.declare_parameter("app_seed", 0).value)
        self.step_timeout_s = float(self.declare_parameter("step_timeout_s", 5.0).value)
        if self.backend not in ("learned", "expert", "baseline"):
            raise ValueError(f"unknown gui backend {self.backend!r} (learned | expert | baseline)")
        self.lock = threading.Lock()  # one user of the browser at a time
        self.busy = False
        self.stopping = threading.Event()
        self.policy = None
        self.host = self.operator = None
        if self.app:  # the apps are driven by anchors: no pointer policy, no page world
            self._start_app()
        elif self.backend == "learned":  # missing weights fail at start-up, loudly; the encoder loads now
            from vla_policy.mouse.runtime import MousePolicy, MouseRuntime

            self.policy = MousePolicy(MouseRuntime(weights) if weights else MouseRuntime())
            self.policy.warm_up()
        if not self.app:
            self.world = GuiWorld()  # BrowserError (no Chromium) stops the node with the reason
            self._load_initial()
        group = ReentrantCallbackGroup()
        self.screen_pub = publisher(self, topics.SCREEN)
        subscription(self, topics.GUI_PAGE, self.on_page, callback_group=group)
        if self.screen_hz > 0:
            self.create_timer(1.0 / self.screen_hz, self.idle_screenshot, callback_group=group)
        self.server = ActionServer(self, GuiAct, topics.GUI_ACT.name, execute_callback=self.execute,
                                   goal_callback=self.on_goal, cancel_callback=lambda _: CancelResponse.ACCEPT,
                                   callback_group=group)
        where = f"app {self.app} seed {self.app_seed}" if self.app else \
            f"backend={self.backend}, page {self.page_url or f'seed {self.page_seed}'}"
        self.get_logger().info(f"gui ready: {where}")

    def _start_app(self) -> None:
        from seal_nodes.core.skills.operator import GuiOperator
        from sim_worlds.gui.apps.host import AppHost

        try:
            self.host = AppHost(self.app, self.app_seed)
        except (PageError, ValueError) as exc:  # no Chromium, or no such app: say so and stop
            raise BrowserError(str(exc)) from exc
        self.operator = GuiOperator(self.host.page, self.step_timeout_s)

    def _load_initial(self) -> None:
        try:
            if self.page_url:
                self.world.load_url(self.page_url)
            else:
                self.world.load(self.page_seed)
        except GuiError as exc:
            self.report_error(f"gui: {exc}")

    # --- page and screen ----------------------------------------------------------------------
    def on_page(self, msg: String) -> None:
        reason = check_text("data", msg.data, MAX_PAGE_CHARS)
        if reason:
            self.refuse(topics.GUI_PAGE.name, reason)
            return
        text = msg.data.strip()
        with self.lock:
            if self.busy:
                self.report_error("gui: page change refused while a GuiAct goal runs")
                return
            self.busy = True
        try:
            if text.startswith("app:"):
                self._load_app(text)
            elif self.host is not None:
                raise ValueError(f"this gui node serves the {self.app} app: send 'app:NAME seed:N', not {text!r}")
            elif text.startswith("seed:"):
                seed, _, rest = text[5:].partition(" offscreen:")
                self.world.load(int(seed), offscreen=rest.strip() or None)
            else:
                self.world.load_url(text)
            self.get_logger().info(f"gui: loaded {text}")
        except (GuiError, PageError, ValueError) as exc:
            self.report_error(f"gui: {exc}")
        finally:
            with self.lock:
                self.busy = False

    def _load_app(self, text: str) -> None:
        fields = dict(part.split(":", 1) for part in text.split() if ":" in part)
        if self.host is None:
            raise ValueError("this gui node drives generated pages; start it with app:=NAME for apps")
        app, seed = fields.get("app", self.app), int(fields.get("seed", "0"))
        self.host.load(app, seed)
        self.host.call(lambda _: self.operator.reset())
        self.app, self.app_seed = app, seed

    def publish_screen(self, rgb: np.ndarray, stamp_ns: int) -> None:
        msg = Image()
        msg.header.stamp = ns_to_stamp(stamp_ns)
        msg.header.frame_id = "screen"
        msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
        msg.encoding, msg.step = "rgb8", int(rgb.shape[1] * 3)
        msg.data = np.ascontiguousarray(rgb).tobytes()
        self.screen_pub.publish(msg)

    def idle_screenshot(self) -> None:
        with self.lock:
            if self.busy or (self.host is None and not self.world.boxes):
                return
            self.busy = True
        try:
            shot = self.host.screenshot() if self.host is not None else self.world.screenshot()
            self.publish_screen(shot, time.time_ns())
        except (BrowserError, PageError) as exc:
            self.report_error(f"gui: screenshot failed: {exc}", throttle_key="screenshot", throttle_s=10.0)
        finally:
            with self.lock:
                self.busy = False

    # --- action -------------------------------------------------------------------------------
    def on_goal(self, goal: GuiAct.Goal) -> GoalResponse:
        reason = check_goal_text("instruction", goal.instruction, MAX_GUI_INSTRUCTION_CHARS, goal.trace_id)
        if reason:
            self.refuse(f"{topics.GUI_ACT.name} goal", reason)
            return GoalResponse.REJECT
        with self.lock:
            if self.busy:
                self.get_logger().warning("rejecting goal: the pointer is busy")
                return GoalResponse.REJECT
            self.busy = True
        return GoalResponse.ACCEPT

    async def execute(self, handle) -> GuiAct.Result:
        return await in_thread(self, self._guarded_run, handle)

    def _guarded_run(self, handle) -> GuiAct.Result:
        try:
            return self._run(handle)
        except Exception as exc:  # a browser or policy failure: fail the goal, keep serving
            return self._finish(handle, False, "", f"gui error: {exc}")
        finally:
            with self.lock:
                self.busy = False

    def _controller(self):
        if self.backend == "learned":
            return self.policy
        return ExpertController(int(time.time_ns() % 2**31)) if self.backend == "expert" else TeleportController()

    def _target(self, instruction: str) -> str:
        """The parser's target, else (learned backend) the nearest trained phrasing's; UnknownTarget if neither."""
        if self.policy is None:
            return read_target(instruction)
        from vla_policy.mouse.runtime import UnknownWording

        def ground(text: str) -> tuple[str, float, str]:
            try:
                g = self.policy.ground(text)
            except UnknownWording as exc:
                raise UnknownTarget(str(exc)) from exc
            self.get_logger().info(f"gui: {text!r} is nearest {g.nearest!r} ({g.target}, similarity "
                                   f"{g.similarity:.2f})")
            return g.target, g.similarity, g.nearest

        return read_target(instruction, ground, self.ground_floor)

    def _run(self, handle) -> GuiAct.Result:
        if self.host is not None:
            return self._run_app(handle)
        goal = handle.request
        try:
            target = self._target(goal.instruction)
            if not self.world.boxes:
                raise GuiError("no page is loaded (the page did not load)")
            self.world.target_box(target)
        except (UnknownTarget, GuiError) as exc:
            return self._finish(handle, False, "", str(exc))
        cancel = threading.Event()
        period = 1.0 / self.max_hz if self.max_hz > 0 else 0.0
        last = [time.monotonic()]

        def on_step(screen: np.ndarray, pointer: np.ndarray, phase: str) -> None:
            now_ns = time.time_ns()
            self.publish_screen(screen, now_ns)
            handle.publish_feedback(GuiAct.Feedback(pointer_x=float(pointer[0]), pointer_y=float(pointer[1]),
                                                    phase=phase))
            if handle.is_cancel_requested or self.stopping.is_set():
                cancel.set()
            wait = period - (time.monotonic() - last[0])
            if wait > 0 and phase != "click":
                time.sleep(wait)  # at most max_hz: a person's pace, not the browser's
            last[0] = time.monotonic()

        res = run_goal(self.world, self._controller(), goal.instruction, target, self.max_steps, cancel, on_step)
        for ms in res.loop_ms:
            self.publish_latency("gui_loop_ms", ms, goal.trace_id)
        if res.canceled:
            handle.canceled()
            return GuiAct.Result(success=False, clicked_target="", message=res.message)
        return self._finish(handle, res.success, res.clicked_target, res.message + f" in {res.steps} steps")

    def _run_app(self, handle) -> GuiAct.Result:
        goal = handle.request
        handle.publish_feedback(GuiAct.Feedback(phase="step"))
        started = time.monotonic()
        outcome = self.host.call(lambda _: self.operator.do(goal.instruction))
        self.publish_latency("gui_step_ms", (time.monotonic() - started) * 1000.0, goal.trace_id)
        if outcome.learned is not None:
            self.publish_event(ev.Event(ev.SKILL_LEARNED, ev.now_ns(), text=outcome.learned.description,
                                        trace_id=goal.trace_id, payload={"skill": outcome.learned.to_dict()}))
        if outcome.replay is not None:
            r = outcome.replay
            self.publish_event(ev.Event(ev.SKILL_OUTCOME, ev.now_ns(), text=outcome.message, trace_id=goal.trace_id,
                                        payload={"name": outcome.skill, "ok": r.ok, "steps_done": r.steps_done,
                                                 "model_calls": r.model_calls, "reason": r.reason}))
        try:
            self.publish_screen(self.host.screenshot(), time.time_ns())
        except PageError as exc:
            self.report_error(f"gui: screenshot failed: {exc}", throttle_key="screenshot", throttle_s=10.0)
        return self._finish(handle, outcome.success, outcome.target, outcome.message)

    def _finish(self, handle, success: bool, clicked: str, message: str) -> GuiAct.Result:
        if success:
            handle.succeed()
        else:
            handle.abort()
            self.report_error(f"GuiAct failed: {message}", handle.request.trace_id)
        return GuiAct.Result(success=success, clicked_target=clicked, message=message)

    def close(self) -> None:
        self.stopping.set()
        deadline = time.monotonic() + 1.0
        while self.busy and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.host is not None:
            self.host.close()
        else:
            self.world.close()


def main(args=None) -> None:
    try:
        run(GuiNode)
    except BrowserError as exc:  # no usable Chromium: say so in one line, not a traceback
        print(f"[gui] cannot start: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()


__all__ = ["GuiNode", "ev"]
