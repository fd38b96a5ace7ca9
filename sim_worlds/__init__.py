"""MuJoCo tabletop world (Panda + Robotiq 2F-85) and scripted experts; ROS-free."""
