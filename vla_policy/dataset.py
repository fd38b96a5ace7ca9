"""Demonstrations from the scripted experts, written as shards of NumPy arrays.

On-disk format (one folder):

* ``meta.json``: ``{"format": 1, "dt", "chunk", "tasks": [...], "colors": [...],
  "templates": {task: [...]}, "episodes": n, "frames": n, "seed"}``.
* ``shard_XXX.npz`` (one per worker), arrays indexed by frame:
  ``image`` uint8 [N, 80, 80, 3] (``preprocess.prepare_image`` of the 224x224 front camera),
  ``proprio`` float32 [N, 11] (7 joints, gripper, tool xyz),
  ``chunk`` float32 [N, K, 4]: the expert's next K commands as tool targets relative to the
  current tool position (metres) + gripper command (0 open .. 1 closed),
  ``status`` int8 [N] (0 running, 1 done, 2 failed), ``target`` float32 [N, 3] (the target
  object's true position, an auxiliary training signal; 0 for home), ``task`` int8 [N] (index into
  ``tasks``), ``color`` int8 [N] (index into ``colors``, -1 for home), ``episode`` int32 [N].

Half the episodes add slowly varying noise to the commands that are executed while the labels
stay the expert's clean commands (DART-style), so the learner sees how to recover from drift.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from sim_worlds.experts import ArmIK, ExpertAction  # noqa: E402
from sim_worlds.tabletop import TabletopWorld  # noqa: E402
from sim_worlds.tasks import COLORS, TASKS, expert_controller, run_episode, start_episode  # noqa: E402
from vla_policy.preprocess import IMAGE_HW, prepare_image, proprio  # noqa: E402

TASK_NAMES = list(TASKS)
CHUNK = 8
DT = 0.05  # 20 Hz, the node's control rate
EXTRA_DONE_STEPS = 6
DEFAULT_EPISODES = {"pick": 200, "place": 150, "push_left": 50, "push_right": 50, "point": 50, "home": 30}


@dataclass(frozen=True)
class EpisodeJob:
    task: str
    scene: str
    seed: int
    noisy: bool


def plan(episodes: dict[str, int], seed: int) -> list[EpisodeJob]:
    """Which episodes to record: scenes alternate, every episode has its own seed."""
    jobs = []
    for ti, (task, n) in enumerate(episodes.items()):
        scenes = TASKS[task].scenes
        for i in range(n):
            jobs.append(EpisodeJob(task, scenes[i % len(scenes)], seed * 1_000_003 + ti * 10_007 + i, i % 2 == 1))
    return jobs


def _labels(cmds: list[tuple[np.ndarray, float]], tcps: np.ndarray, ik: ArmIK) -> np.ndarray:
    """Chunk labels: commands t..t+K-1 as tool targets relative to tool position t."""
    targets = np.array([ik.fk(q)[0] for q, _ in cmds])
    grips = np.array([g for _, g in cmds])
    n = len(cmds)
    out = np.zeros((n, CHUNK, 4), np.float32)
    for t in range(n):
        idx = np.minimum(np.arange(t, t + CHUNK), n - 1)  # past the end: hold the last command
        out[t, :, :3] = targets[idx] - tcps[t]
        out[t, :, 3] = grips[idx]
    return out


def record_episode(world: TabletopWorld, job: EpisodeJob, ik: ArmIK) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(job.seed)
    world.reset(rng=rng)
    ep = start_episode(world, job.task, rng, ik)
    expert = expert_controller(world, ep, DT, ik)
    rows: dict[str, list] = {k: [] for k in ("image", "proprio", "status", "target", "tcp")}
    cmds: list[tuple[np.ndarray, float]] = []
    noise = np.zeros(7)

    def controller(q: np.ndarray, gripper: float, image: np.ndarray | None) -> ExpertAction:
        nonlocal noise
        a = expert(q, gripper, image)
        tcp = world.ee_position()
        rows["image"].append(prepare_image(image))
        rows["proprio"].append(proprio(np.r_[q, gripper], tcp))
        rows["status"].append(2 if a.failed else 1 if a.done else 0)
        rows["target"].append(world.object_pose(ep.target)[0] if ep.target else np.zeros(3))
        rows["tcp"].append(tcp)
        cmds.append((a.arm_q.copy(), float(a.gripper)))
        if not job.noisy:
            return a
        noise = 0.85 * noise + rng.normal(0.0, 0.012, 7)  # OU-like drift, ~2 cm at the tool
        return ExpertAction(a.arm_q + noise, a.gripper, a.phase, a.progress, a.done, a.failed)

    ok, _, _ = run_episode(world, ep, controller, DT, render=True, extra_steps_after_done=EXTRA_DONE_STEPS)
    n = len(cmds)
    color = COLORS.index(ep.target.split("_")[0]) if ep.target else -1
    return {
        "image": np.array(rows["image"], np.uint8),
        "proprio": np.array(rows["proprio"], np.float32),
        "chunk": _labels(cmds, np.array(rows["tcp"]), ik),
        "status": np.array(rows["status"], np.int8),
        "target": np.array(rows["target"], np.float32),
        "task": np.full(n, TASK_NAMES.index(job.task), np.int8),
        "color": np.full(n, color, np.int8),
        "success": np.array([ok]),
    }


def _worker(args: tuple[list[EpisodeJob], str, int, object]) -> tuple[int, int, int]:
    jobs, out, shard, queue = args
    world = TabletopWorld(render=True, scene=jobs[0].scene if jobs else "tabletop", randomize=True)
    worlds = {world.scene: world}
    ik = ArmIK()
    parts, kept = [], 0
    for i, job in enumerate(jobs):
        if job.scene not in worlds:
            worlds[job.scene] = TabletopWorld(render=True, scene=job.scene, randomize=True)
        ep = record_episode(worlds[job.scene], job, ik)
        if ep.pop("success")[0]:  # only demonstrations that really succeeded teach
            ep["episode"] = np.full(len(ep["status"]), shard * 100_000 + i, np.int32)
            parts.append(ep)
            kept += 1
        if queue is not None:
            queue.put(1)
    for w in worlds.values():
        w.close()
    data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
    np.savez(Path(out) / f"shard_{shard:03d}.npz", **data)
    return shard, kept, len(data.get("status", []))


def generate(out_dir: str | Path, episodes: dict[str, int] | None = None, seed: int = 0,
             workers: int = 2, progress: bool = True) -> dict:
    """Record expert demonstrations into ``out_dir`` (see the module doc for the format)."""
    import multiprocessing as mp

    from tqdm import tqdm

    episodes = dict(DEFAULT_EPISODES if episodes is None else episodes)
    unknown = set(episodes) - set(TASKS)
    if unknown:
        raise KeyError(f"unknown tasks {sorted(unknown)}; known: {TASK_NAMES}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("shard_*.npz"):
        old.unlink()
    jobs = plan(episodes, seed)
    workers = max(1, min(workers, len(jobs)))
    split = [jobs[i::workers] for i in range(workers)]
    bar = tqdm(total=len(jobs), desc="expert episodes", unit="ep", disable=not progress)
    if workers == 1:
        class _Q:
            def put(self, n: int) -> None:
                bar.update(n)
        results = [_worker((split[0], str(out), 0, _Q()))]
    else:
        ctx = mp.get_context("spawn")  # a fresh GL context per process
        with ctx.Manager() as manager:
            queue = manager.Queue()
            with ctx.Pool(workers) as pool:
                pending = pool.map_async(_worker, [(s, str(out), i, queue) for i, s in enumerate(split)])
                done = 0
                while done < len(jobs):
                    queue.get()
                    done += 1
                    bar.update(1)
                results = pending.get()
    bar.close()
    meta = {
        "format": 1, "dt": DT, "chunk": CHUNK, "image_hw": list(IMAGE_HW), "tasks": TASK_NAMES,
        "colors": list(COLORS), "templates": {t: list(s.templates) for t, s in TASKS.items()},
        "episodes": sum(r[1] for r in results), "episodes_planned": len(jobs),
        "frames": sum(r[2] for r in results), "seed": seed,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def load(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of a dataset folder written by ``generate``."""
    p = Path(path)
    meta_path = p / "meta.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{p} is not a dataset folder (no meta.json)")
    meta = json.loads(meta_path.read_text())
    shards = [dict(np.load(f)) for f in sorted(p.glob("shard_*.npz"))]
    shards = [s for s in shards if s]
    if not shards:
        raise ValueError(f"{p} holds no frames")
    return meta, {k: np.concatenate([s[k] for s in shards]) for k in shards[0]}
