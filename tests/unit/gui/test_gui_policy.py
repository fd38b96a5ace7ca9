"""The shipped mouse policy: ONNX loads and matches torch; bad inputs are refused; steps are bounded."""
from __future__ import annotations

import numpy as np
import pytest

from vla_policy.inference import InputError
from vla_policy.mouse.preprocess import MAX_MOTION
from vla_policy.mouse.runtime import GUI_WEIGHTS, TORCH_FILE

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def runtime():
    from vla_policy.mouse.runtime import MouseRuntime

    return MouseRuntime()


def test_onnx_matches_torch(runtime):
    import torch

    from vla_policy.mouse.model import MouseNet

    net = MouseNet()
    net.load_state_dict(torch.load(GUI_WEIGHTS / TORCH_FILE, map_location="cpu"))
    net.eval()
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (200, 320, 3), dtype=np.uint8)
    state = rng.normal(0, 0.5, 6).astype(np.float32)
    lang = rng.normal(0, 1, 384).astype(np.float32)
    lang /= np.linalg.norm(lang)
    motion, p_click, target = runtime.infer(img, state, lang)
    x = np.moveaxis((img / 255.0 - runtime.mean) / runtime.std, -1, 0)[None].astype(np.float32)
    with torch.no_grad():
        tm, tc, ta = net(torch.from_numpy(x), torch.from_numpy(state)[None, None], torch.from_numpy(lang)[None])
    assert np.allclose(motion, tm[0, 0].numpy() * runtime.motion_scale, atol=1e-2)
    assert abs(p_click - float(torch.sigmoid(tc[0, 0]))) < 1e-3
    assert np.allclose(target, (ta[0].numpy() + 1) / 2 * [640, 400], atol=0.1)
    assert set(runtime.card["targets"]) >= {"search_button", "form_submit", "product_r3c4", "search_box"}


def test_bad_inputs_are_refused(runtime):
    lang = np.zeros(384, np.float32)
    with pytest.raises(InputError, match="screenshot"):
        runtime.infer(np.zeros((400, 640, 3), np.uint8), np.zeros(6, np.float32), lang)
    with pytest.raises(InputError, match="screenshot"):
        runtime.infer(np.zeros((200, 320, 3), np.float32), np.zeros(6, np.float32), lang)
    with pytest.raises(InputError):
        runtime.infer(np.zeros((200, 320, 3), np.uint8), np.full(6, np.nan, np.float32), lang)


def test_policy_steps_are_bounded_and_use_the_instruction(runtime):
    from vla_policy.mouse.runtime import MousePolicy

    class FakeEncoder:  # a fixed embedding per text: the network, not the encoder, is under test here
        def encode(self, text):
            v = np.random.default_rng(abs(hash(text)) % 2**32).normal(0, 1, 384).astype(np.float32)
            return v / np.linalg.norm(v)

    policy = MousePolicy(runtime, FakeEncoder())
    policy.reset("click the search button")
    img = np.random.default_rng(1).integers(0, 256, (200, 320, 3), dtype=np.uint8)
    p = np.array([320.0, 200.0])
    for _ in range(5):
        nxt, click = policy.act(img, p)
        if click:
            break
        assert np.all(np.abs(nxt - p) <= MAX_MOTION + 1e-6)
        p = nxt
    assert policy.last_infer_ms > 0


def test_the_policy_and_the_pages_agree_on_the_viewport():
    from sim_worlds.gui.layout import VIEWPORT as PAGE_VIEWPORT
    from vla_policy.mouse.preprocess import VIEWPORT

    assert VIEWPORT == PAGE_VIEWPORT


@pytest.fixture(scope="module")
def policy(runtime):
    from vla_policy.mouse.runtime import MousePolicy

    return MousePolicy(runtime)


def grounder(policy):
    def ground(text):
        g = policy.ground(text)
        return g.target, g.similarity, g.nearest
    return ground


@pytest.mark.parametrize("text,target", [("click the searchbox", "search_box"),
                                         ("the e-mail field of the form", "form_email")])
def test_free_wordings_the_parser_cannot_read_are_taken_near_a_trained_one(policy, text, target):
    from sim_worlds.gui.targets import Unrecognised, parse_target
    from sim_worlds.gui.wording import read_target

    with pytest.raises(Unrecognised):
        parse_target(text)
    assert read_target(text, grounder(policy)) == target


@pytest.mark.parametrize("text,why", [
    ("click the banana button", "nor is it like a wording"), ("open the door", "nor is it like a wording"),
    ("click the login button", "nor is it like a wording"), ("press the menu icon", "nor is it like a wording"),
    ("the top left product", "nor is it like a wording|row and column"),
    ("type hello into the search box", "only clicks"),
])
def test_other_requests_are_still_refused_with_the_reason(policy, text, why):
    from sim_worlds.gui.targets import UnknownTarget
    from sim_worlds.gui.wording import read_target

    with pytest.raises(UnknownTarget, match=why):
        read_target(text, grounder(policy))


def test_a_product_is_never_named_by_the_nearest_phrasing():
    from sim_worlds.gui.targets import UnknownTarget
    from sim_worlds.gui.wording import read_target

    with pytest.raises(UnknownTarget, match="row and column"):
        read_target("the corner product", lambda text: ("product_r1c1", 0.99, "the product in row 1, column 1"))
