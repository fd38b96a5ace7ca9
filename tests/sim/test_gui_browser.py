"""The GUI world in a real headless Chromium: real DOM clicks, the expert, bad input, the policy.

Skipped (with the reason) only where Chromium cannot start.
"""
from __future__ import annotations

import socket
import threading

import numpy as np
import pytest

from sim_worlds.gui.browser import BrowserError
from sim_worlds.gui.episode import ExpertController, TeleportController, path_check, run_goal
from sim_worlds.gui.targets import canonical, parse_target
from sim_worlds.gui.world import GuiError, GuiWorld

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def world():
    try:
        w = GuiWorld()
    except BrowserError as exc:
        print(f"Chromium cannot start: {exc}")
        pytest.skip(f"Chromium cannot start here: {exc}")
    yield w
    w.close()


def test_a_real_click_is_recorded_by_the_page(world):
    world.load(11)
    box = world.target_box("cart_button")
    world.move_to(*box.center)
    before = len(world.clicked())
    world.click()
    clicks = world.clicked()[before:]
    assert [c["target"] for c in clicks] == ["cart_button"] and clicks[0]["trusted"]
    assert world.target_at(*box.center) == "cart_button"
    shot = world.screenshot()
    assert shot.shape == (200, 320, 3) and shot.dtype == np.uint8 and shot.std() > 5


def test_dom_boxes_match_the_generated_layout(world):
    layout = world.load(12)
    for wd in layout.widgets:
        b = world.boxes[wd.target]
        assert abs(b.x - wd.x) < 1 and abs(b.y - wd.y) < 1 and abs(b.w - wd.w) < 1 and abs(b.h - wd.h) < 1


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_expert_moves_like_a_person_and_clicks_the_named_target(world, seed):
    layout = world.load(seed)
    rng = np.random.default_rng(seed)
    for target in ("search_button", "form_submit", f"product_r{layout.rows}c{layout.cols}", "search_box"):
        world.move_to(*rng.uniform([0, 0], [640, 400]))
        res = run_goal(world, ExpertController(seed), canonical(target), target)
        assert res.success and res.clicked_target == target, res.message
        check = path_check(res.path)
        assert check["jumps"] == 0 and res.steps > 3


def test_baseline_clicks_the_expert_coordinates_directly(world):
    world.load(24)
    res = run_goal(world, TeleportController(), "click the help button", "help_button")
    assert res.success and res.steps == 2


def test_bad_input_gets_a_clear_result(world):
    world.load(25, offscreen="form_submit")
    with pytest.raises(GuiError, match="off screen"):
        run_goal(world, ExpertController(0), "click the submit button of the form", "form_submit")
    with pytest.raises(GuiError, match="not on this page"):
        world.target_box("no_such_target")
    # A page that does not load: a closed port, and a page that is not a GUI-world page.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GuiError, match="did not load"):
        world.load_url(f"http://127.0.0.1:{port}/nothing.html", timeout_s=5)
    with pytest.raises(GuiError, match="not a GUI-world page|did not load"):
        world.load_url(world.server.put("/plain.html", "<html><title>plain</title>hi</html>"))
    with pytest.raises(GuiError, match="not on this page"):
        world.target_box("search_button")
    world.load(26)  # the world recovers
    assert world.target_box("search_button")


def test_cancel_stops_the_pointer(world):
    world.load(27)
    world.move_to(5, 5)
    cancel = threading.Event()
    seen = []

    def on_step(screen, pointer, phase):
        seen.append(pointer)
        if len(seen) == 3:
            cancel.set()

    res = run_goal(world, ExpertController(1), "click the form's submit button", parse_target("click the form's submit button"),
                   cancel=cancel, on_step=on_step)
    assert res.canceled and not res.success and len(seen) == 3
    assert np.allclose(world.pointer, seen[-1]) and world.clicked() == []


def test_learned_policy_clicks_named_targets_on_held_out_pages(world):
    """The shipped policy, from screenshots only, on pages never seen in training (the figures
    are measured by `seal eval-gui`; this checks it works in the real browser at all)."""
    from vla_policy.mouse.dataset import EVAL_SEED_BASE
    from vla_policy.mouse.runtime import MousePolicy

    policy = MousePolicy()
    rng = np.random.default_rng(5)
    wins, paths = 0, []
    cases = [("click the search box", "search_box"), ("click the submit button of the form", "form_submit"),
             ("click the product in the first row, first column", "product_r1c1"),
             ("click the search button", "search_button"), ("click the email field", "form_email"),
             ("click the cart icon", "cart_button")]
    for i, (text, target) in enumerate(cases):
        world.load(EVAL_SEED_BASE + 500 + i)
        world.move_to(*rng.uniform([0, 0], [640, 400]))
        res = run_goal(world, policy, text, target)
        wins += res.success
        if res.success:
            paths.append(path_check(res.path))
    assert wins >= 4, f"{wins}/{len(cases)}"
    assert all(p["jumps"] == 0 and p["max_step_px"] < 160 for p in paths)
