"""The project's launch files behave the same under `seal launch` and the real `ros2 launch`.

Read as data: the constructs that differ between the two launchers are checked on every file
(no argument that needs an empty value, a respawn delay wherever respawn is on, the RMW and the
DDS profile set by the file, no path relative to the working directory).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from seal_nodes.launcher.yaml_launch import LaunchError, parse_launch_file
from seal_nodes.stack import graph

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.yaml"))
# Where users read how to pass arguments.
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *LAUNCH_FILES]
PROFILE_SET_ENV = {"name": "FASTDDS_DEFAULT_PROFILES_FILE", "value": "$(var fastdds_profile)",
                   "if": "$(var use_fastdds_profile)"}


def entities(path: Path) -> list[tuple[str, dict]]:
    return [next(iter(item.items())) for item in yaml.safe_load(path.read_text())["launch"]]


def args(path: Path) -> dict[str, dict]:
    return {a["name"]: a for kind, a in entities(path) if kind == "arg"}


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    return []


def test_the_three_launch_files_are_checked():
    assert {p.name for p in LAUNCH_FILES} == {"sim.launch.yaml", "robot.launch.yaml", "gui.launch.yaml"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_no_argument_needs_an_empty_value(path):
    # ros2 launch refuses `name:=` ("malformed launch argument"): what a user switches off is a
    # boolean. An argument whose default is empty is fine; one that must be emptied is not.
    for name, arg in args(path).items():
        default = str(arg.get("default", ""))
        if default:
            assert "empty" not in arg.get("description", "").lower(), f"{name}: switched off by an empty value"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_no_document_shows_an_empty_argument_value(doc):
    empty = re.findall(r"\b(\w+):=(?:\"\"|''|(?=[\s`]|$))", doc.read_text(), re.M)
    # camera_name:="" is a node parameter (rcl's -p takes empty strings), not a launch argument.
    assert set(empty) <= {"camera_name"}, f"{doc.name}: {sorted(set(empty))}"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_respawn_has_a_delay(path):
    # ros2 launch restarts a crashing node after respawn_delay with no backoff: without one it spins.
    for kind, node in entities(path):
        if kind == "node" and str(node.get("respawn", "false")).lower() == "true":
            assert float(node.get("respawn_delay", 0)) > 0, f"{node['name']}: respawn without respawn_delay"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_rmw_and_dds_profile_are_set_by_the_file(path):
    set_env = [e for kind, e in entities(path) if kind == "set_env"]
    assert {"name": "RMW_IMPLEMENTATION", "value": "rmw_fastrtps_cpp"} in set_env
    assert {"name": "ROS_AUTOMATIC_DISCOVERY_RANGE", "value": "$(var discovery_range)"} in set_env
    assert PROFILE_SET_ENV in set_env
    declared = args(path)
    # the loopback profile goes with the LOCALHOST range: SUBNET alone opens the graph
    assert declared["use_fastdds_profile"]["default"] == "$(eval '\"$(var discovery_range)\" == \"LOCALHOST\"')"
    assert declared["fastdds_profile"]["default"].startswith("$(find-pkg-share seal_bringup)/")


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_no_path_relative_to_the_working_directory(path):
    # Nodes start in the caller's directory under both launchers; the files' own paths come from
    # the package share. Topic names are absolute; a relative one would be pushed into a namespace.
    for kind, attrs in entities(path):
        for text in strings({k: v for k, v in attrs.items() if k != "description"}):
            if "/" in text:
                assert text.startswith(("/", "$(find-pkg-share ")), f"{path.name}: {kind} {text!r} is relative"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_the_profile_is_set_by_default_and_left_by_a_boolean(path):
    default = graph.load(path)
    assert default.env["RMW_IMPLEMENTATION"] == "rmw_fastrtps_cpp"
    assert Path(default.env["FASTDDS_DEFAULT_PROFILES_FILE"]).is_file()
    robot = graph.load(path, ["discovery_range:=SUBNET"])
    assert robot.env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SUBNET"
    assert "FASTDDS_DEFAULT_PROFILES_FILE" not in robot.env
    assert graph.load(path, ["discovery_range:=SUBNET", "use_fastdds_profile:=false"]).env == robot.env
    # a profile of one's own on the robot network stays
    own = graph.load(path, ["discovery_range:=SUBNET", "use_fastdds_profile:=true", "fastdds_profile:=/etc/dds.xml"])
    assert own.env["FASTDDS_DEFAULT_PROFILES_FILE"] == "/etc/dds.xml"


def test_nodes_get_the_files_environment_over_the_callers(monkeypatch):
    # A shell that picked another RMW or profile does not win over the launch file, and with the
    # profile switched off no loopback default (this process's own) sneaks back in.
    monkeypatch.setenv("RMW_IMPLEMENTATION", "rmw_cyclonedds_cpp")
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", "/tmp/other.xml")
    env = graph.base_environment(graph.load(graph.LAUNCH_DIR / "sim.launch.yaml"))
    assert env["RMW_IMPLEMENTATION"] == "rmw_fastrtps_cpp"
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"].endswith("seal_bringup/config/fastdds_localhost.xml")
    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE")
    robot = graph.load(graph.LAUNCH_DIR / "sim.launch.yaml", ["discovery_range:=SUBNET", "use_fastdds_profile:=false"])
    env = graph.base_environment(robot)
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SUBNET" and "FASTDDS_DEFAULT_PROFILES_FILE" not in env


def test_an_empty_launch_argument_is_refused_like_ros2_launch_does():
    with pytest.raises(LaunchError, match="empty value"):
        parse_launch_file(graph.LAUNCH_DIR / "sim.launch.yaml", ["fastdds_profile:="])
