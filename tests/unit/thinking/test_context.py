"""Tagged context: rendering of every segment kind, turn boundaries, bounded thought history."""
from __future__ import annotations

import pytest

from seal_nodes.core.thinking.context import (ACT, HINT, KINDS, OBSERVE, SAY, THINK, USER, WAIT, Context, Segment)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("seg, expected", [
    (Segment(USER, "hi"), "<user>hi</user>"),
    (Segment(HINT, "quiet"), "<user>[SYSTEM HINT] quiet</user>"),
    (Segment(THINK, "hmm"), "<think>hmm</think>"),
    (Segment(THINK, "hm", interrupted=True), "<think>hm<interrupted/></think>"),
    (Segment(SAY, "hello"), "<assistant>hello</assistant>"),
    (Segment(SAY, "hel", interrupted=True), "<assistant>hel<interrupted/></assistant>"),
    (Segment(WAIT, "ignored"), "<assistant><wait></assistant>"),
    (Segment(ACT, "pick(object=red_cube)"), "<action>pick(object=red_cube)</action>"),
    (Segment(OBSERVE, "done"), "<observation>done</observation>"),
])
def test_segment_render(seg, expected):
    assert seg.render() == expected


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown segment kind"):
        Segment("shout", "x").render()
    ctx = Context()
    with pytest.raises(ValueError, match="unknown segment kind"):
        ctx.append(Segment("shout", "x"))
    assert ctx.segments() == []


def test_keep_thought_turns_must_be_positive():
    with pytest.raises(ValueError):
        Context(keep_thought_turns=0)


def test_turns_start_at_user_and_hint_only():
    ctx = Context(keep_thought_turns=5)
    ctx.append(Segment(USER, "a"))  # first user segment goes into the initial empty turn
    assert len(ctx.turns) == 1
    ctx.append(Segment(THINK, "t"))
    ctx.append(Segment(SAY, "s"))
    ctx.append(Segment(ACT, "home()"))
    ctx.append(Segment(OBSERVE, "ok"))
    assert len(ctx.turns) == 1
    ctx.append(Segment(HINT, "silence"))
    assert len(ctx.turns) == 2
    ctx.append(Segment(USER, "b"))
    assert len(ctx.turns) == 3
    assert [s.kind for s in ctx.turns[0].segments] == [USER, THINK, SAY, ACT, OBSERVE]


def test_render_joins_segments_in_order():
    ctx = Context()
    for seg in (Segment(USER, "hi"), Segment(THINK, "greet"), Segment(SAY, "hello")):
        ctx.append(seg)
    assert ctx.render() == "<user>hi</user>\n<think>greet</think>\n<assistant>hello</assistant>"


def test_append_returns_the_segment_and_last_finds_latest():
    ctx = Context()
    s1 = ctx.append(Segment(SAY, "one"))
    ctx.append(Segment(USER, "u"))
    s2 = ctx.append(Segment(SAY, "two"))
    assert s1.text == "one"
    assert ctx.last(SAY) is s2
    assert ctx.last(USER).text == "u"
    assert ctx.last(OBSERVE) is None


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_only_recent_turns_keep_thoughts(keep):
    ctx = Context(keep_thought_turns=keep)
    for i in range(10):
        ctx.append(Segment(USER, f"u{i}"))
        ctx.append(Segment(THINK, f"t{i}"))
        ctx.append(Segment(SAY, f"s{i}"))
    thinking = [i for i, t in enumerate(ctx.turns) if any(s.kind == THINK for s in t.segments)]
    assert thinking == list(range(10 - keep, 10))
    # user and assistant lines of old turns stay
    text = ctx.render()
    assert "<user>u0</user>" in text and "<assistant>s0</assistant>" in text
    assert "<think>t0</think>" not in text
    assert f"<think>t{10 - keep}</think>" in text


def test_max_turns_drops_oldest_whole_turns():
    ctx = Context(keep_thought_turns=2, max_turns=5)
    for i in range(20):
        ctx.append(Segment(USER, f"u{i}"))
        ctx.append(Segment(SAY, f"s{i}"))
    assert len(ctx.turns) == 5
    assert ctx.turns[0].segments[0].text == "u15"
    assert ctx.turns[-1].segments[-1].text == "s19"


def test_interrupted_flag_changes_render_after_append():
    ctx = Context()
    seg = ctx.append(Segment(SAY, "I will pick up the red cube"))
    seg.text, seg.interrupted = "I will", True
    assert ctx.render() == "<assistant>I will<interrupted/></assistant>"


def test_kinds_constant_lists_every_renderable_kind():
    for kind in KINDS:
        Segment(kind, "x").render()
