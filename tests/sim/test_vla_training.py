"""A short end-to-end training run: expert dataset -> torch -> ONNX -> runtime in closed loop."""
from __future__ import annotations

import json

import numpy as np
import pytest

from vla_policy import dataset

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("vla")
    meta = dataset.generate(root / "data", {"pick": 1, "home": 1}, seed=3, workers=1, progress=False)
    return root, meta


def test_dataset_format(tiny):
    root, meta = tiny
    assert meta["episodes"] == 2 and meta["frames"] > 40
    meta2, data = dataset.load(root / "data")
    assert meta2 == json.loads((root / "data" / "meta.json").read_text())
    n = meta["frames"]
    assert data["image"].shape == (n, 80, 80, 3) and data["image"].dtype == np.uint8
    assert data["proprio"].shape == (n, 11) and data["chunk"].shape == (n, meta["chunk"], 4)
    assert set(np.unique(data["status"])) == {0, 1}  # running, then done frames at the end
    assert set(np.unique(data["task"])) == {meta["tasks"].index("pick"), meta["tasks"].index("home")}
    # chunk rows are the expert's future tool targets relative to now: small steps, gripper in 0..1
    assert np.abs(data["chunk"][:, 0, :3]).max() < 0.1 and data["chunk"][..., 3].min() >= 0.0


def test_short_training_run_exports_a_working_policy(tiny):
    import torch

    from sim_worlds.experts import ArmIK
    from sim_worlds.tabletop import TabletopWorld
    from vla_policy.language import SentenceEncoder
    from vla_policy.model import VlaNet
    from vla_policy.runtime import LearnedPolicy, PolicyRuntime
    from vla_policy.train import train

    root, _ = tiny
    out = root / "weights"
    card = train(root / "data", out, steps=12, batch=8, threads=1, progress=False)
    assert card["steps"] == 12 and np.isfinite(card["final_loss"])
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rt = PolicyRuntime(out)
    net = VlaNet(chunk=rt.chunk)
    net.load_state_dict(torch.load(out / "vla_policy.pt", weights_only=True))
    net.eval()
    x = (torch.randn(2, 3, 80, 80), torch.randn(2, 11), torch.randn(2, 384) * 0.05)
    with torch.no_grad():
        ref = net(*x)
    got = rt.session.run(None, {"image": x[0].numpy(), "proprio": x[1].numpy(), "lang": x[2].numpy()})
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r.numpy(), rtol=1e-4, atol=1e-4)
    # The barely trained policy runs in the closed loop and every command is finite.
    w = TabletopWorld(seed=0)
    policy = LearnedPolicy(rt, SentenceEncoder(), ik=ArmIK())
    policy.reset("pick up the red cube")
    for _ in range(3):
        q = w.joint_positions()
        a = policy.act(q[:7], float(q[7]), w.render())
        assert np.all(np.isfinite(a.arm_q))
        w.set_command(a.arm_q, a.gripper)
        w.step(0.05)
    w.close()
