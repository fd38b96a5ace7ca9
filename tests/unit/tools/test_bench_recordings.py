"""``seal bench --audio DIR``: the folder, its reference file and the per-file table (no stack)."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from seal_nodes.bench.recordings import (RecordingsError, format_rows, load_recordings, read_reference,
                                         summarize_rows)

pytestmark = pytest.mark.unit


def write_wav(path: Path, rate: int, speech: tuple[float, float], seconds: float = 2.0) -> None:
    pcm = np.zeros(int(seconds * rate), np.int16)
    a, b = int(speech[0] * rate), int(speech[1] * rate)
    pcm[a:b] = (8000 * np.sin(np.arange(b - a) * 0.3)).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def test_the_reference_file_sets_onset_and_end_and_other_files_are_estimated(tmp_path):
    write_wav(tmp_path / "a.wav", 48000, (0.5, 1.5))
    write_wav(tmp_path / "b.wav", 16000, (0.25, 1.0))
    (tmp_path / "reference.csv").write_text("file,onset_s,offset_s\na.wav,0.4,1.6\n")
    a, b = load_recordings(tmp_path)
    assert (a.name, a.estimated, a.utterance.onset, a.utterance.offset) == ("a.wav", False, 6400, 25600)
    assert len(a.utterance.pcm) == 32000  # resampled to 16 kHz
    assert b.estimated and abs(b.utterance.onset - 4000) <= 2 and abs(b.utterance.offset - 16000) <= 2


@pytest.mark.parametrize("csv_text, error", [
    ("file,onset\na.wav,0.1\n", "expected columns"),
    ("file,onset_s,offset_s\na.wav,1.0,0.5\n", "before offset_s"),
    ("file,onset_s,offset_s\nmissing.wav,0.1,0.5\n", "no such WAV"),
    ("file,onset_s,offset_s\na.wav,5.0,6.0\n", "2.00 s long"),
])
def test_a_bad_reference_file_is_refused_with_the_line_and_why(tmp_path, csv_text, error):
    write_wav(tmp_path / "a.wav", 16000, (0.5, 1.5))
    (tmp_path / "reference.csv").write_text(csv_text)
    with pytest.raises(RecordingsError, match=error):
        load_recordings(tmp_path)


def test_an_empty_or_missing_folder_and_a_silent_file_are_refused(tmp_path):
    with pytest.raises(RecordingsError, match="not a folder"):
        load_recordings(tmp_path / "nowhere")
    with pytest.raises(RecordingsError, match="no .wav files"):
        load_recordings(tmp_path)
    write_wav(tmp_path / "quiet.wav", 16000, (0.0, 0.0))
    with pytest.raises(RecordingsError, match="silent"):
        load_recordings(tmp_path)


def test_rows_are_summarised_per_path_leaving_out_what_was_not_measured(tmp_path):
    rows = [{"file": "a.wav", "reference": "reference.csv", "speech_start_ms": 50.0, "final_transcript_ms": 500.0,
             "first_audio_ms": 700.0, "heard": "pick up the red cube"},
            {"file": "b.wav", "reference": "estimated", "speech_start_ms": 70.0, "final_transcript_ms": None,
             "first_audio_ms": None, "heard": ""}]
    s = summarize_rows(rows)
    assert s["speech_start_ms"]["n"] == 2 and s["speech_start_ms"]["p50"] == 60.0
    assert s["final_transcript_ms"] == {"p50": 500.0, "p99": 500.0, "n": 1} and s["first_audio_ms"]["n"] == 1
    table = format_rows(rows)
    assert "| a.wav | reference.csv | 50 | 500 | 700 | pick up the red cube |" in table
    assert "| b.wav | estimated | 70 | – | – |  |" in table


def test_read_reference_reads_every_row(tmp_path):
    path = tmp_path / "reference.csv"
    path.write_text("file,onset_s,offset_s\nx.wav,0,1.25\ny.wav,0.5,2\n")
    assert read_reference(path) == {"x.wav": (0.0, 1.25), "y.wav": (0.5, 2.0)}
