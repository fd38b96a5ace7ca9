"""acoustic: music / noise / laugh events on generated audio, robust to speech and stationary noise."""
import shutil

import numpy as np
import pytest

from seal_nodes.core.perception.acoustic import (AcousticConfig, AcousticDetection, AcousticError,
                                                 AcousticEventDetector, segment_kind)
from seal_nodes.core.voice import nonverbal as nv
from seal_nodes.tools import soundgen as sg

pytestmark = pytest.mark.unit

RATE = 16_000
TEXTS = [
    ("Hello robot, how are you doing today?", "en-us", 150),
    ("Please pick up the red cube and put it next to the blue one.", "en-us+f3", 170),
    ("I think the weather is going to be nice this afternoon.", "en-gb+m3", 140),
    ("One two three four five six seven eight nine ten.", "en-us", 160),
    ("Stop. Wait a moment, that is not what I asked for.", "en-us+f4", 180),
    ("The quick brown fox jumps over the lazy dog.", "en-us+m3", 130),
]


def pcm(x: np.ndarray, gain: float = 1.0) -> np.ndarray:
    return np.clip(np.round(np.asarray(x, np.float64) * gain * 32767), -32768, 32767).astype(np.int16)


def floor(seconds: float, db: float = -70.0, seed: int = 9) -> np.ndarray:
    """A quiet room: pink noise at ``db`` dBFS."""
    return sg.noise("pink", seconds, seed=seed) * 10 ** ((db + 20) / 20)


def stream(x: np.ndarray, speech: np.ndarray | None = None, block: int = 320,
           det: AcousticEventDetector | None = None) -> list[AcousticDetection]:
    det = det or AcousticEventDetector()
    out = []
    for i in range(0, len(x), block):
        flag = bool(speech[i:i + block].any()) if speech is not None else False
        out += det.process(x[i:i + block], flag)
    return out


def of(events, kind, state=None):
    return [e for e in events if e.kind == kind and (state is None or e.payload.get("state") == state)]


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """~25 s of espeak sentences in several voices with short pauses, float in [-1, 1]."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng CLI not installed")
    from seal_nodes.tools.spoken import synthesize

    parts = []
    for text, voice, wpm in TEXTS:
        parts += [synthesize(text, voice, wpm).pcm / 32768.0, np.zeros(int(0.4 * RATE))]
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def vad():
    from seal_nodes.core.perception.vad import SileroVad

    return SileroVad()


def vad_flags(vad, x: np.ndarray) -> np.ndarray:
    """Per-sample speech flag from Silero (≥ 0.5, held 250 ms), as audio_perception would see it."""
    vad.reset()
    p = np.asarray(vad.process(x))
    on = np.convolve(p >= 0.5, np.ones(8), "full")[: len(p)] > 0
    flags = np.repeat(on, 512)
    return np.concatenate([flags, np.zeros(len(x) - len(flags), bool)])


# ---- music ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("style,seed,methods", [("pop", 1, {"tonal", "rhythm"}), ("piano", 2, {"tonal", "rhythm"}),
                                                ("pad", 3, {"tonal"}), ("drums", 4, {"rhythm"})])
def test_music_starts_once_and_ends_after_it_stops(style, seed, methods):
    """Pads are found by their held, changing chords, drums by their beat; pop and piano have both."""
    music = sg.music(12.0, seed=seed, style=style) * 0.3
    x = pcm(np.concatenate([music, np.zeros(7 * RATE)]) + floor(19.0))
    events = of(stream(x), "music")
    assert [e.payload["state"] for e in events] == ["start", "end"], [e.payload for e in events]
    start, end = events
    assert start.sample <= 7 * RATE and start.payload["method"] in methods
    assert 0.5 <= start.confidence <= 1.0
    assert {"coverage", "births", "pulse", "comb", "onsets", "level_db"} <= set(start.payload)
    assert 12 * RATE < end.sample <= 17 * RATE


def test_speech_alone_never_starts_music(speech, vad):
    x = pcm(speech + floor(len(speech) / RATE))
    assert of(stream(x), "music") == []  # the features alone, no VAD help
    assert of(stream(x, vad_flags(vad, x)), "music") == []


@pytest.mark.parametrize("kind", ["hum", "fan", "pink"])
def test_speech_over_stationary_noise_never_starts_music(speech, kind):
    bg = np.resize(sg.noise(kind, 10.0, seed=2), len(speech)) * 0.2
    assert of(stream(pcm(speech + bg)), "music") == []


def test_music_survives_the_user_talking_over_it(speech, vad):
    """While the VAD hears speech the music decision holds: a sentence over music ends nothing."""
    music = sg.music(20.0, seed=6, style="pop") * 0.15
    x = music.copy()
    talk = speech[: 6 * RATE]
    x[8 * RATE: 14 * RATE] += talk
    x = pcm(x)
    events = of(stream(x, vad_flags(vad, x)), "music")
    assert [e.payload["state"] for e in events] == ["start"]


@pytest.mark.parametrize("snr", [10.0, 20.0])
def test_music_is_found_in_noise(snr):
    music = sg.music(14.0, seed=5, style="piano")
    x = pcm(sg.mix_at_snr(music, sg.noise("pink", 14.0, seed=3), snr) * 0.3)
    events = of(stream(x), "music")
    assert events and events[0].payload["state"] == "start" and events[0].sample < 8 * RATE


# ---- noise ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sg.NOISE_KINDS)
def test_stationary_noise_is_noise_and_never_music(kind):
    loud = sg.noise(kind, 12.0, seed=1) * 10 ** (-10 / 20)  # -30 dBFS
    x = pcm(np.concatenate([loud, floor(6.0)]))
    events = stream(x)
    assert of(events, "music") == []
    noise = of(events, "noise")
    assert [e.payload["state"] for e in noise] == ["start", "end"]
    start, end = noise
    assert 1.0 * RATE <= start.sample <= 3.0 * RATE
    assert start.payload["level_db"] == pytest.approx(-30.0, abs=2.5)
    assert 12 * RATE < end.sample <= 16 * RATE


def test_quiet_room_gives_no_events_and_tracks_its_level():
    det = AcousticEventDetector()
    assert det.background_db == -120.0
    x = pcm(floor(10.0, db=-62.0))
    assert stream(x, det=det) == []
    assert det.background_db == pytest.approx(-62.0, abs=2.0)


def test_background_ignores_speech_frames():
    det = AcousticEventDetector()
    stream(pcm(floor(3.0, db=-60.0)), det=det)
    before = det.background_db
    loud = pcm(sg.noise("white", 3.0, seed=4))  # -20 dBFS, but flagged as speech
    events = stream(loud, np.ones(len(loud), bool), det=det)
    assert det.background_db == before and of(events, "noise") == []


def test_level_near_the_threshold_does_not_flood():
    """A background wobbling around -45 dBFS every half second (inside the hysteresis) and one
    switching hard every 0.7 s: at most one start and one end per hold time."""
    parts = []
    for i in range(40):
        parts.append(sg.noise("pink", 0.5, seed=i) * 10 ** (((-44 if i % 2 else -46.5) + 20) / 20))
    events = of(stream(pcm(np.concatenate(parts))), "noise")
    assert len(events) <= 1
    parts = [sg.noise("pink", 0.7, seed=i) * 10 ** (((-35 if i % 2 else -65) + 20) / 20) for i in range(40)]
    events = of(stream(pcm(np.concatenate(parts))), "noise")
    hold = AcousticConfig().hold_s * RATE
    for state in ("start", "end"):
        t = [e.sample for e in events if e.payload["state"] == state]
        assert all(b - a >= hold for a, b in zip(t, t[1:]))
    assert len(events) <= 2 * 28 / AcousticConfig().hold_s + 2


def test_transients_are_neither_music_nor_noise():
    parts = [sg.keyboard(8.0, seed=2) * 0.3]
    for k in range(6):
        parts += [floor(0.8), sg.clap(seed=k) * 0.5, floor(0.8), sg.door(seed=k) * 0.5, floor(0.5), sg.click(seed=k)]
    x = pcm(np.concatenate(parts))
    events = stream(x)
    assert of(events, "music") == [] and of(events, "noise") == []


# ---- laughter -----------------------------------------------------------------------------------------
def test_laughs_are_detected_in_the_stream_and_speech_is_not(speech):
    parts, spans, t = [floor(1.0, db=-60)], [], RATE
    for i, (size, f0) in enumerate([("medium", 110), ("big", 220), ("medium", 160), ("big", 120), ("medium", 250)]):
        laugh = nv.laugh(RATE, size=size, seed=i, f0_hz=f0) * 0.5
        spans.append((t, t + len(laugh)))
        parts += [laugh + floor(len(laugh) / RATE, db=-60, seed=i), floor(3.5, db=-60, seed=i + 20)]
        t += len(laugh) + int(3.5 * RATE)
    laughs = of(stream(pcm(np.concatenate(parts))), "laugh")
    assert len(laughs) >= 4
    for e in laughs:
        assert e.payload["state"] == "detected" and e.confidence >= AcousticConfig().laugh_min_confidence
        assert any(a - 0.1 * RATE <= e.payload["start_sample"] <= b for a, b in spans)
    assert of(stream(pcm(speech + floor(len(speech) / RATE))), "laugh") == []


def test_segment_kind_classifies_coughs_laughs_voices_and_noises(speech):
    coughs = [nv.cough(RATE, seed=s, f0_hz=f) for s, f in enumerate([90, 120, 160, 220, 300])]
    coughs += [sg.cough(RATE, seed=s) for s in range(5)]
    laughs = [nv.laugh(RATE, size, seed=s, f0_hz=f) for s, (size, f) in
              enumerate([("medium", 100), ("big", 140), ("medium", 200), ("big", 260), ("medium", 130), ("big", 180)])]
    noises = ([sg.clap(seed=s) for s in range(3)] + [sg.click(seed=s) for s in range(3)]
              + [sg.door(seed=s) for s in range(3)] + [sg.keyboard(1.0, seed=s) for s in range(3)]
              + [nv.breath(RATE, seed=s) for s in range(2)])
    # words: VAD-sized pieces of the espeak speech (energy-gated runs)
    level = np.convolve(speech ** 2, np.ones(160) / 160, "same")
    loud = level > 1e-4
    edges = np.flatnonzero(np.diff(loud.astype(int)))
    voices = [speech[a:b] for a, b in zip(edges[::2], edges[1::2]) if 0.25 * RATE < b - a < 1.5 * RATE]
    assert len(voices) >= 6
    kinds = lambda xs: [segment_kind(pcm(x))[0] for x in xs]
    assert kinds(coughs) == ["cough"] * len(coughs)
    assert kinds(laughs).count("laugh") >= len(laughs) - 1
    assert kinds(noises) == ["noise"] * len(noises)
    assert kinds(voices).count("voice") >= 0.9 * len(voices) and "laugh" not in kinds(voices)
    kind, conf = segment_kind(nv.laugh(RATE, "big", seed=9).astype(np.float64), RATE)  # float input too
    assert kind == "laugh" and 0.5 <= conf <= 1.0


# ---- streaming mechanics ------------------------------------------------------------------------------
def test_block_size_and_reset_do_not_change_the_result():
    x = pcm(np.concatenate([sg.music(9.0, seed=8, style="pop") * 0.3, sg.noise("white", 4.0) * 0.2, floor(4.0)]))
    flags = np.zeros(len(x), bool)
    flags[int(2.3 * RATE): int(3.1 * RATE)] = True
    det = AcousticEventDetector()
    a = stream(x, flags, block=320, det=det)
    det.reset()
    b = stream(x, flags, block=320, det=det)
    c = stream(x, flags, block=77)
    key = lambda ev: [(e.kind, e.sample, e.payload.get("state")) for e in ev]
    assert key(a) == key(b) == key(c) and len(a) >= 2


@pytest.mark.parametrize("call", [
    lambda d: d.process(np.zeros(320, np.float32), False),
    lambda d: d.process(np.zeros((2, 160), np.int16), False),
    lambda d: d.process(np.zeros(0, np.int16), False),
    lambda d: d.process(np.zeros(320, np.int32), False),
    lambda d: d.process([0] * 320, False),
    lambda d: d.process(np.zeros(320, np.int16), "yes"),
    lambda d: d.process(np.zeros(320, np.int16), None),
    lambda d: segment_kind(np.array([0.1, np.nan] * 1000)),
    lambda d: segment_kind(np.zeros((2, 8000), np.int16)),
    lambda d: segment_kind(np.zeros(100, np.int16)),
    lambda d: segment_kind(np.zeros(8000, np.int16), rate=1000),
    lambda d: segment_kind(np.zeros(8000, np.uint8)),
    lambda d: AcousticEventDetector(AcousticConfig(hold_s=0)),
    lambda d: AcousticEventDetector(AcousticConfig(noise_level_db=float("nan"))),
    lambda d: AcousticEventDetector(AcousticConfig(music_window_s=10.0)),
    lambda d: AcousticEventDetector(AcousticConfig(tonal_coverage=1.5)),
])
def test_bad_input_raises_a_clear_error(call):
    det = AcousticEventDetector()
    with pytest.raises(AcousticError):
        call(det)
    assert issubclass(AcousticError, ValueError)
