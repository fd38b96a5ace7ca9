from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from seal_nodes.core.audio import AudioFrame
from seal_nodes.core.speech_tags import Segment
from seal_nodes.core.tts import SpeechStream, WordMark
from seal_nodes.core.tts_espeak import espeak_available

pytestmark = pytest.mark.unit

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="libespeak-ng.so.1 not available")
SR = 22050
FRAME = 441  # 20 ms at 22050 Hz
TEXT = "The quick brown fox jumps over the lazy dog, and then it rests for a while."


class FakeClock:
    def __init__(self, start_ns: int = 1_000_000_000) -> None:
        self.now = start_ns

    def __call__(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(1, int(seconds * 1e9))


class FakeSynth:
    """Deterministic engine: each word is 0.1 s of tone then 0.05 s of silence, 1000-sample blocks."""

    sample_rate = SR

    def __init__(self, on_block: object = None) -> None:
        self.on_block = on_block
        self.closed = 0

    def synthesize(self, segment: Segment) -> Iterator[tuple[np.ndarray, list[WordMark]]]:
        parts, marks, pos, n = [], [], 0, 0
        for w in segment.text.split():
            start = segment.text.index(w, pos)
            pos = start + len(w)
            marks.append(WordMark(w, n, start, pos))
            parts += [np.full(2205, 1000, np.int16), np.zeros(1102, np.int16)]
            n += 3307
        pcm = np.concatenate(parts)
        try:
            for i in range(0, len(pcm), 1000):
                if callable(self.on_block):
                    self.on_block()
                yield pcm[i:i + 1000], [m for m in marks if i <= m.start_sample < i + 1000]
        finally:
            self.closed += 1


@pytest.fixture(scope="module")
def espeak():  # type: ignore[no-untyped-def]
    if not espeak_available():
        pytest.skip("libespeak-ng.so.1 not available")
    from seal_nodes.core.tts_espeak import EspeakSynthesizer

    return EspeakSynthesizer()


def _run(stream: SpeechStream, clock: FakeClock | None = None, **kw: object):  # type: ignore[no-untyped-def]
    clock = clock or FakeClock()
    frames: list[AudioFrame] = []
    emitted_at: list[int] = []

    def sink(f: AudioFrame) -> None:
        frames.append(f)
        emitted_at.append(clock.now)

    result = stream.run(sink, clock=clock, sleep=clock.sleep, wall_clock=clock, **kw)  # type: ignore[arg-type]
    return result, frames, emitted_at


# --- espeak binding -------------------------------------------------------------------------

@needs_espeak
def test_espeak_produces_nonsilent_audio_at_22050(espeak) -> None:  # type: ignore[no-untyped-def]
    assert espeak.sample_rate == 22050
    blocks = list(espeak.synthesize(Segment(text="Hello world, this is a test.")))
    pcm = np.concatenate([b for b, _ in blocks])
    assert pcm.dtype == np.int16 and len(pcm) > 0.5 * SR
    assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 300
    assert len(blocks) > 1  # streamed, not one block at the end


@needs_espeak
def test_espeak_word_marks_increase_and_match_text(espeak) -> None:  # type: ignore[no-untyped-def]
    text = "Héllo wörld, this is a café test. Second sentence here"
    marks = [m for _, ms in espeak.synthesize(Segment(text=text)) for m in ms]
    assert [m.word for m in marks] == ["Héllo", "wörld", "this", "is", "a", "café", "test", "Second", "sentence", "here"]
    starts = [m.start_sample for m in marks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert all(text[m.char_start:m.char_end] == m.word for m in marks)


@needs_espeak
def test_espeak_close_aborts_and_library_stays_usable(espeak) -> None:  # type: ignore[no-untyped-def]
    gen = espeak.synthesize(Segment(text=TEXT * 5))
    next(gen)
    gen.close()
    assert len(list(espeak.synthesize(Segment(text="again")))) >= 1


@needs_espeak
def test_espeak_concurrent_use_is_serialised(espeak) -> None:  # type: ignore[no-untyped-def]
    out: dict[int, int] = {}

    def work(i: int) -> None:
        out[i] = sum(len(b) for b, _ in espeak.synthesize(Segment(text="one two three")))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ref = sum(len(b) for b, _ in espeak.synthesize(Segment(text="one two three")))
    # espeak output length varies with call history (seen: up to 1.6%); interleaving would differ wildly
    assert len(out) == 4 and all(abs(v - ref) < 0.05 * ref for v in out.values())


def test_espeak_rejects_bad_settings() -> None:
    if not espeak_available():
        pytest.skip("libespeak-ng.so.1 not available")
    from seal_nodes.core.tts_espeak import EspeakSynthesizer

    for kw in ({"voice": "no-such-voice-xx"}, {"rate_wpm": 10}, {"pitch": 101}):
        with pytest.raises(ValueError):
            EspeakSynthesizer(**kw)  # type: ignore[arg-type]


# --- streaming ----------------------------------------------------------------------------------

@needs_espeak
def test_stream_emits_20ms_chunks_and_full_text(espeak) -> None:  # type: ignore[no-untyped-def]
    progress: list[str] = []
    stream = SpeechStream("[THINKING] " + TEXT + " [BREATH] [EMO:happy] Done!", espeak, trace_id="t1",
                          on_progress=progress.append)
    r, frames, _ = _run(stream)
    assert r.completed and not r.interrupted
    assert r.spoken_text == TEXT + " Done!"
    assert r.words_spoken[0] == "The" and r.words_spoken[-1] == "Done" and "hmm" not in r.words_spoken
    assert all(len(f.samples) == FRAME and f.sample_rate == SR and f.trace_id == "t1" for f in frames)
    assert r.chunks == len(frames) and r.audio_ms == pytest.approx(20.0 * len(frames))
    assert progress[-1] == r.spoken_text
    assert all(b.startswith(a) for a, b in zip(progress, progress[1:]))


@needs_espeak
@pytest.mark.parametrize("n", [1, 30, 75, 120])
def test_cancel_after_n_chunks_stops_at_once_with_truthful_text(espeak, n: int) -> None:  # type: ignore[no-untyped-def]
    full = SpeechStream(TEXT, espeak)
    _run(full)
    timings = full.word_timings
    stream = SpeechStream(TEXT, espeak)
    count = 0

    def sink(_: AudioFrame) -> None:
        nonlocal count
        count += 1
        if count == n:
            stream.cancel()

    clock = FakeClock()
    r = stream.run(sink, clock=clock, sleep=clock.sleep, wall_clock=clock)
    assert count == n and r.chunks == n and r.interrupted and not r.completed
    emitted = n * FRAME
    assert r.samples_emitted == emitted
    expected = [w for w, _, end in timings if end is not None and end <= emitted]
    assert r.words_spoken == expected
    assert TEXT.startswith(r.spoken_text)
    if expected:
        assert r.spoken_text.endswith(expected[-1])


def test_cancel_before_run_emits_nothing() -> None:
    stream = SpeechStream("hello there", FakeSynth())
    stream.cancel()
    r, frames, _ = _run(stream)
    assert frames == [] and r.interrupted and r.spoken_text == "" and r.first_chunk_latency_ms is None


def test_fake_clock_pacing_and_stamps() -> None:
    clock = FakeClock(start_ns=5_000_000_000)
    r, frames, emitted_at = _run(SpeechStream("one two three four", FakeSynth()), clock)
    assert r.completed and r.spoken_text == "one two three four"
    t0 = emitted_at[0]
    # chunk k plays at t0 + k*20 ms and is emitted at most one chunk early
    assert [f.stamp_ns - frames[0].stamp_ns for f in frames] == [k * 20_000_000 for k in range(len(frames))]
    assert emitted_at[1:] == [t0 + (k - 1) * 20_000_000 for k in range(1, len(frames))]
    assert all(f.stamp_ns - at <= 20_000_000 for f, at in zip(frames, emitted_at))
    assert r.audio_ms == pytest.approx(20.0 * len(frames))
    assert len(frames) == -(-4 * 3307 // FRAME)  # last chunk zero-padded to 20 ms


def test_zero_lead_emits_at_playout_time() -> None:
    r, frames, emitted_at = _run(SpeechStream("one two", FakeSynth()), lead_ms=0)
    assert all(f.stamp_ns == at for f, at in zip(frames, emitted_at))


def test_slow_engine_underrun_keeps_stamps_truthful() -> None:
    clock = FakeClock()
    synth = FakeSynth(on_block=lambda: clock.sleep(0.2))  # 1000 samples (45 ms) take 200 ms
    r, frames, emitted_at = _run(SpeechStream("one two three", synth), clock)
    assert r.completed
    assert all(f.stamp_ns >= at - 20_000_000 for f, at in zip(frames, emitted_at))
    stamps = [f.stamp_ns for f in frames]
    assert all(b - a >= 20_000_000 for a, b in zip(stamps, stamps[1:]))


def test_unpaced_mode_never_sleeps() -> None:
    clock = FakeClock()
    r, _, emitted_at = _run(SpeechStream("one two three", FakeSynth()), clock, paced=False)
    assert r.completed and set(emitted_at) == {emitted_at[0]}


def test_fake_engine_word_accounting_on_cancel() -> None:
    # words start 3307 samples apart and sound for 2205: word k is heard after 3307*k + 2205 samples
    for n, words in [(4, []), (5, ["one"]), (12, ["one"]), (13, ["one", "two"]), (19, ["one", "two"]),
                     (20, ["one", "two", "three"])]:
        stream = SpeechStream("one, two three.", FakeSynth())
        frames: list[AudioFrame] = []

        def sink(f: AudioFrame, s: SpeechStream = stream, fr: list[AudioFrame] = frames, k: int = n) -> None:
            fr.append(f)
            if len(fr) == k:
                s.cancel()

        r = stream.run(sink, clock=FakeClock(), sleep=lambda _: None, paced=False)
        assert (r.chunks, r.words_spoken) == (n, words)
        assert r.spoken_text == {0: "", 1: "one", 2: "one, two", 3: "one, two three"}[len(words)]


def test_cancel_from_other_thread_in_real_time_mode() -> None:
    stream = SpeechStream("one two three four five six", FakeSynth())
    frames: list[AudioFrame] = []
    started = threading.Event()

    def sink(f: AudioFrame) -> None:
        frames.append(f)
        if len(frames) == 3:
            started.set()

    t = threading.Thread(target=lambda: (started.wait(5), stream.cancel()))
    t.start()
    r = stream.run(sink)  # real clock, waits on the cancel flag between chunks
    t.join()
    assert r.interrupted and 3 <= r.chunks <= 4  # at most the chunk already being emitted


def test_synth_generator_closed_on_cancel() -> None:
    synth = FakeSynth()
    stream = SpeechStream("one two three four five", synth)
    stream.run(lambda f: stream.cancel(), clock=FakeClock(), sleep=lambda _: None)
    assert synth.closed == 1


def test_run_only_once_and_bad_inputs() -> None:
    stream = SpeechStream("hi there", FakeSynth())
    _run(stream)
    with pytest.raises(RuntimeError):
        _run(stream)
    for bad in ["", "[THINKING] [SIGH]", "a" * 5001, b"\xc3\x28", 3.5]:
        with pytest.raises(ValueError):
            SpeechStream(bad, FakeSynth())  # type: ignore[arg-type]


def test_sink_error_propagates_and_closes_engine() -> None:
    synth = FakeSynth()

    def sink(_: AudioFrame) -> None:
        raise OSError("device gone")

    with pytest.raises(OSError):
        SpeechStream("one two", synth).run(sink, clock=FakeClock(), sleep=lambda _: None)
    assert synth.closed == 1
