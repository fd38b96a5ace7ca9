"""The HTML both apps are made of: a seeded look (theme, placement, order, wording, slow loads),
form fields, button rows, suggestion and choice lists, the cookie banner, the confirmation
dialog, and one small inline script that runs them.

Anchors are fixed by the app version, never by the seed: a button's text, a field's <label>, a
list's aria-label and the data-testid attributes stay the same; only where things are, their
order, colours and the surrounding prose change. Every page fits the viewport (no scrolling), so
an element's centre is where a coordinate replay would click. Elements that load late are
rendered ``hidden`` and revealed by the script after their delay.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from html import escape
from typing import TypeVar

from sim_worlds.gui.layout import THEMES

T = TypeVar("T")
VIEWPORT = {"width": 1000, "height": 760}
CELL_W = 170  # button/radio cells share one width, so a swap puts one exactly where the other was
SLOW_RANGE_S = (0.3, 1.5)


@dataclass
class Style:
    """Everything a seed varies. ``rng(key)`` is a generator of its own per key, so a page
    renders the same way each time it is served."""

    seed: int
    theme: tuple[str, ...]
    left: int
    top: int
    width: int
    font: int
    slow: dict[str, float] = field(default_factory=dict)  # element key -> seconds it appears late

    @classmethod
    def from_seed(cls, app: str, seed: int, slow_keys: tuple[str, ...]) -> Style:
        r = random.Random(f"{app}:{seed}:style")
        slow = {k: round(r.uniform(*SLOW_RANGE_S), 2) if r.random() < 0.6 else 0.0 for k in slow_keys}
        return cls(seed, THEMES[r.randrange(len(THEMES))], r.randrange(16, 300), r.randrange(8, 60),
                   r.randrange(560, 660), r.choice((14, 15, 16)), slow)

    def rng(self, key: str) -> random.Random:
        return random.Random(f"{self.seed}:{key}")

    def order(self, key: str, items: list[T]) -> list[T]:
        out = list(items)
        self.rng(key).shuffle(out)
        return out

    def words(self, key: str, options: tuple[str, ...]) -> str:
        return self.rng(key).choice(options)

    def delay_ms(self, key: str) -> int:
        return int(self.slow.get(key, 0.0) * 1000)


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def shell(page: str, title: str, body: str, style: Style, banner: bool = False) -> str:
    """A whole document: ``data-page`` on <body> is the page id the driver reads."""
    bg, panel, text, bbg, bfg, accent, card = style.theme
    css = f"""
*{{box-sizing:border-box}} [hidden]{{display:none!important}}
body{{margin:0;background:{bg};color:{text};font:{style.font}px/1.35 'DejaVu Sans',sans-serif}}
main{{position:relative;margin:{style.top}px 0 0 {style.left}px;width:{style.width}px;padding:14px 18px;
 background:{panel};border-radius:8px}}
h1{{font-size:1.3em;margin:0 0 6px}} p{{margin:4px 0 8px}}
label.f{{display:block;margin:8px 0 3px}}
input[type=text],input[type=email],input[type=tel],input[type=number]{{width:100%;height:30px;padding:0 8px;
 border:1px solid {text}66;border-radius:4px;background:{bg};color:{text};font:inherit}}
.wrap{{position:relative}}
.cells{{display:grid;grid-template-columns:repeat(3,{CELL_W}px);gap:8px;margin:10px 0}}
.cells>*{{height:34px;margin:0}}
button,a.btn{{display:flex;align-items:center;justify-content:center;width:100%;height:34px;border-radius:5px;
 border:1px solid {bfg}44;background:{bbg};color:{bfg};font:inherit;text-decoration:none;cursor:pointer}}
button.primary{{background:{accent};color:#fff;border:none}} button:disabled{{opacity:.45;cursor:default}}
label.cell{{display:flex;align-items:center;gap:6px;padding:0 8px;border:1px solid {text}33;border-radius:5px}}
.drop{{position:absolute;z-index:5;left:0;right:0;top:100%;margin:0;padding:2px;list-style:none;
 background:{bg};border:1px solid {text}66;border-radius:4px}}
.drop li,.pick li{{padding:4px 8px;cursor:pointer}} .drop li:hover{{background:{card}}}
.pick{{list-style:none;margin:8px 0;padding:0}} .pick li{{margin:4px 0;border:1px solid {text}33;border-radius:5px}}
.pick li[aria-selected=true]{{background:{card};border-color:{accent}}}
output{{display:inline-block;margin:4px 0;font-weight:bold}}
[role=alert]{{color:#c92a2a;margin:6px 0}}
[role=tablist]{{display:grid;grid-template-columns:repeat(3,{CELL_W}px);gap:8px;margin:10px 0}}
[role=tab][aria-selected=true]{{background:{accent};color:#fff}}
.veil{{position:fixed;inset:0;z-index:9;background:#0006}}
.box{{position:fixed;z-index:10;left:{style.left + 40}px;top:{style.top + 150}px;width:{3 * CELL_W + 56}px;
 padding:14px 18px;background:{panel};color:{text};border-radius:8px;box-shadow:0 4px 18px #0008}}
"""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{css}</style></head><body data-page='{esc(page)}'><main>{body}</main>"
            f"{cookie_banner(style) if banner else ''}<script>{SCRIPT}</script></body></html>")


def text_field(label: str, name: str, value: str = "", kind: str = "text", test_id: str = "",
               extra: str = "") -> str:
    tid = f" data-testid='{esc(test_id)}'" if test_id else ""
    return (f"<label class='f' for='f-{esc(name)}'>{esc(label)}</label>"
            f"<input type='{kind}' id='f-{esc(name)}' name='{esc(name)}' value='{esc(value)}'{tid}{extra}>")


def suggest_field(label: str, name: str, options: list[str], value: str, picked: str, list_name: str,
                  chip_name: str, style: Style, key: str, test_id: str = "") -> str:
    """A text field whose suggestion list (filtered by the first letter typed, appearing after the
    seed's delay) fills it when an option is clicked; the pick shows in a status chip and a hidden
    input (``name``) carries it to the server."""
    opts = "".join(f"<li role='option' data-value='{esc(o)}' hidden>{esc(o)}</li>"
                   for o in style.order(f"{key}:options", options))
    chip = (f"<output id='c-{esc(name)}' aria-label='{esc(chip_name)}'{'' if picked else ' hidden'}>"
            f"{esc(picked)}</output>")
    return (f"<div class='wrap'>{text_field(label, name + '_text', value, test_id=test_id, extra=f' data-list=l-{esc(name)}')}"
            f"<ul role='listbox' class='drop' id='l-{esc(name)}' aria-label='{esc(list_name)}' data-field='h-{esc(name)}'"
            f" data-chip='c-{esc(name)}' data-input='f-{esc(name)}_text' data-delay='{style.delay_ms(key)}' hidden>"
            f"{opts}</ul></div><input type='hidden' id='h-{esc(name)}' name='{esc(name)}' value='{esc(picked)}'>{chip}")


def choice_list(list_name: str, name: str, options: list[tuple[str, str, str, str]], chip_name: str,
                delay_ms: int) -> str:
    """A listbox to choose one option from: (value, accessible name, data-testid, text) each; the
    whole list appears after ``delay_ms``. The pick is marked, shown in a chip and posted as ``name``."""
    opts = "".join(f"<li role='option' aria-selected='false' aria-label='{esc(n)}' data-testid='{esc(t)}'"
                   f" data-value='{esc(v)}'>{esc(text)}</li>" for v, n, t, text in options)
    return (f"<ul role='listbox' class='pick' aria-label='{esc(list_name)}' data-field='h-{esc(name)}'"
            f" data-chip='c-{esc(name)}' data-reveal='{delay_ms}' hidden>{opts}</ul>"
            f"<input type='hidden' id='h-{esc(name)}' name='{esc(name)}' value=''>"
            f"<output id='c-{esc(name)}' aria-label='{esc(chip_name)}' hidden></output>")


def checks(group: str, name: str, options: list[str], kind: str, checked: set[str], delay_ms: int = 0) -> str:
    """Radios or checkboxes in equal cells, each named by its own label."""
    role = "radiogroup" if kind == "radio" else "group"
    cells = "".join(f"<label class='cell'><input type='{kind}' name='{esc(name)}' value='{esc(o)}'"
                    f"{' checked' if o in checked else ''}>{esc(o)}</label>" for o in options)
    return (f"<div role='{role}' aria-label='{esc(group)}' class='cells' data-reveal='{delay_ms}'"
            f"{' hidden' if delay_ms else ''}>{cells}</div>")


def button_row(buttons: list[str]) -> str:
    return f"<div class='cells'>{''.join(buttons)}</div>"


def submit(name: str, primary: bool = True, needs: str = "", action: str = "", test_id: str = "",
           confirm: bool = False) -> str:
    """A form button. ``needs``: hidden input ids that must be filled before it is enabled;
    ``action``: another URL it posts to; ``confirm``: it opens the "Are you sure?" dialog instead."""
    attrs = " type='button' data-confirm='confirm'" if confirm else " type='submit'"
    attrs += " class='primary'" if primary else ""
    attrs += f" data-needs='{esc(needs)}' disabled" if needs else ""
    attrs += f" formaction='{esc(action)}' formmethod='post'" if action else ""
    attrs += f" data-testid='{esc(test_id)}'" if test_id else ""
    return f"<button{attrs}>{esc(name)}</button>"


def confirm_dialog(form_id: str, question: str) -> str:
    """The injected "Are you sure?" step: the side effect happens only on Confirm."""
    return (f"<div id='confirm' hidden><div class='veil'></div><div class='box' role='dialog' aria-modal='true'"
            f" aria-label='Are you sure?'><p>{esc(question)}</p><div class='cells'>"
            f"<button type='submit' class='primary' form='{esc(form_id)}'>Confirm</button>"
            f"<button type='button' data-close='confirm'>Cancel</button></div></div></div>")


def cookie_banner(style: Style) -> str:
    prose = style.words("cookies", ("We use cookies to remember your searches.",
                                    "This site stores a cookie with your preferences.",
                                    "Cookies help us keep your settings."))
    return (f"<div id='cookies'><div class='veil'></div><div class='box' role='dialog' aria-modal='true'"
            f" aria-label='Cookies'><p>{esc(prose)}</p><div class='cells'>"
            f"<button type='button' class='primary' data-event='cookies_accepted' data-close='cookies'>"
            f"Accept cookies</button></div></div></div>")


# One script for every page. Events with a side effect are reported with a synchronous request,
# so the server has them before the click handler returns (and before any next step).
SCRIPT = r"""
function report(kind, data) {
  var x = new XMLHttpRequest(); x.open('POST', '/api/event', false);
  x.setRequestHeader('Content-Type', 'application/json');
  x.send(JSON.stringify(Object.assign({kind: kind}, data || {})));
}
function later(ms, fn) { if (+ms > 0) setTimeout(fn, +ms); else fn(); }
function update() {
  document.querySelectorAll('[data-needs]').forEach(function (b) {
    b.disabled = !b.dataset.needs.split(' ').every(function (id) { return document.getElementById(id).value; });
  });
}
document.querySelectorAll('[data-reveal]').forEach(function (el) {
  later(el.dataset.reveal, function () { el.hidden = false; });
});
document.querySelectorAll('[role=listbox][data-field]').forEach(function (lb) {
  var field = document.getElementById(lb.dataset.field), chip = document.getElementById(lb.dataset.chip);
  var input = lb.dataset.input ? document.getElementById(lb.dataset.input) : null, timer = null;
  lb.querySelectorAll('[role=option]').forEach(function (o) {
    o.addEventListener('click', function () {
      lb.querySelectorAll('[role=option]').forEach(function (p) {
        if (p.hasAttribute('aria-selected')) p.setAttribute('aria-selected', p === o ? 'true' : 'false');
      });
      field.value = o.dataset.value; chip.textContent = o.dataset.value; chip.hidden = false;
      if (input) { input.value = o.dataset.value; lb.hidden = true; }
      update();
    });
  });
  if (!input) return;
  input.addEventListener('input', function () {
    field.value = ''; chip.hidden = true; lb.hidden = true; update(); clearTimeout(timer);
    var q = input.value.trim().toLowerCase();
    if (!q) return;
    timer = setTimeout(function () {
      var any = false;
      lb.querySelectorAll('[role=option]').forEach(function (o) {
        o.hidden = o.dataset.value.toLowerCase()[0] !== q[0]; any = any || !o.hidden;
      });
      lb.hidden = !any;
    }, +lb.dataset.delay);
  });
});
document.querySelectorAll('[role=tab]').forEach(function (t) {
  t.addEventListener('click', function () {
    document.querySelectorAll('[role=tab]').forEach(function (u) {
      u.setAttribute('aria-selected', u === t ? 'true' : 'false');
      document.getElementById(u.getAttribute('aria-controls')).hidden = u !== t;
    });
    report('tab_opened', {city: t.dataset.city, tab: t.dataset.tab});
    var panel = document.getElementById(t.getAttribute('aria-controls'));
    later(panel.dataset.delay, function () { panel.querySelector('output').hidden = false; });
  });
});
document.querySelectorAll('[data-confirm]').forEach(function (b) {
  b.addEventListener('click', function () { document.getElementById(b.dataset.confirm).hidden = false; });
});
document.querySelectorAll('[data-close]').forEach(function (b) {
  b.addEventListener('click', function () {
    if (b.dataset.event) report(b.dataset.event);
    document.getElementById(b.dataset.close).hidden = true;
  });
});
update();
"""
