"""``seal diagnose --check arm_case_N.json``: an arm case replayed in the MuJoCo tabletop (headless: MUJOCO_GL=egl).

A seed and instruction the scripted expert carries out passes (the task's own success test reads the
simulator); an instruction for a cube the scene and the policy do not have, or a task the world
cannot host (a bin task without a bin), fails with the backend's reason and runs no episode."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from seal_nodes.tools import diagnose as diagnose_cli

pytestmark = pytest.mark.sim


def case(tmp_path: Path, name: str, instruction: str, **fields) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"kind": "arm", "seed": 3, "instruction": instruction, "action": "", **fields}))
    return str(path)


def test_a_case_the_expert_carries_out_passes(tmp_path, capsys):
    ok = case(tmp_path, "arm_case_1", "pick up the red cube", sim={"scene": "tabletop"})
    assert diagnose_cli.main(["--check", ok, "--backend", "expert"]) == 0
    out = capsys.readouterr().out
    assert f"ok: {ok}" in out and "the red cube is lifted off the table" in out


def test_a_case_for_something_the_world_lacks_fails_with_the_reason(tmp_path, capsys):
    purple = case(tmp_path, "arm_case_2", "pick up the purple cube")  # the default backend: the learned policy
    no_bin = case(tmp_path, "arm_case_3", "put the red cube in the bin", backend="expert")
    assert diagnose_cli.main(["--check", purple, no_bin]) == 1
    out = capsys.readouterr().out
    assert f"FAIL: {purple}" in out and "the learned backend refused “pick up the purple cube”" in out
    assert "no purple cube among the objects the policy knows" in out
    assert f"FAIL: {no_bin}" in out and "the expert backend refused" in out and "there is no bin in the scene" in out


def test_a_case_with_a_stuck_cube_reproduces_the_missed_grasp_and_passes_without_it(tmp_path, capsys):
    """The injected fault the case carries (the sim node's ``fault_stuck_object``) is rebuilt in the replay."""
    stuck = case(tmp_path, "arm_case_4", "pick up the red cube", backend="expert",
                 sim={"scene": "tabletop", "fault_stuck_object": "red_cube"})
    fixed = case(tmp_path, "arm_case_5", "pick up the red cube", backend="expert",
                 sim={"scene": "tabletop", "fault_stuck_object": None})  # an empty launch value reads back as None
    bad = case(tmp_path, "arm_case_6", "pick up the red cube", backend="expert", sim={"fault_stuck_object": "red_ball"})
    assert diagnose_cli.main(["--check", stuck, fixed]) == 1
    out = capsys.readouterr().out
    assert f"FAIL: {stuck}" in out and "fault_stuck_object: the red cube held to the table" in out
    assert "the expert backend gave up, but it is not so that the red cube is lifted off the table" in out
    assert f"ok: {fixed}" in out
    assert diagnose_cli.main(["--check", bad]) == 2
    assert "unknown object 'red_ball'" in capsys.readouterr().err


def test_a_case_carries_the_camera_mesh_detail_of_its_run(tmp_path, capsys):
    """The sim node's ``mesh_detail`` shapes what the policy saw: the replay draws the same; a bad one is said."""
    from seal_nodes.tools.arm_case import _world_kwargs

    assert _world_kwargs({"mesh_detail": "1.0", "scene": "tabletop"}) == {"mesh_detail": 1.0, "scene": "tabletop"}
    shipped = case(tmp_path, "arm_case_7", "pick up the red cube", backend="expert", sim={"mesh_detail": "1.0"})
    assert diagnose_cli.main(["--check", shipped]) == 0
    capsys.readouterr()
    for bad_value, said in (("lots", "sim.mesh_detail must be a number, got 'lots'"), ("0", "mesh detail must be > 0")):
        bad = case(tmp_path, "arm_case_8", "pick up the red cube", backend="expert", sim={"mesh_detail": bad_value})
        assert diagnose_cli.main(["--check", bad]) == 2
        assert said in capsys.readouterr().err
