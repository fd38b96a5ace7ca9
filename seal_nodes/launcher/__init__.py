"""Run ROS 2 YAML launch files without the ROS ``launch`` library (ROS-free: never imports rclpy)."""
from .supervisor import NodeStatus, Supervisor, run_until_signal
from .yaml_launch import (LaunchDescription, LaunchError, NodeSpec, format_param, parse_cli_args,
                          parse_launch_file, parse_launch_string)

__all__ = ["LaunchDescription", "LaunchError", "NodeSpec", "NodeStatus", "Supervisor",
           "format_param", "parse_cli_args", "parse_launch_file", "parse_launch_string",
           "run_until_signal"]
