"""``seal faults``: crash or freeze each node of the running sim stack while it works.

For every fault (kill -9, or SIGSTOP for a while then SIGCONT) the sweep checks, from topic
traffic and the launcher's process table only: the node is back (respawned by the launcher;
recovered = its first /diagnostics after the fault), the arm held (every /arm/joint_trajectory
point inside the joint limits; no arm motion while the policy was gone), what the agent said
about it (a killed TTS or thinker must tell the user what happened once it is back), that the
next spoken request is carried out and spoken about, and that no other node restarted. Results: JSON and a table (``--json PATH``, the table beside it as .md).
"""
from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.nodes.common import stamp_to_ns, subscription
from seal_nodes.stack.session import StackSession
from seal_nodes.tools.latency import machine_info, write_report

KILL, STOP = "kill", "stop"
STOP_S = 2.0  # how long a SIGSTOP freezes the node
RECOVER_TIMEOUT_S = 120.0  # a respawned thinker loads its models on a loaded machine
HELD_RAD = 0.01  # the most an arm joint may drift while its policy is gone
SETTLE_S = 0.5  # the last command sent before a policy died may still be reached
TOLD = ("tts", "thinker", "sim")  # killed, these come back saying what happened to the task
TOLD_TIMEOUT_S = 90.0  # a respawned thinker asks the arm's server about its goal before it speaks

GREETING = "Hello robot."
CHAT = "Tell me, how are you doing today, my friend?"
NEXT = "Go home."
COLORS = ("red", "green", "blue")


class FaultError(RuntimeError):
    """A fault that could not be set up or checked (the node never got busy, never came back)."""


@dataclass(frozen=True)
class Fault:
    node: str  # the launcher's label of the node
    how: str  # KILL or STOP
    during: str  # what it is doing when hit: sentence, grasp, action, utterance, work

    @property
    def name(self) -> str:
        what = "kill -9" if self.how == KILL else f"SIGSTOP {STOP_S:.0f} s"
        return f"{what} {self.node} mid-{self.during}"


_TARGETS = (("tts", "sentence"), ("vla_policy", "grasp"), ("thinker", "action"), ("audio_perception", "utterance"),
            ("sim", "grasp"), ("vision_perception", "work"))
SWEEP = tuple(Fault(node, how, during) for how in (KILL, STOP) for node, during in _TARGETS)
QUICK = (Fault("tts", KILL, "sentence"), Fault("vla_policy", KILL, "grasp"))


def select(only: list[str] | None, quick: bool, how: str | None = None) -> list[Fault]:
    """The faults to run: ``--quick``'s two, or the sweep, narrowed to the nodes in ``only`` and
    to one kind of fault (``how``: KILL or STOP)."""
    faults = [f for f in (QUICK if quick else SWEEP) if how is None or f.how == how]
    if only:
        unknown = sorted(set(only) - {n for n, _ in _TARGETS})
        if unknown:
            raise ValueError(f"no fault for {', '.join(unknown)}; nodes: {', '.join(n for n, _ in _TARGETS)}")
        faults = [f for f in faults if f.node in only]
    return faults


def heard_since(session: StackSession, since_ns: int, until_ns: int) -> list[str]:
    """What the TTS says it spoke from ``since_ns`` to ``until_ns`` (its agent_speech_end reports),
    cut-offs marked."""
    out = []
    for r in session.events(ev.AGENT_SPEECH_END, since_ns):
        if r.t_ns >= until_ns:
            break
        cut = ev.Event.parse_payload(r.msg.payload_json).get("interrupted")
        out.append(f"{r.msg.text} [cut off]" if cut else r.msg.text)
    return out


def said_about_the_fault(starts: list, ends: list, t0: int) -> list[str]:
    """The texts of the completed utterances among ``ends`` (received ``agent_speech_end``s) that
    were not under way when the fault hit at ``t0`` (so not about it).

    An utterance is known by its trace and id, and "under way" also needs its play-out to have
    started before ``t0`` by its end event's own account (stamp less audio and pause): a respawned
    thinker counts its utterance ids from 1 again, and a respawned TTS can send a start before
    the session's reader has matched its new writer (that start is lost)."""
    def key(r) -> tuple[str, object]:
        return r.msg.trace_id, ev.Event.parse_payload(r.msg.payload_json).get("utterance_id")

    begun_before = {key(r) for r in starts if r.t_ns < t0}
    out = []
    for r in ends:
        p = ev.Event.parse_payload(r.msg.payload_json)
        played_from = stamp_to_ns(r.msg.header.stamp) - 1e6 * (p.get("audio_ms", 0) + p.get("paused_ms", 0))
        if p.get("completed") and not (key(r) in begun_before and played_from < t0):
            out.append(r.msg.text)
    return out


class FaultRun:
    """Faults injected into one running stack; ``run(fault)`` gives that fault's row."""

    def __init__(self, session: StackSession, echo=print) -> None:
        from seal_nodes.core.arm.robot import ARM_JOINTS, robot_model

        self.session, self.echo = session, echo
        model = robot_model()
        self.lower = np.array([model.joint(j).range[0] for j in ARM_JOINTS])
        self.upper = np.array([model.joint(j).range[1] for j in ARM_JOINTS])
        self._diag: list[tuple[int, str]] = []  # (receipt ns, node name) of every /diagnostics status
        self._lock = threading.Lock()
        self._picks = 0
        subscription(session.node, topics.DIAGNOSTICS, self._on_diagnostics)

    def _on_diagnostics(self, msg) -> None:
        now = time.time_ns()
        with self._lock:
            self._diag += [(now, s.name.split(":")[0]) for s in msg.status]  # "tts: health"

    def heard_from(self, node: str, since_ns: int) -> int | None:
        """Receipt time of the first /diagnostics from ``node`` after ``since_ns``."""
        with self._lock:
            return next((t for t, name in self._diag if name == node and t > since_ns), None)

    # --- one fault --------------------------------------------------------------------------
    def run(self, fault: Fault) -> dict:
        s = self.session
        self.echo(f"[faults] {fault.name}")
        start = time.time_ns()
        self._busy(fault, start)
        before = s.supervisor.status()
        pid = before[fault.node].pid
        if pid is None or not before[fault.node].alive:
            raise FaultError(f"{fault.node} is not running")
        t0 = time.time_ns()
        if fault.how == KILL:
            os.kill(pid, signal.SIGKILL)
        else:
            os.killpg(pid, signal.SIGSTOP)  # the node's whole process group (its own session)
            time.sleep(STOP_S)
            os.killpg(pid, signal.SIGCONT)
        back_ns = self._recovered(fault, pid)
        arm = self._arm_held(fault, t0, back_ns)
        # A dead sim is told of by the living policy (its goal fails), maybe before the sim is back.
        told = self._told(fault, t0, t0 if fault.node == "sim" else back_ns)
        self._wait_quiet(t0)
        next_ok, next_said, next_ns = self._next_request()
        said = [r.msg.text for r in s.messages(topics.THOUGHTS) if t0 <= r.t_ns < next_ns and r.msg.kind == "say"]
        heard = heard_since(s, t0, next_ns)
        after = s.supervisor.status()
        others = sorted(label for label, st in before.items()
                        if label != fault.node and (after[label].pid != st.pid or after[label].restarts != st.restarts))
        row = {"fault": fault.name, "node": fault.node, "how": fault.how, "during": fault.during,
               "recover_s": round((back_ns - t0) / 1e9, 2),
               "respawned": after[fault.node].pid != pid, "restarts": after[fault.node].restarts,
               "user_heard": heard, "thinker_said": said, **arm, "next_request": NEXT, "next_request_ok": next_ok,
               "next_request_said": next_said, "others_restarted": others, "told": told}
        row["ok"] = bool(arm["arm_held"] and next_ok and not others and row["respawned"] == (fault.how == KILL)
                         and (told or not _tells(fault)))
        self.echo(f"[faults]   back in {row['recover_s']} s; heard {heard}; next request ok: {next_ok}; "
                  f"other restarts: {others or 'none'}")
        return row

    def _busy(self, fault: Fault, since: int) -> None:
        """Get the node to the moment the fault is meant to hit."""
        s = self.session
        if fault.during == "sentence":
            s.say(GREETING)
            s.wait_for(lambda: sum(r.t_ns >= since for r in s.messages(topics.SPEAKER)) > 25, 30,
                       "the agent to be talking")
        elif fault.during in ("grasp", "action"):
            color = COLORS[self._picks % len(COLORS)]
            self._picks += 1
            s.say(f"Pick up the {color} cube.")
            phase = "grasp" if fault.during == "grasp" else "approach"
            s.wait_for(lambda: any(r.msg.text == phase for r in s.events(ev.ACTION_FEEDBACK, since)), 90,
                       f"the arm to {phase}")
        elif fault.during == "utterance":
            s.say(CHAT)
            s.wait_for(lambda: bool(s.events(ev.SPEECH_START, since)), 30, "the user's speech to be heard")

    def _told(self, fault: Fault, t0: int, back_ns: int) -> list[str]:
        """What the agent said, whole, since ``back_ns``, less what it had begun before the fault
        at ``t0`` (``said_about_the_fault``). For a fault it must speak about it waits for that,
        and goes on empty-handed after TOLD_TIMEOUT_S."""
        s = self.session
        starts = [r for r in s.events(ev.AGENT_SPEECH_START) if r.t_ns < t0]  # all there is of them

        def said() -> list[str]:
            return said_about_the_fault(starts, s.events(ev.AGENT_SPEECH_END, back_ns), t0)

        if _tells(fault):
            try:
                s.wait_for(lambda: bool(said()), TOLD_TIMEOUT_S, "the agent to say what happened")
            except TimeoutError:
                self.echo(f"[faults]   nothing said in {TOLD_TIMEOUT_S:.0f} s after {fault.node} came back")
        return said()

    def _recovered(self, fault: Fault, pid: int) -> int:
        """Receipt time of the node's first /diagnostics after it came back."""
        s = self.session
        if fault.how == KILL:
            s.wait_for(lambda: s.supervisor.status()[fault.node].pid not in (None, pid)
                       and s.supervisor.status()[fault.node].alive, RECOVER_TIMEOUT_S, f"{fault.node} to respawn")
        since = time.time_ns()  # reports from here on are the new process's, or the thawed one's
        s.wait_for(lambda: self.heard_from(fault.node, since) is not None, RECOVER_TIMEOUT_S,
                   f"{fault.node}'s {topics.DIAGNOSTICS.name}")
        back = self.heard_from(fault.node, since)
        assert back is not None
        return back

    def _arm_held(self, fault: Fault, t0: int, back_ns: int) -> dict:
        """Commands inside the joint limits from the fault on; no motion while the policy was gone."""
        s = self.session
        time.sleep(SETTLE_S)
        bad = 0
        for r in s.messages(topics.ARM_TRAJECTORY):
            if r.t_ns < t0:
                continue
            for point in r.msg.points:
                q = np.asarray(point.positions[:7], dtype=float)
                if q.shape != (7,) or not np.all(np.isfinite(q)) or np.any(q < self.lower) or np.any(q > self.upper):
                    bad += 1
        motion = None
        if fault.node == "vla_policy":  # gone until respawned, or frozen
            lo, hi = t0 + int(SETTLE_S * 1e9), back_ns if fault.how == KILL else t0 + int(STOP_S * 1e9)
            qs = [np.asarray(r.msg.position[:7]) for r in s.messages(topics.JOINT_STATES) if lo <= r.t_ns <= hi]
            motion = float(np.max(np.abs(np.array(qs) - qs[0]))) if len(qs) > 1 else 0.0
        held = bad == 0 and (motion is None or motion < HELD_RAD)
        return {"commands_outside_limits": bad, "arm_motion_while_policy_gone_rad": motion, "arm_held": held}

    def _wait_quiet(self, t0: int) -> None:
        """Until the agent has said what it will about the fault (or a while has passed)."""
        s = self.session
        try:
            s.wait_for(lambda: s.agent_idle(t0, quiet_s=2.0), 30, "the agent to fall quiet")
        except TimeoutError:
            self.echo("[faults]   the agent did not fall quiet in 30 s; going on")

    def _next_request(self) -> tuple[bool, list[str], int]:
        """``NEXT`` spoken: carried out, with the agent's voice heard about it; (ok, what the agent
        said about it, when it was asked)."""
        s = self.session
        s.wait_for(lambda: s.mic_pub.get_subscription_count() >= 1
                   and s.node.count_subscribers(topics.EVENTS.name) >= 2, RECOVER_TIMEOUT_S, "the listeners")
        # One arm, one goal: a goal a dead thinker left running must end first.
        s.wait_for(lambda: all(time.time_ns() - r.t_ns > 1e9 for r in s.messages(topics.ARM_TRAJECTORY)[-1:]),
                   90, "the arm to be at rest")
        self._wait_quiet(time.time_ns())  # and what the agent says about that goal said
        since = time.time_ns()
        s.say(NEXT)

        def done() -> bool:
            return any(ev.Event.parse_payload(r.msg.payload_json).get("success")
                       for r in s.events(ev.ACTION_RESULT, since))
        try:
            s.wait_for(lambda: done() and any(r.t_ns >= since for r in s.messages(topics.SPEAKER)), 90,
                       "the next request to be carried out")
            s.wait_for(lambda: s.agent_idle(since, quiet_s=1.0), 30, "the agent to finish")
            ok = True
        except TimeoutError:
            ok = False
        said = [r.msg.text for r in s.messages(topics.THOUGHTS) if r.t_ns >= since and r.msg.kind == "say"]
        return ok, said, since


def _tells(fault: Fault) -> bool:
    return fault.how == KILL and fault.node in TOLD


def format_table(result: dict) -> str:
    lines = [f"# seal faults ({len(result['faults'])} faults)", "",
             "| fault | recover s | arm held | what the user heard (the TTS's reports) | next request ok | "
             "other restarts |",
             "|---|---:|---|---|---|---|"]
    for row in result["faults"]:
        if "error" in row:
            lines.append(f"| {row['fault']} | – | – | not run: {row['error']} | – | – |")
            continue
        heard = " / ".join(row["user_heard"]) or "(nothing)"
        lines.append(f"| {row['fault']} | {row['recover_s']} | {'yes' if row['arm_held'] else 'NO'} | {heard} | "
                     f"{'yes' if row['next_request_ok'] else 'NO'} | {', '.join(row['others_restarted']) or 'none'} |")
    return "\n".join(lines) + "\n"


def run_faults(faults: list[Fault], json_path: str, echo=print) -> int:
    out = Path(json_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    t_start = time.monotonic()
    echo("[faults] starting the simulated stack")
    with StackSession(node_log=out.with_suffix(".nodes.log"), echo=echo) as session:
        session.wait_ready()
        fault_run = FaultRun(session, echo)
        for fault in faults:
            try:
                rows.append(fault_run.run(fault))
            except (FaultError, TimeoutError) as exc:
                echo(f"[faults]   {fault.name}: {exc}")
                rows.append({"fault": fault.name, "node": fault.node, "error": str(exc), "ok": False})
    result = {"faults": rows, "all_ok": all(r["ok"] for r in rows),
              "run": {"duration_s": round(time.monotonic() - t_start, 1), "stop_s": STOP_S, **machine_info()}}
    write_report(out, result, format_table(result))
    return 0 if result["all_ok"] else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal faults", description=__doc__.splitlines()[0])
    ap.add_argument("--json", default="out/faults.json", help="write the results here (the table as .md)")
    ap.add_argument("--only", default="", help="comma-separated nodes: only their faults (e.g. tts,vla_policy)")
    ap.add_argument("--how", choices=(KILL, STOP), default=None, help="only kills (kill -9) or only freezes "
                                                                      f"(SIGSTOP {STOP_S:.0f} s); default both")
    ap.add_argument("--quick", action="store_true", help="two faults: kill -9 of tts mid-sentence and of "
                                                         "vla_policy mid-grasp")
    args = ap.parse_args(argv)
    try:
        faults = select([n.strip() for n in args.only.split(",") if n.strip()], args.quick, args.how)
    except ValueError as exc:
        ap.error(str(exc))
    if not faults:
        ap.error("no fault left to run")
    return run_faults(faults, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
