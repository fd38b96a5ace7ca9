"""MCAP recording of ROS 2 topics with their schemas, ROS-free (bytes in, file out).

Messages arrive already CDR-serialised (rclpy ``raw=True`` subscriptions), so recording costs
no deserialisation. Schemas are the ``.msg`` definitions (``ros2msg`` encoding, dependencies
appended the way rosbag2 does), so ``mcap`` tools and Foxglove decode every channel.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from mcap.writer import CompressionType, Writer

from seal_nodes.launcher.yaml_launch import LaunchDescription, format_param

BUILTIN = {
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
    "uint32", "int64", "uint64", "string", "wstring", "time", "duration",
}
_SEPARATOR = "=" * 80
LAUNCH_ARGS = "launch_args"  # metadata: every launch argument's final value
NODE_PARAMS = "node_params/"  # metadata per node (+ its name): the parameters the launch file gave it


def _share_dirs() -> list[Path]:
    dirs = [Path(p) / "share" for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return dirs + [Path(sys.prefix) / "share"]


def _msg_file(pkg: str, name: str) -> Path:
    for share in _share_dirs():
        path = share / pkg / "msg" / f"{name}.msg"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no definition for {pkg}/msg/{name} under {[str(d) for d in _share_dirs()]}")


def _field_types(text: str, pkg: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or "=" in line.split()[0] or (len(line.split()) > 2 and line.split()[2].startswith("=")):
            continue
        base = re.sub(r"\[.*\]$", "", line.split()[0])
        base = re.sub(r"<=\d+$", "", base)
        if base in BUILTIN:
            continue
        if "/" in base:
            parts = base.split("/")
            out.append((parts[0], parts[-1]))
        elif base == "Header":
            out.append(("std_msgs", "Header"))
        else:
            out.append((pkg, base))
    return out


def message_definition(type_name: str) -> str:
    """Full ros2msg definition of ``pkg/msg/Type`` with every nested type appended."""
    pkg, _, name = type_name.split("/")
    main = _msg_file(pkg, name).read_text()
    parts, seen, todo = [main], set(), _field_types(main, pkg)
    while todo:
        dep = todo.pop(0)
        if dep in seen:
            continue
        seen.add(dep)
        text = _msg_file(*dep).read_text()
        parts.append(f"{_SEPARATOR}\nMSG: {dep[0]}/{dep[1]}\n{text}")
        todo.extend(_field_types(text, dep[0]))
    return "\n".join(parts)


def launch_metadata(desc: LaunchDescription) -> dict[str, dict[str, str]]:
    """What a recording keeps of how its stack was launched: the launch arguments and each node's
    parameters, as the launcher passed them (``diagnose`` reads the sim's layout seed here)."""
    out = {LAUNCH_ARGS: dict(desc.args)}
    for spec in desc.nodes:
        out[NODE_PARAMS + spec.label] = {k: format_param(v) for k, v in spec.params.items()}
    return out


class McapRecorder:
    def __init__(self, path: str | os.PathLike) -> None:
        self._file = open(path, "wb")
        self._writer = Writer(self._file, compression=CompressionType.ZSTD)
        self._writer.start(profile="ros2", library="seal")
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self._seq: dict[str, int] = {}
        self.count = 0

    def add_channel(self, topic: str, type_name: str) -> None:
        if type_name not in self._schemas:
            self._schemas[type_name] = self._writer.register_schema(
                name=type_name, encoding="ros2msg", data=message_definition(type_name).encode())
        self._channels[topic] = self._writer.register_channel(
            topic=topic, message_encoding="cdr", schema_id=self._schemas[type_name])
        self._seq[topic] = 0

    def add_metadata(self, name: str, data: dict[str, str]) -> None:
        """A named map of strings in the file (how the run was started: launch arguments, node parameters)."""
        self._writer.add_metadata(name, {str(k): str(v) for k, v in data.items()})

    def write(self, topic: str, cdr: bytes, log_time_ns: int, publish_time_ns: int | None = None) -> None:
        self._seq[topic] += 1
        self._writer.add_message(channel_id=self._channels[topic], log_time=log_time_ns, data=cdr,
                                 publish_time=publish_time_ns or log_time_ns, sequence=self._seq[topic])
        self.count += 1

    def close(self) -> None:
        if self._file.closed:
            return
        self._writer.finish()
        self._file.close()
