import wave

import numpy as np
import pytest

from seal_nodes.core.audio.frames import AudioFormatError
from seal_nodes.core.audio.wav import iter_chunks, read_wav, write_wav

pytestmark = pytest.mark.unit


def test_roundtrip(tmp_path):
    pcm = (np.sin(np.arange(1600) / 5) * 8000).astype(np.int16)
    write_wav(tmp_path / "a.wav", pcm, 16000)
    back, rate = read_wav(tmp_path / "a.wav")
    assert rate == 16000 and back.dtype == np.int16
    np.testing.assert_array_equal(back, pcm)


def test_stereo_is_downmixed(tmp_path):
    left = np.full(100, 1000, np.int16)
    right = np.full(100, 3000, np.int16)
    with wave.open(str(tmp_path / "s.wav"), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(np.stack([left, right], 1).astype("<i2").tobytes())
    pcm, rate = read_wav(tmp_path / "s.wav")
    assert rate == 8000 and pcm.shape == (100,) and np.all(pcm == 2000)


def test_8bit_and_32bit_converted(tmp_path):
    for width, raw, expect in ((1, bytes([128, 255, 0]), [0, 127 << 8, -32768]),
                               (4, np.array([1 << 30, -(1 << 30)], "<i4").tobytes(), [16384, -16384])):
        with wave.open(str(tmp_path / "w.wav"), "wb") as w:
            w.setnchannels(1), w.setsampwidth(width), w.setframerate(16000)
            w.writeframes(raw)
        pcm, _ = read_wav(tmp_path / "w.wav")
        assert pcm.tolist() == expect


def test_missing_file(tmp_path):
    with pytest.raises(AudioFormatError, match="no such WAV file"):
        read_wav(tmp_path / "nope.wav")


def test_text_file_is_not_wav(tmp_path):
    (tmp_path / "t.wav").write_text("definitely not audio\n")
    with pytest.raises(AudioFormatError, match="not a readable PCM WAV"):
        read_wav(tmp_path / "t.wav")


def test_empty_wav(tmp_path):
    write_wav(tmp_path / "e.wav", np.zeros(0, np.int16), 16000)
    with pytest.raises(AudioFormatError, match="no audio frames"):
        read_wav(tmp_path / "e.wav")


def test_write_rejects_float(tmp_path):
    with pytest.raises(AudioFormatError):
        write_wav(tmp_path / "f.wav", np.zeros(10, np.float32), 16000)


def test_iter_chunks_covers_signal():
    pcm = np.arange(1000, dtype=np.int16)
    chunks = list(iter_chunks(pcm, 16000, 20))
    assert [len(c) for c in chunks] == [320, 320, 320, 40]
    np.testing.assert_array_equal(np.concatenate(chunks), pcm)


def test_unreadable_path_is_a_format_error(tmp_path):
    folder = tmp_path / "looks_like.wav"
    folder.mkdir()
    with pytest.raises(AudioFormatError):
        read_wav(folder)
