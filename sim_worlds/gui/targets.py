"""What can be clicked and how it is said: the target vocabulary and the instruction parser.

Target ids (``data-target`` on the page): ``home_button``, ``search_button``, ``cart_button``,
``settings_button``, ``help_button``, ``search_box``, ``form_name``, ``form_email``,
``form_submit``, ``form_cancel``, ``product_r{1-3}c{1-4}``. Tasks (for the evaluation):
``button``, ``search_box``, ``form``, ``product``.

``parse_target`` accepts an optional verb ("click", "press", "tap", "select", "click on") and
then one of the phrasings in ``TEMPLATES`` (case and a final period ignored), and freer wordings
of them: the key words of a target in any frame, a product cell by row and column in either
order or as "the second card in the first row"; anything it cannot map to a target raises
``UnknownTarget`` with the reason, before anything moves (``Unrecognised`` when it reads no
target at all).
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


class Unrecognised(UnknownTarget):
    """No wording the parser reads: neither a click it cannot do nor a cell off the grid, so a
    learned policy that knows freer wordings may still take it (``seal_nodes.nodes.gui``)."""


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


_COL = r"col(?:umn)?"
_CARD = r"(?:product\s+card|product|card|tile|item|one)s?"
_N = r"(\d+(?:st|nd|rd|th)?|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)"
# (pattern, which group is the row): row then column, column then row, "the second card in the first
# row", "the first row, the second one".
_CELL = ((re.compile(rf"\b{_N}\s+row\W+(?:and\s+)?(?:the\s+)?{_N}\s+{_COL}\b"), 1),
         (re.compile(rf"\brow\s+{_N}\W+(?:and\s+)?{_COL}\s+{_N}\b"), 1),
         (re.compile(rf"\b{_N}\s+{_COL}\W+(?:and\s+)?(?:the\s+)?{_N}\s+row\b"), 2),
         (re.compile(rf"\b{_COL}\s+{_N}\W+(?:and\s+)?row\s+{_N}\b"), 2),
         (re.compile(rf"\b{_N}\s+{_CARD}\s+(?:in|of|on|from)\s+(?:the\s+)?{_N}\s+row\b"), 2),
         (re.compile(rf"\b{_N}\s+{_CARD}\s+(?:in|of|on|from)\s+row\s+{_N}\b"), 2),
         (re.compile(rf"\b{_N}\s+row\W+(?:the\s+)?{_N}\s+{_CARD}\b"), 1))


def _number(word: str) -> int:
    """1 for "first", "1st" or "1"; 0 for an ordinal past the grid ("fifth")."""
    digits = re.match(r"\d+", word)
    return int(digits.group()) if digits else _ORD.get(word, 0)


def _cell(t: str) -> tuple[str, str] | None:
    """(row word, column word) of a product cell named in ``t``, or None."""
    for pattern, row_group in _CELL:
        m = pattern.search(t)
        if m:
            return (m.group(1), m.group(2)) if row_group == 1 else (m.group(2), m.group(1))
    return None


def parse_target(text: str) -> str:
    """Instruction -> target id; raises UnknownTarget with a reason a person can act on."""
    if not isinstance(text, str) or not text.strip():
        raise UnknownTarget("empty instruction: say what to click, e.g. 'click the search button'")
    t = normalize(text)
    verb = re.match(r"^(type|enter|write|fill|scroll|drag|swipe|double[- ]click|right[- ]click)\b", t)
    if verb:
        raise UnknownTarget(f"cannot {verb.group(1)} yet: the mouse policy only clicks ({text!r})")
    cell = _cell(t)
    if cell:
        (r_word, c_word), (r, c) = cell, (_number(g) for g in cell)
        if not (1 <= r <= MAX_ROWS and 1 <= c <= MAX_COLS):
            raise UnknownTarget(f"no product at row {r_word}, column {c_word}: the grid has at most "
                                f"{MAX_ROWS} rows and {MAX_COLS} columns")
        return f"product_r{r}c{c}"
    words = set(re.findall(r"[a-z]+", t)) | ({"search"} if "searching" in t else set())
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
    raise Unrecognised(f"no such target on the page: {text!r} (known: {known})")
