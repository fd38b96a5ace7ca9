"""Free wordings for the mouse policy: seeded, new, and never a held-out test wording."""
from __future__ import annotations

import json

import pytest

from seal_nodes.core.language.wording import canonical as bare
from sim_worlds.gui.targets import UnknownTarget, Unrecognised, all_targets, parse_target, phrasings, task_of
from sim_worlds.gui.wording import UNSEEN_FILE, paraphrases
from vla_policy.mouse.evaluate import fill, read_templates
from vla_policy.mouse.runtime import CARD_FILE, GUI_WEIGHTS
from vla_policy.mouse.train import free_wordings

pytestmark = pytest.mark.unit


def held_out() -> set[str]:
    return {bare(fill(tmpl, t)) for task, tmpls in read_templates(UNSEEN_FILE).items() for tmpl in tmpls
            for t in all_targets() if task_of(t) == task}


def test_paraphrases_are_seeded_distinct_and_new():
    a, b = paraphrases("product_r2c3", 30, seed=1), paraphrases("product_r2c3", 30, seed=1)
    assert a == b and len(a) == 30 and a != paraphrases("product_r2c3", 30, seed=2)
    assert len({bare(x) for x in a}) == 30
    assert not {bare(x) for x in a} & {bare(p) for p in phrasings("product_r2c3")}
    assert all(x == x.lower() and "{" not in x for x in a)
    with pytest.raises(ValueError):
        paraphrases("cart_button", -1)


def test_paraphrases_leave_out_what_they_are_told():
    some = paraphrases("cart_button", 20)
    assert not {bare(x) for x in paraphrases("cart_button", 20, exclude=some[:5])} & {bare(x) for x in some[:5]}


def test_no_held_out_test_wording_is_ever_trained_on():
    held = held_out()
    assert held  # the file fills for every task
    trained = free_wordings(all_targets(), 60)
    assert all(len(trained[t]) == 60 for t in all_targets())
    assert not {bare(w) for ws in trained.values() for w in ws} & held
    card = json.loads((GUI_WEIGHTS / CARD_FILE).read_text())
    assert not {bare(w) for ws in card["phrasings"].values() for w in ws} & held


def test_only_unreadable_wordings_are_left_to_the_learned_policy():
    with pytest.raises(Unrecognised):
        parse_target("click the searchbox")
    for text in ("type hello into the search box", "click the product in the fifth row, first column", ""):
        with pytest.raises(UnknownTarget) as info:
            parse_target(text)
        assert not isinstance(info.value, Unrecognised), text


def test_every_trained_free_wording_parses_back_to_its_target():
    for target, wordings in free_wordings(all_targets(), 60).items():
        for w in wordings:
            assert parse_target(w) == target, w


@pytest.mark.parametrize("text,target", [
    ("the second card in the first row", "product_r1c2"), ("the product in column 4, row 1", "product_r1c4"),
    ("the 2nd row, 3rd column tile", "product_r2c3"), ("row 3, col 1", "product_r3c1"),
    ("the third row, the second one", "product_r3c2"), ("the box for searching", "search_box"),
])
def test_the_parser_reads_cells_in_either_order_and_ordinals_in_a_row(text, target):
    assert parse_target(text) == target


def test_a_cell_past_the_grid_is_refused_in_any_wording():
    for text in ("the fifth product in the third row", "the 5th row, 1st column", "column 1, row 4"):
        with pytest.raises(UnknownTarget, match="at most 3 rows"):
            parse_target(text)
