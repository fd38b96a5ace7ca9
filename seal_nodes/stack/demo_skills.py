"""``seal demo --skills``: a task taught by voice step by step once, then done by the skill it became.

The GUI stack drives the weather app (``launch/gui.launch.yaml`` with ``app:=weather``). The user
says "Let me show you how to check the humidity in Rome", then each step ("Click open search",
"Type Rome into the city field", …) and "That's it": the GUI executor compiles the lesson, the
memory node stores the skill. The app is then served with another seed (another layout), and
"Check the humidity in Paris" is done by the skill, found by retrieval and bound to the new values.
Success: every turn carried out, the skill stored, and the value the skill read is the app's truth
for Paris. The two timings are printed: each from the first word of the request to the thinker's
``turn_done`` of its last turn (the lesson's include the user's speaking; so does the request's).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from std_msgs.msg import String

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.nodes.common import publisher
from seal_nodes.stack import graph
from seal_nodes.stack.demo import play_turns, watch_screens, judge, write_outputs
from seal_nodes.stack.session import StackSession
from seal_nodes.tools.latency import summarize
from seal_nodes.tools.spoken import synthesize_piper
from sim_worlds.gui.apps.server import make_app

# Each step starts with "Please": a first word clipped at the onset is then not the verb.
CITY, TAB, TAUGHT_CITY = "Berlin", "Humidity", "Paris"
LESSON = [
    {"say": f"Let me show you how to check the {TAB.lower()} in {TAUGHT_CITY}.", "expect": "action"},
    {"say": "Please click accept cookies.", "expect": "action"},
    {"say": "Please click open search.", "expect": "action"},
    {"say": f"Please type {TAUGHT_CITY} into the city field.", "expect": "action"},
    {"say": f"Please click {TAUGHT_CITY}.", "expect": "action"},
    {"say": "Please click search.", "expect": "action"},
    {"say": f"Please click {TAB.lower()}.", "expect": "action"},
    {"say": f"Please read the {TAB.lower()} value.", "expect": "action"},
    {"say": "That's it.", "expect": "action"},
]
REQUEST = [{"say": f"Check the {TAB.lower()} in {CITY}, please.", "expect": "action"}]


def run_skills_demo(out: Path, timeout_s: float, seed: int) -> int:
    memory = out / "memory"
    memory.mkdir(parents=True, exist_ok=True)
    for old in memory.glob("*"):
        if old.is_file():
            old.unlink()  # the skill is learned in this run, not found from an earlier one
    lesson = [(synthesize_piper(step["say"]), step) for step in LESSON]
    request = [(synthesize_piper(step["say"]), step) for step in REQUEST]
    deadline = time.monotonic() + timeout_s
    print(f"[demo] starting the GUI stack on the weather app, seed {seed} (log: {out / 'nodes.log'})", flush=True)
    args = {"app": "weather", "app_seed": str(seed), "vision": "false", "memory_dir": str(memory)}
    with StackSession(launch_file=graph.LAUNCH_DIR / "gui.launch.yaml", launch_args=args,
                      record=out / "recording.mcap", node_log=out / "nodes.log",
                      echo=lambda line: print(line, flush=True)) as session:
        screens = watch_screens(session)
        t0 = time.time_ns()
        played, done, error = play_turns(session, lesson, deadline, gui=True)
        taught_s = (_done_ns(session, t0) - t0) / 1e9
        learned = session.events(ev.SKILL_LEARNED)
        if not error and learned:
            print(f"[demo] learned: {learned[-1].msg.text}; a new layout: seed {seed + 1}", flush=True)
            page = publisher(session.node, topics.GUI_PAGE)
            page.publish(String(data=f"app:weather seed:{seed + 1}"))
            time.sleep(2.0)  # the home page of the new seed loads (no acknowledgement on /gui/page)
            t1 = time.time_ns()
            more, more_done, error = play_turns(session, request, deadline, gui=True, ready=True)
            played, done = played + more, done + more_done
            asked_s = (_done_ns(session, t1) - t1) / 1e9
        else:
            asked_s = float("nan")
            error = error or "no skill was learned from the lesson"
        time.sleep(0.3)
        session.feeder.stop()
        result = judge(session, lesson + request, error, done)
        result.update(_skill_verdict(session, seed + 1, result["reason"] if not result["success"] else ""))
        result["timings_s"] = {"step_by_step": round(taught_s, 2), "by_the_skill": round(asked_s, 2),
                               "skill_replay_ms": summarize(_replay_ms(session))}
        write_outputs(session, out, played, result, screens)
    t = result["timings_s"]
    replay = t["skill_replay_ms"].get("p50")
    print(f"[demo] step by step, taught by voice: {len(LESSON) - 2} steps, {t['step_by_step']:.1f} s "
          f"(from the first word to the skill saved)")
    print(f"[demo] by the skill, on a new layout: 1 request, {t['by_the_skill']:.1f} s (from the first word to "
          f"done; the replay itself {'–' if replay is None else f'{replay:.0f} ms'})")
    print(f"[demo] {'SUCCESS' if result['success'] else 'FAILED'}: {result['reason']}")
    print(f"[demo] wrote {out}/: conversation.txt, agent_speech.wav, contact_sheet.png, latency.md, recording.mcap, "
          f"result.json, memory/ (the skill)")
    return 0 if result["success"] else 1


def _done_ns(session: StackSession, since_ns: int) -> int:
    done = session.events(ev.TURN_DONE, since_ns)
    return done[-1].t_ns if done else since_ns


def _replay_ms(session: StackSession) -> list[float]:
    runs = [r.msg.trace_id for r in session.events(ev.SKILL_OUTCOME)]
    return [r.msg.ms for r in session.messages(topics.LATENCY)
            if r.msg.path == "gui_step_ms" and r.msg.trace_id in runs]


def _skill_verdict(session: StackSession, seed: int, reason: str) -> dict:
    """The skill stored, run once, and the value it read is the app's own for the city asked."""
    reasons = [reason] if reason else []
    outcomes = [json.loads(r.msg.payload_json or "{}") for r in session.events(ev.SKILL_OUTCOME)]
    truth = make_app("weather", seed).truth[CITY][TAB]
    said = [r.msg.text for r in session.events(ev.ACTION_RESULT) if "run_skill" in r.msg.payload_json]
    if not session.events(ev.SKILL_LEARNED):
        reasons.append("the lesson did not become a skill")
    elif not outcomes or not outcomes[-1].get("ok"):
        reasons.append(f"the skill did not run through: {outcomes[-1].get('reason') if outcomes else 'never ran'}")
    elif not any(f"is {truth}" in s for s in said):
        reasons.append(f"the skill read {said[-1] if said else 'nothing'!r}, the app says {TAB} in {CITY} is {truth}")
    return {"success": not reasons, "reason": "; ".join(reasons) or
            f"taught once, then done by the skill on a new layout: {TAB} in {CITY} is {truth}",
            "skill_outcomes": outcomes, "truth": truth}
