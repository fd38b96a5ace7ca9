"""ament_python wrapper: installs one executable per SEAL node into lib/seal_bringup.

The node code itself is the repository's Python package (``pip install -e <repo>`` into the
ROS 2 Python environment first); this package only makes ``ros2 launch`` / ``ros2 run`` find it.
"""
from glob import glob

from setuptools import setup

NODES = ["wav_source", "mic", "speaker", "audio_perception", "vision_perception", "thinker", "tts", "sim",
         "vla_policy", "gui", "memory", "foxglove_bridge"]

setup(
    name="seal_bringup",
    version="0.1.0",
    packages=[],
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/seal_bringup"]),
        ("share/seal_bringup", ["package.xml"]),
        ("share/seal_bringup/launch", glob("launch/*.launch.yaml")),
        ("share/seal_bringup/config", glob("config/*.xml")),
    ],
    install_requires=["setuptools"],
    entry_points={"console_scripts": [f"{n} = seal_nodes.nodes.{n}:main" for n in NODES]},
)
