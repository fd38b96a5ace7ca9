"""TagStreamParser: the thinker's tag protocol parsed incrementally, piece by piece."""
from __future__ import annotations

import random

import pytest

from seal_nodes.core.thinking.tagstream import ACT, SAY, THINK, WAIT, Closed, Opened, Problem, TagStreamParser, Text

pytestmark = pytest.mark.unit


def parse(pieces) -> list:
    p = TagStreamParser()
    out = []
    for piece in pieces:
        out += p.feed(piece)
    return out + p.finish()


def closed(events) -> list[Closed]:
    return [e for e in events if isinstance(e, Closed)]


def problems(events) -> list[Problem]:
    return [e for e in events if isinstance(e, Problem)]


def structural(events) -> list:
    """Everything but the Text deltas (how text is chunked depends on how it was fed)."""
    return [e for e in events if not isinstance(e, Text)]


def text_by_segment(events) -> list[tuple[str, str]]:
    """The Text deltas joined per segment, in order."""
    out: list[tuple[str, str]] = []
    cur = None
    for e in events:
        if isinstance(e, Opened):
            cur = [e.kind, ""]
            out.append(cur)
        elif isinstance(e, Text):
            assert cur is not None
            cur[1] += e.delta
    return [tuple(x) for x in out]


SAMPLES = [
    "<think>The user wants the red cube.</think><assistant>Sure, I'll get it.</assistant>",
    "<think>plan</think><action>pick(object=red_cube)</action>",
    "<assistant><wait></assistant>",
    "<assistant>a < b and c > d</assistant>",
    "<assistant>x <user>y</user> z</assistant>",
    "<think>a<b>bold</b> &amp; &lt;tag&gt;</think>",
    "hello <think>x</think> trailing",
    "<assistant>one<think>two</think>",
    "<assistant>cut off mid",
    "<assistant>a<interrupted/> b</assistant><interrupted>",
    "</think><assistant>ok</assistant>",
    "<assistant>  spaced\n\n out\ttext  </assistant>",
    "<assistant>hi<wait></assistant>",
    "<<think>>x</think>",
    "<assistant>a <ass</assistant>",
    "<think>unfinished <assist",
]


# --- feeding: the split never matters -------------------------------------------------------
@pytest.mark.parametrize("s", SAMPLES)
def test_every_character_split_equals_whole(s):
    whole = parse([s])
    chars = parse(list(s))
    assert structural(chars) == structural(whole)
    assert text_by_segment(chars) == text_by_segment(whole)


@pytest.mark.parametrize("s", [x for x in SAMPLES if len(x) <= 60])
def test_every_two_and_three_piece_split_equals_whole(s):
    expected = structural(parse([s]))
    n = len(s)
    for i in range(1, n):
        assert structural(parse([s[:i], s[i:]])) == expected, (s[:i], s[i:])
    for i in range(1, n, 3):
        for j in range(i + 1, n, 2):
            assert structural(parse([s[:i], s[i:j], s[j:]])) == expected, (i, j)


def test_random_splits_of_random_token_soup_equal_whole():
    alphabet = ["<think>", "</think>", "<assistant>", "</assistant>", "<action>", "</action>", "<wait>",
                "</wait>", "<interrupted/>", "<interrupted>", "</interrupted>", "<", ">", "a", " ", "b c",
                "&amp;", "<user>", "</", "<ass", "\n", "."]
    rng = random.Random(1234)
    for _ in range(2000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))
        whole = structural(parse([s]))
        cuts = sorted(rng.sample(range(1, len(s)), min(len(s) - 1, rng.randint(0, 5)))) if len(s) > 1 else []
        pieces = [s[a:b] for a, b in zip([0] + cuts, cuts + [len(s)])]
        assert structural(parse(pieces)) == whole, (s, pieces)
        assert structural(parse(list(s))) == whole, s


def test_empty_pieces_are_harmless():
    assert structural(parse(["", "<assistant>", "", "hi", "", "</assistant>", ""])) == \
        structural(parse(["<assistant>hi</assistant>"]))


# --- basic segments ---------------------------------------------------------------------------
def test_think_say_act_sequence():
    events = parse(["<think>plan it</think><assistant>On it.</assistant><action>pick(object=red_cube)</action>"])
    assert closed(events) == [Closed(THINK, "plan it"), Closed(SAY, "On it."),
                              Closed(ACT, "pick(object=red_cube)")]
    assert [e for e in events if isinstance(e, Opened)] == [Opened(THINK), Opened(SAY), Opened(ACT)]
    assert problems(events) == []


def test_events_come_as_soon_as_they_are_decidable():
    p = TagStreamParser()
    assert p.feed("<assist") == []  # could still be <assistant>
    assert p.feed("ant>Hel") == [Opened(SAY), Text(SAY, "Hel")]
    assert p.kind == SAY
    assert p.feed("lo</assis") == [Text(SAY, "lo")]
    assert p.feed("tant>") == [Closed(SAY, "Hello")]
    assert p.kind is None
    assert p.finish() == []


def test_tag_split_across_pieces():
    events = parse(["<ass", "istant>", "hi", "</assi", "stant>"])
    assert structural(events) == [Opened(SAY), Closed(SAY, "hi")]


def test_whitespace_collapsed_in_closed_text():
    events = parse(["<assistant>  Hello,\n\n  there\t friend.  </assistant>"])
    assert closed(events) == [Closed(SAY, "Hello, there friend.")]


def test_html_entities_unescaped_in_closed_text():
    events = parse(["<assistant>A &amp; B &lt;C&gt; &quot;q&quot; &#39;s</assistant>"])
    assert closed(events) == [Closed(SAY, "A & B <C> \"q\" 's")]


def test_entity_split_across_pieces_is_still_unescaped():
    events = parse(["<think>x &am", "p; y</think>"])
    assert closed(events) == [Closed(THINK, "x & y")]


# --- literal "<" and unknown tags ----------------------------------------------------------------
@pytest.mark.parametrize("body", ["a < b", "a<b", "x <= y", "1 <2", "<", "a <", "< >", "<<", "i <3 u"])
def test_literal_less_than_is_text(body):
    for pieces in ([f"<assistant>{body}</assistant>"], list(f"<assistant>{body}</assistant>")):
        events = parse(pieces)
        assert closed(events) == [Closed(SAY, " ".join(body.split()))]
        assert problems(events) == []


def test_less_than_held_then_released_when_it_cannot_be_a_tag():
    p = TagStreamParser()
    p.feed("<think>a ")
    assert p.feed("<") == []  # maybe a tag
    assert p.feed(" b") == [Text(THINK, "<"), Text(THINK, " b")]


@pytest.mark.parametrize("tag", ["<user>", "<b>", "</b>", "<assistantx>", "<think >", "<Think>"])
def test_unknown_tag_inside_segment_is_text(tag):
    events = parse([f"<think>a {tag} b</think>"])
    assert closed(events) == [Closed(THINK, f"a {tag} b")]
    assert problems(events) == []


def test_unknown_tags_outside_segments_are_one_problem():
    events = parse(["<user>hello</user>"])
    assert [e for e in events if not isinstance(e, Problem)] == []
    [problem] = problems(events)
    assert "outside any tag" in problem.text
    assert "<user>hello</user>" in problem.text


# --- text outside segments -----------------------------------------------------------------------
def test_text_outside_segments_reported_once_per_run():
    events = parse(list("Sure thing! <assistant>ok</assistant>"))
    assert len(problems(events)) == 1
    assert "Sure thing!" in problems(events)[0].text
    assert closed(events) == [Closed(SAY, "ok")]


def test_stray_text_before_next_segment_and_at_end():
    events = parse(["<assistant>x</assistant> junk <think>y</think> more"])
    assert structural(events) == [
        Opened(SAY), Closed(SAY, "x"),
        Problem("model output outside any tag ignored: 'junk'"),
        Opened(THINK), Closed(THINK, "y"),
        Problem("model output outside any tag ignored: 'more'"),
    ]


def test_whitespace_between_segments_is_not_a_problem():
    events = parse(["  \n<think>a</think>\n \n<assistant>b</assistant>\n"])
    assert problems(events) == []
    assert closed(events) == [Closed(THINK, "a"), Closed(SAY, "b")]


def test_long_stray_text_is_truncated_in_the_problem():
    events = parse(["x" * 500])
    [problem] = problems(events)
    assert len(problem.text) < 200


def test_stray_closing_tag_is_a_problem():
    events = parse(["</think><assistant>ok</assistant>"])
    assert structural(events) == [Problem("unexpected </think> (open: None)"), Opened(SAY), Closed(SAY, "ok")]


def test_mismatched_closing_tag_is_a_problem_and_segment_stays_open():
    p = TagStreamParser()
    out = p.feed("<think>a</assistant>b</think>")
    assert [type(e) for e in structural(out)] == [Opened, Problem, Closed]
    assert "</assistant>" in problems(out)[0].text
    assert closed(out) == [Closed(THINK, "ab")]


# --- nesting and unclosed segments --------------------------------------------------------------
def test_nested_open_tag_closes_the_first_incomplete():
    events = parse(["<assistant>one<think>two</think>"])
    assert structural(events) == [
        Opened(SAY),
        Problem("<think> inside an open say segment"),
        Closed(SAY, "one", complete=False),
        Opened(THINK),
        Closed(THINK, "two"),
    ]


def test_same_tag_reopened_closes_the_first_incomplete():
    events = parse(["<think>a<think>b</think>"])
    assert closed(events) == [Closed(THINK, "a", complete=False), Closed(THINK, "b")]
    assert len(problems(events)) == 1


def test_unclosed_segment_at_finish_is_incomplete():
    p = TagStreamParser()
    out = p.feed("<assistant>cut off  mid")
    assert closed(out) == []
    assert p.finish() == [Closed(SAY, "cut off mid", complete=False)]
    assert p.kind is None
    assert p.finish() == []  # nothing left


def test_partial_tag_at_finish_becomes_text_of_the_open_segment():
    events = parse(["<think>unfinished <assist"])
    assert closed(events) == [Closed(THINK, "unfinished <assist", complete=False)]


def test_partial_tag_at_finish_outside_segments_is_a_problem():
    events = parse(["<assist"])
    assert len(problems(events)) == 1
    assert closed(events) == []


def test_parser_is_reusable_after_finish():
    p = TagStreamParser()
    p.feed("<think>a")
    p.finish()
    out = p.feed("<assistant>b</assistant>") + p.finish()
    assert structural(out) == [Opened(SAY), Closed(SAY, "b")]


# --- <wait> ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("s", ["<assistant><wait></assistant>", "<assistant> \n<wait></assistant>",
                               "<assistant><wait></wait></assistant>"])
def test_wait_in_empty_assistant(s):
    for pieces in ([s], list(s)):
        events = parse(pieces)
        assert closed(events) == [Closed(WAIT, "")]
        assert problems(events) == []


def test_wait_after_text_is_a_problem_and_the_text_is_said():
    events = parse(["<assistant>hi<wait></assistant>"])
    assert closed(events) == [Closed(SAY, "hi")]
    assert problems(events) == [Problem("<wait> outside an empty <assistant> ignored")]


@pytest.mark.parametrize("s", ["<think><wait></think>", "<action><wait></action>", "<wait>"])
def test_wait_outside_assistant_is_a_problem(s):
    events = parse([s])
    assert any("<wait>" in pr.text for pr in problems(events))
    assert all(c.kind != WAIT for c in closed(events))


def test_second_wait_is_a_problem():
    events = parse(["<assistant><wait><wait></assistant>"])
    assert closed(events) == [Closed(WAIT, "")]
    assert len(problems(events)) == 1


def test_wait_with_wrong_closing_tag_does_not_raise():
    # regression: a non-</assistant> closing tag while waiting raised KeyError('wait')
    events = parse(["<assistant><wait></think></assistant>"])
    assert closed(events) == [Closed(WAIT, "")]
    assert problems(events) == [Problem("unexpected </think> (open: wait)")]


def test_unclosed_wait_at_finish_is_incomplete():
    assert parse(["<assistant><wait>"]) == [Opened(SAY), Closed(WAIT, "", complete=False)]


# --- <interrupted/> marks -------------------------------------------------------------------------
@pytest.mark.parametrize("mark", ["<interrupted/>", "<interrupted>", "</interrupted>"])
def test_interrupted_marks_are_ignored(mark):
    inside = parse([f"<assistant>a{mark} b</assistant>"])
    assert closed(inside) == [Closed(SAY, "a b")]
    assert problems(inside) == []
    outside = parse([f"<think>x</think>{mark}<assistant>y</assistant>{mark}"])
    assert problems(outside) == []
    assert closed(outside) == [Closed(THINK, "x"), Closed(SAY, "y")]
    assert "interrupted" not in "".join(d for _, d in text_by_segment(inside))


def test_interrupted_mark_split_across_pieces_is_ignored():
    events = parse(list("<assistant>a<interrupted/></assistant>"))
    assert closed(events) == [Closed(SAY, "a")]
