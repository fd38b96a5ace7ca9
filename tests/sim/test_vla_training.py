"""A short end-to-end training run: expert dataset -> torch -> ONNX -> runtime in closed loop."""
from __future__ import annotations

import json

import numpy as np
import pytest

from vla_policy.arm import dataset

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
    on_disk = json.loads((root / "data" / "meta.json").read_text())
    assert {k: meta2[k] for k in on_disk} == on_disk and meta2["folders"] == [str(root / "data")]
    n = meta["frames"]
    assert data["image"].shape == (n, 80, 80, 3) and data["image"].dtype == np.uint8
    assert data["fovea"].shape == (n, 48, 48, 3) and data["fovea"].dtype == np.uint8
    # The stored fovea is centred on the target (give or take the camera's jitter of a few px).
    pick = data["task"] == meta["tasks"].index("pick")
    ch = ["red", "green", "blue"].index(meta["colors"][data["color"][pick][0]])
    f = data["fovea"][pick][0].astype(int)
    rows, cols = np.nonzero(f[..., ch] - np.delete(f, ch, axis=2).max(axis=2) > 60)
    assert len(rows) > 30 and abs(rows.mean() - 24) < 10 and abs(cols.mean() - 24) < 10
    assert data["proprio"].shape == (n, 12) and data["chunk"].shape == (n, meta["chunk"], 4)
    assert data["labeled"].all()  # expert episodes: every frame is a label
    held = data["proprio"][:, 11]  # the memory bit: off before the pick's grasp, on after it
    assert held[pick][0] == 0.0 and held[pick][-1] == 1.0 and held[~pick].max() == 0.0
    assert set(np.unique(data["status"])) == {0, 1}  # running, then done frames at the end
    assert set(np.unique(data["task"])) == {meta["tasks"].index("pick"), meta["tasks"].index("home")}
    # chunk rows are the expert's future tool targets relative to now: small steps, gripper in 0..1
    assert np.abs(data["chunk"][:, 0, :3]).max() < 0.1 and data["chunk"][..., 3].min() >= 0.0


def test_short_training_run_exports_a_working_policy(tiny):
    import torch

    from seal_nodes.core.arm.kinematics import ArmIK
    from sim_worlds.tabletop.world import TabletopWorld
    from seal_nodes.core.language.encoder import SentenceEncoder
    from vla_policy.arm.model import VlaNet
    from vla_policy.arm.runtime import LearnedPolicy, PolicyRuntime
    from vla_policy.arm.train import train

    root, _ = tiny
    out = root / "weights"
    card = train(root / "data", out, steps=12, batch=8, threads=1, progress=False)
    assert card["steps"] == 12 and np.isfinite(card["final_loss"])
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rt = PolicyRuntime(out)
    net = VlaNet(chunk=rt.chunk)
    net.load_state_dict(torch.load(out / "vla_policy.pt", weights_only=True))
    net.eval()
    x = (torch.randn(2, 3, 80, 80), torch.randn(2, 3, 32, 32), torch.randn(2, 12), torch.randn(2, 384) * 0.05)
    with torch.no_grad():
        ref = net(*x)
    got = rt.session.run(None, dict(zip(("image", "fovea", "proprio", "lang"), (t.numpy() for t in x))))
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


def test_takeover_episodes_label_only_the_experts_part(tiny):
    """DAgger round: the trained policy drives first, the expert goes on from where it left off."""
    from vla_policy.arm.train import train

    root, _ = tiny
    learner = root / "weights_takeover_learner"
    train(root / "data", learner, steps=4, batch=8, threads=1, progress=False, wordings=1)
    meta = dataset.generate(root / "takeover", {"pick": 2}, seed=5, workers=1, progress=False, learner_dir=learner)
    assert meta["takeover_from"] == str(learner) and meta["episodes"] >= 1
    _, data = dataset.load(root / "takeover")
    for ep in np.unique(data["episode"]):
        lab = data["labeled"][data["episode"] == ep]
        first = int(np.argmax(lab))
        assert first >= 1 and not lab[:first].any() and lab[first:].all()  # learner, then expert
    _, both = dataset.load([root / "data", root / "takeover"])
    assert len(np.unique(both["episode"])) == 2 + meta["episodes"]  # ids kept apart
    card = train([root / "data", root / "takeover"], root / "weights2", steps=4, batch=8, threads=1, progress=False,
                 wordings=1, init=learner)
    assert card["dataset"]["labeled_frames"] < card["dataset"]["frames"]


def test_localisation_views_teach_only_the_object_estimate(tiny):
    """Still frames of fresh layouts: a named cube's true position, no action labels."""
    from sim_worlds.tabletop.tasks import COLORS
    from vla_policy.arm.train import train

    root, _ = tiny
    meta = dataset.generate(root / "views", views=6, seed=2, workers=1, progress=False)
    assert meta["views"] == 6 and meta["frames"] == 6
    _, views = dataset.load(root / "views")
    assert (views["labeled"] == dataset.VIEW_LABEL).all() and views["proprio"].shape == (6, 12)
    assert len(np.unique(views["target"][:, 0])) == 6  # a new layout every frame
    assert np.all(np.abs(views["target"][:, 2] - 0.02) < 0.01)  # cubes resting on the table
    assert set(views["color"]) <= set(range(len(COLORS)))
    again = dataset.generate(root / "views2", views=6, seed=2, workers=1, progress=False)
    _, same = dataset.load(root / "views2")
    np.testing.assert_array_equal(same["image"], views["image"])  # seeded
    assert again["frames"] == 6
    card = train([root / "data", root / "views"], root / "weights_views", steps=3, batch=8, threads=1, wordings=1,
                 progress=False)
    assert card["dataset"]["views"] == 6 and np.isfinite(card["final_loss"])


def test_a_dataset_recorded_before_the_fovea_is_refused_with_the_way_out(tiny):
    root, _ = tiny
    old = root / "old_format"
    old.mkdir()
    meta = json.loads((root / "data" / "meta.json").read_text())
    (old / "meta.json").write_text(json.dumps({**meta, "format": 2}))
    shard = dict(np.load(next((root / "data").glob("shard_*.npz"))))
    del shard["fovea"]
    np.savez(old / "shard_000.npz", **shard)
    with pytest.raises(ValueError, match=r"before the fovea \(format 2.*--regenerate"):
        dataset.load(old)
