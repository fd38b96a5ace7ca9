"""Thin rclpy nodes around the ROS-free core. One node per module, each with ``main()``."""

# exec name (as in launch files, pkg seal_bringup) → module that has main()
NODE_MODULES: dict[str, str] = {
    "wav_source": "seal_nodes.nodes.wav_source",
    "mic": "seal_nodes.nodes.mic",
    "speaker": "seal_nodes.nodes.speaker",
    "audio_perception": "seal_nodes.nodes.audio_perception",
    "vision_perception": "seal_nodes.nodes.vision_perception",
    "thinker": "seal_nodes.nodes.thinker",
    "tts": "seal_nodes.nodes.tts",
    "sim": "seal_nodes.nodes.sim",
    "vla_policy": "seal_nodes.nodes.vla_policy",
    "gui": "seal_nodes.nodes.gui",
    "memory": "seal_nodes.nodes.memory",
    "foxglove_bridge": "seal_nodes.nodes.foxglove_bridge",
}
