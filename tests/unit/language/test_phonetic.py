"""Phonetic keys and similarity: the sound-alikes a recogniser writes score high, others low."""
from __future__ import annotations

import pytest

from seal_nodes.core.language.phonetic import closest, phonetic_key, phrase_key, similarity

pytestmark = pytest.mark.unit

VERBS = ("pick", "grab", "take", "lift", "drop", "push", "point", "place", "stop")
COLORS = ("red", "green", "blue", "yellow", "orange", "purple")


@pytest.mark.parametrize("a, b", [("blew", "blue"), ("read", "reed"), ("right", "write"), ("phone", "fone"),
                                  ("cube", "kube"), ("been", "bin"), ("knock", "nock")])
def test_spellings_of_one_sound_share_a_key(a, b):
    assert phonetic_key(a) == phonetic_key(b)
    assert similarity(a, b) == 1.0


@pytest.mark.parametrize("heard, meant", [("ramp", "grab"), ("read", "red"), ("pig", "pick"), ("blew", "blue"),
                                          ("crab", "grab"), ("paint", "point"), ("grin", "green"),
                                          ("tube", "cube"), ("lift", "left")])
def test_sound_alikes_are_similar(heard, meant):
    assert similarity(heard, meant) >= 0.6


@pytest.mark.parametrize("a, b", [("ramp", "push"), ("cube", "weather"), ("red", "blue"), ("pick", "home"),
                                  ("green", "stop")])
def test_different_words_are_not(a, b):
    assert similarity(a, b) < 0.35


@pytest.mark.parametrize("heard, vocabulary, meant", [("ramp", VERBS, "grab"), ("pig", VERBS, "pick"),
                                                      ("read", COLORS, "red"), ("blew", COLORS, "blue"),
                                                      ("yellowy", COLORS, "yellow"), ("people", COLORS, "purple")])
def test_closest_finds_the_word_meant(heard, vocabulary, meant):
    assert closest(heard, vocabulary)[0][0] == meant


def test_closest_honours_its_floor_and_orders_by_similarity():
    found = closest("ramp", VERBS, at_least=0.5)
    assert [w for w, _ in found][:1] == ["grab"]
    assert all(s >= 0.5 for _, s in found)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert closest("weather", COLORS, at_least=0.6) == []


def test_similarity_is_symmetric_and_bounded():
    words = ("ramp", "grab", "read", "red", "cube", "queue", "stop", "", "x")
    for a in words:
        for b in words:
            s = similarity(a, b)
            assert 0.0 <= s <= 1.0
            assert s == pytest.approx(similarity(b, a))
    assert similarity("", "red") == 0.0 and similarity("", "") == 1.0


def test_phrases_sound_like_their_words_run_together():
    assert phrase_key("pick up") == phrase_key("pickup")
    assert similarity("pick up", "pig cup") >= 0.7
    assert similarity("Pick-up!", "pickup") == 1.0  # case and punctuation are not sounds
