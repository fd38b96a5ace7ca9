"""SEAL layers: a ROS-free core (``seal_nodes.core``) and thin rclpy nodes (``seal_nodes.nodes``)."""
