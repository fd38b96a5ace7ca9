"""``seal bench --audio DIR``: the stack timed on the user's own recordings.

Each WAV in DIR is played into /audio/mic of the simulated stack in real time, as a microphone
delivers it, a few seconds apart. Where speech starts and ends in each file comes from
``DIR/reference.csv`` (``file,onset_s,offset_s``), so the figures line up with another framework
timed on the same files against the same reference; a file it does not list is measured against
onsets and ends found from its level, marked ``estimated``. From topic traffic only, per file:

- ``speech_start_ms``: true onset → the ``speech_start`` event received,
- ``final_transcript_ms``: true end of speech → the ``speech_end`` event received,
- ``first_audio_ms``: true end of speech → play-out stamp of the agent's first reply sample.
"""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from seal_nodes.core import events as ev
from seal_nodes.core.audio.frames import resample
from seal_nodes.core.audio.wav import read_wav
from seal_nodes.tools.latency import summarize
from seal_nodes.tools.spoken import RATE, Utterance, true_offset, true_onset

if TYPE_CHECKING:  # the stack's modules load rclpy; reading and checking a folder does not need it
    from seal_nodes.stack.session import StackSession

PATHS = ("speech_start_ms", "final_transcript_ms", "first_audio_ms")
REFERENCE = "reference.csv"
GAP_S = 3.0  # quiet between files, so each reply ends before the next file starts
MAX_FILES = 200


class RecordingsError(ValueError):
    """The folder or its reference file cannot be used (the message says why)."""


@dataclass
class Recording:
    name: str
    utterance: Utterance
    estimated: bool  # onset/offset from the level, not from the reference file


def read_reference(path: Path) -> dict[str, tuple[float, float]]:
    """``file,onset_s,offset_s`` rows → {file: (onset_s, offset_s)}."""
    out: dict[str, tuple[float, float]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            try:
                name, onset, offset = row["file"].strip(), float(row["onset_s"]), float(row["offset_s"])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise RecordingsError(f"{path}:{i}: expected columns file,onset_s,offset_s ({exc})") from exc
            if not 0 <= onset < offset:
                raise RecordingsError(f"{path}:{i}: onset_s {onset} must be ≥ 0 and before offset_s {offset}")
            out[name] = (onset, offset)
    return out


def load_recordings(folder: str | Path) -> list[Recording]:
    """The folder's WAVs at 16 kHz with their true onset and end of speech."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RecordingsError(f"{folder}: not a folder of WAV files")
    wavs = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav")
    if not wavs:
        raise RecordingsError(f"{folder}: no .wav files")
    if len(wavs) > MAX_FILES:
        raise RecordingsError(f"{folder}: {len(wavs)} WAV files, at most {MAX_FILES} per run")
    ref_path = folder / REFERENCE
    reference = read_reference(ref_path) if ref_path.is_file() else {}
    unknown = set(reference) - {p.name for p in wavs}
    if unknown:
        raise RecordingsError(f"{ref_path}: no such WAV in the folder: {', '.join(sorted(unknown))}")
    out = []
    for path in wavs:
        pcm, rate = read_wav(path)
        pcm = resample(pcm, rate, RATE)
        if path.name in reference:
            onset_s, offset_s = reference[path.name]
            onset, offset = int(onset_s * RATE), min(len(pcm), int(offset_s * RATE))
            if onset >= len(pcm):
                raise RecordingsError(f"{ref_path}: {path.name} is {len(pcm) / RATE:.2f} s long; onset_s {onset_s}")
        else:
            onset, offset = true_onset(pcm), true_offset(pcm)
            if offset <= onset:
                raise RecordingsError(f"{path}: silent (no sample above the speech level)")
        out.append(Recording(path.name, Utterance(path.stem, pcm, onset, offset), path.name not in reference))
    return out


def time_recordings(session: StackSession, recordings: list[Recording], echo=print,
                    slack: float = 1.0) -> list[dict]:
    """Play each recording into the running stack and measure it; one row per file."""
    from seal_nodes.stack.measure import final_transcript_ms, first_audio_ms, speech_start_ms

    rows = []
    for i, rec in enumerate(recordings, start=1):
        echo(f"[bench] recording {i}/{len(recordings)}: {rec.name}")
        since = time.time_ns()
        turn = session.speak(rec.utterance)
        session.wait_for(turn.played.is_set, 60.0 * slack, f"{rec.name} to be played")
        try:  # the thinker ends every turn it heard (turn_done); then its voice finishes
            session.wait_for(lambda: bool(session.events(ev.TURN_DONE, since)), 30.0 * slack, "the turn to end")
            session.wait_for(lambda: session.agent_idle(since, quiet_s=1.0), 30.0 * slack, "the agent to finish")
        except TimeoutError as exc:
            echo(f"[bench] {rec.name}: {exc}; measured what arrived")
        heard = [r.msg.text for r in session.events(ev.SPEECH_END, since)]
        rows.append({"file": rec.name, "reference": "estimated" if rec.estimated else REFERENCE,
                     "speech_start_ms": speech_start_ms(session, turn),
                     "final_transcript_ms": final_transcript_ms(session, turn),
                     "first_audio_ms": first_audio_ms(session, turn), "heard": " ".join(heard)})
        time.sleep(GAP_S)
    return rows


def summarize_rows(rows: list[dict]) -> dict[str, dict]:
    return {path: summarize([r[path] for r in rows if r[path] is not None]) for path in PATHS}


def format_rows(rows: list[dict]) -> str:
    def cell(v: float | None) -> str:
        return "–" if v is None else f"{v:.0f}"

    lines = ["| file | reference | speech start ms | final transcript ms | first audio ms | heard |",
             "|---|---|---:|---:|---:|---|"]
    lines += [f"| {r['file']} | {r['reference']} | {cell(r['speech_start_ms'])} | {cell(r['final_transcript_ms'])} "
              f"| {cell(r['first_audio_ms'])} | {r['heard'][:60]} |" for r in rows]
    return "\n".join(lines)
