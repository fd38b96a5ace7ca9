from __future__ import annotations

import pytest

from seal_nodes.core.voice.speech_tags import EMOTIONS, MAX_TEXT_CHARS, STYLES, ProsodyState, coerce_text, parse_speech

pytestmark = pytest.mark.unit


def _content(text: str) -> list[str]:
    return [s.text for s in parse_speech(text).parts if s.content and s.text]


@pytest.mark.parametrize("tag,filler,pause_ms", [("THINKING", "hmm,", 300), ("SEARCHING", "let me check,", 300),
                                                ("UNCERTAIN", "um,", 200)])
def test_busy_tags_become_filler_and_pause(tag: str, filler: str, pause_ms: int) -> None:
    p = parse_speech(f"Well [{tag}] the answer is four.")
    fillers = [s for s in p.parts if not s.content and s.text]
    assert [s.text for s in fillers] == [filler]
    idx = p.parts.index(fillers[0])
    assert p.parts[idx + 1].is_pause and p.parts[idx + 1].pause_ms == pause_ms  # the tag's pause, neutral style
    assert p.clean_text == "Well the answer is four."
    assert p.warnings == ()


@pytest.mark.parametrize("tag,sound,pause_ms", [("BREATH", "breath", 60), ("SIGH", "sigh", 150),
                                                ("CLEAR_THROAT", "clear_throat", 150), ("COUGH", "cough", 150),
                                                ("LAUGH:small", "laugh", 120), ("LAUGH", "laugh", 120)])
def test_nonverbal_tags_become_sounds_then_a_short_pause(tag: str, sound: str, pause_ms: int) -> None:
    p = parse_speech(f"Okay [{tag}] fine.")
    kinds = [("text" if s.text else "sound" if s.is_sound else "pause") for s in p.parts]
    assert kinds == ["text", "sound", "pause", "text"]
    assert p.parts[1].sound == sound and not p.parts[1].text and p.parts[2].pause_ms == pause_ms
    assert p.clean_text == "Okay fine."
    assert p.warnings == ()


def test_laugh_sizes() -> None:
    sizes = [parse_speech(f"a [LAUGH:{v}] b").parts[1].sound_size for v in ("small", "medium", "big")]
    assert sizes == ["small", "medium", "big"]
    p = parse_speech("a [LAUGH:huge] b")
    assert p.parts[1].sound_size == "small" and "unknown laugh size" in p.warnings[0]
    assert parse_speech("a [LAUGH] b").parts[1].sound_size == "small"


def test_value_on_a_sound_tag_is_ignored_with_a_warning() -> None:
    p = parse_speech("a [BREATH:deep] b")
    assert p.parts[1].sound == "breath" and len(p.warnings) == 1


def test_speed_changes_rate_from_tag_on() -> None:
    p = parse_speech("normal [SPEED:0.8x] slower [SPEED:1.5] faster")
    assert [(s.text, s.rate_scale) for s in p.parts] == [("normal", 1.0), ("slower", 0.8), ("faster", 1.5)]


def test_speed_out_of_range_is_clamped_with_warning_and_garbage_ignored() -> None:
    p = parse_speech("a [SPEED:9x] b [SPEED:fast] c")
    assert [s.rate_scale for s in p.parts] == [1.0, 2.0, 2.0]
    assert len(p.warnings) == 2


def test_emotion_changes_pitch_rate_volume_and_expressiveness() -> None:
    p = parse_speech("[EMO:happy] yay [EMO:sad] oh [EMO:neutral] ok")
    happy, sad, neutral = p.parts
    assert happy.pitch_offset > 0 > sad.pitch_offset and neutral.pitch_offset == 0
    assert happy.rate_scale > 1.0 > sad.rate_scale and neutral.rate_scale == 1.0
    assert sad.volume < 1.0 == neutral.volume and happy.expressiveness > 1.0 > sad.expressiveness


def test_emotion_speed_and_style_multiply() -> None:
    part = parse_speech("[EMO:excited] [SPEED:1.2x] [STYLE:casual] go").parts[0]
    assert part.rate_scale == pytest.approx(EMOTIONS["excited"].rate * 1.2 * STYLES["casual"].rate)


def test_sounds_follow_the_emotion_pitch() -> None:
    p = parse_speech("[EMO:excited] wow [LAUGH:big] ok")
    assert p.parts[1].is_sound and p.parts[1].pitch_offset == EMOTIONS["excited"].pitch


def test_unknown_style_warns() -> None:
    p = parse_speech("[STYLE:pirate] arr")
    assert p.parts[0].rate_scale == 1.0 and "unknown style" in p.warnings[0]


def test_unknown_emotion_warns() -> None:
    p = parse_speech("[EMO:bogus] hello")
    assert p.parts[0].pitch_offset == 0 and p.warnings


def test_style_tweaks_rate() -> None:
    p = parse_speech("[STYLE:formal] Good evening. [STYLE:casual] hey")
    assert p.parts[0].rate_scale < 1.0 < p.parts[1].rate_scale
    assert not p.warnings


def test_style_sets_filler_wording_and_pause_length() -> None:
    def filler_and_pause(style: str) -> tuple[str, int]:
        parts = parse_speech(f"[STYLE:{style}] [THINKING] yes").parts
        return parts[0].text, parts[1].pause_ms

    (neutral, p_neutral), (formal, p_formal), (_, p_casual) = map(filler_and_pause, ("neutral", "formal", "casual"))
    assert formal != neutral and p_casual < p_neutral < p_formal
    formal_sigh = parse_speech("[STYLE:formal] [SIGH] ok").parts[1]
    assert formal_sigh.pause_ms > parse_speech("[SIGH] ok").parts[1].pause_ms


def test_fillers_vary_from_one_occurrence_to_the_next() -> None:
    p = parse_speech("[THINKING] a [THINKING] b")
    fillers = [s.text for s in p.parts if s.tag == "THINKING" and s.text]
    assert len(fillers) == 2 and fillers[0] != fillers[1]
    assert p.final_state.fillers_said == 2


def test_state_carries_into_the_next_utterance() -> None:
    first = parse_speech("[EMO:sad] [SPEED:0.8x] [STYLE:formal] [UNCERTAIN] Sorry.")
    assert first.final_state == ProsodyState(speed=0.8, emotion="sad", style="formal", fillers_said=1)
    nxt = parse_speech("I could not do it.", first.final_state)
    assert nxt.parts[0].rate_scale == pytest.approx(first.final_state.rate) and nxt.parts[0].pitch_offset < 0
    assert parse_speech("I could not do it.").parts[0].rate_scale == 1.0


def test_unknown_tag_dropped_and_reported() -> None:
    p = parse_speech("Hello [WHISPER] there [FOO:bar]!")
    assert p.clean_text == "Hello there !"
    assert "WHISPER" not in " ".join(s.text for s in p.parts)
    assert len(p.warnings) == 2 and "[WHISPER]" in p.warnings[0]


@pytest.mark.parametrize("text", ["see [1] above", "array[i] works", "the [note: optional] part", "[a] b"])
def test_brackets_that_are_not_tags_stay_text(text: str) -> None:
    p = parse_speech(text)
    assert p.clean_text == text and p.warnings == ()


def test_lowercase_known_tags_are_still_tags() -> None:
    p = parse_speech("hi [thinking] there")
    assert p.clean_text == "hi there" and any(s.tag == "THINKING" for s in p.parts)


def test_tags_never_reach_synthesized_text() -> None:
    p = parse_speech("[EMO:happy][SPEED:1.2x] Hi[BREATH]there [STYLE:casual][LAUGH:small] bye [ZZZ]")
    joined = " ".join(s.text for s in p.parts)
    assert "[" not in joined and p.clean_text == "Hi there bye"


def test_offsets_point_into_clean_text() -> None:
    p = parse_speech("  One,\n two [SIGH]   three.  ")
    for s in p.parts:
        if s.content and s.text:
            assert p.clean_text[s.text_offset:s.text_offset + len(s.text)] == s.text


@pytest.mark.parametrize("bad", ["", "   \n", "[THINKING]", "[BREATH] [WHATEVER]", "x" * (MAX_TEXT_CHARS + 1),
                                 b"\xff\xfe", 42, None, "bad \ud800 surrogate", "decoded \ufffd badly"])
def test_bad_input_raises_value_error(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_speech(bad)  # type: ignore[arg-type]


def test_utf8_bytes_and_control_chars() -> None:
    assert parse_speech("café".encode()).clean_text == "café"
    assert coerce_text("a\x01b") == "a b"  # \x01 would start an espeak embedded command


@pytest.mark.parametrize("bad,why", [("", "empty"), ("[THINKING]", "no speakable words"),
                                     ("x" * (MAX_TEXT_CHARS + 1), "limit"), (b"\xc3\x28", "UTF-8"),
                                     ("a \ufffd b", "UTF-8")])
def test_bad_input_errors_say_why(bad: object, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_speech(bad)  # type: ignore[arg-type]


def test_huge_text_at_the_limit_is_accepted() -> None:
    text = ("word " * (MAX_TEXT_CHARS // 5))[:MAX_TEXT_CHARS]
    assert len(parse_speech(text).clean_text.split()) == MAX_TEXT_CHARS // 5
