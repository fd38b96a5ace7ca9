"""The piper voice keeps short pieces (a reply's opener) once synthesized; the thinker's openers are
the ones the tts node warms."""
from __future__ import annotations

import numpy as np
import pytest

from seal_nodes.core.actions import Action
from seal_nodes.core.thinking import social
from seal_nodes.core.thinking.dialogue import WONT, announce
from seal_nodes.core.voice.piper import CACHE_MAX_WORDS, OPENERS, piper_available, split_pieces
from seal_nodes.core.voice.speech_tags import SpeechPart

pytestmark = pytest.mark.unit
needs_piper = pytest.mark.skipif(not piper_available(), reason="piper or its voice not installed")


def _first_piece(text: str) -> str:
    a, b = split_pieces(text)[0]
    return text[a:b].strip()


def test_the_thinkers_short_openers_are_the_ones_kept_warm() -> None:
    replies = [announce([Action("pick", {"object": "red_cube"})]),
               announce([Action("place", {"object": "red_cube"})]),
               announce([Action("place", {"object": "red_cube"}), Action("place", {"object": "blue_cube"})]),
               announce([Action("stop")]), WONT]
    replies += [social.reply(act, lambda: "I'm SEAL.", lambda: "I can help.")
                for act in ("greeting", "thanks", "praise", "farewell", "attention")]
    short = [_first_piece(r) for r in replies if len(_first_piece(r).split()) <= CACHE_MAX_WORDS]
    assert len(short) >= 6  # the check covers most replies, not none of them
    assert [p for p in short if p not in OPENERS] == []


def _synth(**kwargs):  # type: ignore[no-untyped-def]
    from seal_nodes.core.voice.piper import PiperSynthesizer

    return PiperSynthesizer(noise_scale=0.0, noise_w_scale=0.0, **kwargs)  # deterministic audio


@pytest.fixture(scope="module")
def plain():  # type: ignore[no-untyped-def]
    return _synth()


@needs_piper
def test_a_warm_opener_plays_without_a_model_call_and_sounds_the_same(plain) -> None:  # type: ignore[no-untyped-def]
    cached = _synth(cache_pieces=8, warm_phrases=("Sure,",))
    text = "Sure, picking up the red cube."
    runs = cached.session.run
    calls = []
    cached.session.run = lambda *a, **k: (calls.append(1), runs(*a, **k))[1]  # count model calls
    got = list(cached.synthesize(SpeechPart(text=text)))
    want = list(plain.synthesize(SpeechPart(text=text)))
    assert cached.cache_hits == 1 and len(calls) == len(want) - 1  # only the rest of the sentence
    assert len(got) == len(want) == 2
    for (pcm_a, marks_a), (pcm_b, marks_b) in zip(got, want):
        assert np.array_equal(pcm_a, pcm_b)
        assert marks_a == marks_b


@needs_piper
def test_long_pieces_and_other_prosody_are_not_taken_from_the_cache() -> None:
    cached = _synth(cache_pieces=8)
    long = "This sentence has far more words than an opener."
    for _ in range(2):
        list(cached.synthesize(SpeechPart(text=long)))
    assert cached.cache_hits == 0
    list(cached.synthesize(SpeechPart(text="Okay.")))
    list(cached.synthesize(SpeechPart(text="Okay.", rate_scale=1.5)))
    assert cached.cache_hits == 0
    list(cached.synthesize(SpeechPart(text="Okay.")))
    assert cached.cache_hits == 1


@needs_piper
def test_the_cache_is_bounded_and_off_by_default(plain) -> None:  # type: ignore[no-untyped-def]
    cached = _synth(cache_pieces=2)
    for text in ("One.", "Two.", "Three."):
        list(cached.synthesize(SpeechPart(text=text)))
    assert len(cached._pieces) == 2
    list(cached.synthesize(SpeechPart(text="One.")))  # the oldest went first
    assert cached.cache_hits == 0
    for _ in range(2):
        list(plain.synthesize(SpeechPart(text="Okay.")))
    assert plain.cache_hits == 0 and not plain._pieces
    with pytest.raises(ValueError, match="cache_pieces"):
        _synth(cache_pieces=-1)
