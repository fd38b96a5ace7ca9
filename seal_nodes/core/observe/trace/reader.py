"""A recording (MCAP, ros2msg schemas, CDR) decoded into plain records, ROS-free.

Only the channels the trace shows are decoded, camera frames only where a page shows one. A
recording cut short is read up to the cut and marked ``truncated``; a file that is no
recording at all is a ``TraceError``.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mcap.exceptions import McapError

from seal_nodes.core import topics

_BROKEN = (McapError, ValueError, KeyError, EOFError, struct.error)  # what a torn or foreign file raises


class TraceError(ValueError):
    """A recording that cannot be read; the message says which file and why."""


@dataclass
class EventRec:
    log_ns: int  # when the recorder received it
    stamp_ns: int  # when its originating signal happened
    type: str
    text: str
    source: str
    trace_id: str
    confidence: float
    payload: dict[str, Any]
    payload_error: str = ""  # payload_json that is not a JSON object


@dataclass
class ThoughtRec:
    log_ns: int
    kind: str
    text: str
    trace_id: str


@dataclass
class LatencyRec:
    log_ns: int
    path: str
    ms: float
    trace_id: str


@dataclass
class AudioRec:
    stamp_ns: int  # first sample
    rate: int
    channels: int
    trace_id: str
    data: bytes  # S16LE


@dataclass
class FrameRec:
    log_ns: int
    width: int
    height: int
    encoding: str
    data: bytes


@dataclass
class Recording:
    path: str
    events: list[EventRec] = field(default_factory=list)
    thoughts: list[ThoughtRec] = field(default_factory=list)
    latency: list[LatencyRec] = field(default_factory=list)
    mic: list[AudioRec] = field(default_factory=list)
    speaker: list[AudioRec] = field(default_factory=list)
    frames: list[FrameRec] = field(default_factory=list)  # decoded frames held in memory (built, not read)
    frame_ns: list[int] = field(default_factory=list)  # when each camera frame of the file arrived
    trajectory_ns: list[int] = field(default_factory=list)  # arm commands' receipt times
    channels: dict[str, int] = field(default_factory=dict)  # every channel in the file → its message count
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)  # how the run was started (launch args)
    truncated: str = ""  # why reading stopped before the end of a recording cut short

    @property
    def start_ns(self) -> int:
        stamps = [e.log_ns for e in self.events] + [t.log_ns for t in self.thoughts]
        return min(stamps) if stamps else 0


def _stamp(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def _event(log_ns: int, m: Any) -> EventRec:
    payload, error = {}, ""
    if m.payload_json:
        try:
            value = json.loads(m.payload_json)
        except (ValueError, RecursionError) as exc:
            value, error = {}, f"payload_json is not JSON: {exc}"
        if isinstance(value, dict):
            payload = value
        elif not error:
            error = "payload_json is not a JSON object"
    return EventRec(log_ns, _stamp(m), m.type, m.text, m.source, m.trace_id, float(m.confidence), payload, error)


def read_recording(path: str | Path) -> Recording:
    """Decode the events, thoughts, latency, audio and arm channels of ``path``; camera frames are
    only timed here (``load_frames`` decodes the few a page shows)."""
    if not _has_magic(path):
        raise TraceError(f"{path} is not a readable MCAP recording: it does not start with the MCAP magic bytes")
    rec = Recording(str(path))
    wanted = {topics.EVENTS.name, topics.THOUGHTS.name, topics.LATENCY.name, topics.MIC.name, topics.SPEAKER.name,
              topics.ARM_TRAJECTORY.name}

    def visit(topic: str, log_ns: int, data: bytes, decode: Callable[[bytes], Any]) -> None:
        if topic == topics.CAMERA.name:
            rec.frame_ns.append(log_ns)
        elif topic in wanted:
            _add(rec, topic, log_ns, decode(data))

    rec.truncated = _scan(path, rec.channels, visit, rec.metadata)
    for timed in (rec.events, rec.thoughts, rec.latency):  # file order is write order, not quite time order
        timed.sort(key=lambda r: r.log_ns)
    for audio in (rec.mic, rec.speaker):
        audio.sort(key=lambda a: a.stamp_ns)
    rec.frame_ns.sort()
    rec.trajectory_ns.sort()
    return rec


def load_frames(rec: Recording, times_ns: list[int]) -> list[FrameRec | None]:
    """The camera frame received nearest each of ``times_ns`` (None where there are no frames)."""
    if rec.frames or not rec.frame_ns:
        by_time = sorted(rec.frames, key=lambda f: f.log_ns)
        return [min(by_time, key=lambda f: abs(f.log_ns - t)) if by_time else None for t in times_ns]
    best: list[tuple[int, bytes, Callable[[bytes], Any]] | None] = [None] * len(times_ns)

    def visit(topic: str, log_ns: int, data: bytes, decode: Callable[[bytes], Any]) -> None:
        if topic != topics.CAMERA.name:
            return
        for i, t in enumerate(times_ns):
            held = best[i]
            if held is None or abs(log_ns - t) < abs(held[0] - t):
                best[i] = (log_ns, data, decode)

    _scan(rec.path, {}, visit)
    frames: list[FrameRec | None] = []
    for held in best:
        m = held[2](held[1]) if held else None
        frames.append(FrameRec(held[0], int(m.width), int(m.height), m.encoding, bytes(m.data)) if held else None)
    return frames


def _has_magic(path: str | Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(5) == b"\x89MCAP"
    except OSError as exc:
        raise TraceError(f"cannot read {path}: {exc}") from exc


Visit = Callable[[str, int, bytes, Callable[[bytes], Any]], None]


def _scan(path: str | Path, counts: dict[str, int], visit: Visit, metadata: dict[str, dict[str, str]] | None = None
          ) -> str:
    """Every whole message of the file, in file order, to ``visit`` (topic, log time, CDR, its
    decoder); ``counts`` gets each channel's messages, ``metadata`` the file's metadata records.
    Returns why it stopped early ("" at the end).

    A stream read needs no summary, so a recording cut short (the stack killed while writing:
    no summary, a torn last chunk) is read up to its last whole record."""
    from mcap.records import Channel, DataEnd, Footer, Message, Metadata, Schema
    from mcap.stream_reader import StreamReader
    from mcap_ros2.decoder import DecoderFactory

    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    decoders: dict[int, Callable[[bytes], Any]] = {}
    factory = DecoderFactory()
    ended = False
    with open(path, "rb") as f:
        try:
            for record in StreamReader(f, skip_magic=False).records:
                if isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Channel):
                    channels[record.id] = record
                    counts.setdefault(record.topic, 0)
                elif isinstance(record, Message) and record.channel_id in channels:
                    channel = channels[record.channel_id]
                    counts[channel.topic] += 1
                    if record.channel_id not in decoders:
                        decoder = factory.decoder_for(channel.message_encoding, schemas.get(channel.schema_id))
                        if decoder is None:
                            raise TraceError(f"{path}: no decoder for {channel.topic} ({channel.message_encoding})")
                        decoders[record.channel_id] = decoder
                    visit(channel.topic, record.log_time, record.data, decoders[record.channel_id])
                elif isinstance(record, Metadata) and metadata is not None:
                    metadata[record.name] = dict(record.metadata)
                elif isinstance(record, (DataEnd, Footer)):
                    ended = True
        except _BROKEN as exc:
            return f"the file breaks off ({type(exc).__name__} {exc}); read up to its last whole record"
    return "" if ended else "the file ends early (the recording was not closed); read up to its last whole record"


def _add(rec: Recording, topic: str, log_ns: int, m: Any) -> None:
    if topic == topics.EVENTS.name:
        rec.events.append(_event(log_ns, m))
    elif topic == topics.THOUGHTS.name:
        rec.thoughts.append(ThoughtRec(log_ns, m.kind, m.text, m.trace_id))
    elif topic == topics.LATENCY.name:
        rec.latency.append(LatencyRec(log_ns, m.path, float(m.ms), m.trace_id))
    elif topic in (topics.MIC.name, topics.SPEAKER.name):
        audio = AudioRec(_stamp(m), int(m.sample_rate), int(m.channels), m.trace_id, bytes(m.data))
        (rec.mic if topic == topics.MIC.name else rec.speaker).append(audio)
    elif topic == topics.ARM_TRAJECTORY.name:
        rec.trajectory_ns.append(log_ns)
