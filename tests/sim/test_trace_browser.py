"""The trace page in a real headless Chromium: it loads a recording's page from disk, fetches
nothing, and its rows open to their steps. Skipped (with the reason) only where Chromium cannot start."""
from __future__ import annotations

from pathlib import Path

import pytest

from seal_nodes.tools.scenario import parse_scenario
from seal_nodes.tools.scenario_recording import record_scenario
from seal_nodes.tools.trace import write_trace
from sim_worlds.gui.browser import BrowserError, find_chromium

pytestmark = pytest.mark.browser

SCENARIO = {"name": "trace", "known_objects": ["red_cube", "green_cube"], "thinker": {"fast_path": True},
            "script": ["<assistant>Sorry, I did not get that.</assistant>"],
            "events": [{"t_ms": 0, "user": "Hello robot."}, {"t_ms": 6000, "user": "Pick up the red cube."},
                       {"t_ms": 16000, "user": "Pick up the blue cube."}]}


@pytest.fixture
def page_file(tmp_path) -> Path:
    record_scenario(parse_scenario(SCENARIO), tmp_path / "recording.mcap")
    return write_trace(tmp_path / "recording.mcap")


def test_the_trace_page_loads_offline_and_its_rows_expand(page_file, tmp_path):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    try:
        chromium = find_chromium()
    except BrowserError as exc:
        pytest.skip(f"Chromium cannot start here: {exc}")
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        except PlaywrightError as exc:
            pytest.skip(f"Chromium cannot start here: {exc}")
        try:
            page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
            fetched: list[str] = []
            page.on("request", lambda r: fetched.append(r.url))
            page.goto(page_file.as_uri())
            turns = page.locator("details.row.turn")
            assert turns.count() == 3 and page.locator("details.row.action").count() == 1
            refused = turns.nth(2)
            assert "refused" in refused.locator("summary").first.inner_text()
            assert not refused.locator("details.step").first.is_visible()  # compressed by default
            refused.locator("summary").first.click()
            assert refused.evaluate("d => d.open")
            step = refused.locator("details.step", has_text="I know of no blue_cube")
            assert step.is_visible()
            step.locator("summary").click()
            assert "but I know of no blue_cube" in step.locator("pre").inner_text()
            page.get_by_role("button", name="expand all").click()
            assert all(d for d in page.locator("details").evaluate_all("ds => ds.map(d => d.open)"))
            page.get_by_role("button", name="collapse all").click()
            shot = tmp_path / "trace.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 1000
            assert fetched == [page_file.as_uri()], f"the page fetched more than itself: {fetched}"
        finally:
            browser.close()
