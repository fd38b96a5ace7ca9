import json
import shutil
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from seal_nodes.core.audio.wav import read_wav
from seal_nodes.tools.speechset import (KINDS, LABELS, ONSET_LEVEL, Condition, SpeechItem, SpeechSetError, Voice,
                                        build_speech_set, load_sentences, load_speech_set)
from seal_nodes.tools.wer import normalize

pytestmark = pytest.mark.unit

needs_tts = pytest.mark.skipif(shutil.which("espeak-ng") is None or find_spec("piper") is None,
                               reason="espeak-ng CLI or piper not installed")
LIMIT = 8  # two items of each kind


def _build(root, name, **kw):
    kw.setdefault("size", "small")
    kw.setdefault("limit", LIMIT)
    return build_speech_set(root / name, progress=False, **kw)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """The same seed rendered clean, in pink noise and in music (one build each)."""
    root = tmp_path_factory.mktemp("speechset")
    return root, {c: _build(root, c, conditions=[c]) for c in ("clean", "pink_5db", "music_10db")}


# ----------------------------------------------------------------------------- sentences
def test_sentence_file_sections():
    s = load_sentences()
    assert sum(len(v) for k, v in s.items() if k != "agent") >= 60
    assert {"Stop.", "Go home.", "Pick up the red cube."} <= {x.text for x in s["commands"]}
    assert {"uh-huh", "mm-hmm", "okay", "I see."} <= {x.text for x in s["backchannels"]}
    for x in s["bias"]:
        words = normalize(x.text)
        for kw in x.keywords:  # every keyword is in the reference, spelled as written
            k = normalize(kw)
            assert any(words[i : i + len(k)] == k for i in range(len(words))), (kw, x.text)
    niamh = next(x for x in s["bias"] if x.text.startswith("Give the ochre"))
    assert "Niamh" in niamh.text and "Neev" in niamh.spoken and "{" not in niamh.text


def test_pause_marks_split_at_word_boundaries():
    paused = [x for x in load_sentences()["commands"] if x.parts]
    assert len(paused) >= 5
    green = next(x for x in paused if x.text == "Put the green cube in the bin.")
    assert green.parts == ("Put the green cube,", "in the bin.") and green.pause_after_words == 4
    assert "|" not in green.text and "|" not in green.spoken


@pytest.mark.parametrize("body, match", [
    ("Stop.\n", "before the first"),
    ("# section: nonsense\nStop.\n", "unknown section"),
    ("# section: commands\nput | the | cube\n", "at most one"),
    ("# section: bias\nGive it to Aoife.\n", "needs ' :: "),
    ("# section: bias\nGive it to Aoife. :: Niamh\n", "not all in"),
    ("# section: commands\nStop.\n", "no sentences in sections"),
])
def test_sentence_file_errors(tmp_path, body, match):
    path = tmp_path / "s.txt"
    path.write_text(body)
    with pytest.raises(SpeechSetError, match=match):
        load_sentences(path)


# ----------------------------------------------------------------------------- parameters
def test_voice_and_condition_keys():
    assert Voice.parse("espeak:en-us+f3@175") == Voice("espeak", "en-us+f3", 175.0)
    assert Voice.parse("piper:joe@0.85").key == "piper:joe@0.85"
    assert Condition.parse("music_5db") == Condition("music", 5.0)
    assert Condition.parse("clean").key == "clean"
    for bad in ("espeak:en-us", "piper:amy@1", "espeak:en-us@20", "festival:x@1"):
        with pytest.raises(SpeechSetError):
            Voice.parse(bad)
    for bad in ("noisy", "rain_5db", "pink_5"):
        with pytest.raises(SpeechSetError):
            Condition.parse(bad)


@pytest.mark.parametrize("kw", [{"size": "huge"}, {"limit": 0}, {"seed": -1}, {"voices": []},
                                {"conditions": ["pink"]}])
def test_builder_rejects_bad_parameters(tmp_path, kw):
    with pytest.raises(SpeechSetError):
        build_speech_set(tmp_path, progress=False, **kw)
    assert not (tmp_path / "manifest.json").exists()


def test_item_json_round_trip_and_validation():
    item = SpeechItem("pause_000", "/x/pause_000.wav", "paused_utterance", "Put it in the bin.",
                      "commands", "piper:joe@1", 1.0, "fan_5db", 5.0, 1000.0, 3000.0, 4500.0,
                      pause_after_words=2, pause_start_ms=1500.0, pause_ms=600.0)
    assert SpeechItem.from_json(json.loads(json.dumps(item.to_json()))) == item
    with pytest.raises(SpeechSetError, match="kind"):
        SpeechItem.from_json({**item.to_json(), "kind": "song"})
    with pytest.raises(SpeechSetError, match="label"):
        SpeechItem.from_json({**item.to_json(), "kind": "barge_in"})
    with pytest.raises(SpeechSetError, match="missing"):
        SpeechItem.from_json({k: v for k, v in item.to_json().items() if k != "onset_ms"})
    with pytest.raises(SpeechSetError, match="unknown"):
        SpeechItem.from_json({**item.to_json(), "extra": 1})


def test_load_without_a_set(tmp_path):
    with pytest.raises(SpeechSetError, match="no speech set"):
        load_speech_set(tmp_path)


# ----------------------------------------------------------------------------- building
@needs_tts
def test_limited_build_covers_every_kind_and_round_trips(sets):
    root, by_cond = sets
    items = by_cond["clean"]
    assert [i.kind for i in items] == list(KINDS) * 2
    manifest = json.loads((root / "clean" / "manifest.json").read_text())
    assert all(not e["path"].startswith("/") for e in manifest["items"])  # movable folder
    assert load_speech_set(root / "clean") == items
    for i in items:
        pcm, rate = read_wav(i.path)
        assert rate == 16_000 and pcm.dtype == np.int16
        assert len(pcm) == round(i.duration_ms * 16)
        assert i.condition == "clean" and i.snr_db is None
        assert 0 < i.onset_ms < i.offset_ms < i.duration_ms


@needs_tts
def test_onsets_and_offsets_are_where_the_speech_is(sets):
    _, by_cond = sets
    for i in by_cond["clean"]:
        if i.kind == "barge_in":
            continue  # the mic also carries the agent's echo; checked separately
        pcm, _ = read_wav(i.path)
        sound = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 8)  # anything above silence
        assert abs(sound[0] / 16 - i.onset_ms) < 5, i.id  # within the 5 ms faded edge
        assert abs((sound[-1] + 1) / 16 - i.offset_ms) < 5, i.id
        assert 800 <= i.onset_ms <= 1520 and i.duration_ms - i.offset_ms >= 1500


@needs_tts
def test_paused_utterances_pause_mid_sentence(sets):
    _, by_cond = sets
    paused = [i for i in by_cond["clean"] if i.kind == "paused_utterance"]
    assert paused
    for i in paused:
        pcm, _ = read_wav(i.path)
        assert 500 <= i.pause_ms <= 700 and 0 < i.pause_after_words < len(i.text.split())
        a, b = round(i.pause_start_ms * 16), round((i.pause_start_ms + i.pause_ms) * 16)
        assert np.abs(pcm[a:b]).max() <= ONSET_LEVEL  # silent through the pause …
        assert np.abs(pcm[a - 160 : a]).max() > ONSET_LEVEL  # … with speech on both sides
        assert np.abs(pcm[b : b + 160]).max() > ONSET_LEVEL
        assert i.onset_ms < i.pause_start_ms < i.offset_ms


@needs_tts
def test_barge_in_items_carry_the_agents_echo(sets):
    _, by_cond = sets
    for i in (i for i in by_cond["clean"] if i.kind == "barge_in"):
        mic, _ = read_wav(i.path)
        ref, _ = read_wav(i.ref_path)
        assert len(mic) == len(ref) and i.label in LABELS and i.agent_text
        assert (i.text == "") == (i.label == "noise")
        assert 30 <= i.echo_delay_ms <= 60 and -12 <= i.echo_gain_db <= -6
        talk = np.flatnonzero(np.abs(ref.astype(np.int32)) > ONSET_LEVEL)
        assert talk[0] / 16 + 900 < i.onset_ms < talk[-1] / 16  # the user comes in mid-sentence
        # before the user, the mic is the reference delayed by the room: find the delay
        before = slice(0, int(i.onset_ms * 16))
        m, r = mic[before].astype(float), ref[before].astype(float)
        lags = range(80 * 16)
        best = max(lags, key=lambda k: np.dot(m[k:], r[: len(r) - k]))
        assert abs(best / 16 - i.echo_delay_ms) < 1.0
        level = 10 * np.log10(np.mean(m[talk[0]:] ** 2) / np.mean(r[talk[0]:] ** 2))
        assert abs(level - i.echo_gain_db) < 2.0  # reverb spreads some energy past the cut


@needs_tts
@pytest.mark.parametrize("cond, snr", [("pink_5db", 5.0), ("music_10db", 10.0)])
def test_mixtures_are_at_the_target_snr(sets, cond, snr):
    _, by_cond = sets
    for clean, noisy in zip(by_cond["clean"], by_cond[cond]):
        # the condition changes only the background: same text, voice and timing
        assert (clean.text, clean.voice, clean.onset_ms) == (noisy.text, noisy.voice, noisy.onset_ms)
        assert noisy.snr_db == snr and noisy.condition == cond
        s = read_wav(clean.path)[0].astype(float)
        n = read_wav(noisy.path)[0].astype(float) - s  # the echo of a barge-in cancels too
        if clean.kind == "barge_in":
            assert np.sqrt(np.mean(n**2)) > 30
            continue
        # SNR over the active speech: 20 ms frames within 35 dB of the loudest (as soundgen)
        f = 320
        s, n = s[: len(s) // f * f], n[: len(s) // f * f]
        e = 10 * np.log10(np.mean(s.reshape(-1, f) ** 2, axis=1) + 1e-9)
        active = np.repeat(e > e.max() - 35, f)
        measured = 10 * np.log10(np.mean(s[active] ** 2) / np.mean(n[active] ** 2))
        assert abs(measured - snr) < 0.5, clean.id


@needs_tts
def test_cache_is_reused_and_replaced(tmp_path):
    first = _build(tmp_path, "set", limit=4)
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "set").iterdir()}
    again = _build(tmp_path, "set", limit=4)
    assert again == first
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "set").iterdir()} == stamps
    (tmp_path / "set" / "extra.wav").write_bytes(b"not ours")  # files not in the manifest stay
    other = _build(tmp_path, "set", limit=2, seed=1)
    names = {p.name for p in (tmp_path / "set").iterdir()}
    assert names == {"manifest.json", "extra.wav"} | {f"{i.id}.wav" for i in other}
    Path(other[0].path).unlink()  # an incomplete set is rebuilt, not loaded
    assert _build(tmp_path, "set", limit=2, seed=1) == other


@needs_tts
def test_deterministic_given_the_seed(tmp_path, sets):
    _, by_cond = sets

    def wavs(items):
        return [open(i.path, "rb").read() for i in items]
    again = _build(tmp_path, "again", conditions=["clean"])
    assert wavs(again) == wavs(by_cond["clean"])
    assert [i.onset_ms for i in again] == [i.onset_ms for i in by_cond["clean"]]
    fewer = _build(tmp_path, "fewer", conditions=["clean"], limit=4)  # a limit keeps items as they are
    assert wavs(fewer) == wavs(by_cond["clean"][:4])
    other = _build(tmp_path, "other", conditions=["clean"], seed=7)
    assert wavs(other) != wavs(by_cond["clean"])


@needs_tts
def test_a_broken_manifest_is_rebuilt_and_paths_are_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = build_speech_set(Path("rel"), size="small", limit=2, progress=False)
    assert all(Path(i.path).is_absolute() and Path(i.path).is_file() for i in first)
    (tmp_path / "rel" / "manifest.json").write_text('{"items": [{"id": 1}]}')
    with pytest.raises(SpeechSetError, match="bad item"):
        load_speech_set(tmp_path / "rel")
    assert build_speech_set(Path("rel"), size="small", limit=2, progress=False) == first
    assert load_speech_set(tmp_path / "rel") == first
