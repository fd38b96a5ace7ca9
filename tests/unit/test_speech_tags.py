from __future__ import annotations

import pytest

from seal_nodes.core.speech_tags import MAX_TEXT_CHARS, coerce_text, parse_speech

pytestmark = pytest.mark.unit


def _content(text: str) -> list[str]:
    return [s.text for s in parse_speech(text).segments if s.content and s.text]


@pytest.mark.parametrize("tag,filler", [("THINKING", "hmm,"), ("SEARCHING", "uh,"), ("UNCERTAIN", "um,")])
def test_busy_tags_become_filler_and_pause(tag: str, filler: str) -> None:
    p = parse_speech(f"Well [{tag}] the answer is four.")
    fillers = [s for s in p.segments if not s.content and s.text]
    assert [s.text for s in fillers] == [filler]
    idx = p.segments.index(fillers[0])
    assert p.segments[idx + 1].is_pause and p.segments[idx + 1].pause_ms > 0
    assert p.clean_text == "Well the answer is four."
    assert p.warnings == ()


@pytest.mark.parametrize("tag", ["BREATH", "SIGH", "CLEAR_THROAT", "LAUGH:small", "LAUGH"])
def test_nonverbal_tags_become_pauses(tag: str) -> None:
    p = parse_speech(f"Okay [{tag}] fine.")
    assert [s.pause_ms > 0 for s in p.segments] == [False, True, False]
    assert p.clean_text == "Okay fine."
    assert p.warnings == ()


def test_laugh_sizes_scale_pause() -> None:
    small, big = (parse_speech(f"a [LAUGH:{v}] b").segments[1].pause_ms for v in ("small", "big"))
    assert big > small


def test_speed_changes_rate_from_tag_on() -> None:
    p = parse_speech("normal [SPEED:0.8x] slower [SPEED:1.5] faster")
    assert [(s.text, s.rate_scale) for s in p.segments] == [("normal", 1.0), ("slower", 0.8), ("faster", 1.5)]


def test_speed_out_of_range_is_clamped_with_warning_and_garbage_ignored() -> None:
    p = parse_speech("a [SPEED:9x] b [SPEED:fast] c")
    assert [s.rate_scale for s in p.segments] == [1.0, 2.0, 2.0]
    assert len(p.warnings) == 2


def test_emotion_changes_pitch() -> None:
    p = parse_speech("[EMO:happy] yay [EMO:sad] oh [EMO:neutral] ok")
    pitches = [s.pitch_offset for s in p.segments]
    assert pitches[0] > 0 > pitches[1] and pitches[2] == 0


def test_unknown_emotion_warns() -> None:
    p = parse_speech("[EMO:bogus] hello")
    assert p.segments[0].pitch_offset == 0 and p.warnings


def test_style_tweaks_rate() -> None:
    p = parse_speech("[STYLE:formal] Good evening. [STYLE:casual] hey")
    assert p.segments[0].rate_scale < 1.0 < p.segments[1].rate_scale
    assert not p.warnings


def test_unknown_tag_dropped_and_reported() -> None:
    p = parse_speech("Hello [WHISPER] there [FOO:bar]!")
    assert p.clean_text == "Hello there !"
    assert "WHISPER" not in " ".join(s.text for s in p.segments)
    assert len(p.warnings) == 2 and "[WHISPER]" in p.warnings[0]


@pytest.mark.parametrize("text", ["see [1] above", "array[i] works", "the [note: optional] part", "[a] b"])
def test_brackets_that_are_not_tags_stay_text(text: str) -> None:
    p = parse_speech(text)
    assert p.clean_text == text and p.warnings == ()


def test_lowercase_known_tags_are_still_tags() -> None:
    p = parse_speech("hi [thinking] there")
    assert p.clean_text == "hi there" and any(s.tag == "THINKING" for s in p.segments)


def test_tags_never_reach_synthesized_text() -> None:
    p = parse_speech("[EMO:happy][SPEED:1.2x] Hi[BREATH]there [STYLE:casual][LAUGH:small] bye [ZZZ]")
    joined = " ".join(s.text for s in p.segments)
    assert "[" not in joined and p.clean_text == "Hi there bye"


def test_offsets_point_into_clean_text() -> None:
    p = parse_speech("  One,\n two [SIGH]   three.  ")
    for s in p.segments:
        if s.content and s.text:
            assert p.clean_text[s.text_offset:s.text_offset + len(s.text)] == s.text


@pytest.mark.parametrize("bad", ["", "   \n", "[THINKING]", "[BREATH] [WHATEVER]", "x" * (MAX_TEXT_CHARS + 1),
                                 b"\xff\xfe", 42, None, "bad \ud800 surrogate"])
def test_bad_input_raises_value_error(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_speech(bad)  # type: ignore[arg-type]


def test_utf8_bytes_and_control_chars() -> None:
    assert parse_speech("café".encode()).clean_text == "café"
    assert coerce_text("a\x01b") == "a b"  # \x01 would start an espeak embedded command
