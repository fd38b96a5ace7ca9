"""Run ROS 2 YAML launch files without the ROS ``launch`` library (ROS-free: never imports rclpy)."""
