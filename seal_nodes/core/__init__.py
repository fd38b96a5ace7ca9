"""ROS-free core of SEAL. Nothing under this package may import rclpy."""
