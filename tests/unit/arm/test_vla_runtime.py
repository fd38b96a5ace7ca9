"""The shipped learned policy: ONNX matches torch, provider choice, limits, bad input, language."""
from __future__ import annotations

import json

import numpy as np
import pytest

from seal_nodes.core.arm.backend import BackendError, Observation
from seal_nodes.core.arm.instructions import Task
from seal_nodes.core.arm.kinematics import ArmIK
from seal_nodes.core.arm.limits import Workspace
from seal_nodes.core.arm.robot import HOME_Q
from seal_nodes.core.language.encoder import EMBED_DIM, SentenceEncoder, model_dir
from vla_policy.arm.backends import LearnedBackend
from vla_policy.arm.camera import FRONT_CAMERA
from vla_policy.arm.preprocess import CAMERA_HW, FOVEA, IMAGE_HW, PROPRIO_DIM, prepare_image, proprio
from vla_policy.arm.runtime import CARD_FILE, TORCH_FILE, WEIGHTS_DIR, LearnedPolicy, PolicyRuntime
from vla_policy.inference import InputError, pick_provider

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def runtime():
    return PolicyRuntime()


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder()


def _frame(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*CAMERA_HW, 3), dtype=np.uint8)


def test_onnx_output_matches_torch(runtime):
    import torch

    from vla_policy.arm.model import VlaNet

    net = VlaNet(chunk=runtime.chunk)
    net.load_state_dict(torch.load(WEIGHTS_DIR / TORCH_FILE, weights_only=True))
    net.eval()
    rng = np.random.default_rng(1)
    image = rng.normal(0, 1, (3, 3, *IMAGE_HW)).astype(np.float32)
    fovea = rng.normal(0, 1, (3, 3, FOVEA, FOVEA)).astype(np.float32)
    prop = rng.normal(0, 1, (3, PROPRIO_DIM)).astype(np.float32)
    lang = rng.normal(0, 0.05, (3, EMBED_DIM)).astype(np.float32)
    with torch.no_grad():
        ref = [t.numpy() for t in net(*(torch.from_numpy(x) for x in (image, fovea, prop, lang)))]
    got = runtime.session.run(None, {"image": image, "fovea": fovea, "proprio": prop, "lang": lang})
    assert len(got) == len(ref) == 4
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)


def test_provider_is_one_that_really_loaded(runtime):
    session, provider = pick_provider(WEIGHTS_DIR / "vla_policy.onnx")
    assert session.get_providers()[0] == provider == runtime.provider
    assert provider in ("CUDAExecutionProvider", "CPUExecutionProvider")


def test_preprocess_crops_and_averages():
    img = np.zeros((*CAMERA_HW, 3), np.uint8)
    img[64:66, 32:34] = 200  # one 2x2 block in the crop's corner -> one pixel
    out = prepare_image(img)
    assert out.shape == (*IMAGE_HW, 3) and out[0, 0, 0] == 200 and out.sum() == 600


@pytest.mark.parametrize("bad", [np.zeros((100, 100, 3), np.uint8), np.zeros((*CAMERA_HW, 3), np.float32),
                                 np.zeros((*CAMERA_HW, 4), np.uint8), np.zeros(CAMERA_HW, np.uint8), None])
def test_bad_images_are_refused(bad):
    with pytest.raises(InputError):
        prepare_image(bad)


def test_nan_state_is_refused(runtime, encoder):
    with pytest.raises(InputError, match="NaN"):
        proprio(np.r_[HOME_Q, np.nan], np.zeros(3))
    policy = LearnedPolicy(runtime, encoder)
    policy.reset("pick up the red cube")
    with pytest.raises(InputError):
        policy.act(np.r_[np.nan, HOME_Q[1:]], 0.0, _frame())
    with pytest.raises(InputError):
        policy.act(HOME_Q[:6], 0.0, _frame())


def test_backend_refuses_unknown_object_and_bad_frames(encoder):
    backend = LearnedBackend(0.05)
    with pytest.raises(BackendError, match="no purple cube"):
        backend.reset(Task("pick", "purple_cube"), {}, "pick up the purple cube")
    backend.reset(Task("pick", "red_cube"), {}, "pick up the red cube")
    with pytest.raises(BackendError, match="224x224"):
        backend.act(Observation(HOME_Q.copy(), 0.0, np.zeros((10, 10, 3), np.uint8), {}))
    with pytest.raises(BackendError, match="camera image"):
        backend.act(Observation(HOME_Q.copy(), 0.0, None, {}))
    a = backend.act(Observation(HOME_Q.copy(), 0.0, _frame(), {}))
    assert a.arm_q.shape == (7,) and np.all(np.isfinite(a.arm_q)) and 0.0 <= a.gripper <= 1.0


def test_commands_stay_in_the_workspace_and_joint_limits(runtime, encoder):
    """A workspace box much smaller than what the policy wants: every tool target stays in it."""
    ik = ArmIK()
    home_tcp = ik.fk(HOME_Q)[0]
    box = Workspace(home_tcp - [0.03, 0.03, 0.03], home_tcp + [0.03, 0.03, 0.03])
    policy = LearnedPolicy(runtime, encoder, ik=ArmIK(), workspace=box)
    policy.reset("put the blue cube in the bin")  # far from home: the policy pulls outwards
    q = HOME_Q.copy()
    for i in range(15):
        a = policy.act(q, 0.0, _frame(i))
        assert np.all(a.arm_q >= ik.lower - 1e-9) and np.all(a.arm_q <= ik.upper + 1e-9)
        assert np.max(np.abs(a.arm_q - q)) <= 0.15 + 1e-9
        tcp = ik.fk(a.arm_q)[0]
        assert np.all(tcp >= box.lo - 0.01) and np.all(tcp <= box.hi + 0.01), tcp
        q = a.arm_q


def test_sentence_embedding_is_local_normalised_and_cached(encoder):
    assert (model_dir() / "model.safetensors").exists()
    a = encoder.encode("Pick up the red cube.")
    assert a.shape == (EMBED_DIM,) and abs(np.linalg.norm(a) - 1.0) < 1e-4
    assert encoder.encode("pick up the red cube") is a  # same goal text: computed once
    assert float(a @ encoder.encode("pick up the blue cube")) < 0.999
    with pytest.raises(ValueError):
        encoder.encode("   ")


class _SaysDone:
    """A stand-in network that always wants to end the goal with the gripper closed."""

    chunk = 8
    card = json.loads((WEIGHTS_DIR / CARD_FILE).read_text())  # what the task reader reads

    def __init__(self, grip: float = 1.0) -> None:
        self.grip = grip

    def infer(self, image80, fovea, prop, lang):
        chunk = np.zeros((self.chunk, 4))
        chunk[:, 3] = self.grip
        return chunk, np.array([0.0, 1.0, 0.0]), np.asarray(prop[8:11], float), np.zeros(3)  # "the cube is here"


class _ZeroEncoder:
    def encode(self, text):
        return np.zeros(EMBED_DIM, np.float32)


def test_pick_done_needs_the_gripper_to_hold_something():
    """'done' with fingers closed on nothing (measured ~1.0) is refused, then reported failed."""
    policy = LearnedPolicy(_SaysDone(), _ZeroEncoder(), ik=ArmIK(), reject_limit=5, max_retries=0)
    policy.reset("pick up the red cube")
    acts = [policy.act(HOME_Q.copy(), 1.0, _frame()) for _ in range(6)]
    assert not any(a.done for a in acts[:4])
    assert acts[-1].done and acts[-1].failed
    # Fingers stopped part-way (a cube between them): the same "done" is accepted.
    policy.reset("pick up the red cube")
    acts = [policy.act(HOME_Q.copy(), 0.59, _frame()) for _ in range(3)]
    assert acts[-1].done and not acts[-1].failed


def test_first_grasp_only_at_the_policys_own_object_estimate():
    class FarCube(_SaysDone):
        def infer(self, image80, fovea, prop, lang):
            chunk, status, at_tool, _ = super().infer(image80, fovea, prop, lang)
            below = np.array([0.0, 0.0, -0.06])  # the estimate is 6 cm below the tool
            return chunk, status, at_tool + below, below

    policy = LearnedPolicy(FarCube(), _ZeroEncoder(), ik=ArmIK())
    policy.reset("grab the blue block")
    assert policy.act(HOME_Q.copy(), 0.0, _frame()).gripper == 0.0  # held open: too high
    policy.reset("push the blue block left")  # not a grasp: the command passes
    assert policy.act(HOME_Q.copy(), 0.0, _frame()).gripper == 1.0


def test_place_done_needs_an_earlier_grasp_and_other_tasks_are_unchanged():
    policy = LearnedPolicy(_SaysDone(grip=0.0), _ZeroEncoder(), ik=ArmIK(), reject_limit=50)
    policy.reset("put the red cube in the bin")
    assert not any(policy.act(HOME_Q.copy(), 0.0, _frame()).done for _ in range(5))  # never held it
    policy.reset("point at the red cube")  # fingers closed on purpose: no grasp needed
    acts = [policy.act(HOME_Q.copy(), 1.0, _frame()) for _ in range(2)]
    assert acts[-1].done and not acts[-1].failed


def test_the_network_is_told_whether_the_gripper_has_held_something():
    """The memory bit (last proprio column) turns on after a confirmed grasp and stays on."""
    class Records(_SaysDone):
        seen: list[float] = []

        def infer(self, image80, fovea, prop, lang):
            self.seen.append(float(prop[-1]))
            return super().infer(image80, fovea, prop, lang)

    net = Records()
    policy = LearnedPolicy(net, _ZeroEncoder(), ik=ArmIK(), reject_limit=50)
    policy.reset("put the red cube in the bin")
    for g in (0.0, 0.3, 0.55, 0.56, 0.56, 0.56, 0.0, 0.0):  # close on a cube, hold, release
        policy.act(HOME_Q.copy(), g, _frame())
    assert net.seen == [0, 0, 0, 0, 0, 0, 0, 1, 1]  # the first frame runs twice (fovea)
    policy.reset("put the red cube in the bin")  # a new goal forgets
    policy.act(HOME_Q.copy(), 0.0, _frame())
    assert net.seen[-1] == 0


def test_a_held_cube_is_squeezed_fully_and_a_half_command_alone_is_no_grasp():
    policy = LearnedPolicy(_SaysDone(grip=0.7), _ZeroEncoder(), ik=ArmIK(), reject_limit=50)
    policy.reset("pick up the red cube")
    grips = [policy.act(HOME_Q.copy(), g, _frame()).gripper for g in (0.3, 0.55, 0.55, 0.55)]
    assert grips[:3] == pytest.approx([0.7] * 3) and grips[-1] == 1.0  # holding since the third frame: squeeze
    policy.reset("pick up the red cube")  # fingers that only follow the half command hold nothing
    acts = [policy.act(HOME_Q.copy(), 0.68, _frame()) for _ in range(4)]
    assert not any(a.done for a in acts) and not policy.grasp.held


def test_home_opens_the_gripper_even_when_the_network_would_hold_a_cube():
    """An unfinished pick can leave a cube in the fingers; every taught home opens, so "go home"
    lets it go instead of latching the network's hold (which never ended that goal)."""
    policy = LearnedPolicy(_SaysDone(grip=0.7), _ZeroEncoder(), ik=ArmIK(), reject_limit=50)
    policy.reset("go home")
    grips = [policy.act(HOME_Q.copy(), g, _frame()).gripper for g in (0.6, 0.6, 0.6, 0.6)]
    assert grips == [0.0] * 4 and not policy.grasp.holding
    policy.reset("pick up the red cube")  # a pick still squeezes what it holds
    assert [policy.act(HOME_Q.copy(), g, _frame()).gripper for g in (0.3, 0.55, 0.55, 0.55)][-1] == 1.0


def test_object_estimates_do_not_read_proprioception(runtime):
    """The estimates come from image + instruction only (else they learn to follow the arm)."""
    rng = np.random.default_rng(3)
    image = rng.normal(0, 1, (1, 3, *IMAGE_HW)).astype(np.float32)
    fovea = rng.normal(0, 1, (1, 3, FOVEA, FOVEA)).astype(np.float32)
    lang = rng.normal(0, 0.05, (1, EMBED_DIM)).astype(np.float32)
    outs = [runtime.session.run(None, {"image": image, "fovea": fovea, "lang": lang,
                                       "proprio": rng.normal(0, 1, (1, PROPRIO_DIM)).astype(np.float32)})
            for _ in range(2)]
    assert len(outs[0]) == 4  # chunk, status, aux, near
    np.testing.assert_allclose(outs[0][2], outs[1][2], atol=1e-6)  # aux: unchanged
    np.testing.assert_allclose(outs[0][3], outs[1][3], atol=1e-6)  # near: unchanged
    assert not np.allclose(outs[0][0], outs[1][0])  # the actions do read it


def test_world_estimate_does_not_read_the_fovea(runtime):
    """The fovea is cut around the world estimate, so that estimate must not depend on it."""
    rng = np.random.default_rng(4)
    feed = {"image": rng.normal(0, 1, (1, 3, *IMAGE_HW)).astype(np.float32),
            "proprio": rng.normal(0, 1, (1, PROPRIO_DIM)).astype(np.float32),
            "lang": rng.normal(0, 0.05, (1, EMBED_DIM)).astype(np.float32)}
    outs = [runtime.session.run(None, {**feed, "fovea": rng.normal(0, 1, (1, 3, FOVEA, FOVEA)).astype(np.float32)})
            for _ in range(2)]
    np.testing.assert_allclose(outs[0][2], outs[1][2], atol=1e-6)  # aux: unchanged
    assert not np.allclose(outs[0][3], outs[1][3])  # near reads it


def test_the_fovea_is_cut_around_the_previous_object_estimate():
    estimate = np.array([0.55, 0.12, 0.02])

    class Looks(_SaysDone):
        seen: list[np.ndarray] = []

        def infer(self, image80, fovea, prop, lang):
            self.seen.append(fovea.copy())
            chunk, status, _, near = super().infer(image80, fovea, prop, lang)
            return chunk, status, estimate, near

    frame = np.zeros((*CAMERA_HW, 3), np.uint8)
    r, c = np.round(FRONT_CAMERA.project(estimate)).astype(int)
    frame[r - 2:r + 2, c - 2:c + 2] = 255  # a marker where the estimate projects
    net = Looks()
    policy = LearnedPolicy(net, _ZeroEncoder(), ik=ArmIK(), reject_limit=50)
    policy.reset("pick up the red cube")
    policy.act(HOME_Q.copy(), 0.0, frame)
    policy.act(HOME_Q.copy(), 0.0, frame)
    assert len(net.seen) == 3  # the goal's first frame: two passes
    for fovea in net.seen[1:]:
        assert fovea.shape == (FOVEA, FOVEA, 3) and fovea.sum() == 16 * 3 * 255
        assert fovea[FOVEA // 2 - 2:FOVEA // 2 + 2, FOVEA // 2 - 2:FOVEA // 2 + 2].min() == 255  # centred


def test_a_missed_grasp_is_retried_with_the_gripper_opened_first():
    policy = LearnedPolicy(_SaysDone(), _ZeroEncoder(), ik=ArmIK(), reject_limit=3, max_retries=1, reopen_steps=4)
    policy.reset("pick up the red cube")
    acts = [policy.act(HOME_Q.copy(), 1.0, _frame()) for _ in range(12)]  # "done", fingers shut on nothing
    phases = [a.phase for a in acts]
    first = phases.index("retry")
    assert first == 3 and not any(a.done for a in acts[:first + 1])  # 3 refused "done" frames (from the 2nd)
    assert [a.gripper for a in acts[first:first + 5]] == [0.0] * 5  # open before trying again
    assert policy.retries == 1 and acts[-1].done and acts[-1].failed  # no retries left: failed

