"""``seal perceive FILE.wav``: run the audio perception core over a WAV as a real-time stream.

The clock is simulated but honest: frames arrive at their audio position, processing takes
the CPU time it really takes, and a frame that arrives while the previous one is still being
processed waits. An event's ``t_ms`` is the stream time at which it was emitted: audio
position plus accumulated processing delay. ``stamp_ms`` is the signal time the event is
about (the onset for ``speech_start``, the end of voice for ``speech_end``).

``--reference agent.wav`` plays a second file as the agent's own voice (the speaker stream),
aligned at t = 0, for echo and barge-in experiments.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seal_nodes.core.audio.frames import AudioFormatError, AudioFrame
from seal_nodes.core.audio.wav import read_wav
from seal_nodes.core.events import Event
from seal_nodes.core.perception.audio import AudioPerception, AudioPerceptionConfig

FRAME_MS = 20


@dataclass(frozen=True)
class TimedEvent:
    event: Event
    t_ms: float  # emission time in stream time (audio position + processing delay)

    def as_dict(self) -> dict[str, object]:
        e = self.event
        return {"type": e.type, "t_ms": round(self.t_ms, 1), "text": e.text,
                "confidence": round(float(e.confidence), 3), "stamp_ms": round(e.stamp_ns / 1e6, 1),
                **({"payload": e.payload} if e.payload else {})}


@dataclass
class PerceiveResult:
    events: list[TimedEvent]
    audio_s: float
    cpu_s: float  # processing time spent (wall time of the core's calls)

    @property
    def cpu_per_audio_s(self) -> float:
        return self.cpu_s / self.audio_s if self.audio_s else 0.0


def perceive_pcm(
    pcm: np.ndarray,
    rate: int,
    *,
    core: AudioPerception | None = None,
    reference: tuple[np.ndarray, int] | None = None,
    frame_ms: int = FRAME_MS,
) -> PerceiveResult:
    """Stream ``pcm`` (int16 mono) through the core frame by frame on a simulated real-time clock."""
    core = core or AudioPerception()
    core.reset()
    n = max(1, rate * frame_ms // 1000)
    ref_pcm, ref_rate = reference if reference is not None else (None, rate)
    ref_n = max(1, ref_rate * frame_ms // 1000)
    clock_ms = 0.0
    cpu = 0.0
    out: list[TimedEvent] = []
    for k, i in enumerate(range(0, len(pcm), n)):
        arrival_ms = (i + n) * 1000.0 / rate  # a frame is available once all of it was heard
        clock_ms = max(clock_ms, arrival_ms)
        stamp_ns = int(i * 1e9 / rate)
        t0 = time.perf_counter()
        if ref_pcm is not None and k * ref_n < len(ref_pcm):
            core.add_reference(AudioFrame(ref_pcm[k * ref_n:(k + 1) * ref_n], ref_rate, stamp_ns))
        sensed = core.sense(AudioFrame(pcm[i:i + n], rate, stamp_ns))
        t1 = time.perf_counter()
        out += [TimedEvent(e, clock_ms + (t1 - t0) * 1e3) for e in sensed]
        decoded = core.decode()
        t2 = time.perf_counter()
        out += [TimedEvent(e, clock_ms + (t2 - t0) * 1e3) for e in decoded]
        clock_ms += (t2 - t0) * 1e3
        cpu += t2 - t0
    t0 = time.perf_counter()
    flushed = core.flush()
    clock_ms += (time.perf_counter() - t0) * 1e3
    out += [TimedEvent(e, clock_ms) for e in flushed]
    return PerceiveResult(out, len(pcm) / rate, cpu)


def perceive_file(path: str | Path, *, reference: str | Path | None = None,
                  core: AudioPerception | None = None) -> PerceiveResult:
    """Read a WAV (any rate, mono or stereo) and perceive it; see ``perceive_pcm``."""
    pcm, rate = read_wav(path)
    if len(pcm) == 0:
        raise AudioFormatError(f"{path}: no audio samples")
    ref = read_wav(reference) if reference else None
    return perceive_pcm(pcm, rate, core=core, reference=ref)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal perceive", description=__doc__.splitlines()[0])
    ap.add_argument("wav", help="WAV file (16-bit PCM, any rate)")
    ap.add_argument("--json", dest="json_path", help="write the event list here")
    ap.add_argument("--reference", help="WAV of the agent's own voice (echo reference), aligned at t=0")
    ap.add_argument("--bias", default="", help="comma-separated words the recogniser should expect")
    ap.add_argument("--silence-hint-s", type=float, default=AudioPerceptionConfig.silence_hint_s)
    args = ap.parse_args(argv)
    cfg = AudioPerceptionConfig(silence_hint_s=args.silence_hint_s,
                                bias_words=[w for w in args.bias.split(",") if w.strip()])
    try:
        result = perceive_file(args.wav, reference=args.reference, core=AudioPerception(cfg))
    except (OSError, ValueError) as exc:  # AudioFormatError is a ValueError
        print(f"seal perceive: {exc}", file=sys.stderr)
        return 2
    events = [e.as_dict() for e in result.events]
    for e in events:
        print(f"{e['t_ms']:9.1f} ms  {e['type']:<16} {e['confidence']:.2f}  {e['text']}")
    print(f"{result.audio_s:.1f} s of audio, {result.cpu_s:.2f} s CPU ({result.cpu_per_audio_s:.3f} s per audio s)")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(events, indent=1) + "\n")
    return 0
