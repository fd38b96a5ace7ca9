"""World figures: ``python -m sim_worlds.tabletop.bench [--seeds N] [--json PATH]``.

Physics steps per second, render time of one camera frame, and the scripted expert's pick
success and time to lift over seeds × cubes; prints a table, writes JSON when asked.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from seal_nodes.core.arm.robot import HOME_Q
from sim_worlds.tabletop.experts import PickExpert
from sim_worlds.tabletop.world import TabletopWorld


def measure(n_seeds: int = 10) -> dict[str, float]:
    w = TabletopWorld(seed=0)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(250):  # 10 s sim, noisy targets
        w.set_command(HOME_Q + rng.normal(0, 0.3, 7), float(rng.uniform()))
        w.step(0.04)
    n = int(round(10.0 / w.model.opt.timestep))
    steps_per_s = n / (time.perf_counter() - t0)
    w.render()  # renderer creation excluded
    t0 = time.perf_counter()
    for _ in range(50):
        w.render()
    render_ms = (time.perf_counter() - t0) / 50 * 1e3

    expert, times, ok = PickExpert(dt=0.04), [], 0
    for seed in range(n_seeds):
        for name in w.object_names():
            w.reset(seed)
            expert.reset(name)
            while w.time < 12.0 and not w.is_lifted(name):
                q = w.joint_positions()
                a = expert.act(q[:7], q[7], w.object_pose(name)[0])
                w.set_command(a.arm_q, a.gripper)
                w.step(0.04)
            if w.is_lifted(name):
                ok, times = ok + 1, times + [w.time]
    w.close()
    return {
        "physics_steps_per_s": round(steps_per_s),
        "render_ms_per_frame": round(render_ms, 2),
        "image_size": f"{w.image_size[1]}x{w.image_size[0]}",
        "expert_pick_success_rate": ok / (3 * n_seeds),
        "expert_episodes": 3 * n_seeds,
        "expert_time_to_lift_s_mean": round(float(np.mean(times)), 2) if times else None,
        "expert_time_to_lift_s_max": round(float(np.max(times)), 2) if times else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    figures = measure(args.seeds)
    print("| figure | value |\n|---|---:|")
    for key, value in figures.items():
        print(f"| {key} | {value} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
