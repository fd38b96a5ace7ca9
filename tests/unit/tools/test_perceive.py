import json

import numpy as np
import pytest

from seal_nodes.core.audio.wav import write_wav
from seal_nodes.tools.perceive import main, perceive_pcm
from seal_nodes.tools.wer import wer
from tests.helpers.audio import RATE, piper, silence

pytestmark = pytest.mark.unit


def test_perceive_writes_timed_events(tmp_path, capsys):
    wav = tmp_path / "cmd.wav"
    speech = piper("pick up the red cube")
    write_wav(wav, np.concatenate([silence(1.0), speech, silence(1.5)]), RATE)
    out = tmp_path / "events.json"
    assert main([str(wav), "--json", str(out)]) == 0
    events = json.loads(out.read_text())
    assert all({"type", "t_ms", "text", "confidence"} <= set(e) for e in events)
    types = [e["type"] for e in events]
    assert types[0] == "speech_start" and types[-1] == "speech_end" and "speech_fragment" in types
    assert [e["t_ms"] for e in events] == sorted(e["t_ms"] for e in events)
    start, end = events[0], events[-1]
    assert 1000 < start["t_ms"] < 1000 + 200  # onset at 1 s plus detection and processing
    assert start["stamp_ms"] <= start["t_ms"]
    assert end["t_ms"] > 1000 + len(speech) * 1000 / RATE - 300  # after the speech, not before it
    assert wer(["pick up the red cube"], [end["text"]]) == 0.0
    assert "speech_end" in capsys.readouterr().out


def test_processing_delay_is_added_to_the_stream_clock():
    result = perceive_pcm(silence(2.0), RATE)
    assert result.events == [] and result.audio_s == pytest.approx(2.0)
    assert result.cpu_s > 0 and result.cpu_per_audio_s < 1.0


def test_clipped_input_is_processed_and_reported():
    rng = np.random.default_rng(0)
    loud = np.clip(rng.normal(0, 30000, 3 * RATE), -32768, 32767).astype(np.int16)
    result = perceive_pcm(loud, RATE)
    warnings = [t.event for t in result.events if t.event.type == "error"]
    assert len(warnings) == 1 and "clipping" in warnings[0].text  # once, not every frame
    assert warnings[0].payload["severity"] == "warning"


@pytest.mark.parametrize("content, msg", [
    (b"this is not a wav file", "not a readable PCM WAV"),
    (None, "no audio frames"),  # a WAV header with no samples
])
def test_bad_files_give_a_clear_error(tmp_path, capsys, content, msg):
    path = tmp_path / "bad.wav"
    if content is None:
        write_wav(path, np.zeros(0, np.int16), RATE)
    else:
        path.write_bytes(content)
    assert main([str(path)]) == 2
    assert msg in capsys.readouterr().err


def test_missing_file_and_odd_rates(tmp_path, capsys):
    assert main([str(tmp_path / "nope.wav")]) == 2
    assert "no such WAV file" in capsys.readouterr().err
    wav = tmp_path / "8k.wav"
    from seal_nodes.core.audio.frames import resample

    write_wav(wav, resample(np.concatenate([silence(0.5), piper("go home"), silence(1.5)]), RATE, 8000), 8000)
    assert main([str(wav)]) == 0  # another rate is resampled, not refused
    assert "speech_end" in capsys.readouterr().out


def test_the_seal_command_passes_options_through(tmp_path, capsys):
    from seal_nodes.cli import main as seal

    wav = tmp_path / "quiet.wav"
    write_wav(wav, silence(1.0), RATE)
    out = tmp_path / "events.json"
    assert seal(["perceive", str(wav), "--json", str(out), "--silence-hint-s", "0.5"]) == 0
    assert [e["type"] for e in json.loads(out.read_text())] == ["silence"]
