"""Paraphrases of instruction templates: seeded, distinct, slots and meaning kept, exclusions honoured."""
from __future__ import annotations

import pytest

from seal_nodes.core.language.wording import canonical, color_words, directions, paraphrases, plain

pytestmark = pytest.mark.unit

TEMPLATES = {
    "pick": ["pick up the {color} cube", "grab the {color} block", "lift the {color} cube"],
    "place": ["put the {color} cube in the bin", "drop the {color} cube in the bin"],
    "push_left": ["push the {color} cube left", "push the {color} block to the left"],
    "push_right": ["push the {color} block to the right"],
    "point": ["point at the {color} cube"],
    "home": ["go home", "go to home"],
}
ALL = [(task, t) for task, ts in TEMPLATES.items() for t in ts]


def test_the_same_seed_gives_the_same_wordings_and_another_seed_others():
    a = paraphrases("pick up the {color} cube", 40, seed=3)
    assert a == paraphrases("pick up the {color} cube", 40, seed=3)
    b = paraphrases("pick up the {color} cube", 40, seed=4)
    assert a[0] == b[0] == "pick up the {color} cube" and a != b


@pytest.mark.parametrize("task, template", ALL)
def test_wordings_are_distinct_and_keep_the_slot_and_the_task(task, template):
    out = paraphrases(template, 60, seed=0)
    assert out[0] == template and len(out) == 60
    assert len({canonical(w) for w in out}) == len(out)  # distinct beyond articles and commas
    for w in out:
        assert w.count("{color}") == template.count("{color}"), w
        filled = w.format(color="green")
        assert color_words(filled) == (["green"] if "{color}" in template else []), w
        side = task.partition("_")[2]
        assert directions(filled) == ({side} if side else set()), w
        words = set(canonical(w).split())
        if task == "place":
            assert words & {"bin", "basket"}, w
        else:
            assert not words & {"bin", "basket"}, w
        if task == "home":
            assert "home" in words, w


def test_the_kinds_of_change_all_occur():
    out = paraphrases("pick up the {color} cube", 200, seed=0)
    assert any(w.startswith(("please ", "could you ", "would you ")) for w in out)  # politeness
    assert any(w.startswith(("um", "uh", "okay so")) for w in out)  # fillers
    assert any(w.endswith(" up") and "{color}" in w for w in out)  # the particle moved
    assert any(w.startswith("the {color}") and "," in w for w in out)  # the object fronted
    assert any("that is {color}" in w or "coloured" in w or "colored" in w for w in out)  # colour after
    assert any(canonical(w).split()[0] in ("grab", "take", "grasp", "get", "fetch") for w in out)  # synonyms


def test_excluded_wordings_never_come_out_in_any_spelling():
    made = paraphrases("put the {color} cube in the bin", 80, seed=0)
    held = made[5]
    respelled = held.replace("the ", "a ", 1).upper() + "."  # articles, case, punctuation do not count
    again = paraphrases("put the {color} cube in the bin", 80, seed=0, exclude=[respelled])
    assert canonical(held) not in {canonical(w) for w in again} and len(again) == 80


def test_bad_count_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        paraphrases("go home", 0)


@pytest.mark.parametrize("text, bare", [
    ("Um, could you grab the red cube, please?", "grab the red cube"),
    ("okay so, robot, put the green cube in the bin thank you", "put the green cube in the bin"),
    ("would you please point at, er, a blue block?", "point at a blue block"),
    ("go home now", "go home"),
])
def test_plain_keeps_only_the_request(text, bare):
    assert plain(text) == bare


def test_colours_and_sides_are_read_from_the_words():
    assert color_words("the purple cube, not the Red one") == ["purple", "red"]
    assert directions("shove it to the left-hand side") == {"left"}
    assert directions("push it rightwards") == {"right"}
    assert directions("point at the blue cube") == set()
