"""``seal soak``: the whole sim stack fed a looping spoken session for N minutes, sampled as it runs.

The session loops: greetings, commands for the arm, chit-chat, a barge-in, silence and
background noise, spoken into /audio/mic in real time. Every ``--sample-s`` each node process's
RSS, threads and open file descriptors are read from /proc, with the messages received per
topic. At the end: RSS growth after warm-up (goal < 5 %), events that lost their partner on the
reliable /seal/events (every agent_speech_start has its agent_speech_end, every action that
reported progress has its result), the agent's voice published (the TTS's own audio_ms) vs
received on /audio/speaker, dropped input the nodes report on /diagnostics, actions succeeded.
Results: JSON, a table (.md) and a PNG per series (``--json PATH``; the PNGs beside it).
"""
from __future__ import annotations

import argparse
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.stack.session import WATCHED, StackSession
from seal_nodes.stack.measure import first_audio_ms, speech_start_ms
from seal_nodes.tools.latency import machine_info, summarize, write_report
from seal_nodes.tools.charts import line_chart
from seal_nodes.tools.soak_stats import Series, growth_after_warmup, read_proc, unpaired
from seal_nodes.tools.soundgen import noise
from seal_nodes.tools.spoken import RATE, Utterance

RSS_GOAL = 0.05  # RSS growth after warm-up
STEP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Step:
    """One step of the spoken session. say: a line; barge: a line, then ``over`` talked over its
    reply; silence: ``seconds`` of nothing; noise: two seconds of a background noise kind (soundgen's)."""

    kind: str  # say, barge, silence, noise
    text: str = ""  # the line, or the noise kind
    over: str = ""
    seconds: float = 0.0


SCRIPT: tuple[Step, ...] = (  # looped until the time is up
    Step("say", "Hello robot."),
    Step("say", "Pick up the red cube."),
    Step("silence", seconds=3.0),
    Step("say", "Go home."),
    Step("noise", "fan"),
    Step("barge", "Hello robot.", over="Stop, wait a second."),
    Step("say", "How are you?"),
    Step("say", "Push the green cube to the left."),
    Step("noise", "pink"),
    Step("say", "Go home."),
    Step("say", "Thank you."),
    Step("silence", seconds=3.0),
)


class Sampler:
    """Every ``period_s``: each node's /proc figures and the messages received per topic."""

    def __init__(self, session: StackSession, period_s: float) -> None:
        self.session, self.period_s = session, period_s
        self.t0 = time.monotonic()
        self.proc: dict[str, dict[str, Series]] = defaultdict(lambda: defaultdict(list))  # node → metric → series
        self.topics: dict[str, Series] = defaultdict(list)
        self.pids: dict[str, set[int]] = defaultdict(set)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.sample()  # the end of the run is a sample too

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.sample()

    def sample(self) -> None:
        t = round(time.monotonic() - self.t0, 1)
        for label, status in self.session.supervisor.status().items():
            got = read_proc(status.pid) if status.pid and status.alive else None
            if got is None:
                continue
            self.pids[label].add(status.pid)
            self.proc[label]["rss_mb"].append((t, got.rss_kb / 1024))
            self.proc[label]["threads"].append((t, float(got.threads)))
            self.proc[label]["fds"].append((t, float(got.fds)))
        with self.session.lock:
            counts = {topic.name: len(self.session.arrivals[topic]) for topic in WATCHED}
        for name, n in counts.items():
            self.topics[name].append((t, float(n)))


class Diagnostics:
    """The last /diagnostics values each node reported (dropped input, errors)."""

    def __init__(self, session: StackSession) -> None:
        from seal_nodes.nodes.common import subscription

        self.last: dict[str, dict[str, str]] = {}
        subscription(session.node, topics.DIAGNOSTICS, self._on)

    def _on(self, msg) -> None:
        for status in msg.status:
            self.last[status.name.split(":")[0]] = {kv.key: kv.value for kv in status.values}


def _quiet(session: StackSession, since: int, timeout_s: float = STEP_TIMEOUT_S) -> bool:
    """Until the agent is silent and the arm at rest; False if that took longer than ``timeout_s``."""
    def rested() -> bool:
        last = session.messages(topics.ARM_TRAJECTORY)[-1:]
        return session.agent_idle(since, quiet_s=1.5) and all(time.time_ns() - r.t_ns > 1e9 for r in last)
    try:
        session.wait_for(rested, timeout_s, "the agent to be quiet")
        return True
    except TimeoutError:
        return False


def play(session: StackSession, step: Step, rng: np.random.Generator,
         latencies: list[tuple[float, str, float]] | None = None) -> bool:
    """One step of the spoken session; False if the agent did not settle after it. A spoken line's
    speech_start and first_audio go to ``latencies`` as (time, path, ms)."""
    since = time.time_ns()
    if step.kind == "say":
        turn = session.say(step.text)
        session.wait_for(turn.played.is_set, 30, "the audio to be played")
        settled = _quiet(session, since)
        if latencies is not None:
            for path, ms in (("speech_start_ms", speech_start_ms(session, turn)),
                             ("first_audio_ms", first_audio_ms(session, turn))):
                if ms is not None:
                    latencies.append((time.monotonic(), path, ms))
        return settled
    elif step.kind == "barge":
        session.say(step.text)
        try:
            session.wait_for(lambda: sum(r.t_ns > since for r in session.messages(topics.SPEAKER)) > 40, 20,
                             "the agent to be talking")
        except TimeoutError:
            pass  # no reply to talk over: the second line is a turn of its own
        turn = session.say(step.over)
    elif step.kind == "noise":
        pcm = (noise(step.text, 2.0, RATE, seed=int(rng.integers(1 << 16))) * 32767 * 0.3).astype(np.int16)
        turn = session.speak(Utterance("", pcm, 0, len(pcm)))
    else:
        time.sleep(step.seconds)
        return True
    session.wait_for(turn.played.is_set, 30, "the audio to be played")
    return _quiet(session, since)


def losses(session: StackSession) -> dict[str, object]:
    """Events whose partner never arrived, and the agent's voice published vs received."""
    evs = session.events()
    starts = [ev.Event.parse_payload(r.msg.payload_json).get("utterance_id", "") for r in evs
              if r.msg.type == ev.AGENT_SPEECH_START]
    ends = [ev.Event.parse_payload(r.msg.payload_json).get("utterance_id", "") for r in evs
            if r.msg.type == ev.AGENT_SPEECH_END]
    fb = list(dict.fromkeys(ev.Event.parse_payload(r.msg.payload_json).get("goal_id", "") for r in evs
                            if r.msg.type == ev.ACTION_FEEDBACK))
    results = [ev.Event.parse_payload(r.msg.payload_json) for r in evs if r.msg.type == ev.ACTION_RESULT]
    published_ms = sum(float(ev.Event.parse_payload(r.msg.payload_json).get("audio_ms", 0.0)) for r in evs
                       if r.msg.type == ev.AGENT_SPEECH_END)
    ended = {r.msg.trace_id for r in evs if r.msg.type == ev.AGENT_SPEECH_END}
    received_ms = sum(len(r.msg.data) / 2 / r.msg.sample_rate * 1e3 for r in session.messages(topics.SPEAKER)
                      if r.msg.trace_id in ended and r.msg.sample_rate)
    return {
        "speech_start_without_end": unpaired(starts, ends, open_last=1),
        "action_progress_without_result": unpaired(fb, [str(p.get("goal_id", "")) for p in results], open_last=1),
        "actions": len(results), "actions_succeeded": sum(bool(p.get("success")) for p in results),
        "speaker_audio_published_ms": round(published_ms, 1), "speaker_audio_received_ms": round(received_ms, 1),
    }


def run_soak(minutes: float, sample_s: float, warmup_s: float, json_path: str, echo=print) -> int:
    out = Path(json_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    steps, unsettled = 0, 0
    echo("[soak] starting the simulated stack")
    # an hour of camera frames would hold gigabytes: keep a window of the streams
    with StackSession(node_log=out.with_suffix(".nodes.log"), echo=echo, keep_s=max(60.0, 2 * sample_s)) as session:
        session.wait_ready()
        diagnostics = Diagnostics(session)
        sampler = Sampler(session, sample_s)
        sampler.sample()
        sampler.start()
        deadline = time.monotonic() + minutes * 60
        latencies: list[tuple[float, str, float]] = []
        while time.monotonic() < deadline:
            step = SCRIPT[steps % len(SCRIPT)]
            echo(f"[soak] {time.monotonic() - sampler.t0:6.0f} s  {step.kind}: {step.text or step.seconds} "
                 f"{step.over}".rstrip())
            unsettled += not play(session, step, rng, latencies)
            steps += 1
        sampler.stop()
        lost = losses(session)
        restarts = {label: st.restarts for label, st in session.supervisor.status().items()}
        node_reports = dict(diagnostics.last)
    run = {"minutes": minutes, "sample_s": sample_s, "warmup_s": warmup_s, "steps": steps,
           "steps_unsettled": unsettled, **machine_info()}
    start_end = latency_start_end(latencies, sampler.t0 + (warmup_s or 0.0), deadline)
    result = build_report(sampler.proc, sampler.topics, sampler.pids, restarts, node_reports, lost, run, out)
    result["latency_start_end"] = start_end
    write_report(out, result, format_table(result) + latency_table(start_end))
    return 0


def latency_start_end(samples: list[tuple[float, str, float]], after: float, end: float) -> dict[str, dict]:
    """Per path, the samples of the first and the last quarter of the run after warm-up, summarised."""
    quarter = max(0.0, end - after) / 4
    out: dict[str, dict] = {}
    for path in sorted({p for _, p, _ in samples}):
        first = [ms for t, p, ms in samples if p == path and after <= t < after + quarter]
        last = [ms for t, p, ms in samples if p == path and t >= end - quarter]
        out[path] = {"first_quarter": summarize(first), "last_quarter": summarize(last)}
    return out


def latency_table(start_end: dict[str, dict]) -> str:
    lines = ["", "| path | first quarter p50 / p99 ms (n) | last quarter p50 / p99 ms (n) |", "|---|---|---|"]
    for path, q in start_end.items():
        a, b = q["first_quarter"], q["last_quarter"]
        lines.append(f"| {path} | {a['p50']} / {a['p99']} ({a['n']}) | {b['p50']} / {b['p99']} ({b['n']}) |")
    return "\n".join(lines) + "\n"


def build_report(proc: dict[str, dict[str, Series]], topic_counts: dict[str, Series], pids: dict[str, set[int]],
                 restarts: dict[str, int], node_reports: dict[str, dict[str, str]], lost: dict, run: dict,
                 out: Path) -> dict:
    """The run's figures against the goals, with a PNG per series written beside ``out``."""
    warmup_s = run["warmup_s"]
    received = {name: int(series[-1][1]) for name, series in topic_counts.items() if series}
    nodes = {}
    for label, metrics in proc.items():
        nodes[label] = {
            "rss_growth_after_warmup": _round(growth_after_warmup(metrics["rss_mb"], warmup_s)),
            "rss_mb_first_last": [round(metrics["rss_mb"][0][1], 1), round(metrics["rss_mb"][-1][1], 1)],
            "threads_first_last": [int(metrics["threads"][0][1]), int(metrics["threads"][-1][1])],
            "fds_first_last": [int(metrics["fds"][0][1]), int(metrics["fds"][-1][1])],
            "restarts": restarts.get(label, 0), "pids": sorted(pids[label]),
            "dropped_input": node_reports.get(label, {}).get("dropped_input"),
            "errors": node_reports.get(label, {}).get("errors"),
        }
    plots = {}
    charts = {metric: {label: m[metric] for label, m in proc.items()} for metric in ("rss_mb", "threads", "fds")}
    charts["messages_received"] = dict(topic_counts)
    for name, lines in charts.items():
        png = out.with_name(f"{out.stem}.{name}.png")
        values = [v for series in lines.values() for _, v in series]
        colors = line_chart(png, lines, title=name.replace("_", " "), xlabel="seconds since the start")
        plots[png.name] = {"lines": dict(zip(lines, colors)),
                           "y_range": [round(min(values), 1), round(max(values), 1)] if values else None}
    lost_events = len(lost["speech_start_without_end"]) + len(lost["action_progress_without_result"])
    growths = [n["rss_growth_after_warmup"] for n in nodes.values() if n["rss_growth_after_warmup"] is not None]
    return {
        "goals": {"rss_growth_after_warmup_below": RSS_GOAL, "lost_events_on_reliable_topics": 0},
        "met": {"rss_growth": bool(growths) and max(growths) < RSS_GOAL, "lost_events": lost_events == 0},
        "nodes": nodes, "losses": lost, "messages_received": received,
        "series": {"proc": {k: dict(v) for k, v in proc.items()}, "topics": dict(topic_counts)}, "plots": plots,
        "run": run,
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def format_table(r: dict) -> str:
    run, lost = r["run"], r["losses"]
    lines = [f"# seal soak: {run['minutes']} min, a sample every {run['sample_s']} s, warm-up {run['warmup_s']} s, "
             f"{run['steps']} steps ({run['steps_unsettled']} did not settle in {STEP_TIMEOUT_S:.0f} s)", "",
             "| node | RSS MB first → last | RSS growth after warm-up | threads | fds | restarts | dropped input |",
             "|---|---|---:|---|---|---:|---:|"]
    for label, n in r["nodes"].items():
        g = n["rss_growth_after_warmup"]
        lines.append(f"| {label} | {n['rss_mb_first_last'][0]} → {n['rss_mb_first_last'][1]} | "
                     f"{'–' if g is None else f'{g * 100:+.1f} %'} | {n['threads_first_last'][0]} → "
                     f"{n['threads_first_last'][1]} | {n['fds_first_last'][0]} → {n['fds_first_last'][1]} | "
                     f"{n['restarts']} | {n['dropped_input'] or '–'} |")
    met = r["met"]
    lines += ["", f"- RSS growth after warm-up < {RSS_GOAL * 100:.0f} %: {'met' if met['rss_growth'] else 'NOT met'}",
              f"- lost events on {topics.EVENTS.name} (agent_speech_start without its end: "
              f"{len(lost['speech_start_without_end'])}; action progress without a result: "
              f"{len(lost['action_progress_without_result'])}): {'0, met' if met['lost_events'] else 'NOT met'}",
              f"- agent voice on {topics.SPEAKER.name}: {lost['speaker_audio_published_ms'] / 1e3:.1f} s published "
              f"(the TTS's audio_ms), {lost['speaker_audio_received_ms'] / 1e3:.1f} s received",
              f"- actions: {lost['actions_succeeded']} of {lost['actions']} succeeded",
              "- messages received: " + ", ".join(f"{k} {v}" for k, v in r["messages_received"].items()), "",
              "Plots (time across the run; value up, over its y_range; line colours):", ""]
    lines += [f"- {png} ({p['y_range'][0]} … {p['y_range'][1]}): "
              + ", ".join(f"{k} {c}" for k, c in p["lines"].items()) for png, p in r["plots"].items() if p["y_range"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal soak", description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="how long the session loops")
    ap.add_argument("--sample-s", type=float, default=60.0, help="seconds between samples")
    ap.add_argument("--warmup-s", type=float, default=None,
                    help="growth is measured from the first sample after this (default: a fifth of the run)")
    ap.add_argument("--json", default="out/soak.json", help="write the results here (table .md, PNGs beside it)")
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.sample_s <= 0 or (args.warmup_s is not None and args.warmup_s < 0):
        ap.error("--minutes and --sample-s must be > 0, --warmup-s >= 0")
    warmup = args.warmup_s if args.warmup_s is not None else args.minutes * 60 / 5
    return run_soak(args.minutes, args.sample_s, warmup, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
