"""Real sound devices through PyAudio (PortAudio): device lookup with clear errors."""
from __future__ import annotations

from dataclasses import dataclass


class AudioDeviceError(RuntimeError):
    """No usable device; the message lists what exists."""


@dataclass
class DeviceInfo:
    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: int


def list_devices(pa) -> list[DeviceInfo]:
    out = []
    for i in range(pa.get_device_count()):
        d = pa.get_device_info_by_index(i)
        out.append(DeviceInfo(i, str(d["name"]), int(d["maxInputChannels"]), int(d["maxOutputChannels"]),
                              int(d["defaultSampleRate"])))
    return out


def find_device(pa, wanted: str, kind: str) -> DeviceInfo:
    """``wanted``: "" or "default" for the system default, an index, or part of a device name."""
    if kind not in ("input", "output"):
        raise ValueError("kind must be 'input' or 'output'")
    devices = [d for d in list_devices(pa) if (d.max_input_channels if kind == "input" else d.max_output_channels) > 0]
    if not devices:
        raise AudioDeviceError(
            f"no audio {kind} device found (PortAudio sees {pa.get_device_count()} devices). "
            "On a machine without a sound card start a PulseAudio null sink (see README).")
    if wanted in ("", "default"):
        try:
            info = pa.get_default_input_device_info() if kind == "input" else pa.get_default_output_device_info()
            return next(d for d in devices if d.index == int(info["index"]))
        except (OSError, StopIteration):
            return devices[0]
    if wanted.isdigit():
        match = [d for d in devices if d.index == int(wanted)]
    else:
        match = [d for d in devices if wanted.lower() in d.name.lower()]
    if not match:
        names = ", ".join(f"{d.index}: {d.name}" for d in devices)
        raise AudioDeviceError(f"no {kind} device matches {wanted!r}; available: {names}")
    return match[0]
