"""``seal eval-vla``: success of the learned policy (and of the expert) on held-out seeds.

Each task runs ``--episodes`` seeded episodes (seeds from ``--seed`` on, disjoint from the
training seeds) in the randomised scenes; success is judged from the simulator state only.
The policy sees what the node gives it: camera frames, joint states and the instruction.
``--instructions FILE``: templates, one a line, with ``{color}`` (and ``{direction}`` for push)
slots, optionally prefixed ``task: `` (else the task is read from the instruction), so phrasing
never seen in training can be tried. The policy reads the task from the instruction itself, as
in the node; an instruction it refuses is a failed episode (counted under ``refused``).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from seal_nodes.core.arm.instructions import InstructionError, parse_instruction
from seal_nodes.core.arm.kinematics import ArmIK
from sim_worlds.tabletop.tasks import TASKS, expert_controller, instruction, run_episode, start_episode, task_key
from sim_worlds.tabletop.world import TabletopWorld
from vla_policy.arm.dataset import DT
from vla_policy.templates import template_lines

EVAL_SEED_BASE = 900_000  # training seeds stay far below this


def read_templates(path: str | Path) -> dict[str, list[str]]:
    """Task -> instruction templates from a file (blank lines and # comments skipped)."""
    out: dict[str, list[str]] = {}
    for n, line, task in template_lines(path, TASKS):
        if task is not None:
            out.setdefault(task, []).append(line)
            continue
        for direction in ("left", "right"):
            try:
                t = parse_instruction(line.replace("{color}", "red").replace("{direction}", direction))
            except InstructionError as exc:
                raise ValueError(f"{path}:{n}: {exc}; prefix the line with its task (e.g. 'pick: …')") from exc
            key = task_key(t.name, t.direction)
            out.setdefault(key, []).append(line.replace("{direction}", direction))
            if "{direction}" not in line:
                break
    return out


def evaluate(episodes: int, seed: int, tasks: list[str], templates: dict[str, list[str]] | None = None,
             controller: str = "learned", progress: bool = True, weights: str | None = None) -> dict:
    from tqdm import tqdm

    ik = ArmIK()
    policy = None
    if controller == "learned":
        from seal_nodes.core.language.encoder import SentenceEncoder
        from vla_policy.arm.runtime import LearnedPolicy, PolicyRuntime

        runtime = PolicyRuntime(weights) if weights else PolicyRuntime()
        policy = LearnedPolicy(runtime, SentenceEncoder(), ik=ArmIK())
    worlds: dict[str, TabletopWorld] = {}
    by_task, infer_ms, refused = {}, [], {}
    bar = tqdm(total=episodes * len(tasks), desc=f"eval {controller}", unit="ep", disable=not progress)
    for task in tasks:
        spec = TASKS[task]
        wins = 0
        texts = (templates or {}).get(task) or list(spec.templates)
        for i in range(episodes):
            scene = spec.scenes[i % len(spec.scenes)]
            if scene not in worlds:
                worlds[scene] = TabletopWorld(render=True, scene=scene, randomize=True)
            w = worlds[scene]
            rng = np.random.default_rng(EVAL_SEED_BASE + seed * 10_000 + list(TASKS).index(task) * 1_000 + i)
            w.reset(rng=rng)
            ep = start_episode(w, task, rng, ik)
            if policy is None:
                ctl = expert_controller(w, ep, DT, ik)
            else:
                try:
                    policy.reset(instruction(task, ep.target, texts[i % len(texts)]))
                except InstructionError:  # the node would refuse this wording: a failed episode
                    refused[task] = refused.get(task, 0) + 1
                    bar.update(1)
                    continue

                def ctl(q, g, image):
                    a = policy.act(q, g, image)
                    infer_ms.append(policy.last.inference_ms)
                    return a
            ok, _, _ = run_episode(w, ep, ctl, DT, render=policy is not None)
            wins += int(ok)
            bar.update(1)
        by_task[task] = wins / episodes
    bar.close()
    for w in worlds.values():
        w.close()
    result = {"success_rate": float(np.mean(list(by_task.values()))), "episodes": episodes * len(tasks),
              "by_task": by_task}
    if refused:
        result["refused"] = refused  # episodes whose instruction the policy did not understand
    if infer_ms:
        result["inference_ms"] = {"p50": float(np.percentile(infer_ms, 50)), "p99": float(np.percentile(infer_ms, 99)),
                                  "n": len(infer_ms)}
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="seal eval-vla", description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=20, help="episodes per task")
    p.add_argument("--seed", type=int, default=0, help="held-out seed block")
    p.add_argument("--instructions", help="file of instruction templates ({color}, {direction} slots)")
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated subset of {list(TASKS)}")
    p.add_argument("--expert", action="store_true", help="also run the scripted expert (the upper bound)")
    p.add_argument("--weights", help="policy folder (default: the shipped vla_policy/arm/weights)")
    p.add_argument("--json", help="write the result here")
    ns = p.parse_args(argv)
    tasks = [t.strip() for t in ns.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or ns.episodes < 1:
        p.error(f"unknown tasks {unknown}" if unknown else "--episodes must be at least 1")
    templates = None
    if ns.instructions:
        try:
            templates = read_templates(ns.instructions)
        except (OSError, ValueError) as exc:
            p.error(str(exc))
        tasks = [t for t in tasks if t in templates]
        if not tasks:
            p.error(f"{ns.instructions} has no template for any of the tasks asked for")
    t0 = time.monotonic()
    result = evaluate(ns.episodes, ns.seed, tasks, templates, weights=ns.weights)
    result["seed"] = ns.seed
    if ns.instructions:
        result["instructions"] = templates
    if ns.expert:
        result["expert"] = evaluate(ns.episodes, ns.seed, tasks, templates, controller="expert")
    result["wall_s"] = round(time.monotonic() - t0, 1)
    text = json.dumps(result, indent=2)
    print(text)
    if ns.json:
        Path(ns.json).write_text(text + "\n")
    return 0
