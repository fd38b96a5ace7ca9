"""Environment every process of the stack runs with (ROS-free so the CLI and tests share it)."""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

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


def apply_default_ros_environment() -> None:
    """Set the localhost defaults in this process unless the caller chose otherwise."""
    for key, value in ros_environment("localhost").items():
        os.environ.setdefault(key, value)
