"""The stack's ROS interface in one place: every topic and action, its message type and QoS.

Plain data, no ROS import: a node, a tool or a test names a topic only through these entries,
so a name, a type or a QoS is changed here once. ``seal_nodes.nodes.common`` turns an entry into
rclpy publishers, subscriptions and QoS profiles. Launch files may remap the names.
"""
from __future__ import annotations

from dataclasses import dataclass

RELIABLE = "reliable"
BEST_EFFORT = "best_effort"
VOLATILE = "volatile"
TRANSIENT_LOCAL = "transient_local"


@dataclass(frozen=True)
class Qos:
    """Keep-last history of ``depth`` messages with the given reliability and durability."""

    reliability: str
    durability: str
    depth: int


# Camera and joint states: best effort, shallow queue (a late frame is worth less than a fresh one);
# the same as ROS's sensor-data profile.
SENSOR_QOS = Qos(BEST_EFFORT, VOLATILE, 5)
# Audio must not drop chunks between processes on one machine; keep a deeper reliable queue. A
# keep-last writer drops what a reader has not taken once the queue is full, so its depth is time:
# 400 chunks are 4 s of the TTS's 10 ms chunks (100 were 1 s, and a loaded machine's speaker node
# or listener fell that far behind), 8 s of the microphone's 20 ms ones; 176 KB at most.
AUDIO_QOS = Qos(RELIABLE, VOLATILE, 400)
# Events, thoughts, latencies: reliable, and deep, for the same reason as audio: a reader that
# falls behind by more than the depth loses events (the hour's soak lost an agent_speech_end with
# 50 while its listener was loaded). 500 are minutes of events, 10 s of latency records.
EVENT_QOS = Qos(RELIABLE, VOLATILE, 500)
# Commands (trajectories, GUI pages): reliable; a short queue, since a command is worth less the
# longer it waited and a flood must not park hundreds of them ahead of the good one.
COMMAND_QOS = Qos(RELIABLE, VOLATILE, 50)
# pause / resume, one profile for thinker and tts: reliable, so a resume never goes missing after
# its pause; volatile, so a restarted tts never replays a stale pause; commands come one at a time,
# so a short queue suffices.
CONTROL_QOS = Qos(RELIABLE, VOLATILE, 10)
# Latched-style state that late joiners need (object poses).
LATCHED_QOS = Qos(RELIABLE, TRANSIENT_LOCAL, 1)


@dataclass(frozen=True)
class Topic:
    name: str
    type: str  # "pkg/msg/Type"
    qos: Qos


@dataclass(frozen=True)
class Action:
    name: str  # relative: resolved in the node's namespace
    type: str  # "pkg/action/Type"


# --- audio ------------------------------------------------------------------------------------
MIC = Topic("/audio/mic", "seal_interfaces/msg/AudioChunk", AUDIO_QOS)
SPEAKER = Topic("/audio/speaker", "seal_interfaces/msg/AudioChunk", AUDIO_QOS)
TTS_CONTROL = Topic("/tts/control", "std_msgs/msg/String", CONTROL_QOS)  # "pause" | "resume"
BIAS_WORDS = Topic("/perception/bias_words", "std_msgs/msg/String", EVENT_QOS)  # comma-separated
# --- the agent ----------------------------------------------------------------------------------
EVENTS = Topic("/seal/events", "seal_interfaces/msg/Event", EVENT_QOS)
THOUGHTS = Topic("/seal/thoughts", "seal_interfaces/msg/Thought", EVENT_QOS)
LATENCY = Topic("/seal/latency", "seal_interfaces/msg/Latency", EVENT_QOS)
# Every node's health once a second (up, backlog, dropped input, last error): what ROS tools
# (rqt_runtime_monitor, Foxglove) show.
DIAGNOSTICS = Topic("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", Qos(RELIABLE, VOLATILE, 10))
# --- the arm ------------------------------------------------------------------------------------
CAMERA = Topic("/camera/image_raw", "sensor_msgs/msg/Image", SENSOR_QOS)
JOINT_STATES = Topic("/joint_states", "sensor_msgs/msg/JointState", SENSOR_QOS)
ARM_TRAJECTORY = Topic("/arm/joint_trajectory", "trajectory_msgs/msg/JointTrajectory", COMMAND_QOS)
OBJECT_POSES = Topic("/sim/object_poses", "seal_interfaces/msg/ObjectPoses", LATCHED_QOS)
# --- the GUI ------------------------------------------------------------------------------------
SCREEN = Topic("/screen/image_raw", "sensor_msgs/msg/Image", SENSOR_QOS)
GUI_PAGE = Topic("/gui/page", "std_msgs/msg/String", COMMAND_QOS)  # "seed:N [offscreen:TARGET]" or a URL

SPEAK = Action("speak", "seal_interfaces/action/Speak")
MANIPULATE = Action("manipulate", "seal_interfaces/action/Manipulate")
GUI_ACT = Action("gui_act", "seal_interfaces/action/GuiAct")

TOPICS: tuple[Topic, ...] = (MIC, SPEAKER, TTS_CONTROL, BIAS_WORDS, EVENTS, THOUGHTS, LATENCY, DIAGNOSTICS, CAMERA,
                             JOINT_STATES, ARM_TRAJECTORY, OBJECT_POSES, SCREEN, GUI_PAGE)
ACTIONS: tuple[Action, ...] = (SPEAK, MANIPULATE, GUI_ACT)
