"""Environment every process of the stack runs with (ROS-free so the CLI and tests share it)."""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Mapping

NETWORKS = ("localhost", "robot")


def fastdds_localhost_profile() -> Path:
    """The Fast DDS profile that keeps discovery and data transports on loopback + SHM."""
    return Path(str(resources.files("seal_nodes") / "config" / "fastdds_localhost.xml"))


def ros_environment(network: str = "localhost", domain_id: int | None = None) -> dict[str, str]:
    """Variables to set for a stack process.

    ``localhost`` (default): discovery range LOCALHOST and the loopback-only transport profile.
    ``robot``: discovery on the subnet with Fast DDS defaults, for a robot network (opt-in).
    """
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")
    env = {"RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"}
    if network == "localhost":
        env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(fastdds_localhost_profile())
    else:
        env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "SUBNET"
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    return env


# What apply_default_ros_environment set in this process (not the caller's choice).
_DEFAULTED: dict[str, str] = {}


def default_ros_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The localhost defaults that ``environ`` lacks.

    The loopback profile follows the discovery range: a caller who chose another range (SUBNET,
    a robot network) and no profile gets Fast DDS's defaults, as the launch files do with
    ``discovery_range:=SUBNET``.
    """
    added = {k: v for k, v in ros_environment("localhost").items() if k not in environ}
    if environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST") != "LOCALHOST":
        added.pop("FASTDDS_DEFAULT_PROFILES_FILE", None)
    return added


def apply_default_ros_environment() -> None:
    """Set the localhost defaults in this process unless the caller chose otherwise."""
    added = default_ros_environment(os.environ)
    os.environ.update(added)
    _DEFAULTED.update(added)


def callers_environment() -> dict[str, str]:
    """This process's environment without the defaults it gave itself: what its caller chose."""
    return {k: v for k, v in os.environ.items() if _DEFAULTED.get(k) != v}
