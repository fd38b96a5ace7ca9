"""What can be clicked and how it is said: the target vocabulary and the instruction parser.

Target ids (``data-target`` on the page): ``home_button``, ``search_button``, ``cart_button``,
``settings_button``, ``help_button``, ``search_box``, ``form_name``, ``form_email``,
``form_submit``, ``form_cancel``, ``product_r{1-3}c{1-4}``. Tasks (for the evaluation):
``button``, ``search_box``, ``form``, ``product``.

``parse_target`` accepts an optional verb ("click", "press", "tap", "select", "click on") and
then one of the phrasings in ``TEMPLATES`` (case and a final period ignored); anything it cannot
map to a target raises ``UnknownTarget`` with the reason, before anything moves.
"""
from __future__ import annotations

import re

from sim_worlds.gui.layout import BUTTONS, MAX_COLS, MAX_ROWS

ORDINALS = ("first", "second", "third", "fourth")
TASKS = ("button", "search_box", "form", "product")

# Phrasings used for training (each also with a leading "click "); {name}/{row}/{col} slots.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "button": ("the {name} button", "the {name} icon", "{name} button", "the {name} icon in the toolbar"),
    "search_box": ("the search box", "the search field", "the search input"),
    "form": ("the {field} of the form", "the form's {field}", "{field} in the form"),
    "product": ("the product in the {row} row, {col} column", "the product in row {rown}, column {coln}",
                "the {row} row, {col} column product"),
}
FORM_PHRASES = {"form_submit": "submit button", "form_cancel": "cancel button", "form_name": "name field",
                "form_email": "email field"}


class UnknownTarget(ValueError):
    """An instruction that names nothing on the GUI vocabulary."""


def task_of(target: str) -> str:
    if target.endswith("_button") and target.split("_")[0] in BUTTONS:
        return "button"
    if target == "search_box":
        return "search_box"
    if target.startswith("form_"):
        return "form"
    if target.startswith("product_"):
        return "product"
    raise UnknownTarget(f"unknown target id {target!r}")


def all_targets() -> list[str]:
    out = [f"{b}_button" for b in BUTTONS] + ["search_box"] + list(FORM_PHRASES)
    out += [f"product_r{r}c{c}" for r in range(1, MAX_ROWS + 1) for c in range(1, MAX_COLS + 1)]
    return out


def phrasings(target: str) -> list[str]:
    """Every training phrasing of a target (without and with "click ")."""
    task = task_of(target)
    out = []
    for tmpl in TEMPLATES[task]:
        if task == "button":
            s = tmpl.format(name=target.split("_")[0])
        elif task == "form":
            s = tmpl.format(field=FORM_PHRASES[target])
        elif task == "product":
            r, c = int(target[9]), int(target[11])
            s = tmpl.format(row=ORDINALS[r - 1], col=ORDINALS[c - 1], rown=r, coln=c)
        else:
            s = tmpl
        out += [s, "click " + s]
    return out


def canonical(target: str) -> str:
    """The one phrasing the thinker should send ("click …")."""
    return "click " + phrasings(target)[0]


_VERB = re.compile(r"^(please\s+)?(click\s+on|click|press|tap|hit|select|choose|push)\s+")
_ORD = {w: i + 1 for i, w in enumerate(ORDINALS)} | {"1st": 1, "2nd": 2, "3rd": 3, "4th": 4}


def normalize(text: str) -> str:
    t = " ".join(str(text).lower().replace("’", "'").strip().rstrip(".!?").split())
    return _VERB.sub("", t)


def parse_target(text: str) -> str:
    """Instruction -> target id; raises UnknownTarget with a reason a person can act on."""
    if not isinstance(text, str) or not text.strip():
        raise UnknownTarget("empty instruction: say what to click, e.g. 'click the search button'")
    t = normalize(text)
    verb = re.match(r"^(type|enter|write|fill|scroll|drag|swipe|double[- ]click|right[- ]click)\b", t)
    if verb:
        raise UnknownTarget(f"cannot {verb.group(1)} yet: the mouse policy only clicks ({text!r})")
    m = re.search(r"(\w+)\s+row\W+(?:and\s+)?(?:the\s+)?(\w+)\s+column", t) or \
        re.search(r"row\s+(\w+)\W+(?:and\s+)?column\s+(\w+)", t)
    if m and ("product" in t or "item" in t or "row" in t):
        r, c = (_ORD.get(g, int(g) if g.isdigit() else 0) for g in m.groups())
        if not (1 <= r <= MAX_ROWS and 1 <= c <= MAX_COLS):
            raise UnknownTarget(f"no product at row {m.group(1)}, column {m.group(2)}: the grid has at most "
                                f"{MAX_ROWS} rows and {MAX_COLS} columns")
        return f"product_r{r}c{c}"
    words = set(re.findall(r"[a-z]+", t))
    if "form" in words or words & {"submit", "cancel", "email", "name"} and not words & set(BUTTONS):
        for target, phrase in FORM_PHRASES.items():
            if phrase.split()[0] in words:
                return target
    if "search" in words and words & {"box", "field", "input", "bar"}:
        return "search_box"
    named = [b for b in BUTTONS if b in words or (b == "settings" and "setting" in words)]
    if len(named) == 1 and words & {"button", "icon", named[0]}:
        return f"{named[0]}_button"
    known = ", ".join(canonical(x) for x in all_targets()[:7]) + ", click the product in the first row, second column"
    raise UnknownTarget(f"no such target on the page: {text!r} (known: {known})")
