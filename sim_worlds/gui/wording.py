"""Free wordings of the GUI click instructions: seeded paraphrases of ``targets.phrasings``.

The mouse policy is taught the templates of ``targets.TEMPLATES``; people say "could you tap the
cart one, please" or "the second card in the first row". ``paraphrases`` draws such wordings of a
target: more sentence shapes per task (other nouns, word order, "the … one", ordinals within a
row), a click verb or none, politeness and fillers (``seal_nodes.core.language.wording``'s), and
it never returns a wording in ``exclude`` (the held-out test phrasings). ``read_target`` takes a
wording the parser cannot read when it is near enough a trained one (a learned policy's ``ground``).
"""
from __future__ import annotations

import random
from collections.abc import Callable, Collection
from pathlib import Path

from seal_nodes.core.language.wording import FILLERS, POLITE_PREFIXES, POLITE_SUFFIXES, canonical
from sim_worlds.gui.targets import (FORM_PHRASES, ORDINALS, UnknownTarget, Unrecognised, parse_target, phrasings,
                                    task_of)

# Cosine similarity to the nearest trained phrasing below which a wording the parser cannot read
# is refused: paraphrases of known targets sit above it, requests of the same shape naming
# something else ("click the banana button", "click the search results") below
# (tests/unit/gui/test_gui_policy.py holds both sides).
GROUND_FLOOR = 0.9
UNSEEN_FILE = Path(__file__).with_name("unseen_instructions.txt")  # held out of every training wording
VERBS = ("click", "click on", "press", "tap", "tap on", "select", "choose", "open")
# Sentence shapes beyond the templates; slots as in ``targets.TEMPLATES`` plus {noun} (a product's
# noun), {rowd}/{cold} ("1st"), {fieldname} (the field without "field"/"button").
SHAPES: dict[str, tuple[str, ...]] = {
    "button": ("the {name} one", "{name}", "the button for {name}", "the {name} toolbar button",
               "the {name} button in the toolbar", "the icon for {name}", "the {name} button up top",
               "the toolbar's {name} icon", "that {name} button"),
    "search_box": ("the search bar", "the search text box", "the box for searching", "the search input field",
                   "the field for the search", "the text box to search in", "search box"),
    "form": ("the form {field}", "the {field} on the form", "{field} of the form", "the {field}",
             "the form's {fieldname} one", "the {fieldname} one in the form", "the {field} in the form"),
    "product": ("the {col} {noun} in the {row} row", "the {noun} in the {col} column, {row} row",
                "the {row} row, {col} column one", "the {rowd} row, {cold} column {noun}",
                "the {noun} in row {rown} column {coln}", "row {rown}, column {coln}",
                "the {noun} in the {row} row, {col} column", "the {col} {noun} of the {row} row",
                "{row} row, {col} column", "the {noun} in column {coln}, row {rown}",
                "the {noun} in the {rowd} row, {cold} column", "the {row} row {col} column {noun}",
                "the {noun} that is in row {rown}, column {coln}",
                "the {noun} sitting in the {row} row, {col} column", "the {noun} in the {row} row, the {col} one",
                "{row} row, {col} {noun}"),
}
PRODUCT_NOUNS = ("product", "card", "tile", "product card")
_DIGIT_ORD = ("1st", "2nd", "3rd", "4th")


def _fill(shape: str, target: str, rng: random.Random) -> str:
    task = task_of(target)
    if task == "button":
        return shape.format(name=target.split("_")[0])
    if task == "form":
        field = FORM_PHRASES[target]
        return shape.format(field=field, fieldname=field.split()[0])
    if task == "product":
        r, c = int(target[9]), int(target[11])
        return shape.format(row=ORDINALS[r - 1], col=ORDINALS[c - 1], rown=r, coln=c, rowd=_DIGIT_ORD[r - 1],
                            cold=_DIGIT_ORD[c - 1], noun=rng.choice(PRODUCT_NOUNS))
    return shape


def paraphrase(target: str, rng: random.Random) -> str:
    """One free wording of a click on ``target`` (lower case)."""
    bases = [p for p in phrasings(target) if not p.startswith("click ")]
    shapes = SHAPES[task_of(target)]
    text = rng.choice(bases) if rng.random() < 0.3 else _fill(rng.choice(shapes), target, rng)
    polite = rng.random() < 0.35
    if polite or rng.random() < 0.65:  # "could you the cart one" is no request: politeness takes a verb
        text = f"{rng.choice(VERBS)} {text}"
    if polite:
        prefix = rng.choice(POLITE_PREFIXES)
        text = f"{prefix} {text}" + ("?" if prefix.startswith(("could", "would")) and rng.random() < 0.5 else "")
    elif rng.random() < 0.25:
        suffix = rng.choice(POLITE_SUFFIXES)
        text = f"{text}{suffix}" if suffix.startswith(",") else f"{text} {suffix}"
    if rng.random() < 0.15:
        text = f"{rng.choice(FILLERS)}{rng.choice((' ', ', '))}{text}"
    return text


def paraphrases(target: str, n: int, seed: int = 0, exclude: Collection[str] = (), tries: int = 30) -> list[str]:
    """Up to ``n`` distinct free wordings of ``target``, none of them a training phrasing or in
    ``exclude`` (compared without case, punctuation and articles); the same for the same seed."""
    if n < 0:
        raise ValueError(f"n must be at least 0, got {n}")
    rng = random.Random(f"gui:{seed}:{target}")  # str seeds hash stably across runs
    seen = {canonical(p) for p in phrasings(target)} | {canonical(e) for e in exclude}
    out: list[str] = []
    for _ in range(tries * n):
        if len(out) >= n:
            break
        text = paraphrase(target, rng)
        key = canonical(text)
        if key not in seen:
            seen.add(key)
            out.append(text)
    return out


def read_target(text: str, ground: Callable[[str], tuple[str, float, str]] | None = None,
                floor: float = GROUND_FLOOR) -> str:
    """``parse_target``, else the target of ``ground(text)`` -> (target, similarity, nearest trained
    phrasing) when the similarity reaches ``floor``; ``UnknownTarget`` with the reason otherwise.

    A product cell is only ever read by the parser: sentence embeddings barely tell "first row,
    second column" from "second row, first column", so a nearest phrasing cannot name the cell.
    """
    try:
        return parse_target(text)
    except Unrecognised as exc:
        if ground is None:
            raise
        target, similarity, nearest = ground(text)
        if similarity < floor:
            raise UnknownTarget(f"{exc}; nor is it like a wording the mouse policy knows (nearest: {nearest!r}, "
                                f"similarity {similarity:.2f} < {floor:.2f})") from exc
        if task_of(target) == "product":
            raise UnknownTarget(f"{exc}; for a product say its row and column, e.g. 'the product in the "
                                f"second row, third column'") from exc
        return target
