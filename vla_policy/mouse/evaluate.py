"""``seal eval-gui``: the mouse policy in the real browser on held-out pages, side by side with
the scripted expert and a baseline that clicks the expert's coordinates directly.

Episode i of ``--seed S`` loads page ``EVAL_SEED_BASE + S*10000 + i`` (training pages are
0..N-1), picks a task round-robin (button, search_box, form, product) and a target of it, a
random start for the pointer, and an instruction (a training phrasing, or a template from
``--instructions FILE``). Success is the page's own record of which element got the click.
``--instructions FILE``: one template a line, optionally ``task: …``; slots ``{name}``
(button), ``{field}`` (form: "submit button", "name field", …), ``{row}``/``{col}`` (ordinals) or
``{rown}``/``{coln}`` (numbers) for products.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sim_worlds.gui.targets import FORM_PHRASES, ORDINALS, TASKS, UnknownTarget, parse_target, phrasings, task_of
from vla_policy.mouse.dataset import EVAL_SEED_BASE
from vla_policy.templates import template_lines


def read_templates(path: str | Path) -> dict[str, list[str]]:
    """Task -> click-instruction templates from a file (see ``vla_policy.templates``)."""
    out: dict[str, list[str]] = {}
    for n, line, task in template_lines(path, TASKS):
        if task is not None:
            out.setdefault(task, []).append(line)
            continue
        task = ("button" if "{name}" in line else "form" if "{field}" in line else
                "product" if ("{row" in line or "{col" in line) else None)
        if task is None:
            try:
                task = task_of(parse_target(line))
            except UnknownTarget as exc:
                raise ValueError(f"{path}:{n}: cannot tell the task of {line!r}; prefix it (e.g. 'button: …')") from exc
        out.setdefault(task, []).append(line)
    return out


def fill(template: str, target: str) -> str:
    task = task_of(target)
    if task == "button":
        return template.format(name=target.split("_")[0])
    if task == "form":
        return template.format(field=FORM_PHRASES[target])
    if task == "product":
        r, c = int(target[9]), int(target[11])
        return template.format(row=ORDINALS[r - 1], col=ORDINALS[c - 1], rown=r, coln=c)
    return template


def pct(values: list[float]) -> dict:
    values = [float(v) for v in values if np.isfinite(v)]
    if not values:
        return {"p50": None, "p99": None}
    return {"p50": round(float(np.percentile(values, 50)), 2), "p99": round(float(np.percentile(values, 99)), 2)}


def summarize(rows: list[dict]) -> dict:
    by_task = {}
    for task in TASKS:
        r = [x["success"] for x in rows if x["task"] == task]
        if r:
            by_task[task] = round(float(np.mean(r)), 3)
    loops = [ms for x in rows for ms in x["loop_ms"]]
    return {"success_rate": round(float(np.mean([x["success"] for x in rows])), 3) if rows else 0.0,
            "episodes": len(rows), "by_task": by_task,
            "steps_to_click": pct([x["steps"] for x in rows if x["success"]]),
            "time_to_click_s": pct([x["time_to_click_s"] for x in rows if x["success"]]),
            "loop_ms": pct(loops)}


def evaluate(episodes: int, seed: int, templates: dict[str, list[str]] | None = None, compare: bool = True,
             weights: str | None = None, max_steps: int = 80, progress: bool = True) -> dict:
    from tqdm import tqdm

    from sim_worlds.gui.episode import ExpertController, TeleportController, path_check, run_goal
    from sim_worlds.gui.world import GuiWorld
    from vla_policy.mouse.runtime import MousePolicy, MouseRuntime

    policy = MousePolicy(MouseRuntime(weights) if weights else MouseRuntime())
    policy.warm_up()
    rng = np.random.default_rng(EVAL_SEED_BASE + seed)
    rows: dict[str, list[dict]] = {"policy": [], "expert": [], "baseline": []}
    paths = []
    infer_ms = []
    tasks = [t for t in TASKS if templates is None or t in templates]
    with GuiWorld() as world:
        for i in tqdm(range(episodes), desc="eval-gui", unit="ep", disable=not progress):
            layout = world.load(EVAL_SEED_BASE + seed * 10_000 + i)
            task = tasks[i % len(tasks)]
            target = str(rng.choice([t for t in layout.targets if task_of(t) == task]))
            texts = templates[task] if templates else phrasings(target)
            instruction = fill(texts[int(rng.integers(len(texts)))], target)
            start = rng.uniform([5, 5], [635, 395])
            try:
                understood = parse_target(instruction) == target
            except UnknownTarget:
                understood = False
            for name, ctl in (("policy", policy), ("expert", ExpertController(seed * 7919 + i)),
                              ("baseline", TeleportController())):
                if name != "policy" and not compare:
                    continue
                world.move_to(*start)
                res = run_goal(world, ctl, instruction, target, max_steps=max_steps)
                rows[name].append({"task": task, "target": target, "instruction": instruction,
                                   "success": bool(res.success), "steps": res.steps, "loop_ms": res.loop_ms,
                                   "time_to_click_s": res.time_to_click_s, "message": res.message,
                                   "understood_by_parser": understood})
                if name == "policy":
                    infer_ms.append(policy.last_infer_ms)
                    if res.success:
                        paths.append(path_check(res.path))
                    if not res.success and progress:
                        tqdm.write(f"[eval-gui] page {i}: {instruction!r}: {res.message}")
    result = summarize(rows["policy"])
    result["inference_ms"] = pct(infer_ms)
    result["path"] = {"episodes": len(paths), "with_jumps": sum(p["jumps"] > 0 for p in paths),
                      "bell_shaped": round(float(np.mean([p["bell"] for p in paths])), 3) if paths else None,
                      "max_step_px": pct([p["max_step_px"] for p in paths]),
                      "speed_peak_at": pct([p["peak_at"] for p in paths])}
    if compare:
        result["expert"] = summarize(rows["expert"])
        result["baseline"] = summarize(rows["baseline"])
    result["failures"] = [{k: r[k] for k in ("target", "instruction", "message")}
                          for r in rows["policy"] if not r["success"]][:20]
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="seal eval-gui", description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=40)
    p.add_argument("--seed", type=int, default=0, help="held-out page block")
    p.add_argument("--instructions", help="file of instruction templates (see --help text above)")
    p.add_argument("--weights", help="policy folder (default: the shipped vla_policy/mouse/weights)")
    p.add_argument("--no-compare", action="store_true", help="skip the expert and the click-directly baseline")
    p.add_argument("--max-steps", type=int, default=80)
    p.add_argument("--json", help="write the result here")
    ns = p.parse_args(argv)
    if ns.episodes < 1:
        p.error("--episodes must be at least 1")
    templates = None
    if ns.instructions:
        try:
            templates = read_templates(ns.instructions)
        except (OSError, ValueError) as exc:
            p.error(str(exc))
        if not templates:
            p.error(f"{ns.instructions} has no instruction template")
    from sim_worlds.gui.browser import BrowserError

    t0 = time.monotonic()
    try:
        result = evaluate(ns.episodes, ns.seed, templates, compare=not ns.no_compare, weights=ns.weights,
                          max_steps=ns.max_steps)
    except (BrowserError, FileNotFoundError) as exc:
        print(f"seal eval-gui: {exc}")
        return 2
    result["seed"] = ns.seed
    if templates:
        result["instructions"] = templates
    result["wall_s"] = round(time.monotonic() - t0, 1)
    text = json.dumps(result, indent=2)
    print(text)
    if ns.json:
        Path(ns.json).parent.mkdir(parents=True, exist_ok=True)
        Path(ns.json).write_text(text + "\n")
    return 0
