"""Quick numbers: ``MUJOCO_GL=egl python -m sim_worlds.bench [n_seeds]``."""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from sim_worlds.experts import PickExpert  # noqa: E402
from sim_worlds.tabletop import HOME_Q, TabletopWorld  # noqa: E402


def main(n_seeds: int = 10) -> None:
    w = TabletopWorld(seed=0)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(250):  # 10 s sim, noisy targets
        w.set_command(HOME_Q + rng.normal(0, 0.3, 7), float(rng.uniform()))
        w.step(0.04)
    n = int(round(10.0 / w.model.opt.timestep))
    print(f"physics: {n / (time.perf_counter() - t0):.0f} steps/s (timestep {w.model.opt.timestep * 1e3:.1f} ms)")
    w.render()  # renderer creation excluded
    t0 = time.perf_counter()
    for _ in range(50):
        w.render()
    h, wd = w.image_size
    print(f"render {h}x{wd}: {(time.perf_counter() - t0) / 50 * 1e3:.1f} ms/frame")

    expert, times, ok = PickExpert(dt=0.04), [], 0
    t0 = time.perf_counter()
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
    total = 3 * n_seeds
    print(
        f"expert: {ok}/{total} lifted, time to lift mean {np.mean(times):.2f} s max {np.max(times):.2f} s "
        f"(wall {time.perf_counter() - t0:.1f} s incl. IK)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
