"""SEAL on ROS 2: ROS-free layer cores (``core``), thin rclpy nodes (``nodes``) and their tooling.

Importing the package sets this process's DDS defaults (discovery on this machine only, the
loopback Fast DDS profile) unless the caller chose otherwise, so no import order can open
discovery to the network: a participant is only created later, by ``rclpy.init``.
"""
from seal_nodes.ros_env import apply_default_ros_environment

apply_default_ros_environment()
