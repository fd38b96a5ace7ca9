"""Parsing of ROS 2 YAML launch files without the launch library."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from seal_nodes.launcher.yaml_launch import LaunchError, NodeSpec, format_param, parse_launch_file, parse_launch_string

pytestmark = pytest.mark.unit

SHARES = {"seal_bringup": "/opt/seal/share/seal_bringup"}

REALISTIC = textwrap.dedent(r"""
    launch:
    - arg: {name: robot, default: seal, description: "robot namespace"}
    - arg: {name: use_sim, default: "false"}
    - arg: {name: model_dir}
    - let: {name: cfg, value: "$(find-pkg-share seal_bringup)/config"}
    - set_env: {name: RCUTILS_COLORIZED_OUTPUT, value: "1"}

    - node:
        pkg: seal_nodes
        exec: thinker
        name: thinker
        namespace: "$(var robot)"
        output: screen
        respawn: "true"
        respawn_delay: 1.5
        args: "--verbose --model '$(var model_dir)/m 1.bin'"
        param:
        - {name: rate_hz, value: 10}
        - {name: gain, value: 0.25}
        - {name: enabled, value: "true"}
        - {name: quiet, value: false}
        - {name: model, value: "$(var model_dir)"}
        - {name: port_str, value: "'8080'"}
        - {name: ids, value: [1, 2, 3]}
        - {name: weights, value: [1, 2.5]}
        - {name: names, value: [a, b]}
        - {name: sim, value: "$(var use_sim)"}
        - {name: level, value: "$(env SEAL_LEVEL 3)"}
        - name: limits
          param:
          - {name: max_vel, value: 1.0}
        - from: "$(var cfg)/thinker.yaml"
        remap:
        - {from: audio_in, to: /mic/audio}
        - {from: events, to: "/$(var robot)/events"}
        env:
        - {name: OMP_NUM_THREADS, value: 2}

    - group:
        scoped: "true"
        children:
        - push-ros-namespace: {namespace: perception}
        - set_env: {name: ONLY_IN_GROUP, value: x}
        - node: {pkg: seal_nodes, exec: listener, name: ears}
        - node: {pkg: seal_nodes, exec: vision, name: eyes, namespace: cam}
        - node: {pkg: seal_nodes, exec: absolute, name: abs, namespace: /top}

    - node:
        pkg: seal_nodes
        exec: sim_bridge
        if: "$(var use_sim)"
    - node:
        pkg: seal_nodes
        exec: hw_driver
        name: driver
        unless: "$(var use_sim)"
""")


def parse(text: str = REALISTIC, cli=("model_dir:=/models",), **kw):
    kw.setdefault("environ", {})
    kw.setdefault("package_shares", SHARES)
    return parse_launch_string(text, list(cli), **kw)


def by_name(desc, name: str) -> NodeSpec:
    return next(n for n in desc.nodes if n.label == name)


def test_args_lets_and_env():
    desc = parse()
    assert desc.args == {"robot": "seal", "use_sim": "false", "model_dir": "/models"}
    assert desc.env == {"RCUTILS_COLORIZED_OUTPUT": "1"}  # group-scoped set_env stays out


def test_node_fields_and_typed_params():
    t = by_name(parse(), "thinker")
    assert (t.pkg, t.exec, t.namespace, t.output) == ("seal_nodes", "thinker", "/seal", "screen")
    assert t.respawn is True and t.respawn_delay == 1.5
    assert t.args == ["--verbose", "--model", "/models/m 1.bin"]
    p = t.params
    assert p["rate_hz"] == 10 and type(p["rate_hz"]) is int
    assert p["gain"] == 0.25 and type(p["gain"]) is float
    assert p["enabled"] is True and p["quiet"] is False and p["sim"] is False
    assert p["model"] == "/models"
    assert p["port_str"] == "8080"  # YAML quotes inside the value keep it a string
    assert p["ids"] == [1, 2, 3]
    assert p["weights"] == [1.0, 2.5] and all(type(v) is float for v in p["weights"])
    assert p["names"] == ["a", "b"]
    assert p["level"] == 3  # env default, typed
    assert p["limits.max_vel"] == 1.0
    assert t.param_files == ["/opt/seal/share/seal_bringup/config/thinker.yaml"]
    assert t.remaps == [("audio_in", "/mic/audio"), ("events", "/seal/events")]
    assert t.env == {"RCUTILS_COLORIZED_OUTPUT": "1", "OMP_NUM_THREADS": "2"}


@pytest.mark.parametrize("raw,typed", [
    ("yes", True), ("On", True), ("0x10", 16), ("1.5e3", "1.5e3"), ("1.5e+3", 1500.0), ("-7", -7), ("2024-01-01", "2024-01-01"),
    ("", ""), ("~", "~"), ("a: b", "a: b"), ("[1, 2.5]", [1.0, 2.5]), ("[x, 'y']", ["x", "y"]),
])
def test_param_typing_follows_launch_ros(raw, typed):
    # PyYAML (YAML 1.1), like launch_ros, reads "1.5e3" as a string; "1.5e+3" is a float.
    text = ("launch:\n- arg: {name: v, default: ''}\n"
            "- node: {pkg: p, exec: e, param: [{name: x, value: '$(var v)'}]}\n")
    got = parse(text, cli=(f"v:={raw}",) if raw else ()).nodes[0].params["x"]  # "" only as a default
    assert got == typed and type(got) is type(typed)


def test_groups_namespaces_and_scoping():
    desc = parse()
    assert by_name(desc, "ears").namespace == "/perception"
    assert by_name(desc, "eyes").namespace == "/perception/cam"
    assert by_name(desc, "abs").namespace == "/top"
    assert by_name(desc, "ears").env["ONLY_IN_GROUP"] == "x"
    assert "ONLY_IN_GROUP" not in by_name(desc, "driver").env
    assert by_name(desc, "driver").namespace == ""  # push-ros-namespace did not leak


def test_unscoped_group_leaks_namespace_and_vars():
    desc = parse(textwrap.dedent("""
        launch:
        - group:
            scoped: false
            children:
            - push_ros_namespace: {namespace: /a}
            - let: {name: x, value: leaked}
        - node: {pkg: p, exec: e, name: "$(var x)"}
    """), cli=())
    assert desc.nodes[0].name == "leaked" and desc.nodes[0].namespace == "/a"


def test_if_unless_and_overrides():
    names = [n.label for n in parse().nodes]
    assert "driver" in names and "sim_bridge" not in names
    desc = parse(cli=("model_dir:=/m", "use_sim:=true", "robot:=r2"))
    names = [n.label for n in desc.nodes]
    assert "sim_bridge" in names and "driver" not in names
    assert by_name(desc, "thinker").namespace == "/r2"


def test_group_condition_skips_children_but_args_still_declared():
    text = textwrap.dedent("""
        launch:
        - arg: {name: enable, default: "false"}
        - group:
            if: "$(var enable)"
            children:
            - arg: {name: inner, default: "1"}
            - node: {pkg: p, exec: e}
    """)
    assert parse(text, cli=()).nodes == []
    assert parse(text, cli=("inner:=2",)).nodes == []  # declared, so not "unknown"
    assert len(parse(text, cli=("enable:=1",)).nodes) == 1


def test_substitutions_env_eval_and_logic():
    text = textwrap.dedent("""
        launch:
        - arg: {name: mode, default: fast}
        - set_env: {name: FROM_LAUNCH, value: yes_it_is}
        - node:
            pkg: p
            exec: e
            param:
            - {name: home, value: "$(env HOME)"}
            - {name: set, value: "$(env FROM_LAUNCH)"}
            - {name: opt, value: "$(optenv NOPE)"}
            - {name: dflt, value: "$(env NOPE 'a b')"}
            - {name: fast, value: "$(eval \\"'$(var mode)' == 'fast'\\")"}
            - {name: sum, value: "$(eval 2 * 3 + 1)"}
            - {name: neg, value: "$(not $(eval '$(var mode)' == 'fast'))"}
            - {name: both, value: "$(and true 1)"}
    """)
    p = parse(text, cli=(), environ={"HOME": "/home/seal"}).nodes[0].params
    assert p == {"home": "/home/seal", "set": "yes_it_is", "opt": "", "dflt": "a b",
                 "fast": True, "sum": 7, "neg": False, "both": True}


def test_parse_launch_file_and_include(tmp_path: Path):
    (tmp_path / "sub.launch.yaml").write_text(textwrap.dedent("""
        launch:
        - arg: {name: who}
        - node: {pkg: p, exec: e, name: "$(var who)"}
    """))
    main = tmp_path / "main.launch.yaml"
    main.write_text(textwrap.dedent("""
        launch:
        - arg: {name: n, default: inc}
        - include:
            file: "$(dirname)/sub.launch.yaml"
            arg: [{name: who, value: "$(var n)"}]
    """))
    desc = parse_launch_file(main, {"n": "x"}, environ={})
    assert [n.name for n in desc.nodes] == ["x"]
    assert desc.args == {"n": "x"}


@pytest.mark.parametrize("text,cli,needle", [
    ("launch:\n- arg: {name: need}\n", (), "need"),
    ("launch:\n- arg: {name: a, default: '1'}\n", ("b:=2",), "declared: ['a']"),
    ("launch: [\n", (), "invalid YAML"),
    ("nodes: []\n", (), "launch:"),
    ("launch:\n- node: {pkg: p, exec: e, name: '$(bogus x)'}\n", (), "unknown substitution"),
    ("launch:\n- node: {pkg: p, exec: e, name: '$(var nope)'}\n", (), "nope"),
    ("launch:\n- node: {pkg: p, exec: e, name: '$(env NOPE_NOT_SET)'}\n", (), "NOPE_NOT_SET"),
    ("launch:\n- node: {pkg: p, exec: e, name: '$(find-pkg-share nopkg)'}\n", (), "nopkg"),
    ("launch:\n- node: {exec: e}\n", (), "'pkg'"),
    ("launch:\n- node: {pkg: p}\n", (), "'exec'"),
    ("launch:\n- node: {pkg: p, exec: e, colour: red}\n", (), "colour"),
    ("launch:\n- rosbag: {}\n", (), "unsupported entity 'rosbag'"),
    ("launch:\n- node: {pkg: p, exec: e, if: maybe}\n", (), "maybe"),
    ("launch:\n- node: {pkg: p, exec: e, name: '$(var x'}\n", (), "unterminated"),
    ("launch:\n- node: {pkg: p, exec: e, param: [{name: x}]}\n", (), "needs a value"),
    ("launch:\n- node: {pkg: p, exec: e, name: '$(eval __import__(\"os\"))'}\n", (), "unsupported"),
    ("launch:\n- arg: {name: a, default: x, choices: [y, z]}\n", (), "choices"),
    ("launch:\n- arg: {name: on, default: x}\n", (), "quote it"),
])
def test_errors(text, cli, needle):
    with pytest.raises(LaunchError) as exc:
        parse(text, cli=cli)
    assert needle in str(exc.value)


def test_bad_cli_syntax():
    with pytest.raises(LaunchError, match="name:=value"):
        parse(cli=("model_dir=/x",))


def test_an_empty_value_is_refused_as_ros2_launch_refuses_it():
    with pytest.raises(LaunchError, match="empty value"):
        parse(cli=("model_dir:=",))


def test_ros_args():
    t = by_name(parse(), "thinker")
    args = t.ros_args()
    assert args[:5] == ["--ros-args", "-r", "__node:=thinker", "-r", "__ns:=/seal"]
    pairs = [args[i + 1] for i, a in enumerate(args) if a == "-p"]
    assert "rate_hz:=10" in pairs and "gain:=0.25" in pairs and "enabled:=true" in pairs
    assert "quiet:=false" in pairs and "ids:=[1, 2, 3]" in pairs and "weights:=[1.0, 2.5]" in pairs
    assert "port_str:='8080'" in pairs and "names:=[a, b]" in pairs and "model:=/models" in pairs
    assert "limits.max_vel:=1.0" in pairs
    assert args[args.index("--params-file") + 1].endswith("thinker.yaml")
    remaps = [args[i + 1] for i, a in enumerate(args) if a == "-r"][2:]
    assert remaps == ["audio_in:=/mic/audio", "events:=/seal/events"]
    assert t.argv_tail()[:3] == ["--verbose", "--model", "/models/m 1.bin"]
    bare = NodeSpec(pkg="p", exec="e")
    assert bare.ros_args() == ["--ros-args"] and bare.label == "e"


@pytest.mark.parametrize("value,text", [
    (True, "true"), (False, "false"), (3, "3"), (-2, "-2"), (2.0, "2.0"), (1e-5, "1e-05"),
    ("plain", "plain"), ("/a/b", "/a/b"), ("true", "'true'"), ("42", "'42'"), ("1.5", "'1.5'"),
    ("", "''"), ("yes", "'yes'"), ("a: b", "'a: b'"), ("it's", "it's"), ("'q", "'''q'"),
    ("~", "'~'"), ("1.5e3", "'1.5e3'"), ("nan", "'nan'"), ([], "[]"), (["x", "1"], "[x, '1']"), ([True, False], "[true, false]"),
])
def test_format_param(value, text):
    assert format_param(value) == text


def test_boolean_choices_match_their_launch_spelling():
    desc = parse_launch_string("launch:\n- arg: {name: sim, default: 'true', choices: [true, false]}\n", ["sim:=false"])
    assert desc.args == {"sim": "false"}
    with pytest.raises(LaunchError, match="not in choices"):
        parse_launch_string("launch:\n- arg: {name: sim, default: 'true', choices: [true, false]}\n", ["sim:=maybe"])


def test_group_without_forwarding_is_refused_not_silently_misread():
    with pytest.raises(LaunchError, match="forwarding"):
        parse_launch_string("launch:\n- group: {forwarding: false, children: []}\n")


def test_non_finite_floats_keep_their_type_on_the_command_line():
    assert [format_param(v) for v in (float("nan"), float("inf"), float("-inf"))] == [".nan", ".inf", "-.inf"]
