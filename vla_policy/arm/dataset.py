"""Demonstrations from the scripted experts, written as shards of NumPy arrays.

On-disk format (one folder):

* ``meta.json``: ``{"format": 3, "dt", "chunk", "tasks": [...], "colors": [...],
  "templates": {task: [...]}, "episodes": n, "frames": n, "seed"}``.
* ``shard_XXX.npz`` (one per worker), arrays indexed by frame:
  ``image`` uint8 [N, 80, 80, 3] (``preprocess.prepare_image`` of the 224x224 front camera),
  ``fovea`` uint8 [N, 48, 48, 3] (format 3): the full-resolution frame around the target object
  (the tool for home) as the nominal camera projects it (``camera.FRONT_CAMERA``),
  ``proprio`` float32 [N, 11] (7 joints, gripper, tool xyz: what is measured; ``load`` appends the
  derived "has held" column, ``grasp.held_flags``, so loaded arrays have ``PROPRIO_DIM`` columns),
  ``chunk`` float32 [N, K, 4]: the expert's next K commands as tool targets relative to the
  current tool position (metres) + gripper command (0 open .. 1 closed),
  ``status`` int8 [N] (0 running, 1 done, 2 failed), ``target`` float32 [N, 3] (the target
  object's true position, an auxiliary training signal; 0 for home), ``task`` int8 [N] (index into
  ``tasks``), ``color`` int8 [N] (index into ``colors``, -1 for home), ``episode`` int32 [N],
  ``labeled`` uint8 [N] (format 2): 1 a full label; 0 a frame a learner drove before the expert
  took over (kept because the memory bit needs the history; never a training label); 2 a
  localisation view (only ``target`` is a label).

Views folders (``generate(..., views=N)``): N still frames, each a fresh random layout with the
arm somewhere above the table, labeled with one named cube's position (``record_view``).

Takeover folders (``generate(..., learner_dir=...)``, ``meta["takeover_from"]``) hold episodes
where the trained policy acts first and the expert goes on from the state it left (DAgger-style):
retrying a missed grasp, carrying a held cube (or, held over the bin, lowering it and letting
go), leaving a cube put in the bin alone.

Half the episodes add slowly varying noise to the commands that are executed while the labels
stay the expert's clean commands (DART-style), so the learner sees how to recover from drift.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seal_nodes.core.arm.kinematics import DOWN_ROT, ArmCommand, ArmIK
from seal_nodes.core.arm.robot import HOME_Q
from sim_worlds.tabletop.tasks import COLORS, TASKS, expert_controller, instruction, run_episode, start_episode
from sim_worlds.tabletop.world import TabletopWorld
from vla_policy.arm.camera import FRONT_CAMERA
from vla_policy.arm.grasp import held_flags
from vla_policy.arm.preprocess import FOVEA_STORED, IMAGE_HW, PROPRIO_DIM, fovea_patch, prepare_image, proprio

TASK_NAMES = list(TASKS)
CHUNK = 8
DT = 0.05  # 20 Hz, the node's control rate
EXTRA_DONE_STEPS = 6
MEASURED_DIM = PROPRIO_DIM - 1  # stored proprio columns; the memory bit is derived on load
DEFAULT_EPISODES = {"pick": 200, "place": 150, "push_left": 50, "push_right": 50, "point": 50, "home": 30}


@dataclass(frozen=True)
class EpisodeJob:
    task: str
    scene: str
    seed: int
    noisy: bool
    takeover_step: int = 0  # > 0: the learned policy acts until this step, then the expert (DAgger)


def plan(episodes: dict[str, int], seed: int) -> list[EpisodeJob]:
    """Which episodes to record: scenes alternate, every episode has its own seed."""
    jobs = []
    for ti, (task, n) in enumerate(episodes.items()):
        scenes = TASKS[task].scenes
        for i in range(n):
            jobs.append(EpisodeJob(task, scenes[i % len(scenes)], seed * 1_000_003 + ti * 10_007 + i, i % 2 == 1))
    return jobs


def plan_takeover(episodes: dict[str, int], seed: int) -> list[EpisodeJob]:
    """Learner-then-expert episodes: the hand-over step is drawn per episode, seeds are new."""
    rng = np.random.default_rng(seed + 77)
    jobs = []
    for ti, (task, n) in enumerate(episodes.items()):
        scenes = TASKS[task].scenes
        last = int(0.6 * TASKS[task].max_time_s / DT)
        for i in range(n):
            jobs.append(EpisodeJob(task, scenes[i % len(scenes)], seed * 1_000_003 + 500_000 + ti * 10_007 + i,
                                   False, int(rng.integers(10, last))))
    return jobs


OVER_BIN = 0.03  # m: a lifted cube this close (across) to the bin's centre is over it


class _NothingToTeach(Exception):
    """The learner already finished the part of the task the expert could show."""


def _take_over(world: TabletopWorld, ep, ik: ArmIK):
    """The expert that goes on from wherever the learner left the scene."""
    if ep.task == "place" and world.in_bin(ep.target):
        return expert_controller(world, ep, DT, ik, stage="retreat")
    if ep.task in ("pick", "place") and world.is_lifted(ep.target):
        if ep.task == "pick":
            raise _NothingToTeach
        over_bin = np.linalg.norm(world.object_pose(ep.target)[0][:2] - world.bin_position()[:2]) < OVER_BIN
        # Over the bin already: lower and let go. (A learner may hold the cube there, waiting for a
        # release it keeps planning for later; "carry" would first lift it back up.)
        return expert_controller(world, ep, DT, ik, stage="lower" if over_bin else "carry")
    return expert_controller(world, ep, DT, ik)


def _stored_fovea(frame: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The stored patch around a world point; training cuts the network's fovea out of it."""
    return fovea_patch(frame, FRONT_CAMERA.project(centre), FOVEA_STORED)


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


def record_episode(world: TabletopWorld, job: EpisodeJob, ik: ArmIK,
                   learner=None) -> dict[str, np.ndarray] | None:
    """One episode's frames; ``None`` for a takeover episode with nothing left to teach.

    With ``job.takeover_step`` the ``learner`` (a ``LearnedPolicy``) drives first; its frames are
    kept (the memory bit needs the history) but marked unlabeled, and the expert's frames from the
    hand-over on are the labels: how to go on from states the learner itself reaches (DAgger).
    """
    rng = np.random.default_rng(job.seed)
    world.reset(rng=rng)
    ep = start_episode(world, job.task, rng, ik)
    expert = None
    if job.takeover_step:
        templates = TASKS[job.task].templates
        learner.reset(instruction(job.task, ep.target, templates[int(rng.integers(len(templates)))]))
    else:
        expert = expert_controller(world, ep, DT, ik)
    rows: dict[str, list] = {k: [] for k in ("image", "fovea", "proprio", "status", "target", "tcp", "labeled")}
    cmds: list[tuple[np.ndarray, float]] = []
    noise = np.zeros(7)

    def controller(q: np.ndarray, gripper: float, image: np.ndarray | None) -> ArmCommand:
        nonlocal noise, expert
        a = None
        if expert is None and len(cmds) < job.takeover_step:
            a = learner.act(q, gripper, image)
            if a.done:  # the learner's own end is not a label; the expert shows what comes next
                a = None
        if a is None and expert is None:
            expert = _take_over(world, ep, ik)
        if a is None:
            a = expert(q, gripper, image)
        rows["labeled"].append(expert is not None)
        tcp = world.ee_position()
        target = world.object_pose(ep.target)[0] if ep.target else np.zeros(3)
        rows["image"].append(prepare_image(image))
        rows["fovea"].append(_stored_fovea(image, target if ep.target else tcp))
        rows["proprio"].append(proprio(np.r_[q, gripper], tcp)[:MEASURED_DIM])
        rows["status"].append(2 if a.failed else 1 if a.done else 0)
        rows["target"].append(target)
        rows["tcp"].append(tcp)
        cmds.append((a.arm_q.copy(), float(a.gripper)))
        if not job.noisy:
            return a
        noise = 0.85 * noise + rng.normal(0.0, 0.012, 7)  # OU-like drift, ~2 cm at the tool
        return ArmCommand(a.arm_q + noise, a.gripper, a.phase, a.progress, a.done, a.failed)

    try:
        ok, _, _ = run_episode(world, ep, controller, DT, render=True, extra_steps_after_done=EXTRA_DONE_STEPS)
    except _NothingToTeach:
        return None
    n = len(cmds)
    color = COLORS.index(ep.target.split("_")[0]) if ep.target else -1
    return {
        "image": np.array(rows["image"], np.uint8),
        "fovea": np.array(rows["fovea"], np.uint8),
        "proprio": np.array(rows["proprio"], np.float32),
        "chunk": _labels(cmds, np.array(rows["tcp"]), ik),
        "status": np.array(rows["status"], np.int8),
        "target": np.array(rows["target"], np.float32),
        "task": np.full(n, TASK_NAMES.index(job.task), np.int8),
        "color": np.full(n, color, np.int8),
        "labeled": np.array(rows["labeled"], np.uint8),
        "success": np.array([ok]),
    }


LOCALISATION_TASKS = [t for t in TASK_NAMES if TASKS[t].needs_object]
DEFAULT_VIEWS = 20000
VIEW_LABEL = 2  # ``labeled`` value of a localisation view: a target position, no action


def record_view(world: TabletopWorld, seed: int, ik: ArmIK) -> dict[str, np.ndarray]:
    """One still frame of a fresh random layout, labeled only with a named cube's position.

    Episodes give few layouts (one each) and the object estimate memorises them; still frames
    give a new layout per frame for the price of a render. The arm is put where it is during
    the tasks: half the time low beside a cube (the fingers partly hiding it), else anywhere.
    """
    rng = np.random.default_rng(seed)
    world.reset(rng=rng)
    names = world.object_names()
    if rng.uniform() < 0.5:
        near = world.object_pose(str(rng.choice(names)))[0]
        tcp = near + [rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03), rng.uniform(0.01, 0.15)]
    else:
        tcp = np.array([rng.uniform(0.3, 0.6), rng.uniform(-0.25, 0.25), rng.uniform(0.05, 0.4)])
    q, _ = ik.solve(tcp, DOWN_ROT, HOME_Q, iters=100)
    world.set_arm(q, 0.0)
    target = str(rng.choice(names))
    pos = world.object_pose(target)[0]
    frame = world.render()
    return {
        "image": prepare_image(frame)[None],
        "fovea": _stored_fovea(frame, pos)[None],
        "proprio": proprio(world.joint_positions(), world.ee_position())[None, :MEASURED_DIM],
        "chunk": np.zeros((1, CHUNK, 4), np.float32),
        "status": np.zeros(1, np.int8),
        "target": pos[None].astype(np.float32),
        "task": np.array([TASK_NAMES.index(str(rng.choice(LOCALISATION_TASKS)))], np.int8),
        "color": np.array([COLORS.index(target.split("_")[0])], np.int8),
        "labeled": np.array([VIEW_LABEL], np.uint8),
    }


def _view_worker(args: tuple[list[int], str, int, object, None]) -> tuple[int, int, int]:
    seeds, out, shard, queue, _ = args  # the same arguments as ``_worker``; views need no learner
    worlds = [TabletopWorld(render=True, scene=s, randomize=True) for s in ("tabletop", "tabletop_bin")]
    ik = ArmIK()
    parts = []
    for i, seed in enumerate(seeds):
        v = record_view(worlds[i % 2], seed, ik)
        v["episode"] = np.array([shard * 1_000_000 + i], np.int32)
        parts.append(v)
        if queue is not None and i % 50 == 49:
            queue.put(50)
    for w in worlds:
        w.close()
    data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    np.savez(Path(out) / f"shard_{shard:03d}.npz", **data)
    return shard, len(seeds), len(seeds)


def _worker(args: tuple[list[EpisodeJob], str, int, object, str | None]) -> tuple[int, int, int]:
    jobs, out, shard, queue, learner_dir = args
    world = TabletopWorld(render=True, scene=jobs[0].scene if jobs else "tabletop", randomize=True)
    worlds = {world.scene: world}
    ik = ArmIK()
    learner = None
    if learner_dir is not None:
        from seal_nodes.core.language.encoder import SentenceEncoder
        from vla_policy.arm.runtime import LearnedPolicy, PolicyRuntime

        learner = LearnedPolicy(PolicyRuntime(learner_dir), SentenceEncoder(), ik=ArmIK())
    parts, kept = [], 0
    for i, job in enumerate(jobs):
        if job.scene not in worlds:
            worlds[job.scene] = TabletopWorld(render=True, scene=job.scene, randomize=True)
        ep = record_episode(worlds[job.scene], job, ik, learner)
        if ep is not None and ep.pop("success")[0]:  # only demonstrations that really succeeded teach
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
             workers: int = 2, progress: bool = True, learner_dir: str | Path | None = None,
             views: int = 0) -> dict:
    """Record expert demonstrations into ``out_dir`` (see the module doc for the format).

    With ``learner_dir`` (trained weights) the episodes are takeover episodes (``plan_takeover``);
    with ``views`` > 0 the folder holds that many localisation views instead (``record_view``).
    """
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
    learner = None if learner_dir is None else str(learner_dir)
    if views:
        jobs, fn, desc, unit = [seed * 1_000_003 + 700_000 + i for i in range(views)], _view_worker, "views", "view"
    else:
        jobs = plan(episodes, seed) if learner is None else plan_takeover(episodes, seed)
        fn, desc, unit = _worker, "expert episodes" if learner is None else "takeover episodes", "ep"
    workers = max(1, min(workers, len(jobs)))
    split = [jobs[i::workers] for i in range(workers)]
    bar = tqdm(total=len(jobs), desc=desc, unit=unit, disable=not progress)
    if workers == 1:
        class _Q:
            def put(self, n: int) -> None:
                bar.update(n)
        results = [fn((split[0], str(out), 0, _Q(), learner))]
    else:
        ctx = mp.get_context("spawn")  # a fresh GL context per process
        with ctx.Manager() as manager:
            queue = manager.Queue()
            with ctx.Pool(workers) as pool:
                pending = pool.map_async(fn, [(part, str(out), i, queue, learner) for i, part in enumerate(split)])
                done = 0
                while done < len(jobs) and not (pending.ready() and queue.empty()):
                    try:
                        n = queue.get(timeout=1.0)
                    except Exception:  # noqa: BLE001 - queue.Empty from the manager proxy
                        continue
                    done += n
                    bar.update(n)
                results = pending.get()
    bar.close()
    meta = {
        "format": 3, "dt": DT, "chunk": CHUNK, "image_hw": list(IMAGE_HW), "tasks": TASK_NAMES,
        "colors": list(COLORS), "templates": {t: list(s.templates) for t, s in TASKS.items()},
        "episodes": sum(r[1] for r in results), "episodes_planned": len(jobs),
        "frames": sum(r[2] for r in results), "seed": seed,
        "takeover_from": learner, "views": views,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def load(paths: str | Path | list[str | Path]) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of one or several dataset folders written by ``generate``.

    Several folders are joined (episode ids kept apart; meta of the first, with the counts summed).
    Folders recorded before format 3 (no fovea) are refused with the way out.
    """
    folders = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    metas, parts = [], []
    for n, p in enumerate(folders):
        meta_path = p / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{p} is not a dataset folder (no meta.json)")
        metas.append(json.loads(meta_path.read_text()))
        shards = [dict(np.load(f)) for f in sorted(p.glob("shard_*.npz"))]
        shards = [s for s in shards if s]
        if not shards:
            raise ValueError(f"{p} holds no frames")
        if "fovea" not in shards[0]:
            raise ValueError(f"{p} was recorded before the fovea (format {metas[-1].get('format', 1)}; "
                             "format 3 is needed): record it again (`seal train-vla --regenerate`)")
        for s in shards:
            s["episode"] = s["episode"].astype(np.int64) + n * 10_000_000
        parts.extend(shards)
    data = {k: np.concatenate([s[k] for s in parts]) for k in parts[0]}
    held = held_flags(data["chunk"][:, 0, 3], data["proprio"][:, 7], data["episode"])
    data["proprio"] = np.concatenate([data["proprio"], held[:, None]], axis=1).astype(np.float32)
    meta = dict(metas[0])
    meta["episodes"] = sum(m["episodes"] for m in metas)
    meta["frames"] = len(data["status"])
    meta["folders"] = [str(p) for p in folders]
    return meta, data
