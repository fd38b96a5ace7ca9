"""Start the stack's node graph from a YAML launch file (shared by ``seal launch``, demo, bench, tests)."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Mapping, Sequence

import yaml

from seal_nodes.launcher.supervisor import Supervisor
from seal_nodes.launcher.yaml_launch import LaunchDescription, LaunchError, NodeSpec, parse_launch_file
from seal_nodes.nodes import NODE_MODULES
from seal_nodes.ros_env import callers_environment, default_ros_environment

REPO = Path(__file__).resolve().parents[2]
BRINGUP_PKG = "seal_bringup"
PACKAGE_SHARES = {BRINGUP_PKG: str(REPO / "ros_ws" / "src" / BRINGUP_PKG)}
LAUNCH_DIR = REPO / "launch"


def resolve_node(spec: NodeSpec) -> list[str]:
    """argv of a node: this interpreter running the node's module (what ros2 run would start)."""
    if spec.pkg != BRINGUP_PKG or spec.exec not in NODE_MODULES:
        raise LaunchError(f"unknown executable {spec.pkg}/{spec.exec}; this stack provides "
                          f"{BRINGUP_PKG}/{{{', '.join(sorted(NODE_MODULES))}}}")
    return [sys.executable, "-m", NODE_MODULES[spec.exec], *spec.argv_tail()]


def load(launch_file: str | os.PathLike, cli_args: Sequence[str] | Mapping[str, str] = ()) -> LaunchDescription:
    desc = parse_launch_file(launch_file, cli_args, package_shares=PACKAGE_SHARES)
    for spec in desc.nodes:
        resolve_node(spec)  # fail before anything starts
    return desc


def declared_args(launch_file: str | os.PathLike) -> set[str]:
    """The argument names a launch file declares at its top level (nothing else is resolved, so
    arguments without a default need no value here)."""
    try:
        data = yaml.safe_load(Path(launch_file).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LaunchError(f"cannot read launch file {launch_file}: {exc}") from exc
    items = data.get("launch", []) if isinstance(data, dict) else []
    return {str(i["arg"].get("name")) for i in items if isinstance(i, dict) and isinstance(i.get("arg"), dict)}


def base_environment(desc: LaunchDescription, domain_id: int | None = None) -> dict[str, str]:
    """Environment for every node, as ``ros2 launch`` gives it: the caller's, then the launch
    file's set_env, then the localhost defaults each node would give itself on import.

    A top-level set_env with an empty value unsets the variable for every node; an empty
    node-level or group-level value is dropped, so that node inherits the variable unchanged.
    """
    env = callers_environment()
    env.update(desc.env)
    env.update(default_ros_environment(env))
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    env["PYTHONUNBUFFERED"] = "1"
    for spec in desc.nodes:
        for key in [k for k, v in spec.env.items() if v == ""]:
            del spec.env[key]
    return {k: v for k, v in env.items() if v != ""}


def make_supervisor(desc: LaunchDescription, *, domain_id: int | None = None,
                    on_event: Callable | None = None, log: Callable[[str], None] | None = None) -> Supervisor:
    env = base_environment(desc, domain_id)
    # Supervisor merges os.environ + env; variables we unset must not come back from os.environ.
    for key in set(os.environ) - set(env):
        os.environ.pop(key, None)
    # Nodes start in the caller's working directory, as under ros2 launch: relative file
    # arguments mean the same under both launchers.
    return Supervisor(desc.nodes, resolve_node, env=env, on_event=on_event, log=log)
