"""The arm rows of ``seal bench-skills``: a tabletop task goal by goal, then replayed as an arm skill.

Tasks in the ``tabletop_bin`` scene (randomised: sizes, colours, lights, camera): ``clear_table``
(every cube into the bin) and ``two_in_bin`` ("put the red cube and the blue cube in the bin",
the colours lifted into parameters). Goal by goal is the stack as it is: the model decides each
goal from what vision sees ("put the red cube in the bin"; a scripted teacher stands for it, one
model call per decision, the last one "done") and the learned policy does each goal in its closed
loop. A skill is recorded from the first recording seed where that succeeds (a failed attempt
leaves nothing to compile). Then, on the same held-out seeds, the policy goal by goal (the success
the skill must match) and the skill found by retrieval (one model call): free space by checked IK
moves, the grasp by the policy. Stale runs inject a change on the task's second cube (recoloured,
missing, slippery), replay, let the model finish, and judge side effects from the simulator's truth.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from statistics import median

import numpy as np

from seal_nodes.bench.arm_world import CHANGES, DT, SimArm, inject
from seal_nodes.core.skills.arm.model import ArmError, ArmSkill
from seal_nodes.core.skills.arm.record import ArmRecorder, compile_arm_skill
from seal_nodes.core.skills.arm.replay import ArmReplayer, ArmReplayResult
from seal_nodes.core.skills.model import fill_params
from sim_worlds.tabletop.tasks import COLORS

ARM_TASKS = ("clear_table", "two_in_bin")
PLACE_S = 20.0  # the place task's time limit
TRIES = 2  # goals the model gives one cube before it gives up on it
INSIDE_M = 0.09  # seen this close to the bin's centre: in the bin
MOVED_M = 0.02  # an object moved this far was touched
# Held out (training and the policy's evaluation seeds are elsewhere): recording, evaluation (the
# policy goal by goal and the skill on the same layouts), injected changes, unchanged runs.
RECORD_BASE, EVAL_BASE, STALE_BASE, CLEAN_BASE = 925_000, 915_000, 935_000, 945_000
RECORD_TRIES = 8


@dataclass(frozen=True)
class ArmTask:
    kind: str
    text: str
    params: dict[str, str]
    targets: tuple[str, ...]  # the cubes, in the order the request names them


def make_arm_task(kind: str, seed: int) -> ArmTask:
    if kind == "clear_table":
        return ArmTask(kind, "clear the table: put every cube in the bin", {}, tuple(f"{c}_cube" for c in COLORS))
    if kind == "two_in_bin":
        a, b = (str(c) for c in np.random.default_rng(seed).choice(COLORS, 2, replace=False))
        return ArmTask(kind, f"put the {a} cube and the {b} cube in the bin", {"first": a, "second": b},
                       (f"{a}_cube", f"{b}_cube"))
    raise ValueError(f"unknown arm task {kind!r}; known: {', '.join(ARM_TASKS)}")


@dataclass
class ArmAttempt:
    task: str
    seed: int
    how: str  # "goal by goal" | "skill"
    changes: tuple[str, ...] = ()
    wall_s: float = 0.0  # on this machine, in process (rendering and inference included)
    robot_s: float = 0.0  # simulated time: what the robot itself takes
    model_calls: int = 0
    policy_steps: int = 0
    success: bool = False
    wrong_side_effects: list[str] = field(default_factory=list)
    handed_back_at: int | None = None
    first_affected: int | None = None  # the segment where the change shows (first about the cube; its grasp)
    check: str = ""  # the check that handed back
    reason: str = ""
    real: bool = True  # the hand-back's reason was true (the simulator agrees); False: a false alarm
    recovered_calls: int = 0


class ArmBench:
    """One randomised tabletop, the policy and the vision, shared by every attempt."""

    def __init__(self) -> None:
        from seal_nodes.core.arm.kinematics import ArmIK
        from seal_nodes.core.language.encoder import SentenceEncoder
        from sim_worlds.tabletop.world import TabletopWorld
        from vla_policy.arm.runtime import LearnedPolicy, PolicyRuntime

        self.world = TabletopWorld(scene="tabletop_bin", randomize=True)
        self.policy = LearnedPolicy(PolicyRuntime(), SentenceEncoder(threads=1), ik=ArmIK())
        self.arm = SimArm(self.world, self.policy)

    def close(self) -> None:
        self.world.close()

    def reset(self, seed: int) -> None:
        self.world.reset(seed=seed)
        self.arm.sync()
        self.arm.reset_counts()

    # --- the model, goal by goal -----------------------------------------------------------------
    def next_goal(self, task: ArmTask, given_up: set[str]) -> str | None:
        """The teacher's decision from what vision sees: the first cube of the task still on the table
        (one it has not given up on)."""
        bin_xy = np.asarray(self.arm.frame("bin"))[:2]
        seen = {o.name for o in self.arm.perceive() if np.linalg.norm(np.asarray(o.position[:2]) - bin_xy) > INSIDE_M}
        return next((t for t in task.targets if t in seen and t not in given_up), None)

    def place(self, target: str, recorder: ArmRecorder | None) -> None:
        """One goal, the learned policy's closed loop, every command checked."""
        color = target.split("_")[0]
        instruction = f"put the {color} cube in the bin"
        if recorder is not None:
            seen = [o.position for o in self.arm.perceive() if o.name == target]
            recorder.begin(instruction, target, seen[0], {"bin": self.arm.frame("bin")})
        self.policy.reset(instruction, task="place")
        ended = False
        for _ in range(int(PLACE_S / DT)):
            q = self.world.joint_positions()
            a = self.policy.act(q[:7], float(q[7]), self.world.render())
            self.arm.policy_steps += 1
            try:
                self.arm.send(a.arm_q, a.gripper)
            except ArmError:  # the node aborts a goal whose command the limits refuse
                break
            if recorder is not None:
                recorder.sample(self.arm.tool(), a.gripper, float(self.world.joint_positions()[7]))
            if a.done:
                ended = not a.failed
                break
        if recorder is not None:
            recorder.end(ended and self.next_goal_is_not(target))

    def next_goal_is_not(self, target: str) -> bool:
        bin_xy = np.asarray(self.arm.frame("bin"))[:2]
        return not any(o.name == target and np.linalg.norm(np.asarray(o.position[:2]) - bin_xy) > INSIDE_M
                       for o in self.arm.perceive())

    def finish(self, task: ArmTask, recorder: ArmRecorder | None = None) -> int:
        """The model takes the task from where it is to its end; its decisions."""
        calls, tries = 0, {t: 0 for t in task.targets}
        while True:
            calls += 1
            target = self.next_goal(task, {t for t, n in tries.items() if n >= TRIES})
            if target is None:
                return calls
            tries[target] += 1
            self.place(target, recorder)

    def success(self, task: ArmTask, present: tuple[str, ...]) -> bool:
        if task.kind == "two_in_bin" and set(task.targets) - set(present):
            return False  # a named cube is gone: the task cannot be done
        return all(self.world.in_bin(t) for t in task.targets if t in present)

    # --- attempts ----------------------------------------------------------------------------------
    def first_attempt(self, task: ArmTask, seed: int) -> tuple[ArmAttempt, list]:
        self.reset(seed)
        recorder = ArmRecorder()
        t0, s0 = time.perf_counter(), self.world.time
        calls = self.finish(task, recorder)
        attempt = ArmAttempt(task.kind, seed, "goal by goal", (), round(time.perf_counter() - t0, 2),
                             round(self.world.time - s0, 2), calls, self.arm.policy_steps,
                             self.success(task, task.targets))
        return attempt, recorder.goals

    def replay(self, skill: ArmSkill, task: ArmTask, seed: int, change: str = "") -> ArmAttempt:
        """``skill`` on ``seed`` (with ``change`` on the task's second cube); a hand-back is finished by the model."""
        self.reset(seed)
        victim = task.targets[1] if change else ""
        undo = inject(self.world, change, victim) if change else (lambda: None)
        try:
            present = tuple(t for t in task.targets if not (change == "missing" and t == victim))
            before = self.arm.positions()
            t0, s0 = time.perf_counter(), self.world.time
            result = ArmReplayer(self.arm, inside_m=INSIDE_M).run(skill, task.params)
            wrong = self._wrong(skill, task, before, victim, change)
            real = result.ok or self._real(result, change)
            recovered = 0 if result.ok else self.finish(task)
            wall, robot = time.perf_counter() - t0, self.world.time - s0
            ok = self.success(task, present)
        finally:
            undo()
        # Where the change shows: the first segment about the cube (seen there), or its grasp (slippery).
        shows = ("grasp",) if change == "grasp_fails" else ("move", "grasp", "release")
        affected = next((n for n, s in enumerate(skill.segments)
                         if fill_params(s.about, task.params) == victim and s.kind in shows), None) if victim else None
        return ArmAttempt(task.kind, seed, "skill", (change,) if change else (), round(wall, 2), round(robot, 2),
                          1 + recovered, self.arm.policy_steps, ok, wrong, result.handed_back_at, affected,
                          result.check, result.reason, real, recovered)

    # --- judging from the simulator's truth (never seen by the skill) -------------------------------
    def _wrong(self, skill: ArmSkill, task: ArmTask, before: dict, victim: str, change: str) -> list[str]:
        moved = {n for n, p in self.arm.positions().items() if np.linalg.norm(p - before[n]) > MOVED_M}
        order = list(dict.fromkeys(fill_params(s.about, task.params) for s in skill.segments))
        later = order[order.index(victim) + 1:] if victim in order else []
        out = [f"{n} moved" for n in sorted(moved) if n in self.world.distractor_names()]
        out += [f"{n} moved after the change" for n in sorted(moved) if n in later]
        if change in ("recolour", "missing") and victim in moved:
            out.append(f"{victim} moved")
        if self.arm.empty_releases:
            out.append(f"opened over the bin with nothing in the gripper ({self.arm.empty_releases}×)")
        return out

    def _real(self, result: ArmReplayResult, change: str) -> bool:
        """Whether the check that handed back saw something true (else: a false alarm)."""
        if change:
            return True
        w = self.world
        in_hand = bool(np.linalg.norm(w.object_pose(result.about)[0] - w.ee_position()) < 0.05)
        if result.check in ("lifted", "holding"):  # every holding check the compiler writes is "in hand"
            return not in_hand
        if result.check == "cleared":
            return not w.in_bin(result.about)
        if result.check == "arm":
            return True  # the limits refused a command: a refusal, not a misjudged check
        return False  # every cube is there and reachable on an unchanged table


def arm_runs(pairs: int, change_seeds: int, library, bar) -> dict:
    """Per task: a skill recorded from a first attempt that succeeded, then on the same held-out seeds
    the policy goal by goal and the skill found by retrieval; stale runs; rows for ``seal bench-skills``."""
    bench = ArmBench()
    out: dict = {"attempts": [], "stale": [], "retrieval": [], "recorded": []}
    try:
        for kind in ARM_TASKS:
            seed, skill = _record(bench, kind)
            library.save(skill)
            out["recorded"].append({"task": kind, "seed": seed, "skill": skill.name})
            bar.update()
            for n in range(pairs):
                seed = EVAL_BASE + n
                task = make_arm_task(kind, seed)
                first, _ = bench.first_attempt(task, seed)  # the policy alone: the success to match
                bar.update()
                found = library.find(task.text, k=1)
                out["retrieval"].append({"task": kind, "skill": skill.name, "found": [h.skill.name for h in found]})
                hit = found[0].skill if found and isinstance(found[0].skill, ArmSkill) else skill
                second = bench.replay(hit, task, seed)
                library.record_outcome(hit.name, second.success)
                bar.update()
                out["attempts"] += [vars(first), vars(second)]
            for n in range(change_seeds):
                seed = STALE_BASE + n
                for change in CHANGES:
                    out["stale"].append(vars(bench.replay(skill, make_arm_task(kind, seed), seed, change)))
                    bar.update()
                seed = CLEAN_BASE + n  # unchanged: any hand-back not borne out is a false alarm
                out["stale"].append(vars(bench.replay(skill, make_arm_task(kind, seed), seed)))
                bar.update()
    finally:
        bench.close()
    return out


def _record(bench: ArmBench, kind: str) -> tuple[int, ArmSkill]:
    """The skill of ``kind`` from the first recording seed whose first attempt succeeds (a failed one
    leaves nothing to compile: the goals are the policy's, and it fails some)."""
    for n in range(RECORD_TRIES):
        seed = RECORD_BASE + n
        task = make_arm_task(kind, seed)
        first, goals = bench.first_attempt(task, seed)
        if not first.success:
            continue
        try:
            return seed, compile_arm_skill(goals, task.text, task.params, f"arm-{kind}", _description(task),
                                           episode=f"{kind}-{seed}")
        except ValueError:
            continue
    raise RuntimeError(f"no first attempt at {kind} succeeded in {RECORD_TRIES} seeds: no skill to replay")


def _description(task: ArmTask) -> str:
    if task.kind == "clear_table":
        return "clear the table: put every cube on the table into the bin"
    return "put two named cubes in the bin, the first cube and then the second cube"


def summarize_arm(arm: dict, costs: dict) -> dict:
    rows: dict = {}
    for kind in sorted({a["task"] for a in arm["attempts"]}):
        for how in ("goal by goal", "skill"):
            got = [a for a in arm["attempts"] if a["task"] == kind and a["how"] == how]
            wall, robot = median(a["wall_s"] for a in got), median(a["robot_s"] for a in got)
            calls = median(a["model_calls"] for a in got)
            rows.setdefault(kind, {})[how] = {
                "n": len(got), "seeds": [a["seed"] for a in got], "wall_s": round(wall, 2), "robot_s": round(robot, 2),
                "model_calls": calls, "policy_steps": median(a["policy_steps"] for a in got),
                "projected_s": {k: round(robot + calls * c, 1) for k, c in costs.items() if c},
                "success": round(sum(a["success"] for a in got) / len(got), 3),
                "handed_back": sum(a["handed_back_at"] is not None for a in got)}
        first, second = rows[kind]["goal by goal"], rows[kind]["skill"]
        rows[kind]["speedup"] = {k: round(first[k] / max(second[k], 1e-3), 1)
                                 for k in ("wall_s", "robot_s", "policy_steps")}
        rows[kind]["projected_speedup"] = {k: round(v / max(second["projected_s"][k], 1e-3), 1)
                                           for k, v in first["projected_s"].items()}
    stale: dict = {}
    for change in CHANGES:
        got = [a for a in arm["stale"] if list(a["changes"]) == [change]]
        # Reached: the replay got as far as the change (a hand-back about an earlier cube never met it).
        reached = [a for a in got if a["handed_back_at"] is None or a["first_affected"] is None
                   or a["handed_back_at"] >= a["first_affected"]]
        stale[change] = {
            "runs": len(got), "reached": len(reached),
            "detected": sum(a["handed_back_at"] is not None and not a["wrong_side_effects"] for a in reached),
            "within_one": sum(a["handed_back_at"] is not None and a["first_affected"] is not None
                              and a["handed_back_at"] - a["first_affected"] <= 1 for a in reached),
            "wrong_side_effects": sum(bool(a["wrong_side_effects"]) for a in got),
            "success_after": sum(a["success"] for a in got)}
    clean = [a for a in arm["stale"] if not a["changes"]]
    stale["unchanged"] = {"runs": len(clean),
                          "handed_back": sum(a["handed_back_at"] is not None for a in clean),
                          "false_alarms": sum(a["handed_back_at"] is not None and not a["real"] for a in clean),
                          "wrong_side_effects": sum(bool(a["wrong_side_effects"]) for a in clean),
                          "success": sum(a["success"] for a in clean)}
    found = arm["retrieval"]
    top1 = sum(bool(r["found"]) and r["found"][0] == r["skill"] for r in found)
    return {"tasks": rows, "stale": stale, "recorded": arm.get("recorded", []),
            "retrieval_top1": round(top1 / max(1, len(found)), 3)}


def format_arm_table(s: dict, costs: dict) -> list[str]:
    recorded = ", ".join(f"{r['task']} on seed {r['seed']}" for r in s["recorded"])
    lines = ["", "## Arm skills (tabletop_bin, randomised; the learned policy for every grasp)", "",
             f"Skills recorded from a first attempt that succeeded ({recorded}); then on the same held-out seeds "
             "the policy goal by goal and the skill. Robot time is the simulated time (what the arm takes); wall "
             "time is this machine's, in process (medians). "
             f"Projected: robot time + model calls × {costs.get('smollm2') or 'unmeasured'} s / {costs['talk']} s.", "",
             "| task | attempt | n | wall s | robot s | model calls | policy steps | projected s (SmolLM2 / talk) "
             "| success |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind, r in s["tasks"].items():
        for how in ("goal by goal", "skill"):
            a = r[how]
            projected = " / ".join(str(a["projected_s"].get(k, "–")) for k in ("smollm2", "talk"))
            lines.append(f"| {kind} | {how} | {a['n']} | {a['wall_s']} | {a['robot_s']} | {a['model_calls']} | "
                         f"{a['policy_steps']} | {projected} | {a['success']} |")
        sp = r["speedup"]
        speed = " / ".join(f"{r['projected_speedup'].get(k, '–')}×" for k in ("smollm2", "talk"))
        lines.append(f"| {kind} | second vs first | | {sp['wall_s']}× | {sp['robot_s']}× | | {sp['policy_steps']}× | "
                     f"{speed} | |")
    lines += ["", f"An arm skill of the task found by retrieval for the new request (top 1): {s['retrieval_top1']}", "",
              "| injected change (on the task's second cube) | runs | reached the change | handed back before a wrong "
              "side effect | within one segment | runs with a wrong side effect | task done after (the model finishing) |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for change in CHANGES:
        r = s["stale"][change]
        lines.append(f"| {change} | {r['runs']} | {r['reached']} | {r['detected']} | {r['within_one']} | "
                     f"{r['wrong_side_effects']} | {r['success_after']} |")
    u = s["stale"]["unchanged"]
    lines.append(f"| none (unchanged) | {u['runs']} | | hand-backs {u['handed_back']}, false alarms "
                 f"{u['false_alarms']} | | {u['wrong_side_effects']} | {u['success']} |")
    return lines
