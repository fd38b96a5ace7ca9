"""GUI world cores without a browser: target vocabulary, layouts, the human-like expert, path check."""
from __future__ import annotations

import numpy as np
import pytest

from sim_worlds.gui.browser import BrowserError
from sim_worlds.gui.episode import path_check
from sim_worlds.gui.expert import MouseExpert
from sim_worlds.gui.layout import VIEWPORT, generate, to_html
from sim_worlds.gui.targets import TASKS, UnknownTarget, all_targets, canonical, parse_target, phrasings, task_of
from sim_worlds.gui.world import Box
from vla_policy.mouse.dataset import rollout

pytestmark = pytest.mark.unit


def test_every_training_phrasing_parses_back_to_its_target():
    for t in all_targets():
        assert task_of(t) in TASKS
        for p in phrasings(t) + [canonical(t), canonical(t).upper() + "."]:
            assert parse_target(p) == t, p


@pytest.mark.parametrize("text,target", [
    ("click the search button", "search_button"), ("Click on the cart icon.", "cart_button"),
    ("press the submit button of the form", "form_submit"), ("click the email field", "form_email"),
    ("click the product in the third row, second column", "product_r3c2"),
    ("click the product in row 2, column 4", "product_r2c4"), ("tap the search box", "search_box"),
])
def test_spoken_requests_map_to_targets(text, target):
    assert parse_target(text) == target


@pytest.mark.parametrize("text,why", [
    ("click the banana button", "no such target"), ("", "empty instruction"),
    ("click the product in the fifth row, first column", "at most 3 rows"), ("open the door", "no such target"),
    ("type hello into the search box", "only clicks"), ("double-click the cart icon", "only clicks"),
])
def test_unknown_targets_are_refused_with_the_reason(text, why):
    with pytest.raises(UnknownTarget, match=why):
        parse_target(text)


def test_layouts_are_seeded_on_screen_and_do_not_overlap():
    w, h = VIEWPORT
    assert [x.__dict__ for x in generate(5).widgets] == [x.__dict__ for x in generate(5).widgets]
    for seed in range(60):
        lay = generate(seed)
        assert {"search_button", "search_box", "form_submit", "product_r1c1"} <= set(lay.targets)
        boxes = [Box(x.x, x.y, x.w, x.h) for x in lay.widgets]
        for b in boxes:
            assert b.on_screen(w, h) and b.w >= 20 and b.h >= 20
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                ox = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
                oy = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
                assert ox <= 0.5 or oy <= 0.5, (seed, a, b)
        html = to_html(lay)
        assert html.count("data-target=") == len(lay.widgets) and "__seal_clicks" in html


def test_offscreen_option_moves_the_target_below_the_viewport():
    lay = generate(3, offscreen="form_submit")
    wd = lay.widget("form_submit")
    assert wd.y > VIEWPORT[1] and lay.height > wd.y
    with pytest.raises(ValueError):
        generate(3, offscreen="product_r9c9")


def test_expert_reaches_with_a_bell_shaped_speed_overshoots_and_clicks_inside():
    rng = np.random.default_rng(0)
    box = Box(400, 300, 80, 30)
    for _ in range(20):
        start = rng.uniform([0, 0], VIEWPORT)
        ex = MouseExpert(box, start, rng)
        p, path = np.array(start), [tuple(start)]
        for _ in range(80):
            s = ex.step(p)
            if s.click:
                break
            p = s.target_pos
            path.append(tuple(p))
        assert s.click and box.contains(*p)
        check = path_check(path)
        assert check["jumps"] == 0 and check["max_step_px"] < 120
        if np.linalg.norm(np.array(box.center) - start) > 150:
            assert check["bell"]


def test_expert_corrects_from_states_off_its_plan():
    rng = np.random.default_rng(1)
    box = Box(100, 50, 60, 28)
    for _ in range(30):
        steps = rollout(box, rng.uniform([0, 0], VIEWPORT), rng, noise_frac=0.25)
        assert steps[-1][2] == 1.0 and len(steps) < 80  # ends with the click


def test_missing_chromium_is_a_clear_error():
    with pytest.raises(BrowserError, match="not installed"):
        _find("/nonexistent/chromium-xyz")


def _find(name):
    import os

    from sim_worlds.gui import browser

    old = os.environ.get("PATH")
    os.environ["PATH"] = "/nonexistent"
    try:
        return browser.find_chromium(name)
    finally:
        os.environ["PATH"] = old


def test_unseen_instruction_file_fills_and_parses_for_every_target():
    from pathlib import Path

    from vla_policy.mouse.evaluate import fill, read_templates

    import sim_worlds.gui

    templates = read_templates(Path(sim_worlds.gui.__file__).with_name("unseen_instructions.txt"))
    assert set(templates) == set(TASKS)
    for t in all_targets():
        for tmpl in templates[task_of(t)]:
            assert parse_target(fill(tmpl, t)) == t


def test_gui_launch_file_starts_the_gui_stack_without_the_arm():
    from seal_nodes.stack.graph import LAUNCH_DIR, load, resolve_node

    desc = load(LAUNCH_DIR / "gui.launch.yaml", ["audio_file:=/tmp/a.wav", "page_seed:=4"])
    nodes = {s.exec: s for s in desc.nodes}
    assert set(nodes) == {"gui", "vision_perception", "audio_perception", "thinker", "tts", "wav_source", "memory"}
    assert ("/camera/image_raw", "/screen/image_raw") in nodes["vision_perception"].remaps
    for spec in desc.nodes:
        resolve_node(spec)
