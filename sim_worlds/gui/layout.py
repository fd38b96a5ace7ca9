"""Seeded random GUI pages: a toolbar of labelled icon buttons, a search box, a product grid
and a form, with random placement, sizes and themes; rendered as one HTML page.

Every clickable widget carries ``data-target`` = its target id (the vocabulary in
``sim_worlds.gui.targets``). Widgets are absolutely positioned with fixed sizes, so the layout
computed here is where Chromium draws them; the world still reads the real boxes from the DOM.
A page-level capture listener records which target received each real click in
``window.__seal_clicks`` (the success judge) and flashes the clicked widget (a visible change).
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np

VIEWPORT = (640, 400)  # width, height in CSS pixels
BUTTONS = ("home", "search", "cart", "settings", "help")
FORM_FIELDS = ("name", "email", "submit", "cancel")
MAX_ROWS, MAX_COLS = 3, 4

THEMES = (  # page, panel, text, button bg, button fg, accent (submit), card
    ("#ffffff", "#f1f3f5", "#212529", "#e9ecef", "#212529", "#0d6efd", "#dee2e6"),
    ("#1e1e2e", "#2a2a3c", "#e0e0f0", "#3a3a52", "#f0f0ff", "#89b4fa", "#45475a"),
    ("#fdf6e3", "#eee8d5", "#586e75", "#e4dcc4", "#073642", "#cb4b16", "#d9cfb0"),
    ("#0f2027", "#203a43", "#d8eef5", "#2c5364", "#ffffff", "#2ecc71", "#35606f"),
    ("#fff0f6", "#ffe3ef", "#5c2340", "#ffd6e7", "#5c2340", "#c2255c", "#fcc2d7"),
    ("#f4fce3", "#e9fac8", "#2b3a12", "#d8f5a2", "#2b3a12", "#5c940d", "#c0eb75"),
)

# Simple SVG icons (24x24 viewBox), stroked in the button's text colour.
ICONS = {
    "home": '<path d="M3 12 L12 3 L21 12 M6 10 V21 H18 V10" fill="none"/>',
    "search": '<circle cx="10" cy="10" r="6" fill="none"/><path d="M14.5 14.5 L21 21"/>',
    "cart": '<path d="M2 4 H6 L9 16 H19 L21 8 H7" fill="none"/><circle cx="10" cy="20" r="1.6"/>'
            '<circle cx="18" cy="20" r="1.6"/>',
    "settings": '<circle cx="12" cy="12" r="4" fill="none"/><path d="M12 2 V6 M12 18 V22 M2 12 H6 M18 12 H22 '
                'M5 5 L8 8 M16 16 L19 19 M5 19 L8 16 M16 8 L19 5"/>',
    "help": '<circle cx="12" cy="12" r="9" fill="none"/><path d="M9 9 Q9 6 12 6 Q15 6 15 9 Q15 11 12 12 V14" '
            'fill="none"/><circle cx="12" cy="17.5" r="1.2"/>',
}
LABELS = {"home": "Home", "search": "Search", "cart": "Cart", "settings": "Settings", "help": "Help"}


@dataclass
class Widget:
    target: str  # the target id (data-target)
    kind: str  # button | searchbox | card | input | formbutton | text
    x: float
    y: float
    w: float
    h: float
    label: str = ""

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2


@dataclass
class Layout:
    seed: int
    theme: int
    widgets: list[Widget]
    rows: int
    cols: int
    height: int = VIEWPORT[1]  # page height (taller than the viewport when a target is off screen)
    decor: list[tuple[float, float, float, float, str]] = field(default_factory=list)  # panels, text

    def widget(self, target: str) -> Widget | None:
        return next((w for w in self.widgets if w.target == target), None)

    @property
    def targets(self) -> list[str]:
        return [w.target for w in self.widgets]


def _button_width(rng: np.random.Generator, name: str) -> float:
    return float(34 + 7.5 * len(LABELS[name]) + rng.integers(4, 20))


def generate(seed: int, offscreen: str | None = None) -> Layout:
    """A random page; ``offscreen``: put that target below the visible part of the page."""
    rng = np.random.default_rng(seed)
    vw, vh = VIEWPORT
    theme = int(rng.integers(len(THEMES)))
    widgets: list[Widget] = []
    decor: list[tuple[float, float, float, float, str]] = []
    order = list(rng.permutation(BUTTONS))
    bh = float(rng.integers(26, 36))
    place = str(rng.choice(["top", "bottom", "left"]))
    search_w = float(rng.integers(110, 170))
    main = [10.0, 10.0, vw - 10.0, vh - 10.0]  # x0, y0, x1, y1 of the area left for grid + form
    if place in ("top", "bottom"):
        widths = [_button_width(rng, n) for n in order]
        slack = vw - 20 - sum(widths) - search_w
        gaps = rng.dirichlet(np.ones(len(order) + 2)) * max(slack, 0)
        y = float(rng.integers(6, 18)) if place == "top" else float(vh - bh - rng.integers(6, 18))
        x = 10.0 + gaps[0]
        slots = list(order) + ["searchbox"]
        pos_search = int(rng.integers(len(slots)))
        slots.insert(pos_search, slots.pop())
        wi = iter(widths)
        for k, name in enumerate(slots):
            if name == "searchbox":
                widgets.append(Widget("search_box", "searchbox", x, y, search_w, bh, "Search…"))
                x += search_w
            else:
                w = next(wi)
                widgets.append(Widget(f"{name}_button", "button", x, y, w, bh, LABELS[name]))
                x += w
            x += gaps[k + 1] if k + 1 < len(gaps) else 0
        decor.append((0, y - 6, vw, bh + 12, "panel"))
        if place == "top":
            main[1] = y + bh + 16
        else:
            main[3] = y - 16
    else:
        bw = max(_button_width(rng, n) for n in order)
        x = float(rng.integers(6, 16))
        gap = float(rng.integers(6, 22))
        y = float(rng.integers(8, 40))
        for name in order:
            widgets.append(Widget(f"{name}_button", "button", x, y, bw, bh, LABELS[name]))
            y += bh + gap
        decor.append((0, 0, x + bw + 6, vh, "panel"))
        main[0] = x + bw + 20
        sx = main[0] + float(rng.integers(0, max(1, int(vw - 10 - main[0] - search_w))))
        sy = float(rng.integers(8, 20))
        widgets.append(Widget("search_box", "searchbox", sx, sy, search_w, bh, "Search…"))
        main[1] = sy + bh + 14
    # Grid and form side by side in the main area, in random order.
    rows, cols = int(rng.integers(2, MAX_ROWS + 1)), int(rng.integers(2, MAX_COLS + 1))
    form_w = float(rng.integers(160, 210))
    fh_field = float(rng.integers(24, 30))
    form_h = 28 + 2 * (16 + fh_field + 8) + fh_field + 16
    ax0, ay0, ax1, ay1 = main
    grid_first = bool(rng.integers(2))
    avail_grid_w = ax1 - ax0 - form_w - 24
    gap = float(rng.integers(6, 14))
    cw = float(min(rng.integers(46, 80), (avail_grid_w - (cols - 1) * gap) / cols))
    ch = float(min(rng.integers(40, 64), (ay1 - ay0 - (rows - 1) * gap) / rows))
    grid_w, grid_h = cols * cw + (cols - 1) * gap, rows * ch + (rows - 1) * gap
    free = ax1 - ax0 - grid_w - form_w
    split = float(rng.uniform(0.25, 0.75)) * max(free, 0)
    if grid_first:
        gx, fx = ax0 + float(rng.uniform(0, split)), ax0 + grid_w + split + float(rng.uniform(0, max(free - split, 0)))
    else:
        fx, gx = ax0 + float(rng.uniform(0, split)), ax0 + form_w + split + float(rng.uniform(0, max(free - split, 0)))
    gy = ay0 + float(rng.uniform(0, max(ay1 - ay0 - grid_h, 0)))
    fy = ay0 + float(rng.uniform(0, max(ay1 - ay0 - form_h, 0)))
    for r in range(rows):
        for c in range(cols):
            price = f"${int(rng.integers(3, 99))}"
            widgets.append(Widget(f"product_r{r + 1}c{c + 1}", "card", gx + c * (cw + gap), gy + r * (ch + gap),
                                  cw, ch, price))
    decor.append((fx - 8, fy - 8, form_w + 16, form_h + 16, "panel"))
    decor.append((fx, fy, form_w, 20, "title"))
    y = fy + 28
    for name, label in (("name", "Name"), ("email", "Email")):
        decor.append((fx, y, form_w, 14, "label:" + label))
        widgets.append(Widget(f"form_{name}", "input", fx, y + 16, form_w, fh_field, ""))
        y += 16 + fh_field + 8
    fbw = (form_w - 10) / 2
    first = bool(rng.integers(2))
    sxs = (fx, fx + fbw + 10) if first else (fx + fbw + 10, fx)
    widgets.append(Widget("form_submit", "formbutton", sxs[0], y + 6, fbw, fh_field + 2, "Submit"))
    widgets.append(Widget("form_cancel", "formbutton", sxs[1], y + 6, fbw, fh_field + 2, "Cancel"))
    layout = Layout(seed, theme, widgets, rows, cols, vh, decor)
    if offscreen is not None:
        w = layout.widget(offscreen)
        if w is None:
            raise ValueError(f"no target {offscreen!r} on this page")
        w.y = vh + 300 + float(rng.integers(0, 200))
        layout.height = int(w.y + w.h + 200)
    return layout


def to_html(layout: Layout) -> str:
    bg, panel, text, bbg, bfg, accent, card = THEMES[layout.theme]
    rng = np.random.default_rng(layout.seed + 7)
    parts = []

    def box(x: float, y: float, w: float, h: float) -> str:
        return f"left:{x:.1f}px;top:{y:.1f}px;width:{w:.1f}px;height:{h:.1f}px;"

    for x, y, w, h, kind in layout.decor:
        if kind == "panel":
            parts.append(f'<div class="panel" style="{box(x, y, w, h)}"></div>')
        elif kind == "title":
            parts.append(f'<div class="title" style="{box(x, y, w, h)}">{rng.choice(["Sign up", "Contact us", "Newsletter", "Your details"])}</div>')
        elif kind.startswith("label:"):
            parts.append(f'<div class="lbl" style="{box(x, y, w, h)}">{html.escape(kind[6:])}</div>')
    for wd in layout.widgets:
        t = html.escape(wd.target)
        st = box(wd.x, wd.y, wd.w, wd.h)
        if wd.kind == "button":
            icon = ICONS[wd.target.split("_")[0]]
            parts.append(f'<button class="btn" data-target="{t}" id="{t}" style="{st}"><svg viewBox="0 0 24 24" '
                         f'width="18" height="18">{icon}</svg><span>{html.escape(wd.label)}</span></button>')
        elif wd.kind == "searchbox":
            parts.append(f'<input class="search" data-target="{t}" id="{t}" style="{st}" placeholder="Search…">')
        elif wd.kind == "card":
            hue = int(rng.integers(0, 360))
            parts.append(f'<div class="card" data-target="{t}" id="{t}" style="{st}"><div class="img" '
                         f'style="background:hsl({hue},55%,62%)"></div><div class="price">{html.escape(wd.label)}</div></div>')
        elif wd.kind == "input":
            parts.append(f'<input class="field" data-target="{t}" id="{t}" style="{st}">')
        elif wd.kind == "formbutton":
            cls = "primary" if wd.target == "form_submit" else "secondary"
            parts.append(f'<button class="{cls}" data-target="{t}" id="{t}" style="{st}">{html.escape(wd.label)}</button>')
    css = f"""
html,body{{margin:0;padding:0;background:{bg};color:{text};font:13px/1.2 'DejaVu Sans',sans-serif;
 overflow:hidden;height:{layout.height}px;position:relative}}
*{{box-sizing:border-box}}
div,button,input{{position:absolute}}
.panel{{background:{panel};border-radius:6px}}
.title{{font-weight:bold;font-size:15px}}
.lbl{{font-size:12px;opacity:.85}}
.btn{{display:flex;align-items:center;gap:5px;padding:0 8px;border:1px solid {bfg}33;border-radius:5px;
 background:{bbg};color:{bfg};font:13px 'DejaVu Sans',sans-serif;cursor:pointer}}
.btn span,.btn svg{{position:static}}
.btn svg{{stroke:{bfg};fill:{bfg};stroke-width:2.2;stroke-linecap:round;flex:none}}
.search,.field{{border:1px solid {text}66;border-radius:4px;background:{bg};color:{text};padding:0 8px;
 font:13px 'DejaVu Sans',sans-serif}}
.search{{border-radius:14px}}
.card{{background:{card};border-radius:5px;cursor:pointer;overflow:hidden}}
.card .img{{left:4px;right:4px;top:4px;bottom:18px;border-radius:3px}}
.card .price{{left:0;right:0;bottom:2px;text-align:center;font-size:11px}}
.primary{{background:{accent};color:#fff;border:none;border-radius:5px;font:bold 13px 'DejaVu Sans',sans-serif}}
.secondary{{background:transparent;color:{text};border:1px solid {text}88;border-radius:5px;
 font:13px 'DejaVu Sans',sans-serif}}
.clicked{{outline:3px solid #f59f00;outline-offset:1px}}
"""
    script = """
window.__seal_gui = true; window.__seal_clicks = [];
document.addEventListener('click', function (e) {
  var el = e.target && e.target.closest ? e.target.closest('[data-target]') : null;
  window.__seal_clicks.push({target: el ? el.getAttribute('data-target') : '', x: e.clientX, y: e.clientY,
                             trusted: e.isTrusted});
  if (el) { el.classList.add('clicked'); }
  e.preventDefault();
}, true);
"""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>SEAL GUI world {layout.seed}</title>"
            f"<style>{css}</style></head><body>{''.join(parts)}<script>{script}</script></body></html>")
