"""The topic contract (seal_nodes/core/topics.py): unique names, real ROS types, used everywhere."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from seal_nodes.core import topics

PACKAGE = Path(topics.__file__).resolve().parents[1]  # seal_nodes/
CONTRACT = Path(topics.__file__).resolve()

# ROS calls whose name argument must come from the contract: callable name → index of the name argument.
NAME_ARG = {"create_publisher": 1, "create_subscription": 1, "ActionClient": 2, "ActionServer": 2}

TOPIC_RE = re.compile("|".join(rf"(?<![\w/]){re.escape(t.name)}(?![\w/])" for t in topics.TOPICS))
ACTION_NAMES = {a.name for a in topics.ACTIONS}


def test_names_are_unique_and_well_formed() -> None:
    names = [t.name for t in topics.TOPICS] + [a.name for a in topics.ACTIONS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"(/[a-z][a-z0-9_]*)+", t.name) for t in topics.TOPICS)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", a.name) for a in topics.ACTIONS)  # relative: namespaced


def test_every_entry_is_listed() -> None:
    declared = {v for v in vars(topics).values() if isinstance(v, (topics.Topic, topics.Action))}
    assert declared == set(topics.TOPICS) | set(topics.ACTIONS)


@pytest.mark.parametrize("topic", topics.TOPICS, ids=lambda t: t.name)
def test_topic_type_is_a_ros_message(topic: topics.Topic) -> None:
    from seal_nodes.nodes.common import interface_type

    assert topic.type.split("/")[1] == "msg"
    cls = interface_type(topic.type)
    assert hasattr(cls, "get_fields_and_field_types"), f"{topic.type} is not a generated message"


@pytest.mark.parametrize("action", topics.ACTIONS, ids=lambda a: a.name)
def test_action_type_is_a_ros_action(action: topics.Action) -> None:
    from seal_nodes.nodes.common import interface_type

    assert action.type.split("/")[1] == "action"
    cls = interface_type(action.type)
    assert all(hasattr(cls, part) for part in ("Goal", "Result", "Feedback"))


@pytest.mark.parametrize("topic", topics.TOPICS, ids=lambda t: t.name)
def test_qos_is_well_formed(topic: topics.Topic) -> None:
    q = topic.qos
    assert q.reliability in (topics.RELIABLE, topics.BEST_EFFORT)
    assert q.durability in (topics.VOLATILE, topics.TRANSIENT_LOCAL)
    assert q.depth >= 1


def test_qos_profiles_in_rclpy_terms() -> None:
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, ReliabilityPolicy, qos_profile_sensor_data

    from seal_nodes.nodes.common import qos_for

    assert qos_for(topics.CAMERA) == qos_profile_sensor_data
    poses = qos_for(topics.OBJECT_POSES)
    assert (poses.reliability, poses.durability, poses.history, poses.depth) == (
        ReliabilityPolicy.RELIABLE, DurabilityPolicy.TRANSIENT_LOCAL, HistoryPolicy.KEEP_LAST, 1)
    speaker = qos_for(topics.SPEAKER)
    assert (speaker.reliability, speaker.durability, speaker.depth) == (
        ReliabilityPolicy.RELIABLE, DurabilityPolicy.VOLATILE, 400)
    # a keep-last queue is time: 4 s of the TTS's default 10 ms chunks a reader may fall behind
    assert speaker.depth * 0.010 >= 4.0


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are documentation (bare string statements)."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


def _call_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def literal_names(source: str) -> set[tuple[int, str]]:
    """(line, name) for every topic name spelled in a string and every action name as a string,
    outside documentation, and every string literal given as the name of a publisher,
    subscription or action."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            found |= {(node.lineno, m.group()) for m in TOPIC_RE.finditer(node.value)}
            if node.value in ACTION_NAMES:
                found.add((node.lineno, node.value))
        elif isinstance(node, ast.Call) and (i := NAME_ARG.get(_call_name(node))) is not None and len(node.args) > i:
            arg = node.args[i]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add((arg.lineno, arg.value))
    return found


def test_scanner_finds_literals_and_spares_docs() -> None:
    source = '''"""Reads /audio/mic."""
def f(node):
    """Publishes /seal/events."""
    node.create_publisher(Event, "/seal/events", 10)
    node.create_subscription(String, "relative", cb, 10)
    ActionClient(node, Speak, "speak")
    ActionClient(node, Speak, topics.SPEAK.name)
    log(f"bad /joint_states: {exc}")
    node.declare_parameter("gui_action", "gui_act")
    return "/audio/microphone", "/audio/mic/raw", "x/audio/mic", "speaking"
'''
    assert literal_names(source) == {(4, "/seal/events"), (5, "relative"), (6, "speak"), (8, "/joint_states"),
                                     (9, "gui_act")}


def test_no_topic_or_action_name_spelled_outside_the_contract() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.resolve() == CONTRACT:
            continue
        rel = path.relative_to(PACKAGE).as_posix()
        for line, name in sorted(literal_names(path.read_text())):
            offenders.append(f"seal_nodes/{rel}:{line}: {name!r}")
    assert not offenders, "use seal_nodes.core.topics instead of:\n" + "\n".join(offenders)
