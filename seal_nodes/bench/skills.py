"""``seal bench-skills``: does the second time go faster? The GUI apps, step by step vs a skill.

For each app (``sim_worlds/gui/apps``: weather ~9 steps, booking 30+), on held-out seed pairs:
the first attempt is done step by step, every step one model decision (the apps' teacher stands
for the model: it decides from the page what a perfect model would), recorded through the real
browser; the trace is compiled into a skill and stored in a skill library (the knowledge base);
the second attempt, on another seed (another layout, other values, slow loads elsewhere; the
pairs are crossed, each seed first once and second once, so both columns meet the same slow
loads), finds
the skill by retrieval and replays it: its values are bound from the request's words as the
thinker binds them (``core.skills.binding``; no model call), or, where the request does not say
every value in the skill's words (booking's card details), one model call picks the skill and
fills it; the model is also called for the judgement steps. Then the stale-skill part: each injected change (a button renamed or moved, pages
reordered, a new confirmation dialog, an option removed), replayed by the anchored skill and, side
by side, by a coordinate replayer (naive RPA), counting what each did to the app's state. Wall
times are measured with the teacher's instant decisions, and projected with the time a model
decision takes: the project's own model (SmolLM2 on this CPU, measured here; it could not do
these tasks, but it is the floor of any model's cost) and the talk's (47 s for 9 model-decided
steps, 5.2 s each). The arm rows (``bench.arm_skills``, ``--arm``, on by default) do the same for
tabletop tasks: goal by goal with the learned policy, then replayed as an arm skill.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median

from tqdm import tqdm

from seal_nodes.bench.arm_skills import ARM_TASKS, arm_runs, format_arm_table, summarize_arm
from seal_nodes.bench.arm_world import CHANGES as ARM_CHANGES
from seal_nodes.core.memory.store import Store
from seal_nodes.core.skills.binding import bind, task_template
from seal_nodes.core.skills.compile import compile_skill
from seal_nodes.core.skills.library import SkillLibrary
from seal_nodes.core.skills.model import Anchor, Element, PageError, Skill, TraceStep
from seal_nodes.core.skills.record import Recorder
from seal_nodes.core.skills.replay import CoordinateReplayer, Replayer
from seal_nodes.tools.latency import machine_info, write_report
from sim_worlds.gui.apps.page import open_page
from sim_worlds.gui.apps.server import CHANGES, AppServer
from sim_worlds.gui.apps.tasks import Task, make_task
from sim_worlds.gui.apps.teacher import Infeasible, judge, next_step

APPS = ("weather", "booking")
MAX_STEPS = 80
TIMEOUT_S = 4.0  # a step's wait for its element (the apps' slow loads are at most 1.5 s)
PACE_S = 1.5  # the coordinate baseline's wait per step: the apps' slowest load
TALK_STEP_S = 47.0 / 9  # the talk's 9-step task: 47 s, one model call per step


@dataclass
class Attempt:
    app: str
    seed: int
    how: str  # "step by step" | "skill" | "coordinates"
    changes: tuple[str, ...] = ()
    wall_s: float = 0.0
    model_calls: int = 0
    steps: int = 0
    success: bool = False
    wrong_side_effects: list[str] = field(default_factory=list)
    handed_back_at: int | None = None
    reason: str = ""
    recovered_calls: int = 0  # model decisions after a hand-back, to finish the task
    bound: bool = False  # skill: its values came from the request's words, no model call to fill them


class Counting:
    """The judge, counting its calls (each one a model decision)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, question: str, options: list[Element]) -> Anchor | None:
        self.calls += 1
        return judge(question, options)


def _finish(task: Task, page, done: list, answers: dict[str, str], rec: Recorder | None = None) -> int:
    """The model (the teacher) takes the task from wherever it is to its end; its decisions."""
    calls = 0
    for _ in range(MAX_STEPS):
        calls += 1
        step = next_step(task, page, done, TIMEOUT_S)
        if step is None:
            return calls
        target = step.chosen if step.op == "choose" else step.anchor
        if rec is not None:
            if step.op == "click":
                rec.click(step.anchor)
            elif step.op == "fill":
                rec.fill(step.anchor, step.value)
            elif step.op == "choose":
                rec.choose(step.question, step.chosen, step.anchor)
            else:
                answers[step.output] = rec.read(step.anchor, step.output)
        elif step.op == "click" or step.op == "choose":
            page.click(target, TIMEOUT_S)
        elif step.op == "fill":
            page.fill(step.anchor, step.value, TIMEOUT_S)
        else:
            answers[step.output] = page.read(step.anchor, TIMEOUT_S)
        done.append(step)
    raise PageError(f"not done in {MAX_STEPS} steps")


def first_attempt(app: str, seed: int) -> tuple[Attempt, list[TraceStep], Task]:
    task = make_task(app, seed)
    with AppServer(app, seed) as srv, open_page(srv.url) as page:
        t0 = time.perf_counter()
        rec, answers = Recorder(page, TIMEOUT_S), {}
        calls = _finish(task, page, [], answers, rec)
        wall = time.perf_counter() - t0
        state = srv.state()
        trace = rec.trace()
    return Attempt(app, seed, "step by step", (), round(wall, 2), calls, len(trace), task.success(state, answers),
                   task.wrong_side_effects(state)), trace, task


def replay(skill: Skill, app: str, seed: int, changes: tuple[str, ...] = ()) -> Attempt:
    """The skill on ``seed`` (with ``changes``); a hand-back is finished by the model."""
    task = make_task(app, seed)
    params = {k: task.params[k] for k in skill.params}
    bound = bind(skill, task.text) == params
    with AppServer(app, seed, set(changes)) as srv, open_page(srv.url) as page:
        t0 = time.perf_counter()
        counting = Counting()
        result = Replayer(page, counting, TIMEOUT_S).run(skill, params)
        answers = dict(result.outputs)
        wrong_before = task.wrong_side_effects(srv.state())
        recovered = 0
        if not result.ok:
            done = [s for s in skill.steps[:result.steps_done]]
            try:
                recovered = _finish(task, page, done, answers)
            except (Infeasible, PageError):
                pass  # the task cannot be done on this app (an option removed): a hand-back is right
        wall = time.perf_counter() - t0
        state = srv.state()
    return Attempt(app, seed, "skill", changes, round(wall, 2), (0 if bound else 1) + counting.calls + recovered,
                   result.steps_done, task.success(state, answers), wrong_before, result.handed_back_at,
                   result.reason, recovered, bound)


def coordinates(trace: list[TraceStep], recorded: Task, app: str, seed: int, changes: tuple[str, ...]) -> Attempt:
    """Naive RPA: the recorded clicks at their x,y and the recorded typing, values swapped in."""
    task = make_task(app, seed)
    with AppServer(app, seed, set(changes)) as srv, open_page(srv.url) as page:
        t0 = time.perf_counter()
        # naive RPA paces itself by a fixed wait, the apps' longest load, not by finding elements
        result = CoordinateReplayer(page, PACE_S).run(trace, recorded.params, task.params)
        wall = time.perf_counter() - t0
        state = srv.state()
    return Attempt(app, seed, "coordinates", changes, round(wall, 2), 0, result.steps_done,
                   task.success(state, dict(result.outputs)), task.wrong_side_effects(state), result.handed_back_at,
                   result.reason)


def model_decision_s(samples: int = 3) -> float | None:
    """Seconds the project's default model (SmolLM2 on the llama backend) takes for one GUI step
    decision on this CPU; None where it cannot load."""
    from seal_nodes.core.thinking.lm.base import ANSWER, Prompt
    from seal_nodes.core.thinking.lm.registry import make_model
    from seal_nodes.core.thinking.prompting import system_prompt

    try:
        model = make_model("llama")
    except Exception:  # noqa: BLE001 - no model here: the projection is left out, not guessed
        return None
    times = []
    try:
        for text in ("Open the search.", "Type Paris into the city field.", "Pick the cheapest flight.")[:samples]:
            prompt = Prompt(system=system_prompt(set(), ("gui", "system")), transcript=f"<user>{text}</user>",
                            force=ANSWER, max_tokens=32, actions=("click", "type"))
            t0 = time.perf_counter()
            gen = model.start(prompt)
            while not gen.done:
                gen.poll()
                time.sleep(0.005)
            times.append(time.perf_counter() - t0)
    finally:
        model.close()
    return round(median(times), 2)


def run(pairs: int = 3, change_seeds: int = 2, apps: tuple[str, ...] = APPS, progress: bool = True,
        arm_pairs: int = 0, arm_change_seeds: int = 0) -> dict:
    """The GUI rows for ``apps``; the arm rows too when ``arm_pairs`` > 0 (``bench.arm_skills``)."""
    out: dict = {"attempts": [], "stale": [], "retrieval": []}
    total = len(apps) * (pairs * 4 + change_seeds * len(CHANGES) * 2)
    if arm_pairs:
        total += len(ARM_TASKS) * (1 + arm_pairs * 2 + arm_change_seeds * (len(ARM_CHANGES) + 1))
    bar = tqdm(total=total, desc="skills", disable=not progress)
    with tempfile.TemporaryDirectory(prefix="seal-bench-skills-") as tmp:
        library = SkillLibrary(Store(Path(tmp) / "memory.sqlite3"))
        for app in apps:
            # Crossed: each seed of a pair is the first attempt once and the second once, so both
            # columns meet the same apps' slow loads (0.3-1.5 s each, drawn per seed).
            for n, (seed, other) in enumerate(pair for k in range(pairs)
                                              for pair in ((1000 + k, 2000 + k), (2000 + k, 1000 + k))):
                first, trace, task = first_attempt(app, seed)
                bar.update()
                skill = library.save(compile_skill(trace, task.text, task.params, f"{app}-{n}",
                                                   task_template(task.text, task.params)))
                found = library.find(make_task(app, other).text, k=1)
                out["retrieval"].append({"app": app, "skill": skill.name, "found": [h.skill.name for h in found]})
                second = replay(skill, app, other)
                library.record_outcome(skill.name, second.success)
                bar.update()
                out["attempts"] += [asdict(first), asdict(second)]
            first, trace, task = first_attempt(app, 3000)
            skill = compile_skill(trace, task.text, task.params, f"{app}-stale", task.text)
            for n in range(change_seeds):
                for change in CHANGES:
                    seed = 4000 + n
                    out["stale"].append(asdict(replay(skill, app, seed, (change,))))
                    out["stale"].append(asdict(coordinates(trace, task, app, seed, (change,))))
                    bar.update(2)
            for n in range(change_seeds):  # unchanged apps: any hand-back is a false alarm
                out["stale"].append(asdict(replay(skill, app, 5000 + n)))
                out["stale"].append(asdict(coordinates(trace, task, app, 5000 + n, ())))
        if arm_pairs:
            out["arm"] = arm_runs(arm_pairs, arm_change_seeds, library, bar)
    bar.close()
    out["model_decision_s"] = model_decision_s()
    out["summary"] = summarize(out)
    return out


def summarize(out: dict) -> dict:
    costs = {"smollm2": out.get("model_decision_s"), "talk": round(TALK_STEP_S, 2)}
    arm = {"arm": summarize_arm(out["arm"], costs)} if out.get("arm") else {}
    rows: dict = {}
    for app in sorted({a["app"] for a in out["attempts"]}):
        for how in ("step by step", "skill"):
            got = [a for a in out["attempts"] if a["app"] == app and a["how"] == how]
            wall = median(a["wall_s"] for a in got)
            calls = median(a["model_calls"] for a in got)
            rows.setdefault(app, {})[how] = {
                "n": len(got), "wall_s": round(wall, 2), "model_calls": calls,
                "projected_s": {k: round(wall + calls * c, 1) for k, c in costs.items() if c},
                "success": round(sum(a["success"] for a in got) / len(got), 3)}
        first, second = rows[app]["step by step"], rows[app]["skill"]
        rows[app]["speedup"] = round(first["wall_s"] / max(second["wall_s"], 1e-3), 1)
        rows[app]["projected_speedup"] = {k: round(v / max(second["projected_s"][k], 1e-3), 1)
                                          for k, v in first["projected_s"].items()}
        rows[app]["calls_ratio"] = round(second["model_calls"] / max(first["model_calls"], 1), 3)
        skills = [a for a in out["attempts"] if a["app"] == app and a["how"] == "skill"]
        rows[app]["bound_from_words"] = round(sum(a.get("bound", False) for a in skills) / len(skills), 3)
    stale: dict = {}
    for how in ("skill", "coordinates"):
        changed = [a for a in out["stale"] if a["how"] == how and a["changes"]]
        clean = [a for a in out["stale"] if a["how"] == how and not a["changes"]]
        harmful = [a for a in changed if a["changes"] != ["move_button"] or how == "coordinates"]
        stale[how] = {
            "changed_runs": len(changed),
            "wrong_side_effects": sum(bool(a["wrong_side_effects"]) for a in changed + clean),
            "detected": round(sum(a["handed_back_at"] is not None or (a["success"] and not a["wrong_side_effects"])
                                  for a in harmful) / max(1, len(harmful)), 3),
            "false_alarms": round(sum(a["handed_back_at"] is not None for a in clean) / max(1, len(clean)), 3),
            "success_after": round(sum(a["success"] for a in changed) / max(1, len(changed)), 3),
        }
    found = out["retrieval"]
    return {"apps": rows, "stale": stale, "decision_s": costs, **arm,
            # any skill of the app's task is the right one (the library holds several of each)
            "retrieval_top1": round(sum(bool(r["found"]) and r["found"][0].startswith(f"{r['app']}-")
                                        for r in found) / max(1, len(found)), 3)}


def format_table(out: dict) -> str:
    s = out["summary"]
    costs = s["decision_s"]
    lines = ["# Skills benchmark", "",
             f"Wall time with the teacher's instant decisions; projected with a model decision of "
             f"{costs['smollm2'] or 'unmeasured'} s (SmolLM2, llama backend, this CPU) and {costs['talk']} s "
             "(the talk: 47 s for 9 model-decided steps)."]
    if s["apps"]:
        lines += _gui_tables(s)
    if "arm" in s:
        lines += format_arm_table(s["arm"], costs)
    return "\n".join(lines) + "\n"


def _gui_tables(s: dict) -> list[str]:
    lines = ["", "| app | attempt | n | wall s | model calls | projected s (SmolLM2 / talk) | success |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for app, r in s["apps"].items():
        for how in ("step by step", "skill"):
            a = r[how]
            projected = " / ".join(str(a["projected_s"].get(k, "–")) for k in ("smollm2", "talk"))
            lines.append(f"| {app} | {how} | {a['n']} | {a['wall_s']} | {a['model_calls']} | {projected} | "
                         f"{a['success']} |")
        speedup = " / ".join(f"{r['projected_speedup'].get(k, '–')}×" for k in ("smollm2", "talk"))
        lines.append(f"| {app} | second vs first | | {r['speedup']}× | {r['calls_ratio']:.0%} of the calls | "
                     f"{speedup} | |")
    bound = ", ".join(f"{app} {r['bound_from_words']:.0%}" for app, r in s["apps"].items())
    lines += ["", f"A skill of the task found by retrieval for the new request (top 1): {s['retrieval_top1']}; "
              f"its values bound from the request's words, no model call to fill them: {bound}", "",
              "| stale skills | changed runs | detected before a wrong side effect | runs with a wrong side effect | "
              "false alarms (unchanged) | task done after (with the model) |", "|---|---:|---:|---:|---:|---:|"]
    for how, r in s["stale"].items():
        label = "anchored skill" if how == "skill" else "coordinate replay (naive RPA)"
        lines.append(f"| {label} | {r['changed_runs']} | {r['detected']} | {r['wrong_side_effects']} | "
                     f"{r['false_alarms']} | {r['success_after']} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal bench-skills", description=__doc__.splitlines()[0])
    ap.add_argument("--json", default="out/bench_skills.json", help="write the results here (the table as .md)")
    ap.add_argument("--pairs", type=int, default=3, help="first/second attempt seed pairs per app")
    ap.add_argument("--change-seeds", type=int, default=2, help="seeds per injected change")
    ap.add_argument("--apps", nargs="*", choices=APPS, default=list(APPS), help="GUI apps (none: arm rows only)")
    ap.add_argument("--arm", action=argparse.BooleanOptionalAction, default=True,
                    help="the arm rows: tabletop tasks goal by goal, then as arm skills (MuJoCo + the learned policy)")
    ap.add_argument("--arm-pairs", type=int, default=1,
                    help="held-out seeds per arm task, each done goal by goal and by the skill")
    ap.add_argument("--arm-change-seeds", type=int, default=1, help="seeds per injected change, per arm task")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.pairs < 1 or args.change_seeds < 1 or args.arm_pairs < 1 or args.arm_change_seeds < 1:
        ap.error("--pairs, --change-seeds, --arm-pairs and --arm-change-seeds must be at least 1")
    if not args.apps and not args.arm:
        ap.error("nothing to run: no --apps and --no-arm")
    out = run(args.pairs, args.change_seeds, tuple(args.apps), not args.no_progress,
              args.arm_pairs if args.arm else 0, args.arm_change_seeds)
    out["run"] = machine_info()
    write_report(args.json, out, format_table(out), calibration=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
