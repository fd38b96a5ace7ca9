"""MCAP recording with ros2msg schemas, PNG encoding and contact sheets."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from mcap.reader import make_reader
from mcap_ros2._dynamic import serialize_dynamic
from mcap_ros2.decoder import DecoderFactory

from seal_nodes.tools.images import contact_sheet, encode_png, write_png
from seal_nodes.tools.recording import McapRecorder, message_definition

pytestmark = pytest.mark.unit

SEP = "=" * 80


# --- message_definition ------------------------------------------------------------------------

def test_joint_state_definition_has_nested_types():
    text = message_definition("sensor_msgs/msg/JointState")
    assert "float64[] position" in text.split(SEP)[0]
    assert "MSG: std_msgs/Header" in text
    assert "MSG: builtin_interfaces/Time" in text
    assert text.count("MSG: ") == 2
    assert text.index("MSG: std_msgs/Header") < text.index("MSG: builtin_interfaces/Time")


def test_builtin_only_type_has_no_dependencies():
    text = message_definition("std_msgs/msg/String")
    assert "string data" in text and "MSG:" not in text


def test_nested_dependencies_appear_once():
    text = message_definition("trajectory_msgs/msg/JointTrajectory")
    for dep in ("std_msgs/Header", "trajectory_msgs/JointTrajectoryPoint", "builtin_interfaces/Time",
                "builtin_interfaces/Duration"):
        assert text.count(f"MSG: {dep}\n") == 1, dep


def test_unknown_type_raises():
    with pytest.raises(FileNotFoundError, match="no definition for nope_msgs/msg/Nothing"):
        message_definition("nope_msgs/msg/Nothing")


# --- McapRecorder ------------------------------------------------------------------------------

def encoder(type_name):
    return serialize_dynamic(type_name, message_definition(type_name))[type_name]


def test_recorder_round_trip(tmp_path):
    path = tmp_path / "run.mcap"
    js = encoder("sensor_msgs/msg/JointState")
    st = encoder("std_msgs/msg/String")
    rec = McapRecorder(path)
    rec.add_channel("/joint_states", "sensor_msgs/msg/JointState")
    rec.add_channel("/chatter", "std_msgs/msg/String")
    rec.add_channel("/chatter2", "std_msgs/msg/String")
    for i in range(3):
        rec.write("/joint_states", js({"header": {"stamp": {"sec": i, "nanosec": 5}, "frame_id": "base"},
                                        "name": ["a", "b"], "position": [float(i), 2.0 * i],
                                        "velocity": [], "effort": []}), log_time_ns=1000 + i)
    rec.write("/chatter", st({"data": "hello"}), log_time_ns=2000, publish_time_ns=1500)
    rec.write("/chatter2", st({"data": "again"}), log_time_ns=3000)
    assert rec.count == 5
    rec.close()
    rec.close()  # idempotent

    with open(path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        assert reader.get_header().profile == "ros2"
        schemas = {s.name: s for s in summary.schemas.values()}
        assert set(schemas) == {"sensor_msgs/msg/JointState", "std_msgs/msg/String"}  # shared per type
        assert all(s.encoding == "ros2msg" for s in schemas.values())
        assert "MSG: std_msgs/Header" in schemas["sensor_msgs/msg/JointState"].data.decode()
        topics = {c.topic: c for c in summary.channels.values()}
        assert set(topics) == {"/joint_states", "/chatter", "/chatter2"}
        assert all(c.message_encoding == "cdr" for c in topics.values())
        assert summary.statistics.message_count == 5
        decoded = [(ch.topic, m.sequence, m.log_time, m.publish_time, d)
                   for _, ch, m, d in reader.iter_decoded_messages(log_time_order=True)]
    js_msgs = [d for d in decoded if d[0] == "/joint_states"]
    assert [(seq, lt, pt) for _, seq, lt, pt, _ in js_msgs] == [(1, 1000, 1000), (2, 1001, 1001), (3, 1002, 1002)]
    assert list(js_msgs[2][4].position) == [2.0, 4.0]
    assert list(js_msgs[2][4].name) == ["a", "b"]
    assert js_msgs[2][4].header.stamp.sec == 2 and js_msgs[2][4].header.frame_id == "base"
    chatter = [d for d in decoded if d[0] == "/chatter"][0]
    assert chatter[1:4] == (1, 2000, 1500) and chatter[4].data == "hello"
    assert [d for d in decoded if d[0] == "/chatter2"][0][1] == 1  # sequence per topic


def test_write_to_unregistered_topic_fails(tmp_path):
    rec = McapRecorder(tmp_path / "x.mcap")
    try:
        with pytest.raises(KeyError):
            rec.write("/nope", b"\x00\x01\x00\x00", 1)
        assert rec.count == 0
    finally:
        rec.close()


# --- PNG -----------------------------------------------------------------------------------------

def decode_png(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert [k for k, _ in chunks][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    w, h, depth, color, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, color, comp, filt, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    rows = []
    stride = w * 3 + 1
    for y in range(h):
        row = raw[y * stride:(y + 1) * stride]
        assert row[0] == 0  # filter type None
        rows.append(np.frombuffer(row[1:], np.uint8))
    assert len(raw) == h * stride
    return np.stack(rows).reshape(h, w, 3)


@pytest.mark.parametrize("h, w", [(1, 1), (5, 7), (16, 3)])
def test_png_round_trip(h, w):
    rng = np.random.default_rng(h * 100 + w)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_png(encode_png(img)), img)


def test_png_of_non_contiguous_view():
    img = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)[:, ::2]
    np.testing.assert_array_equal(decode_png(encode_png(img)), img)


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4), np.uint8),
                                 np.zeros((4, 4, 4), np.uint8)])
def test_png_refuses_bad_arrays(bad):
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        encode_png(bad)


def test_write_png(tmp_path):
    img = np.full((2, 3, 3), 7, np.uint8)
    write_png(tmp_path / "a.png", img)
    np.testing.assert_array_equal(decode_png((tmp_path / "a.png").read_bytes()), img)


# --- contact sheet -------------------------------------------------------------------------------

def test_contact_sheet_layout():
    frames = [np.full((4, 6, 3), i * 10, np.uint8) for i in range(5)]
    sheet = contact_sheet(frames, columns=4)
    assert sheet.shape == (2 * 6, 4 * 8, 3) and sheet.dtype == np.uint8
    for i in range(5):
        r, c = divmod(i, 4)
        assert np.all(sheet[r * 6:r * 6 + 4, c * 8:c * 8 + 6] == i * 10)
    assert np.all(sheet[4:6, :] == 255)  # gap rows
    assert np.all(sheet[:, 6:8] == 255)  # gap columns
    assert np.all(sheet[6:, 8:] == 255)  # empty cells of the last row


def test_contact_sheet_single_column_and_empty():
    sheet = contact_sheet([np.zeros((2, 2, 3), np.uint8)] * 3, columns=1)
    assert sheet.shape == (12, 4, 3)
    with pytest.raises(ValueError):
        contact_sheet([])
