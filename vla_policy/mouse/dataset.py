"""Demonstrations for the mouse policy: real browser screenshots + the expert's reaches.

The pages do not change while the pointer moves (no hover styles; the pointer is not drawn in
screenshots), so one Chromium screenshot per page serves every reach on it: ``generate`` loads
each training page once in the real browser, stores its half-scale screenshot and the DOM boxes
of every target, and rolls the expert out in numpy from random start points, many per page, with
noise injected into the executed motion (DART) so the expert also labels corrections.
Training seeds are 0..N-1; evaluation uses seeds from ``EVAL_SEED_BASE`` on.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from sim_worlds.gui.expert import MouseExpert
from sim_worlds.gui.layout import VIEWPORT
from sim_worlds.gui.targets import all_targets, phrasings
from sim_worlds.gui.world import Box
from vla_policy.mouse.preprocess import MAX_MOTION, SCREEN_HW, pointer_state

EVAL_SEED_BASE = 900_000


def rollout(box: Box, start: np.ndarray, rng: np.random.Generator, noise_frac: float, max_steps: int = 80
            ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(state, label displacement, click) per step of one noisy expert reach, ending with the click."""
    w, h = VIEWPORT
    ex = MouseExpert(box, start, rng)
    p = np.asarray(start, dtype=float)
    d1 = d2 = np.zeros(2)
    out = []
    for _ in range(max_steps):
        s = ex.step(p)
        state = pointer_state(p, d1, d2)
        if s.click:
            out.append((state, np.zeros(2, np.float32), 1.0))
            break
        delta = np.clip(s.target_pos - p, -MAX_MOTION, MAX_MOTION)
        out.append((state, delta.astype(np.float32), 0.0))
        # Signal-dependent noise (fast motion is less precise), as in human reaching.
        moved = delta + rng.normal(0, noise_frac, 2) * np.linalg.norm(delta)
        if rng.random() < 0.03 and np.linalg.norm(delta) > 2:  # a rare bump: recover from far off the plan
            moved = moved + rng.normal(0, 25, 2)
        p_new = np.clip(p + moved, [0, 0], [w - 1, h - 1])
        d2, d1 = d1, p_new - p
        p = p_new
    return out


def generate(out_dir: str | Path, pages: int = 1200, seed: int = 0, reaches_per_target: int = 2,
             progress: bool = True) -> dict:
    from tqdm import tqdm

    from sim_worlds.gui.world import GuiWorld

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "dagger.npz").unlink(missing_ok=True)  # DAgger states belong to the old pages
    targets = all_targets()
    rng = np.random.default_rng(seed)
    screens = np.zeros((pages, *SCREEN_HW, 3), np.uint8)
    centers = np.full((pages, len(targets), 2), np.nan, np.float32)
    rows: dict[str, list] = {"page": [], "target": [], "state": [], "motion": [], "click": []}
    t0 = time.monotonic()
    with GuiWorld() as world:
        for i in tqdm(range(pages), desc="gui pages", disable=not progress):
            world.load(seed * 100_000 + i)
            screens[i] = world.screenshot()
            for ti, t in enumerate(targets):
                box = world.boxes.get(t)
                if box is None:
                    continue
                centers[i, ti] = box.center
                for _ in range(reaches_per_target):
                    start = rng.uniform([0, 0], VIEWPORT)
                    for state, motion, click in rollout(box, start, rng, noise_frac=float(rng.uniform(0, 0.25))):
                        rows["page"].append(i)
                        rows["target"].append(ti)
                        rows["state"].append(state)
                        rows["motion"].append(motion)
                        rows["click"].append(click)
    np.savez(out / "data.npz", screens=screens, centers=centers, page=np.array(rows["page"], np.int32),
             target=np.array(rows["target"], np.int32), state=np.array(rows["state"], np.float32),
             motion=np.array(rows["motion"], np.float32), click=np.array(rows["click"], np.float32))
    meta = {"pages": pages, "seed": seed, "targets": targets, "samples": len(rows["page"]),
            "phrasings": {t: phrasings(t) for t in targets}, "seconds": round(time.monotonic() - t0, 1)}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def load(data_dir: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    d = Path(data_dir)
    meta = json.loads((d / "meta.json").read_text())
    with np.load(d / "data.npz") as z:
        data = {k: z[k] for k in z.files}
    if (d / "dagger.npz").exists():  # states the policy visited, labelled by the expert (``dagger``)
        with np.load(d / "dagger.npz") as z:
            for k in ("page", "target", "state", "motion", "click"):
                data[k] = np.concatenate([data[k], z[k].astype(data[k].dtype)])
    return meta, data
