"""DAgger for the mouse policy, without the browser: the pages are static, so the trained policy
is rolled out on the recorded screenshots (onnxruntime, as at run time) and the expert labels
every state the policy visits (re-planning from wherever the policy put the pointer). The new
states are saved beside the dataset (``dagger.npz``) and join the next training run.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sim_worlds.gui.expert import MouseExpert
from sim_worlds.gui.layout import VIEWPORT
from sim_worlds.gui.world import Box
from vla_policy.mouse.dataset import load
from vla_policy.mouse.preprocess import MAX_MOTION, pointer_state


def collect(data_dir: str | Path, weights_dir: str | Path, reaches: int = 4000, seed: int = 1,
            max_steps: int = 60, progress: bool = True) -> dict:
    from tqdm import tqdm

    from seal_nodes.core.language.encoder import SentenceEncoder
    from vla_policy.mouse.runtime import MouseRuntime

    meta, data = load(data_dir)
    rt = MouseRuntime(weights_dir)
    enc = SentenceEncoder()
    rng = np.random.default_rng(seed)
    targets = meta["targets"]
    sizes = {}  # target boxes are not stored: rebuild them from the layouts of the pages
    from sim_worlds.gui.layout import generate

    rows: dict[str, list] = {"page": [], "target": [], "state": [], "motion": [], "click": []}
    wins = 0
    w, h = VIEWPORT
    for _ in tqdm(range(reaches), desc="dagger", disable=not progress):
        page = int(rng.integers(meta["pages"]))
        present = np.flatnonzero(~np.isnan(data["centers"][page, :, 0]))
        ti = int(rng.choice(present))
        key = (page, ti)
        if key not in sizes:
            wd = generate(meta["seed"] * 100_000 + page).widget(targets[ti])
            sizes[key] = Box(wd.x, wd.y, wd.w, wd.h)
        box = sizes[key]
        phr = meta["phrasings"][targets[ti]]
        lang = enc.encode(phr[int(rng.integers(len(phr)))])
        p = rng.uniform([0, 0], [w, h])
        ex = MouseExpert(box, p, rng)
        d1 = d2 = np.zeros(2)
        for _step in range(max_steps):
            state = pointer_state(p, d1, d2)
            label = ex.step(p)
            motion, p_click, _ = rt.infer(data["screens"][page], state, lang)
            rows["page"].append(page)
            rows["target"].append(ti)
            rows["state"].append(state)
            rows["motion"].append(np.zeros(2, np.float32) if label.click else
                                  np.clip(label.target_pos - p, -MAX_MOTION, MAX_MOTION).astype(np.float32))
            rows["click"].append(1.0 if label.click else 0.0)
            if p_click > 0.5:
                wins += int(box.contains(*p))
                break
            p_new = np.clip(p + np.clip(motion, -MAX_MOTION, MAX_MOTION), [0, 0], [w - 1, h - 1])
            d2, d1 = d1, p_new - p
            p = p_new
    out = Path(data_dir) / "dagger.npz"
    arrays = {k: np.array(v, np.float32 if k in ("state", "motion", "click") else np.int32) for k, v in rows.items()}
    if out.exists():  # aggregate over rounds
        with np.load(out) as old:
            arrays = {k: np.concatenate([old[k], arrays[k]]) for k in arrays}
    np.savez(out, **arrays)
    return {"reaches": reaches, "states": len(rows["page"]), "policy_hit_rate": wins / reaches,
            "total_states": int(len(arrays["page"]))}
