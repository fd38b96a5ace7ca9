"""``PlaywrightPage``: one Chromium tab driven by Playwright, seen and acted on by anchors.

``elements()`` reads the DOM in one script: each visible element an agent could act on or read
(controls, options, tabs, headings, status outputs, alerts, dialogs and the named lists and
groups that hold them) with its ARIA role, accessible name, <label> text, data-testid, text or
value, whether it is enabled, and its centre. Names follow the accessible-name rules for the
markup the apps use (aria-labelledby, aria-label, <label>, then the content for roles named by
their content), so an element's anchor finds it again through Playwright's own role, label and
test-id locators. Waiting is Playwright's: locators auto-wait for visible, enabled and
actionable, and an expired wait is ``None`` or a ``PageError``, never a sleep.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import Locator, expect, sync_playwright
from playwright.sync_api import Page as _Tab

from seal_nodes.core.skills.model import Anchor, Element, PageError
from sim_worlds.gui.apps.markup import VIEWPORT
from sim_worlds.gui.browser import BrowserError, find_chromium

T = TypeVar("T")
_LOCATION = re.compile(r"[A-Za-z0-9_-]+")

# describe(el) -> {role, name, label, test_id, text, enabled, x, y}; elements() -> every one kept.
_DESCRIBE = r"""
const INPUT = {text: 'textbox', email: 'textbox', tel: 'textbox', url: 'textbox', password: 'textbox',
  search: 'searchbox', number: 'spinbutton', checkbox: 'checkbox', radio: 'radio', submit: 'button',
  button: 'button', reset: 'button', range: 'slider'};
const CONTENT_NAMED = new Set(['button', 'link', 'tab', 'option', 'heading', 'checkbox', 'radio', 'menuitem',
  'switch', 'cell', 'row', 'treeitem']);
const CONTAINERS = new Set(['listbox', 'tablist', 'tabpanel', 'radiogroup', 'group', 'list', 'menu', 'table']);
const ACT = new Set(['button', 'link', 'textbox', 'searchbox', 'spinbutton', 'checkbox', 'radio', 'combobox',
  'option', 'tab', 'switch', 'slider', 'menuitem']);
const READ = new Set(['heading', 'status', 'alert', 'dialog', 'alertdialog', 'listitem', 'row', 'cell']);
const squash = s => (s || '').replace(/\s+/g, ' ').trim();
function roleOf(el) {
  const r = el.getAttribute('role');
  if (r) return r.split(' ')[0];
  const t = el.tagName;
  if (t === 'A') return el.hasAttribute('href') ? 'link' : '';
  if (t === 'BUTTON') return 'button';
  if (t === 'INPUT') return INPUT[(el.getAttribute('type') || 'text').toLowerCase()] || '';
  if (t === 'TEXTAREA') return 'textbox';
  if (t === 'SELECT') return el.multiple || el.size > 1 ? 'listbox' : 'combobox';
  if (/^H[1-6]$/.test(t)) return 'heading';
  if (t === 'OUTPUT') return 'status';
  if (t === 'UL' || t === 'OL') return 'list';
  if (t === 'LI') return el.parentElement && /^(UL|OL)$/.test(el.parentElement.tagName) ? 'listitem' : '';
  if (t === 'DIALOG') return 'dialog';
  return '';
}
function labelText(label, self) {
  let s = '';
  label.childNodes.forEach(n => { if (n !== self) s += n.textContent; });
  return squash(s);
}
function labelsOf(el) {
  return el.labels ? squash(Array.from(el.labels).map(l => labelText(l, el)).join(' ')) : '';
}
function nameOf(el, role) {
  const by = el.getAttribute('aria-labelledby');
  if (by) return squash(by.split(/\s+/).map(id => { const e = document.getElementById(id); return e ? e.textContent : ''; }).join(' '));
  const aria = squash(el.getAttribute('aria-label'));
  if (aria) return aria;
  const lab = labelsOf(el);
  if (lab) return lab;
  if (el.tagName === 'INPUT' && /^(submit|button|reset)$/.test(el.type)) return squash(el.value);
  if (CONTENT_NAMED.has(role)) return squash(el.textContent);
  return squash(el.getAttribute('title') || el.getAttribute('placeholder'));
}
function visible(el) {
  if (!el.checkVisibility({visibilityProperty: true})) return false;
  const b = el.getBoundingClientRect();
  return b.width > 0 && b.height > 0;
}
function describe(el) {
  const role = roleOf(el);
  const b = el.getBoundingClientRect();
  let text;
  if (role === 'checkbox' || role === 'radio') text = el.checked ? 'checked' : '';
  else if (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)) text = el.value;
  else if (CONTAINERS.has(role)) text = '';
  else text = squash(el.innerText).slice(0, 240);
  return {role, name: nameOf(el, role), label: el.labels ? labelsOf(el) : '', test_id: el.dataset.testid || '',
    text, enabled: !el.disabled && el.getAttribute('aria-disabled') !== 'true',
    x: b.left + b.width / 2, y: b.top + b.height / 2};
}
function keep(el) {
  const role = roleOf(el);
  if (!role || !visible(el)) return null;
  if (el.closest('[aria-hidden=true]')) return null;
  const d = describe(el);
  if (ACT.has(role) || READ.has(role) || (CONTAINERS.has(role) && d.name)) return d;
  return null;
}
"""
_ALL = _DESCRIBE + "return Array.from(document.body ? document.body.querySelectorAll('*') : []).map(keep).filter(Boolean);"
_ONE = _DESCRIBE + "return describe(el);"
_SHOWN = _DESCRIBE + "return els.filter(visible).map(describe);"
_HERE = "() => document.body ? document.body.dataset.page || '' : ''"
_READ = "el => /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) ? el.value : el.innerText.replace(/\\s+/g, ' ').trim()"
# In every document: note when a click is about to leave it (a form submitted, a link followed),
# so a click at x,y waits for the page it leads to, as Playwright's own clicks do.
_NAVIGATION_WATCH = """window.__leaving = false;
addEventListener('submit', e => { if (!e.defaultPrevented) window.__leaving = true; });
addEventListener('click', e => { const a = e.target.closest && e.target.closest('a[href]');
  if (a && !e.defaultPrevented) window.__leaving = true; });"""
_REPLACE_FOCUSED = """() => { const el = document.activeElement;
  if (!el || !(el.tagName === 'TEXTAREA' || (el.tagName === 'INPUT' && el.type !== 'checkbox' && el.type !== 'radio'))) return false;
  el.select(); return true; }"""


def _element(d: dict) -> Element:
    return Element(Anchor(d["role"], d["name"], d["label"], d["test_id"]), d["text"], bool(d["enabled"]),
                   float(d["x"]), float(d["y"]))


def describe(anchor: Anchor) -> str:
    """``button "Search" labelled "…" [data-testid=…]``: the anchor in words, for errors."""
    parts = [anchor.role] + ([f'"{anchor.name}"'] if anchor.name else []) + \
        ([f'labelled "{anchor.label}"'] if anchor.label else []) + ([f"[data-testid={anchor.test_id}]"] if anchor.test_id else [])
    return " ".join(parts)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class PlaywrightPage:
    """The skills ``Page`` (plus ``type_text`` for the coordinate baseline) over one Playwright tab.
    ``errors`` collects script errors the page raised."""

    def __init__(self, tab: _Tab) -> None:
        self.tab = tab
        self.errors: list[str] = []
        self.navigations = 0  # documents committed in the main frame
        tab.on("pageerror", lambda exc: self.errors.append(str(exc)))
        tab.on("framenavigated", self._navigated)
        tab.add_init_script(_NAVIGATION_WATCH)

    def _navigated(self, frame: object) -> None:
        if frame == self.tab.main_frame:
            self.navigations += 1

    def goto(self, url: str, timeout_s: float = 10.0) -> None:
        try:
            self.tab.goto(url, timeout=timeout_s * 1000)
        except PlaywrightError as exc:
            raise PageError(f"page did not load: {url}: {_first_line(exc)}") from exc

    def locator(self, anchor: Anchor) -> Locator:
        """Every non-empty field of ``anchor`` must match (exactly): role and accessible name,
        the <label> text, the data-testid."""
        if not isinstance(anchor, Anchor) or not anchor.role:
            raise ValueError(f"not an anchor with a role: {anchor!r}")
        loc = self.tab.get_by_role(anchor.role, name=anchor.name, exact=True) if anchor.name \
            else self.tab.get_by_role(anchor.role)
        if anchor.label:
            loc = loc.and_(self.tab.get_by_label(anchor.label, exact=True))
        if anchor.test_id:
            loc = loc.and_(self.tab.get_by_test_id(anchor.test_id))
        return loc

    def _evaluate(self, script: str) -> object:
        """A page script on the current document once it is parsed (a click that navigates
        returns when the next document is committed, not yet parsed); again if a navigation
        replaced the document meanwhile."""
        tries = 3
        while True:
            try:
                self.tab.wait_for_load_state("domcontentloaded")
                return self.tab.evaluate(script)
            except PlaywrightError as exc:
                tries -= 1
                if not tries or "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                    raise PageError(f"the page could not be read: {_first_line(exc)}") from exc

    def location(self) -> str:
        return str(self._evaluate(_HERE))

    def elements(self) -> list[Element]:
        return [_element(d) for d in self._evaluate(f"() => {{ {_ALL} }}")]  # type: ignore[union-attr]

    def wait_for(self, anchor: Anchor, timeout_s: float) -> Element | None:
        loc = self.locator(anchor)
        deadline = time.monotonic() + timeout_s
        try:  # already there: one round trip instead of a wait, an expectation and a read
            now = loc.evaluate_all(f"els => {{ {_SHOWN} }}")
            if len(now) == 1 and now[0]["enabled"]:
                return _element(now[0])
        except PlaywrightError:
            pass  # mid-navigation: the waits below see the next document
        try:
            loc.wait_for(state="visible", timeout=timeout_s * 1000)
            expect(loc).to_be_enabled(timeout=max(1.0, (deadline - time.monotonic()) * 1000))
            return _element(loc.evaluate(f"el => {{ {_ONE} }}"))
        except AssertionError:
            return None
        except PlaywrightTimeout:
            return None
        except PlaywrightError as exc:
            raise PageError(f"{describe(anchor)}: {_first_line(exc)}") from exc

    def _act(self, what: str, anchor: Anchor, timeout_s: float, action: Callable[[Locator, float], T]) -> T:
        try:
            return action(self.locator(anchor), timeout_s * 1000)
        except PlaywrightError as exc:
            why = f"not actionable within {timeout_s:.1f} s" if isinstance(exc, PlaywrightTimeout) else _first_line(exc)
            raise PageError(f"cannot {what} {describe(anchor)}: {why}") from exc

    def click(self, anchor: Anchor, timeout_s: float) -> None:
        self._act("click", anchor, timeout_s, lambda loc, ms: loc.click(timeout=ms))

    def fill(self, anchor: Anchor, text: str, timeout_s: float) -> None:
        self._act("fill", anchor, timeout_s, lambda loc, ms: loc.fill(text, timeout=ms))

    def read(self, anchor: Anchor, timeout_s: float) -> str:
        def read(loc: Locator, ms: float) -> str:
            loc.wait_for(state="visible", timeout=ms)
            return str(loc.evaluate(_READ))
        return self._act("read", anchor, timeout_s, read)

    def click_at(self, x: float, y: float, timeout_s: float = 10.0) -> None:
        """A real mouse click at x,y; when it submits a form or follows a link, returns once the
        next page has loaded."""
        before = self.navigations
        self.tab.mouse.click(x, y)
        try:
            leaving = bool(self.tab.evaluate("() => window.__leaving === true"))
        except PlaywrightError:  # the document is already gone
            leaving = True
        try:
            if leaving and self.navigations == before:
                self.tab.wait_for_event("framenavigated", lambda f: f == self.tab.main_frame, timeout=timeout_s * 1000)
            self.tab.wait_for_load_state("domcontentloaded", timeout=timeout_s * 1000)
        except PlaywrightError as exc:
            raise PageError(f"the click at ({x:.0f}, {y:.0f}) started a page that did not load: {_first_line(exc)}") from exc

    def type_text(self, text: str) -> None:
        """Replace the focused field's text (keystrokes where the pointer left the focus)."""
        if self.tab.evaluate(_REPLACE_FOCUSED):
            self.tab.keyboard.insert_text(text)

    def wait_for_location(self, location: str, timeout_s: float) -> bool:
        if not _LOCATION.fullmatch(location):
            raise ValueError(f"not a page id: {location!r}")
        try:  # already there: one script (a locator's wait costs several round trips)
            if self.tab.evaluate(_HERE) == location:
                return True
        except PlaywrightError:
            pass  # mid-navigation: the wait below sees the next document
        try:
            self.tab.locator(f"body[data-page='{location}']").wait_for(state="attached", timeout=timeout_s * 1000)
            return True
        except PlaywrightTimeout:
            return False
        except PlaywrightError as exc:
            raise PageError(f"waiting for page {location!r}: {_first_line(exc)}") from exc


@contextmanager
def open_page(url: str, headless: bool = True) -> Iterator[PlaywrightPage]:
    """A fresh Debian Chromium (never a downloaded one) with one tab at ``url``; closed on exit."""
    try:
        chromium = find_chromium()
    except BrowserError as exc:
        raise PageError(str(exc)) from exc
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=chromium, headless=headless, args=["--no-sandbox"])
        except PlaywrightError as exc:
            raise PageError(f"Chromium cannot start: {_first_line(exc)}") from exc
        try:
            page = PlaywrightPage(browser.new_context(viewport=VIEWPORT).new_page())
            page.goto(url)
            yield page
        finally:
            browser.close()
