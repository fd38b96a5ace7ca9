"""ClauseSplitter (speech streamed clause by clause) and Spoken (what the agent really said)."""
from __future__ import annotations

import pytest

from seal_nodes.core.thinking.context import SAY, Segment
from seal_nodes.core.thinking.utterances import MIN_COMMA_WORDS, ClauseSplitter, Spoken

pytestmark = pytest.mark.unit


def split(pieces) -> tuple[list[str], list[str]]:
    c = ClauseSplitter()
    out: list[str] = []
    for p in pieces:
        out += c.feed(p)
    return out, c.flush()


def split_all_ways(text: str) -> tuple[list[str], list[str]]:
    """Whole and char by char must agree; returns the result."""
    whole = split([text])
    assert split(list(text)) == whole
    return whole


# --- clause boundaries ---------------------------------------------------------------------------
@pytest.mark.parametrize("text, clauses, rest", [
    ("Hello there. How are you? Fine!", ["Hello there.", "How are you?"], ["Fine!"]),
    ("Wait; then: go", ["Wait;", "then:"], ["go"]),
    ("Stop! Now.", ["Stop!"], ["Now."]),
    ("Really?!  Yes.", ["Really?!"], ["Yes."]),
    ("One.\nTwo.\tThree", ["One.", "Two."], ["Three"]),
])
def test_sentence_punctuation_then_whitespace_ends_a_clause(text, clauses, rest):
    assert split_all_ways(text) == (clauses, rest)


def test_punctuation_without_following_whitespace_does_not_end_a_clause():
    c = ClauseSplitter()
    assert c.feed("Hello.") == []  # the space may still come
    assert c.feed(" World") == ["Hello."]
    assert c.flush() == ["World"]


@pytest.mark.parametrize("text", ["It is 3.5 meters long", "Version 1.2.3 is out", "Hi.There", "pi is 3.14159"])
def test_decimals_and_inner_dots_do_not_split(text):
    assert split_all_ways(text) == ([], [text])


def test_decimal_fed_across_pieces_does_not_split():
    assert split(["It is 3.", "5 meters. Ok"]) == (["It is 3.5 meters."], ["Ok"])


def test_comma_splits_only_after_enough_words():
    assert MIN_COMMA_WORDS == 4
    assert split_all_ways("Yes, I can. Sure") == (["Yes, I can."], ["Sure"])
    assert split_all_ways("One two three, four") == ([], ["One two three, four"])
    assert split_all_ways("One two three four, five") == (["One two three four,"], ["five"])
    assert split_all_ways("Well, I think that we can, maybe go") == (["Well, I think that we can,"], ["maybe go"])


def test_short_comma_clauses_accumulate_until_long_enough():
    assert split_all_ways("a, b, c, d, e f, g") == (["a, b, c, d,"], ["e f, g"])


def test_comma_without_space_does_not_split():
    assert split_all_ways("one two three four,five six") == ([], ["one two three four,five six"])


@pytest.mark.parametrize("junk", ["[THINKING].", "[THINKING] .", "...", "!", "[EMO:happy]!", "- ."])
def test_tag_or_punctuation_only_text_never_becomes_a_clause(junk):
    c = ClauseSplitter()
    assert c.feed(junk + " ") == []
    assert c.feed("Sure thing. ") == [f"{junk} Sure thing."]
    assert c.flush() == []


@pytest.mark.parametrize("junk", ["[THINKING]", "...", "[THINKING] ...", "  ", "", "[EMO:calm] [THINKING]?"])
def test_flush_of_unspeakable_rest_is_nothing(junk):
    c = ClauseSplitter()
    assert c.feed(junk) == []
    assert c.flush() == []
    assert c.buffer == ""


def test_thinking_tag_stays_with_its_words():
    assert split_all_ways("[THINKING] Hmm. ok") == (["[THINKING] Hmm."], ["ok"])
    assert split_all_ways("[THINKING] . Next one. Then") == (["[THINKING] . Next one."], ["Then"])


def test_flush_returns_the_rest_collapsed_and_resets():
    c = ClauseSplitter()
    assert c.feed("First one. and  the\n rest") == ["First one."]
    assert c.flush() == ["and the rest"]
    assert c.flush() == []
    assert c.feed("Again. x") == ["Again."]


def test_clauses_are_stripped_and_never_empty():
    clauses, rest = split_all_ways("   Hello.    World!   Bye")
    assert clauses == ["Hello.", "World!"]
    assert rest == ["Bye"]
    assert all(c and c == c.strip() for c in clauses)


def test_nothing_is_lost_or_duplicated():
    text = "Okay, [THINKING] let me see. The red cube is at 3.5 cm; the blue one, which is bigger, is left! Done"
    for pieces in ([text], list(text), [text[i:i + 7] for i in range(0, len(text), 7)]):
        clauses, rest = split(pieces)
        assert " ".join(clauses + rest) == " ".join(text.split())


# --- Spoken ---------------------------------------------------------------------------------------
def spoken(*clauses: str, closed: bool = True) -> Spoken:
    seg = Segment(SAY, " ".join(clauses))
    return Spoken(seg, clauses=[f"u{i}" for i in range(len(clauses))], closed=closed)


def test_completed_clauses_do_not_change_the_segment():
    sp = spoken("Hello there.", "How are you?")
    assert sp.resolve("u0", "Hello there.", False) is False
    assert sp.resolve("u1", "How are you?", False) is False
    assert sp.segment.text == "Hello there. How are you?"
    assert sp.segment.interrupted is False
    assert sp.finished


def test_cut_clause_rebuilds_text_from_what_was_played():
    sp = spoken("Hello there.", "The red cube is on the left.", "Anything else?")
    assert sp.resolve("u0", "Hello there.", False) is False
    assert sp.resolve("u1", "The red cube", True) is True
    assert sp.segment.text == "Hello there. The red cube"
    assert sp.segment.interrupted is True
    assert not sp.finished  # u2 still to come
    # the later clause, never played, reports empty and cut: dropped
    sp.resolve("u2", "", True)
    assert sp.segment.text == "Hello there. The red cube"
    assert sp.finished


def test_later_clauses_dropped_even_if_reported_with_text():
    sp = spoken("One.", "Two.", "Three.")
    sp.resolve("u0", "One.", False)
    sp.resolve("u1", "", True)
    sp.resolve("u2", "Three.", True)
    assert sp.segment.text == "One."


def test_first_clause_cut_with_nothing_played_empties_the_segment():
    sp = spoken("Hello there.", "Bye.")
    assert sp.resolve("u0", "", True) is True
    assert sp.segment.text == ""
    assert sp.segment.interrupted


def test_cut_text_uses_what_was_played_not_what_was_meant():
    sp = spoken("Hello there, my friend.")
    sp.resolve("u0", "Hello", True)
    assert sp.segment.text == "Hello"


def test_finished_needs_closed_and_every_clause_resolved():
    sp = spoken("A.", "B.", closed=False)
    sp.resolve("u0", "A.", False)
    sp.resolve("u1", "B.", False)
    assert not sp.finished  # the model may still add clauses
    sp.closed = True
    assert sp.finished
    sp.clauses.append("u2")
    assert not sp.finished


def test_finished_with_no_clauses_once_closed():
    sp = Spoken(Segment(SAY, ""))
    assert not sp.finished
    sp.closed = True
    assert sp.finished


def test_completed_clause_resolved_after_a_later_cut_counts():
    # A held clause (never sent) is resolved as cut at the barge-in before the TTS reports the
    # clause it was playing; if that one had already finished, it was said in full.
    sp = spoken("Hello there.", "How are you?")
    sp.resolve("u1", "", True)
    assert sp.resolve("u0", "Hello there.", False) is True  # the text changed: publish it again
    assert sp.segment.text == "Hello there."
    assert sp.segment.interrupted
    assert sp.finished


def test_cut_clause_resolved_after_a_later_cut():
    sp = spoken("Hello there.", "How are you?")
    sp.resolve("u1", "", True)
    assert sp.resolve("u0", "Hello", True) is True
    assert sp.segment.text == "Hello"
