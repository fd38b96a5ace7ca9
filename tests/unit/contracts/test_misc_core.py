"""Small ROS-free core modules: latency, stream pacing, ROS env, audio devices/PCM, events, graph."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.audio.devices import AudioDeviceError, find_device, list_devices
from seal_nodes.core.audio.frames import AudioFormatError, AudioFrame, check_pcm, pcm_from_bytes, resample
from seal_nodes.core.audio.pacing import paced_frames
from seal_nodes.ros_env import (apply_default_ros_environment, default_ros_environment, fastdds_localhost_profile,
                                ros_environment)
from seal_nodes.tools.latency import BUDGETS, Budget, format_table, machine_info, summarize

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]


# --- latency -----------------------------------------------------------------------------------

def test_summarize_empty():
    assert summarize([]) == {"p50": None, "p99": None, "n": 0}


def test_summarize_percentiles():
    s = summarize([float(v) for v in range(1, 101)])
    assert s == {"p50": 50.5, "p99": 99.01, "n": 100}
    assert summarize([3.14159]) == {"p50": 3.14, "p99": 3.14, "n": 1}


def test_format_table():
    results = {"speech_start_ms": {"p50": 40.0, "p99": 99.96, "n": 10},
               "first_audio_ms": {"p50": 400.0, "p99": 650.0, "n": 3},
               "ros_hop_ms": summarize([]),
               "custom_ms": {"p50": 1.0, "p99": 2.0, "n": 1}}
    lines = format_table(results).splitlines()
    assert lines[0].startswith("| path |") and len(lines) == 2 + 4
    assert lines[2] == "| speech_start_ms | 40.0 | 100.0 | 10 | 100.0 | yes |"
    assert lines[3] == "| first_audio_ms | 400.0 | 650.0 | 3 | 500.0 | NO |"
    assert lines[4] == "| ros_hop_ms | – | – | 0 | 5.0 | – |"
    assert lines[5] == "| custom_ms | 1.0 | 2.0 | 1 | – | – |"


def test_format_table_custom_budgets_and_boundary():
    budgets = {"x": Budget("x", 10.0, "")}
    assert format_table({"x": {"p50": 1, "p99": 10.0, "n": 1}}, budgets).endswith("| yes |")
    assert format_table({"x": {"p50": 1, "p99": 10.01, "n": 1}}, budgets).endswith("| NO |")
    assert all(b.budget_ms > 0 and b.path == k for k, b in BUDGETS.items())


def test_machine_info_says_where_a_bench_ran():
    info = machine_info()
    assert set(info) == {"cpus", "machine", "python"}
    assert info["python"] == ".".join(map(str, sys.version_info[:3]))


# --- stream --------------------------------------------------------------------------------------

class FakeTime:
    def __init__(self, t0=5_000_000_000, overshoot_s=0.0):
        self.t = t0
        self.sleeps = []
        self.overshoot = overshoot_s

    def clock(self):
        return self.t

    def sleep(self, s):
        self.sleeps.append(s)
        self.t += int(round((s + self.overshoot) * 1e9))


def test_paced_frames_stamps_chunks_and_release_times():
    ft = FakeTime()
    pcm = np.arange(800, dtype=np.int16)  # 50 ms at 16 kHz
    released = []
    frames = []
    for f in paced_frames(pcm, 16000, 20, clock_ns=ft.clock, sleep=ft.sleep, trace_id="tr"):
        released.append(ft.t)
        frames.append(f)
    t0 = 5_000_000_000
    assert [len(f.samples) for f in frames] == [320, 320, 160]
    assert [f.stamp_ns for f in frames] == [t0, t0 + 20_000_000, t0 + 40_000_000]
    assert released == [t0 + 20_000_000, t0 + 40_000_000, t0 + 50_000_000]
    assert all(f.sample_rate == 16000 and f.trace_id == "tr" for f in frames)
    np.testing.assert_array_equal(np.concatenate([f.samples for f in frames]), pcm)
    assert frames[0].end_ns == frames[1].stamp_ns


def test_paced_frames_schedule_is_absolute():
    ft = FakeTime(overshoot_s=0.005)  # every sleep oversleeps 5 ms
    list(paced_frames(np.zeros(800, np.int16), 16000, 20, clock_ns=ft.clock, sleep=ft.sleep))
    assert ft.sleeps == pytest.approx([0.020, 0.015, 0.005])


def test_paced_frames_no_sleep_when_late_and_explicit_start():
    ft = FakeTime(t0=10_000_000_000)
    frames = list(paced_frames(np.zeros(480, np.int16), 48000, 5, start_ns=1_000, clock_ns=ft.clock,
                               sleep=ft.sleep))
    assert ft.sleeps == []
    assert [f.stamp_ns for f in frames] == [1_000, 1_000 + 5_000_000]
    assert [len(f.samples) for f in frames] == [240, 240]


def test_paced_frames_edge_cases():
    ft = FakeTime()
    assert list(paced_frames(np.zeros(0, np.int16), 16000, clock_ns=ft.clock, sleep=ft.sleep)) == []
    for rate, chunk in ((0, 20), (16000, 0), (-1, 20)):
        with pytest.raises(ValueError):
            next(paced_frames(np.zeros(10, np.int16), rate, chunk, clock_ns=ft.clock, sleep=ft.sleep))


# --- ros_env -------------------------------------------------------------------------------------

def test_localhost_environment():
    env = ros_environment()
    assert env["RMW_IMPLEMENTATION"] == "rmw_fastrtps_cpp"
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str(fastdds_localhost_profile())
    assert "ROS_DOMAIN_ID" not in env


def test_robot_environment():
    env = ros_environment("robot", domain_id=7)
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SUBNET"
    assert "FASTDDS_DEFAULT_PROFILES_FILE" not in env
    assert env["ROS_DOMAIN_ID"] == "7"
    assert ros_environment("localhost", 0)["ROS_DOMAIN_ID"] == "0"


def test_bad_network():
    with pytest.raises(ValueError, match="network must be one of"):
        ros_environment("internet")


def _ns(tag):
    return "{http://www.eprosima.com}" + tag


@pytest.mark.parametrize("path", [fastdds_localhost_profile(),
                                  REPO / "ros_ws/src/seal_bringup/config/fastdds_localhost.xml"])
def test_profile_binds_udp_to_loopback(path):
    path = Path(path)
    assert path.is_file()
    root = ET.parse(path).getroot()
    transports = {t.findtext(_ns("transport_id")): t for t in root.iter(_ns("transport_descriptor"))}
    udp = [t for t in transports.values() if t.findtext(_ns("type")).startswith("UDP")]
    assert udp, "no UDP transport"
    for t in udp:
        addrs = [a.text.strip() for a in t.iter(_ns("address"))]
        assert addrs == ["127.0.0.1"]
    participant = root.find(f".//{_ns('participant')}")
    assert participant.get("is_default_profile") == "true"
    assert participant.findtext(f".//{_ns('useBuiltinTransports')}").strip() == "false"
    used = [e.text.strip() for e in participant.iter(_ns("transport_id"))]
    assert used and set(used) <= set(transports)


def test_apply_default_environment_keeps_user_choice(monkeypatch):
    for key in ("RMW_IMPLEMENTATION", "ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_DEFAULT_PROFILES_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", "/etc/my_profile.xml")
    apply_default_ros_environment()
    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert os.environ["RMW_IMPLEMENTATION"] == "rmw_fastrtps_cpp"
    assert os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] == "/etc/my_profile.xml"


def test_the_loopback_profile_follows_the_discovery_range():
    assert default_ros_environment({})["FASTDDS_DEFAULT_PROFILES_FILE"] == str(fastdds_localhost_profile())
    assert default_ros_environment({})["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    subnet = default_ros_environment({"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"})
    assert subnet == {"RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"}  # a robot network: Fast DDS defaults


@pytest.mark.parametrize("first", ["import rclpy; import seal_nodes.nodes.common",
                                   "import sim_worlds, rclpy; import seal_nodes.cli"])
def test_importing_the_package_sets_localhost_discovery_whatever_the_import_order(first):
    env = {k: v for k, v in os.environ.items()
           if k not in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_DEFAULT_PROFILES_FILE", "RMW_IMPLEMENTATION")}
    code = f"{first}; import os; print(os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'], os.environ['MUJOCO_GL'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["LOCALHOST", os.environ.get("MUJOCO_GL", "egl")]


# --- audio devices -------------------------------------------------------------------------------

class FakePA:
    def __init__(self, devices, default_in=None, default_out=None):
        self.devices = devices
        self.default_in, self.default_out = default_in, default_out

    def get_device_count(self):
        return len(self.devices)

    def get_device_info_by_index(self, i):
        name, cin, cout = self.devices[i]
        return {"index": i, "name": name, "maxInputChannels": cin, "maxOutputChannels": cout,
                "defaultSampleRate": 44100.0}

    def _default(self, idx):
        if idx is None:
            raise OSError("No Default Device Available")
        return self.get_device_info_by_index(idx)

    def get_default_input_device_info(self):
        return self._default(self.default_in)

    def get_default_output_device_info(self):
        return self._default(self.default_out)


DEVICES = [("HDA Intel: HDMI 0", 0, 8), ("USB Audio Mic", 1, 0), ("pulse", 32, 32), ("Jabra Speak 510", 1, 2)]


def test_list_devices():
    infos = list_devices(FakePA(DEVICES))
    assert [d.index for d in infos] == [0, 1, 2, 3]
    assert infos[1].name == "USB Audio Mic" and infos[1].max_input_channels == 1
    assert infos[0].default_sample_rate == 44100


@pytest.mark.parametrize("kind", ["input", "output"])
def test_no_devices_mentions_pulseaudio(kind):
    with pytest.raises(AudioDeviceError, match="PulseAudio") as exc:
        find_device(FakePA([]), "default", kind)
    assert kind in str(exc.value)


def test_no_device_of_that_kind():
    with pytest.raises(AudioDeviceError, match="no audio input device"):
        find_device(FakePA([("HDMI", 0, 2)]), "", "input")


def test_default_device():
    pa = FakePA(DEVICES, default_in=2, default_out=3)
    assert find_device(pa, "default", "input").index == 2
    assert find_device(pa, "", "output").index == 3


def test_default_unavailable_falls_back_to_first_usable():
    pa = FakePA(DEVICES)
    assert find_device(pa, "default", "input").index == 1
    assert find_device(pa, "default", "output").index == 0
    # default that is not an input device → first input device
    assert find_device(FakePA(DEVICES, default_in=0), "", "input").index == 1


def test_by_name_case_insensitive_and_kind_filtered():
    pa = FakePA(DEVICES)
    assert find_device(pa, "jabra", "output").name == "Jabra Speak 510"
    assert find_device(pa, "usb", "input").index == 1
    with pytest.raises(AudioDeviceError):
        find_device(pa, "usb", "output")  # the USB mic has no output channels


def test_by_index():
    pa = FakePA(DEVICES)
    assert find_device(pa, "3", "input").name == "Jabra Speak 510"
    with pytest.raises(AudioDeviceError, match="no output device matches '1'"):
        find_device(pa, "1", "output")


def test_unknown_name_lists_devices():
    with pytest.raises(AudioDeviceError) as exc:
        find_device(FakePA(DEVICES), "bluetooth", "input")
    msg = str(exc.value)
    assert "'bluetooth'" in msg
    assert "1: USB Audio Mic" in msg and "2: pulse" in msg and "3: Jabra Speak 510" in msg
    assert "HDMI" not in msg


def test_bad_kind():
    with pytest.raises(ValueError):
        find_device(FakePA(DEVICES), "", "both")


# --- audio ---------------------------------------------------------------------------------------

def test_pcm_mono_round_trip():
    pcm = np.array([0, 1, -1, 32767, -32768], np.int16)
    out = pcm_from_bytes(pcm.astype("<i2").tobytes(), 16000, 1, "S16LE")
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out, pcm)


def test_pcm_stereo_downmix():
    stereo = np.array([[100, 300], [-100, -300], [32767, 32767], [1, 2]], "<i2")
    out = pcm_from_bytes(stereo.tobytes(), 48000, 2, "S16LE")
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out, [200, -200, 32767, 1])


@pytest.mark.parametrize("data, rate, channels, encoding, match", [
    (b"\x00\x00\x00", 16000, 1, "S16LE", "not a whole number"),
    (b"\x00" * 6, 16000, 2, "S16LE", "not a whole number"),
    (b"\x00\x00", 16000, 1, "F32LE", "unsupported encoding"),
    (b"\x00\x00", 16000, 1, "s16le", "unsupported encoding"),
    (b"\x00\x00", 0, 1, "S16LE", "sample_rate"),
    (b"\x00\x00", 200_000, 1, "S16LE", "sample_rate"),
    (b"\x00\x00", 16000, 0, "S16LE", "channels"),
    (b"\x00" * 18, 16000, 9, "S16LE", "channels"),
])
def test_pcm_errors(data, rate, channels, encoding, match):
    with pytest.raises(AudioFormatError, match=match):
        pcm_from_bytes(data, rate, channels, encoding)


def test_audio_format_error_is_value_error():
    assert issubclass(AudioFormatError, ValueError)


def test_check_pcm_passes_int16_through_and_names_what_is_wrong():
    pcm = np.zeros(3, np.int16)
    assert check_pcm(pcm, "mic") is pcm
    with pytest.raises(AudioFormatError, match=r"mic must be a 1-D int16 array, got float32 shape \(3,\)"):
        check_pcm(np.zeros(3, np.float32), "mic")
    with pytest.raises(AudioFormatError, match="got list"):
        check_pcm([0, 1], "mic")
    with pytest.raises(AudioFormatError, match=r"shape \(2, 2\)"):
        check_pcm(np.zeros((2, 2), np.int16), "mic")
    with pytest.raises(UnicodeError, match="mic is empty"):  # any ValueError the caller names
        check_pcm(np.zeros(0, np.int16), "mic", UnicodeError)


@pytest.mark.parametrize("n, src, dst, expected", [(480, 48000, 16000, 160), (160, 16000, 48000, 480),
                                                   (441, 44100, 16000, 160), (1000, 16000, 16000, 1000)])
def test_resample_length(n, src, dst, expected):
    out = resample(np.zeros(n, np.int16), src, dst)
    assert len(out) == expected and out.dtype == np.int16


def test_resample_preserves_linear_ramp_and_empty():
    ramp = np.arange(0, 1000, 10, dtype=np.int16)
    out = resample(ramp, 16000, 32000)
    assert out[0] == 0 and out[-1] == 990
    assert np.all(np.diff(out.astype(int)) >= 0)
    assert len(resample(np.zeros(0, np.int16), 16000, 8000)) == 0


def test_audio_frame_duration():
    f = AudioFrame(np.zeros(320, np.int16), 16000, 1_000)
    assert f.duration_s == pytest.approx(0.02)
    assert f.end_ns == 1_000 + 20_000_000


# --- events --------------------------------------------------------------------------------------

def test_event_payload_json_round_trip():
    e = ev.Event(ev.ACTION_RESULT, 1, payload={"goal_id": "g1", "success": True})
    assert json.loads(e.payload_json()) == e.payload
    assert ev.Event.parse_payload(e.payload_json()) == e.payload
    assert ev.Event(ev.NOISE, 1).payload_json() == ""
    assert ev.Event.parse_payload("") == {}


@pytest.mark.parametrize("bad", ["[1, 2]", "42", "\"x\"", "{not json", "null"])
def test_parse_payload_rejects_non_objects(bad):
    with pytest.raises(ValueError):
        ev.Event.parse_payload(bad)


def test_trace_ids_are_short_hex_and_unique():
    ids = {ev.new_trace_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert ev.Event(ev.NOISE, 0).trace_id != ev.Event(ev.NOISE, 0).trace_id


def test_known_types():
    assert ev.SPEECH_END in ev.KNOWN_TYPES and ev.ACTION_RESULT in ev.KNOWN_TYPES
    assert "telepathy" not in ev.KNOWN_TYPES
    assert isinstance(ev.now_ns(), int)


# --- graph (parse only) ------------------------------------------------------------------------

from seal_nodes.launcher.yaml_launch import LaunchError, NodeSpec
from seal_nodes.nodes import NODE_MODULES
from seal_nodes.stack.graph import LAUNCH_DIR, declared_args, load, resolve_node


def test_graph_import_does_not_pull_in_rclpy():
    import subprocess
    code = "import sys, seal_nodes.stack.graph; print('rclpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def check_nodes(desc):
    for spec in desc.nodes:
        argv = resolve_node(spec)
        assert argv[:3] == [sys.executable, "-m", f"seal_nodes.nodes.{spec.exec}"]
        assert "--ros-args" in argv
        assert (REPO / (argv[2].replace(".", "/") + ".py")).is_file()
    return {s.exec for s in desc.nodes}


def test_sim_launch_defaults():
    desc = load(LAUNCH_DIR / "sim.launch.yaml")
    assert check_nodes(desc) == {"sim", "vla_policy", "audio_perception", "vision_perception", "thinker", "tts",
                                 "memory"}
    assert desc.env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert Path(desc.env["FASTDDS_DEFAULT_PROFILES_FILE"]).is_file()
    thinker = next(s for s in desc.nodes if s.exec == "thinker")
    assert thinker.params["backend"] == "llama"
    assert thinker.params["memory"] is True


def test_declared_args_need_no_values(tmp_path):
    assert {"memory_dir", "user", "seed"} <= declared_args(LAUNCH_DIR / "sim.launch.yaml")
    required = tmp_path / "required.launch.yaml"
    required.write_text("launch:\n- arg: {name: audio_file}\n- node: {pkg: seal_bringup, exec: tts, name: tts}\n")
    assert declared_args(required) == {"audio_file"}  # parsing it would want a value
    with pytest.raises(LaunchError):
        declared_args(tmp_path / "missing.launch.yaml")


def test_memory_is_one_launch_argument():
    desc = load(LAUNCH_DIR / "sim.launch.yaml", ["memory:=false", "memory_dir:=/tmp/m", "user:=Ana"])
    assert "memory" not in check_nodes(desc)
    thinker = next(s for s in desc.nodes if s.exec == "thinker")
    assert (thinker.params["memory"], thinker.params["memory_dir"], thinker.params["user"]) == (False, "/tmp/m", "Ana")


def test_sim_launch_with_optional_nodes():
    desc = load(LAUNCH_DIR / "sim.launch.yaml", ["audio_file:=/tmp/a.wav", "mic:=true", "speaker:=true"])
    assert check_nodes(desc) == {"sim", "vla_policy", "audio_perception", "vision_perception", "thinker", "tts", "wav_source",
                                 "mic", "speaker", "memory"}


def test_robot_launch():
    desc = load(LAUNCH_DIR / "robot.launch.yaml", {"trajectory_topic": "/ctrl/cmd"})
    assert check_nodes(desc) == {"mic", "speaker", "audio_perception", "vision_perception", "thinker", "tts", "vla_policy",
                                 "memory"}
    policy = next(s for s in desc.nodes if s.exec == "vla_policy")
    assert ("/arm/joint_trajectory", "/ctrl/cmd") in policy.remaps


def test_every_node_module_exists():
    for exec_name, module in NODE_MODULES.items():
        assert module == f"seal_nodes.nodes.{exec_name}"
        assert (REPO / (module.replace(".", "/") + ".py")).is_file()


@pytest.mark.parametrize("spec", [NodeSpec("seal_bringup", "teleport"), NodeSpec("other_pkg", "thinker"),
                                  NodeSpec("seal_bringup", "")])
def test_unknown_executable(spec):
    with pytest.raises(LaunchError, match="unknown executable"):
        resolve_node(spec)


def test_load_fails_on_unknown_node(tmp_path):
    f = tmp_path / "bad.launch.yaml"
    f.write_text("launch:\n- node: {pkg: seal_bringup, exec: thinker}\n- node: {pkg: seal_bringup, exec: nope}\n")
    with pytest.raises(LaunchError, match="seal_bringup/nope"):
        load(f)
