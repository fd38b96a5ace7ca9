"""Size and value bounds of the stack's messages, and cheap refusal of what breaks them.

ROS-free. Each topic of ``core.topics`` that a node subscribes to has its bounds here (array
lengths, string lengths, audio chunk seconds, trajectory points and joints); a node checks a
message against them first, in time linear in the message's size and with no copy of its data,
before decoding audio, building arrays or parsing JSON. Each check returns the reason a message
is refused (a short text of bounded length) or ``""`` when it is within bounds.

``Refusals`` keeps refusing cheap under a flood: it counts refusals per key and says when a
report is due (the first of a window and then one per window), so a node never logs or
publishes per refused message. ``AudioBudget`` bounds a stream's audio to a little over real
time, so a flood of well-formed chunks cannot buy more decoding than a microphone would.
"""
from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Callable

from seal_nodes.core import topics

# --- strings shared by many messages ------------------------------------------------------------
MAX_ID_CHARS = 128  # trace ids, utterance ids, sources, event types, frame ids, encodings
MAX_NAME_CHARS = 64  # joint and object names
# --- /audio/mic, /audio/speaker (seal_interfaces/AudioChunk) --------------------------------------
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 48_000
MAX_CHANNELS = 2
MAX_CHUNK_S = 0.5  # a chunk is 20 ms by contract; half a second leaves room for any capture block
# --- /camera/image_raw (sensor_msgs/Image) --------------------------------------------------------
MAX_IMAGE_SIDE = 4096
MAX_IMAGE_BYTES = 4096 * 4096 * 4
# --- /joint_states (sensor_msgs/JointState), /sim/object_poses (seal_interfaces/ObjectPoses) ------
MAX_JOINTS = 16
MAX_OBJECTS = 64
# --- /arm/joint_trajectory (trajectory_msgs/JointTrajectory) --------------------------------------
MAX_TRAJECTORY_POINTS = 1_000
MAX_TRAJECTORY_S = 600.0  # time_from_start of the last point
# --- /seal/events (seal_interfaces/Event) ---------------------------------------------------------
MAX_EVENT_TEXT = 8_192  # a transcript, a description, an error text
MAX_PAYLOAD_JSON = 256 * 1024  # a skill's steps or a voice embedding fit many times over
# --- std_msgs/String topics ----------------------------------------------------------------------
MAX_CONTROL_CHARS = 32  # /tts/control: "pause" | "resume"
MAX_BIAS_WORDS_CHARS = 4_096  # /perception/bias_words: comma-separated phrases
MAX_PAGE_CHARS = 4_096  # /gui/page: "seed:N ..." or a URL
# --- action goals --------------------------------------------------------------------------------
MAX_INSTRUCTION_CHARS = 1_024  # Manipulate
MAX_GUI_INSTRUCTION_CHARS = 64_000  # GuiAct: a step in words, or a run_skill call carrying its skill
MAX_SPEAK_CHARS = 64 * 1024  # Speak: far over the voice's own limit, which aborts a goal with its reason

_HEADROOM = 64 * 1024  # header, ids and the serialization's own lengths and padding
# Serialized size of a message within every bound above: a subscriber drops anything larger
# before deserializing it (a megabyte of strings costs far more as Python objects than as bytes).
MAX_MESSAGE_BYTES: dict[str, int] = {
    topics.MIC.name: int(MAX_SAMPLE_RATE * MAX_CHANNELS * 2 * MAX_CHUNK_S) + _HEADROOM,
    topics.SPEAKER.name: int(MAX_SAMPLE_RATE * MAX_CHANNELS * 2 * MAX_CHUNK_S) + _HEADROOM,
    topics.CAMERA.name: MAX_IMAGE_BYTES + _HEADROOM,
    topics.SCREEN.name: MAX_IMAGE_BYTES + _HEADROOM,
    topics.JOINT_STATES.name: MAX_JOINTS * (MAX_NAME_CHARS + 8 + 3 * 8) + _HEADROOM,
    topics.OBJECT_POSES.name: MAX_OBJECTS * (MAX_NAME_CHARS + 8 + 7 * 8) + _HEADROOM,
    # each point: positions, velocities, accelerations, efforts of every joint, and its time
    topics.ARM_TRAJECTORY.name: MAX_TRAJECTORY_POINTS * (4 * (4 + MAX_JOINTS * 8) + 8)
    + MAX_JOINTS * (MAX_NAME_CHARS + 8) + _HEADROOM,
    # UTF-8 text: up to 4 bytes a character; the payload is ASCII (json.dumps escapes the rest)
    topics.EVENTS.name: 4 * MAX_EVENT_TEXT + MAX_PAYLOAD_JSON + _HEADROOM,
    topics.TTS_CONTROL.name: 4 * MAX_CONTROL_CHARS + _HEADROOM,
    topics.BIAS_WORDS.name: 4 * MAX_BIAS_WORDS_CHARS + _HEADROOM,
    topics.GUI_PAGE.name: 4 * MAX_PAGE_CHARS + _HEADROOM,
}


def check_text(field: str, value: str, limit: int) -> str:
    """A string field of at most ``limit`` characters."""
    return f"{field} has {len(value)} characters (at most {limit})" if len(value) > limit else ""


def check_ids(**fields: str) -> str:
    """Id-like string fields (trace ids, sources, types), each at most ``MAX_ID_CHARS``."""
    for name, value in fields.items():
        if len(value) > MAX_ID_CHARS:
            return f"{name} has {len(value)} characters (at most {MAX_ID_CHARS})"
    return ""


def _names(field: str, names: Sequence[str], limit: int) -> str:
    if len(names) > limit:
        return f"{len(names)} {field} (at most {limit})"
    if any(len(n) > MAX_NAME_CHARS for n in names):
        return f"a name in {field} is longer than {MAX_NAME_CHARS} characters"
    return ""


def _finite(values: Sequence[float]) -> bool:
    return all(map(math.isfinite, values))


def check_audio_chunk(n_bytes: int, sample_rate: int, channels: int, encoding: str, trace_id: str) -> str:
    """An AudioChunk's header and size; the samples themselves are any 16-bit values."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        return f"sample_rate {sample_rate} outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz"
    if not 1 <= channels <= MAX_CHANNELS:
        return f"channels {channels} outside 1..{MAX_CHANNELS}"
    reason = check_ids(encoding=encoding, trace_id=trace_id)
    if reason:
        return reason
    seconds = n_bytes / (2 * channels * sample_rate)
    if seconds > MAX_CHUNK_S:
        return f"chunk of {seconds:.2f} s (at most {MAX_CHUNK_S} s)"
    return ""


def check_image(height: int, width: int, step: int, encoding: str, n_bytes: int, frame_id: str) -> str:
    """An Image's dimensions against its buffer; the pixel values are any bytes."""
    if not (0 < height <= MAX_IMAGE_SIDE and 0 < width <= MAX_IMAGE_SIDE):
        return f"image size {width}x{height} outside 1..{MAX_IMAGE_SIDE} per side"
    if n_bytes > MAX_IMAGE_BYTES or step * height != n_bytes or step < width:
        return f"image buffer of {n_bytes} bytes does not match {height} rows of step {step}"
    return check_ids(encoding=encoding, frame_id=frame_id)


def check_joint_state(names: Sequence[str], position: Sequence[float], velocity: Sequence[float]) -> str:
    """A JointState: at most ``MAX_JOINTS`` named joints, one finite position each, velocities absent or one each."""
    reason = _names("joint names", names, MAX_JOINTS)
    if reason:
        return reason
    if len(position) != len(names) or len(velocity) not in (0, len(names)):
        return f"{len(names)} joint names but {len(position)} positions and {len(velocity)} velocities"
    return "" if _finite(position) else "joint positions hold NaN or inf"


def check_object_poses(names: Sequence[str], n_poses: int) -> str:
    """ObjectPoses' shape: at most ``MAX_OBJECTS`` names, one pose each."""
    reason = _names("object names", names, MAX_OBJECTS)
    if reason:
        return reason
    return "" if n_poses == len(names) else f"{len(names)} object names for {n_poses} poses"


def check_finite(field: str, values: Sequence[float]) -> str:
    """Every value finite (call after the shape check bounded ``values``)."""
    return "" if _finite(values) else f"{field} holds NaN or inf"


def check_trajectory(names: Sequence[str], n_points: int, point_sizes: Iterable[int], last_time_s: float) -> str:
    """A JointTrajectory's shape before any array is built: joints, points, horizon.

    ``point_sizes``: the number of positions of each point, read only once ``n_points`` is within
    bounds (a generator costs nothing for an oversized message); ``last_time_s``: the last
    point's time_from_start. Values (finite, within the robot's limits) are the receiver's to check.
    """
    reason = _names("joint names", names, MAX_JOINTS)
    if reason:
        return reason
    if n_points > MAX_TRAJECTORY_POINTS:
        return f"{n_points} trajectory points (at most {MAX_TRAJECTORY_POINTS})"
    if any(n != len(names) for n in point_sizes):
        return f"every point needs {len(names)} positions"
    if not 0.0 <= last_time_s <= MAX_TRAJECTORY_S:
        return f"trajectory ends at {last_time_s:.3g} s (0..{MAX_TRAJECTORY_S:.0f} s)"
    return ""


def check_event(type_: str, text: str, source: str, trace_id: str, payload_json: str, confidence: float) -> str:
    """An Event's strings and confidence, before its payload is parsed."""
    reason = check_ids(type=type_, source=source, trace_id=trace_id)
    if reason:
        return reason
    reason = check_text("text", text, MAX_EVENT_TEXT) or check_text("payload_json", payload_json, MAX_PAYLOAD_JSON)
    if reason:
        return reason
    return "" if math.isfinite(confidence) else "confidence is NaN or inf"


def check_goal_text(field: str, text: str, limit: int, trace_id: str) -> str:
    """An action goal's text field and trace id."""
    return check_text(field, text, limit) or check_ids(trace_id=trace_id)


_NUMBER = re.compile(r"[-+]?\d[\d.e+-]*")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]|\{[^}]*\}|\([^)]*\)")


def fault_kind(reason: str) -> str:
    """The template of a refusal's reason: numbers as ``#``, anything quoted or bracketed as ``~``,
    so refusals of one kind share a report whatever the message held."""
    return _QUOTED.sub("~", _NUMBER.sub("#", reason[:300]))[:80]


@dataclass
class _Window:
    start: float
    held: int  # refusals not reported since the window's report


class Refusals:
    """Counts refused messages per key (a topic and a ``fault_kind``); at most one report per key
    every ``window_s``.

    ``refuse`` is O(1): a caller logs or publishes only when it returns a count (the refusals
    that report stands for), so a flood costs one dictionary update per message. Beyond
    ``max_keys`` keys, new ones share the key ``OTHER``, so the table stays bounded.
    """

    OTHER = "(other faults)"

    def __init__(self, window_s: float = 2.0, clock: Callable[[], float] = time.monotonic, max_keys: int = 64) -> None:
        if window_s <= 0 or max_keys < 1:
            raise ValueError("window_s must be > 0 and max_keys >= 1")
        self.window_s, self.max_keys, self._clock = window_s, max_keys, clock
        self._windows: dict[str, _Window] = {}

    def refuse(self, key: str) -> int | None:
        """Count one refusal; the number of refusals to report now, or None to stay quiet."""
        now = self._clock()
        if key not in self._windows and len(self._windows) >= self.max_keys:
            key = self.OTHER
        w = self._windows.get(key)
        if w is None or now - w.start >= self.window_s:
            held = 1 + (w.held if w is not None else 0)
            self._windows[key] = _Window(now, 0)
            return held
        w.held += 1
        return None

    def flush(self) -> dict[str, int]:
        """Refusals held back in windows that have ended (key → count), to report now, so the
        tail of a flood is reported even when nothing follows it."""
        now, due = self._clock(), {}
        for key, w in self._windows.items():
            if w.held and now - w.start >= self.window_s:
                due[key] = w.held
                self._windows[key] = _Window(now, 0)
        return due


class AudioBudget:
    """A token bucket of audio seconds: a stream may deliver ``speed`` × real time plus ``burst_s``.

    A real microphone delivers 1 s per second; a flood of well-formed chunks beyond the budget is
    dropped on arrival, before it is decoded or queued.
    """

    def __init__(self, speed: float = 2.0, burst_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0 or burst_s <= 0:
            raise ValueError("speed and burst_s must be > 0")
        self.speed, self.burst_s, self._clock = speed, burst_s, clock
        self._tokens = burst_s
        self._last = clock()

    def take(self, seconds: float) -> bool:
        """Spend ``seconds`` of audio if the budget allows it."""
        now = self._clock()
        self._tokens = min(self.burst_s, self._tokens + (now - self._last) * self.speed)
        self._last = now
        if seconds > self._tokens:
            return False
        self._tokens -= seconds
        return True
