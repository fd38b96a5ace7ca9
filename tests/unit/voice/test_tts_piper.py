"""The piper voice: the model's own phoneme durations as word timings, streaming pieces, prosody."""
from __future__ import annotations

import numpy as np
import pytest

from seal_nodes.core.audio.frames import AudioFrame
from seal_nodes.core.voice.speech_tags import SpeechPart
from seal_nodes.core.voice.stream import SpeechStream
from seal_nodes.core.voice.piper import (
    _enc_varint, _fields, default_model_path, make_session, piper_available, split_pieces, with_duration_output,
)

pytestmark = [pytest.mark.unit, pytest.mark.skipif(not piper_available(), reason="piper or its voice not installed")]

SR = 22050
FRAME = 441


@pytest.fixture(scope="module")
def piper():  # type: ignore[no-untyped-def]
    from seal_nodes.core.voice.piper import PiperSynthesizer

    return PiperSynthesizer(noise_scale=0.0, noise_w_scale=0.0)  # no sampling noise: deterministic audio


def _pieces(text: str) -> list[str]:
    return [text[a:b] for a, b in split_pieces(text)]


# --- the model ---------------------------------------------------------------------------------

def test_duration_output_is_added_in_memory(piper) -> None:  # type: ignore[no-untyped-def]
    assert piper.has_durations and piper.provider == "CPUExecutionProvider"
    assert piper.session.get_session_options().intra_op_num_threads == 1
    names = [o.name for o in piper.session.get_outputs()]
    assert names[0] == "output" and names[1] == piper.duration_output
    # the file itself is untouched
    import onnxruntime as ort

    plain = ort.InferenceSession(str(default_model_path()), providers=["CPUExecutionProvider"])
    assert [o.name for o in plain.get_outputs()] == ["output"]


def test_patching_twice_changes_nothing() -> None:
    model, name = with_duration_output(default_model_path().read_bytes())
    again, name2 = with_duration_output(model)
    assert again is model and name2 == name


def test_patch_rejects_what_is_not_a_model() -> None:
    with pytest.raises(ValueError):
        with_duration_output(b"\x08\x01")  # one varint field, no graph
    fake_graph = _enc_varint((1 << 3) | 2) + _enc_varint(2) + b"\x22\x00"  # a node without Ceil
    model = _enc_varint((7 << 3) | 2) + _enc_varint(len(fake_graph)) + fake_graph
    assert [f[0] for f in _fields(model, 0, len(model))] == [7]
    with pytest.raises(ValueError, match="Ceil"):
        with_duration_output(model)


def test_session_falls_back_to_cpu_when_cuda_is_asked_for_but_absent() -> None:
    session = make_session(str(default_model_path()), use_cuda=True)
    assert session.get_providers()[0] in ("CPUExecutionProvider", "CUDAExecutionProvider")
    assert "CPUExecutionProvider" in session.get_providers()


def test_durations_add_up_to_the_audio(piper) -> None:  # type: ignore[no-untyped-def]
    phonemes = piper.voice.phonemize("Pick up the red cube.")[0]
    ids, spans = piper._ids(phonemes)
    audio, samples = piper._run(ids, 1.0, 0.0, 0.0)
    assert samples is not None and int(samples.sum()) == len(audio) and len(samples) == len(ids)
    assert len(spans) == len(phonemes) and spans[-1][1] == len(ids) - 1  # all but EOS


# --- pieces and word timings ----------------------------------------------------------------------

def test_pieces_cut_at_sentences_and_the_first_clause() -> None:
    assert _pieces("Okay, done. Next one! Last?") == ["Okay,", "done.", "Next one!", "Last?"]
    assert _pieces("Dr. Smith saw the U.S.A. on Jan. 5th. Then he left.") == \
        ["Dr. Smith saw the U.S.A. on Jan. 5th.", "Then he left."]
    long = "one two three four five six seven eight nine ten, eleven twelve thirteen fourteen fifteen " \
           "sixteen seventeen eighteen nineteen twenty, and more words here"
    assert len(_pieces(long)) == 3
    assert all(len(p.split()) <= 30 for p in _pieces(" ".join(["word"] * 100)))


def test_token_word_ends_handle_merges_and_expansions(piper) -> None:  # type: ignore[no-untyped-def]
    assert piper.token_word_ends("Pick up the red cube.".split()) == [1, 2, 3, 4, 5]
    ends = piper.token_word_ends("one of the best".split())
    assert ends[0] == 1 and ends[-1] == ends[-2] + 1  # "of the" may be one phoneme word
    assert ends == sorted(ends)
    money = piper.token_word_ends("It costs $3.50 today".split())
    assert money[2] - money[1] >= 3  # "$3.50": dollars three point five zero


def test_marks_cover_every_word_in_order(piper) -> None:  # type: ignore[no-untyped-def]
    text = "Hello there, I will pick up the red cube now. It costs $3.50, in the end of the day."
    part = SpeechPart(text=text)
    total = 0
    marks = []
    for pcm, ms in piper.synthesize(part):
        assert pcm.dtype == np.int16 and len(pcm) > 0
        assert all(total <= m.start_sample < m.end_sample <= total + len(pcm) for m in ms if m.end_sample > total)
        marks += ms
        total += len(pcm)
    assert [m.word for m in marks] == text.split()
    assert all(text[m.char_start:m.char_end] == m.word for m in marks)
    ends = [m.end_sample for m in marks]
    assert ends == sorted(ends)


def test_streams_piece_by_piece(piper) -> None:  # type: ignore[no-untyped-def]
    gen = piper.synthesize(SpeechPart(text="Sure, I will pick up the red cube and put it in the bin right away."))
    first, _ = next(gen)
    rest = [b for b, _ in gen]
    assert rest and len(first) < sum(len(b) for b in rest)  # "Sure," first, the rest later


def test_prosody_changes_duration_pitch_and_loudness(piper) -> None:  # type: ignore[no-untyped-def]
    def audio(**kw: object) -> np.ndarray:
        return np.concatenate([b for b, _ in piper.synthesize(SpeechPart(text="This is a test of my voice.", **kw))])

    base = audio()
    assert len(audio(rate_scale=0.6)) > 1.4 * len(base)
    assert len(audio(rate_scale=1.8)) < 0.7 * len(base)
    high = audio(pitch_offset=12)
    assert abs(len(high) - len(base)) < 0.1 * len(base)  # pitch without changing the duration
    def rms(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))

    assert rms(audio(volume=0.5)) < 0.6 * rms(base)


# --- truthful spoken text ---------------------------------------------------------------------------

class _Clock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += max(1, int(s * 1e9))


def _run_until(text: str, synth, n_chunks: int):  # type: ignore[no-untyped-def]
    stream = SpeechStream(text, synth)
    frames: list[AudioFrame] = []

    def sink(f: AudioFrame) -> None:
        frames.append(f)
        if len(frames) == n_chunks:
            stream.cancel()

    clock = _Clock()
    r = stream.run(sink, clock=clock, sleep=clock.sleep, wall_clock=clock)
    stream.close()
    return stream, r, frames


@pytest.mark.parametrize("n", [10, 60, 110, 160])
def test_cancel_reports_exactly_the_words_whose_audio_was_played(piper, n: int) -> None:  # type: ignore[no-untyped-def]
    text = "The quick brown fox jumps over the lazy dog, and then it rests for a while."
    stream, r, frames = _run_until(text, piper, n)
    played = sum(len(f.samples) for f in frames)
    assert r.chunks == n and r.samples_emitted == played == n * FRAME
    expected = [w for w, _, end in stream.word_timings if end is not None and end <= played]
    assert r.words_spoken == expected
    assert text.startswith(r.spoken_text)
    nxt = [w for w, _, end in stream.word_timings if end is not None and end > played]
    assert not nxt or nxt[0] not in r.words_spoken[len(expected):]


def test_spoken_text_matches_what_whisper_hears(piper) -> None:  # type: ignore[no-untyped-def]
    """Cut the voice right after word k ends (by the model's durations): Whisper must hear the
    same words the result reports, and no more."""
    pytest.importorskip("ctranslate2")
    from seal_nodes.core.perception.whisper import WhisperRecognizer, WhisperUnavailable
    from seal_nodes.tools.wer import normalize

    try:
        asr = WhisperRecognizer()
    except WhisperUnavailable as exc:
        pytest.skip(str(exc))
    text = "one two three four five six seven eight"
    full = SpeechStream(text, piper)
    full.run(lambda f: None, paced=False)
    timings = full.word_timings
    for k in (3, 6):
        cut = timings[k - 1][2]
        n = -(-cut // FRAME)  # first chunk boundary at or after the end of word k
        assert n * FRAME < timings[k][2]  # ... and before word k+1 ends
        stream, r, frames = _run_until(text, piper, n)
        assert r.words_spoken == text.split()[:k]
        heard = asr.transcribe(np.concatenate([f.samples for f in frames]), SR).text
        assert normalize(heard) == normalize(r.spoken_text), (heard, r.spoken_text)
