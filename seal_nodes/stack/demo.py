"""``seal demo``: the simulated stack end to end on a spoken scenario, and a record of it.

Built-in scenario: the user greets the robot, then asks it to pick up the red cube; the agent
answers, and replies while the arm moves. Each user turn lasts until the thinker reports it done
(``turn_done``: answered, asked back, acted with every result in). Success is judged from those
reports and the simulator: a greeting needs an answer, a request its action carried out (a pick:
the cube really is lifted); a request that produced no action is a failure. Output folder:
conversation.txt, agent_speech.wav, frames/ + contact_sheet.png, latency.md, recording.mcap,
nodes.log, result.json, trace.html (``seal trace`` of the recording).
"""
from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.audio.frames import AudioFormatError
from seal_nodes.core.audio.wav import write_wav
from seal_nodes.core.thinking.context import SAY, Segment
from seal_nodes.core.observe.trace.reader import TraceError
from seal_nodes.nodes.common import stamp_to_ns
from seal_nodes.stack import graph
from seal_nodes.stack.measure import first_audio_ms, latency_samples, node_figures, speech_start_ms
from seal_nodes.stack.session import SpokenTurn, StackSession
from seal_nodes.tools.images import contact_sheet, write_png
from seal_nodes.tools.latency import format_table, summarize
from seal_nodes.tools.trace import write_trace
from seal_nodes.tools.spoken import Utterance, read_utterance, synthesize_piper

SCENARIO = [
    {"say": "Hello robot.", "expect": "reply"},
    {"say": "Pick up the red cube.", "expect": "action", "lifted": "red_cube"},
]
LIFT_M = 0.05  # a cube counts as picked up when it is this much above where it started
TURN_S = 90.0  # a turn the thinker never reports done counts as failed, not as a hang
# ``--gui``: the same loop on a browser page (launch/gui.launch.yaml); success is the page's record.
GUI_SCENARIO = [{"say": "Click the search button.", "expect": "action", "clicked": "search_button"}]
# ``--memory``: two sessions with the stack restarted between them, one memory folder. The second
# must know David again and take "my favourite cube" from what he said in the first. (A name
# Whisper writes one way: "Ana" comes back as "Anna" or "Mona".)
MEMORY_SESSIONS = [
    [{"say": "Hi, I'm David. My favourite cube is the blue one.", "expect": "reply", "hears": "remember that"},
     {"say": "Pick up the green cube.", "expect": "action", "lifted": "green_cube"}],
    [{"say": "Hello, I'm David.", "expect": "reply", "hears": "Welcome back"},
     {"say": "Please pick up my favourite cube.", "expect": "action", "lifted": "blue_cube"}],
]


def transcript(session: StackSession) -> str:
    """The conversation in the talk's tagged format, rebuilt from /seal/thoughts."""
    segments: list[Segment] = []
    for r in session.messages(topics.THOUGHTS):
        m = r.msg
        if m.kind == "interrupted":  # what was actually said replaces what was meant
            for seg in reversed(segments):
                if seg.kind == SAY and seg.trace_id == m.trace_id and not seg.interrupted:
                    seg.text, seg.interrupted = m.text, True
                    break
            continue
        segments.append(Segment(m.kind, m.text, trace_id=m.trace_id))
    return "\n".join(s.render() for s in segments)


def speaker_wav(session: StackSession) -> np.ndarray:
    """The agent's voice on one timeline (chunks placed by their play-out stamps)."""
    chunks = session.messages(topics.SPEAKER)
    if not chunks:
        return np.zeros(0, np.int16)
    rate = chunks[0].msg.sample_rate
    t0 = stamp_to_ns(chunks[0].msg.header.stamp)
    parts: list[tuple[int, np.ndarray]] = []
    for r in chunks:
        start = int((stamp_to_ns(r.msg.header.stamp) - t0) * rate / 1e9)
        parts.append((start, np.frombuffer(bytes(r.msg.data), "<i2")))
    out = np.zeros(max(s + len(p) for s, p in parts), np.int16)
    for s, p in parts:
        out[s:s + len(p)] = p
    return out


def object_heights(session: StackSession) -> tuple[dict[str, float], dict[str, float]]:
    poses = session.messages(topics.OBJECT_POSES)
    if not poses:
        return {}, {}
    first, last = poses[0].msg, poses[-1].msg
    return ({n: p.position.z for n, p in zip(first.names, first.poses)},
            {n: p.position.z for n, p in zip(last.names, last.poses)})


def camera_frames(session: StackSession) -> list[np.ndarray]:
    return [np.frombuffer(bytes(r.msg.data), np.uint8).reshape(r.msg.height, r.msg.width, 3)
            for r in session.messages(topics.CAMERA)]


def save_images(images: list[np.ndarray], out: Path, prefix: str) -> int:
    """``frames/{prefix}_NNNN.png`` for each image and a 12-image contact sheet."""
    if not images:
        return 0
    (out / "frames").mkdir(exist_ok=True)
    for i, f in enumerate(images):
        write_png(out / "frames" / f"{prefix}_{i:04d}.png", f)
    picks = [images[int(i)] for i in np.linspace(0, len(images) - 1, min(12, len(images)))]
    write_png(out / "contact_sheet.png", contact_sheet(picks, columns=4))
    return len(images)


def run_demo(audio: str | None = None, out_dir: str = "out/demo", timeout_s: float = 120.0, seed: int = 0,
             gui: bool = False, memory: bool = False, skills: bool = False) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if memory:
        return run_memory_demo(out, timeout_s, seed)
    if skills:
        from seal_nodes.stack.demo_skills import run_skills_demo

        return run_skills_demo(out, max(timeout_s, 300.0), seed)
    try:
        turns = [(read_utterance(audio), {"expect": "any"})] if audio else \
                [(synthesize_piper(step["say"]), step) for step in (GUI_SCENARIO if gui else SCENARIO)]
    except AudioFormatError as exc:
        print(f"seal demo: cannot use {audio}: {exc}", file=sys.stderr)
        return 2
    deadline = time.monotonic() + timeout_s
    print(f"[demo] starting the simulated stack (log: {out / 'nodes.log'})", flush=True)
    launch = {"launch_file": graph.LAUNCH_DIR / "gui.launch.yaml", "launch_args": {"page_seed": str(seed)}} if gui \
        else {"launch_args": {"seed": str(seed)}}
    with StackSession(**launch, record=out / "recording.mcap",
                      node_log=out / "nodes.log", echo=lambda line: print(line, flush=True)) as session:
        screens = watch_screens(session) if gui else None
        played, done, error = play_turns(session, turns, deadline, gui)
        time.sleep(0.3)
        session.feeder.stop()
        result = judge(session, turns, error, done)
        write_outputs(session, out, played, result, screens)
    print(f"[demo] {'SUCCESS' if result['success'] else 'FAILED'}: {result['reason']}")
    print(f"[demo] wrote {out}/: conversation.txt, agent_speech.wav, contact_sheet.png, latency.md, "
          f"recording.mcap, result.json")
    print_trace(out / "recording.mcap")
    return 0 if result["success"] else 1


def print_trace(recording: Path) -> None:
    """Write the run's trace page beside its recording and say where (seal trace, seal diagnose)."""
    try:
        page = write_trace(recording)
    except TraceError as exc:
        print(f"[demo] no trace page: {exc}", flush=True)
        return
    print(f"[demo] trace: {page.resolve()}", flush=True)


def run_memory_demo(out: Path, timeout_s: float, seed: int) -> int:
    """Two sessions, a restart between them, one memory: out/session1/, out/session2/, result.json."""
    memory = out / "memory"
    shutil.rmtree(memory, ignore_errors=True)  # the first session meets David for the first time
    results = []
    for n, steps in enumerate(MEMORY_SESSIONS, 1):
        folder = out / f"session{n}"
        folder.mkdir(parents=True, exist_ok=True)
        turns = [(synthesize_piper(step["say"]), step) for step in steps]
        deadline = time.monotonic() + timeout_s
        print(f"[demo] session {n}: starting the simulated stack (memory: {memory})", flush=True)
        with StackSession(launch_args={"seed": str(seed), "memory_dir": str(memory)}, record=folder / "recording.mcap",
                          node_log=folder / "nodes.log", echo=lambda line: print(line, flush=True)) as session:
            played, done, error = play_turns(session, turns, deadline, False)
            time.sleep(0.3)
            session.feeder.stop()
            result = judge(session, turns, error, done)
            write_outputs(session, folder, played, result)
        results.append(result)
        print(f"[demo] session {n}: {'SUCCESS' if result['success'] else 'FAILED'}: {result['reason']}", flush=True)
    success = all(r["success"] for r in results)
    reason = "; ".join(f"session {n}: {r['reason']}" for n, r in enumerate(results, 1))
    (out / "result.json").write_text(json.dumps({"success": success, "reason": reason, "sessions": results},
                                                indent=2) + "\n")
    print(f"[demo] {'SUCCESS' if success else 'FAILED'}: {reason}")
    print(f"[demo] wrote {out}/session1/, {out}/session2/ (conversation.txt, agent_speech.wav, recording.mcap, …), "
          f"{memory}/ (the memory both sessions used), result.json")
    for n in range(1, len(MEMORY_SESSIONS) + 1):
        print_trace(out / f"session{n}" / "recording.mcap")
    return 0 if success else 1


def play_turns(session: StackSession, turns: list[tuple[Utterance, dict]], deadline: float,
                gui: bool, ready: bool = False) -> tuple[list[SpokenTurn], list[dict], str]:
    """Speak each turn into the microphone and wait until the thinker has finished it (first
    for the stack to be up, unless it is ``ready``); (the turns played, their turn_done
    reports, why it stopped short)."""
    played: list[SpokenTurn] = []
    done: list[dict] = []
    try:
        if not ready:
            if gui:
                _wait_gui_ready(session, _left(deadline))
            else:
                session.wait_ready(timeout_s=max(10.0, deadline - time.monotonic()))
            print(f"[demo] stack ready; speaking into {topics.MIC.name}", flush=True)
        for utt, step in turns:
            since = time.time_ns()
            turn = session.speak(utt)
            played.append(turn)
            print(f"[demo] user: {utt.text!r}", flush=True)
            session.wait_for(turn.played.is_set, _left(deadline), "the utterance to be played")
            session.wait_for(lambda: turn_done(session, since) is not None, min(TURN_S, _left(deadline)),
                             "the thinker to finish the turn (turn_done)")
            report = turn_done(session, since) or {}
            done.append(report)
            print(f"[demo] heard {report['heard']!r}; the agent {report['outcome']}"
                  + (f", understood: {report['understood']}" if report.get("understood") else "")
                  + (f", actions: {report['actions']} success: {report['success']}" if report.get("actions") else ""),
                  flush=True)
            # the reply may still be playing: let it finish, for the record
            session.wait_for(lambda: session.agent_idle(since, quiet_s=0.3), _left(deadline),
                             "the agent's voice to end")
    except TimeoutError as exc:
        print(f"[demo] {exc}", flush=True)
        return played, done, str(exc)
    return played, done, ""


def turn_done(session: StackSession, since_ns: int) -> dict | None:
    """The thinker's ``turn_done`` payload (with ``heard``) for the last user turn heard since
    ``since_ns``; None while the user is still talking or the thinker has not finished it."""
    finals = session.events(ev.SPEECH_END, since_ns)
    if not finals:
        return None
    last = finals[-1]
    if any(r.t_ns > last.t_ns for r in session.events(ev.SPEECH_START, since_ns)):
        return None  # the user went on talking: that turn is not the last
    for r in session.events(ev.TURN_DONE, since_ns):
        if r.msg.trace_id == last.msg.trace_id:
            return {**json.loads(r.msg.payload_json or "{}"), "heard": last.msg.text}
    return None


def _left(deadline: float) -> float:
    return max(1.0, deadline - time.monotonic())


def watch_screens(session: StackSession) -> list[np.ndarray]:
    """Screenshots the gui node publishes (for frames/ and the contact sheet)."""
    from seal_nodes.nodes.common import subscription

    screens: list[np.ndarray] = []
    subscription(session.node, topics.SCREEN, lambda m: screens.append(
        np.frombuffer(bytes(m.data), np.uint8).reshape(m.height, m.width, 3)))
    return screens


def _wait_gui_ready(session: StackSession, timeout_s: float) -> None:
    from rclpy.action import ActionClient
    from seal_interfaces.action import GuiAct

    client = ActionClient(session.node, GuiAct, topics.GUI_ACT.name)
    checks = {"gui server": client.server_is_ready, "speak server": session.speak_client.server_is_ready,
              "audio perception": lambda: session.mic_pub.get_subscription_count() >= 1,
              "thinker": lambda: session.node.count_subscribers(topics.EVENTS.name) >= 3}  # + vision, this session
    session.wait_for(lambda: all(ok() for ok in checks.values()), timeout_s,
                     "the gui stack (" + ", ".join(checks) + ")")
    session.feeder.start()
    time.sleep(0.5)


def judge(session: StackSession, turns: list, error: str, done: list[dict]) -> dict:
    finals = [r.msg.text for r in session.events(ev.SPEECH_END) if r.msg.text]
    said = [r.msg.text for r in session.messages(topics.THOUGHTS) if r.msg.kind == SAY]
    results = session.events(ev.ACTION_RESULT)
    actions = [json.loads(r.msg.payload_json).get("action", "") for r in results]
    z0, z1 = object_heights(session)
    lifted = sorted(n for n in z0 if z1.get(n, 0.0) - z0[n] > LIFT_M)
    reasons = []
    if error:
        reasons.append(error)
    if not finals:
        reasons.append("no user utterance was recognised")
    if not said:
        reasons.append("the agent said nothing")
    for _, step in turns:
        if step.get("hears") and not any(step["hears"] in line for line in said):
            reasons.append(f"the agent never said {step['hears']!r}")
        if step.get("lifted") and step["lifted"] not in lifted:
            reasons.append(f"{step['lifted']} was not lifted (simulator)")
        if step.get("clicked") and not any(json.loads(r.msg.payload_json).get("success") and
                                           r.msg.text.startswith(f"clicked {step['clicked']} ") for r in results):
            reasons.append(f"the page did not record a click on {step['clicked']}")
    for r in results:
        payload = json.loads(r.msg.payload_json)
        if not payload.get("success"):
            reasons.append(f"action {payload.get('action')} failed: {r.msg.text}")
    reasons += verdicts([step for _, step in turns], done, lifted)
    return {"success": not reasons, "reason": "; ".join(reasons) or "every request was carried out",
            "user_text": " ".join(finals), "agent_said": said, "actions": actions, "lifted": lifted,
            "turns": done, "object_heights_m": {"start": z0, "end": z1}}


def verdicts(steps: list[dict], done: list[dict], lifted: list[str]) -> list[str]:
    """Why the turns, as the thinker reported them (turn_done), fall short; [] if they do not.

    A step expecting a ``reply`` needs an answer; one expecting an ``action`` needs it carried out;
    a recording (``any``) passes with an answer or a successful action, never with a question
    back, an apology or a refusal. A pick that succeeded must have lifted its cube (unless a
    later action moved that cube on)."""
    reasons = []
    for step, report in zip(steps, done):
        heard, outcome = report.get("heard", ""), report.get("outcome", "")
        want = {"reply": ("answered",), "action": ("acted",)}.get(step.get("expect", "any"), ("answered", "acted"))
        if outcome not in want:
            what = f" (understood: {report['understood']})" if report.get("understood") else ""
            expected = " or ".join({"answered": "an answer", "acted": "an action"}[w] for w in want)
            reasons.append(f"{heard!r}: the agent {outcome or 'gave no report'}{what}; expected {expected}")
        actions, success = report.get("actions", []), report.get("success", [])
        if outcome == "acted" and not all(success):
            reasons.append(f"{heard!r}: not every action succeeded: {actions} {success}")
    later: set[str] = set()
    for report in reversed(done):  # the last action on each object decides where it should be
        for action, ok in reversed(list(zip(report.get("actions", []), report.get("success", [])))):
            m = re.match(r"pick\(object=(\w+)\)$", action)
            if m and ok and m[1] not in later and m[1] not in lifted:
                reasons.append(f"{m[1]} was picked but is not lifted (simulator)")
            later.update(re.findall(r"object=(\w+)", action))
    return reasons


def write_outputs(session: StackSession, out: Path, played: list[SpokenTurn], result: dict,
                  screens: list[np.ndarray] | None = None) -> None:
    conversation = transcript(session)
    (out / "conversation.txt").write_text(conversation + "\n")
    voice = speaker_wav(session)
    rate = session.messages(topics.SPEAKER)[0].msg.sample_rate if len(voice) else 22050
    write_wav(out / "agent_speech.wav", voice, rate)
    n_frames = save_images(camera_frames(session), out, "frame") if screens is None else \
        save_images(screens, out, "screen")
    figures = {
        "speech_start_ms": summarize([v for t in played if (v := speech_start_ms(session, t)) is not None]),
        "first_audio_ms": summarize([v for t in played if (v := first_audio_ms(session, t)) is not None]),
        **node_figures(session),
    }
    if screens is not None:
        figures["gui_loop_ms"] = summarize(latency_samples(session, "gui_loop_ms"))
    table = format_table(figures)
    (out / "latency.md").write_text("# Latency of this demo run\n\n" + table + "\n")
    result = {**result, "latency": figures, "frames": n_frames,
              "node_restarts": [info for kind, info in session.node_events if kind == "exited"]}
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n" + conversation + "\n")
    print(table + "\n")
