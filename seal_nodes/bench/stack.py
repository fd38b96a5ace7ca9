"""``seal bench``: the latency budgets measured through the running graph.

Plays recorded (espeak-rendered) speech into /audio/mic of the simulated stack and measures,
from topic traffic only: speech_start_ms, first_audio_ms, barge_in_stop_ms, frame_to_command_ms,
policy_inference_ms, ros_hop_ms (definitions: ``seal_nodes.tools.latency.BUDGETS``). A baseline
measured in the same run sits beside the streaming TTS: synthesising the whole reply before
the first sample can play (what a non-streaming pipeline waits for).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.nodes.common import stamp_to_ns
from seal_nodes.stack.measure import barge_in_stop_ms, first_audio_ms, node_figures, speech_start_ms
from seal_nodes.stack.session import StackSession
from seal_nodes.tools.latency import BUDGETS, format_table, machine_info, summarize

GREETING = "Hello robot."
BARGE_IN = "Thank you."
PICK = "Pick up the green cube."


def _reply(session: StackSession, since_ns: int, timeout_s: float) -> tuple[str, int]:
    """(trace id, play-out stamp) of the first agent audio chunk played after ``since_ns``."""
    def started() -> list:
        return [r for r in session.messages(topics.SPEAKER) if stamp_to_ns(r.msg.header.stamp) > since_ns]
    session.wait_for(lambda: bool(started()), timeout_s, "the agent's reply")
    first = started()[0].msg
    return first.trace_id, stamp_to_ns(first.header.stamp)


def tts_baseline(texts: list[str]) -> dict[str, dict]:
    """Streaming first chunk vs whole-utterance synthesis, per voice, same synthesizer, same process."""
    from seal_nodes.bench.speech import make_synth
    from seal_nodes.core.voice.stream import SpeechStream

    out: dict[str, dict] = {}
    for engine in ("piper", "espeak"):
        synth = make_synth(engine)
        first, whole = [], []
        for text in texts * 5:
            stream = SpeechStream(text, synth)
            t0 = time.perf_counter()
            got: list[float] = []

            def sink(_frame, t0=t0, got=got, stream=stream) -> None:
                got.append((time.perf_counter() - t0) * 1e3)
                stream.cancel()  # only the first chunk matters here

            stream.run(sink, paced=False)
            stream.close()
            first.append(got[0])
            t0 = time.perf_counter()
            for part in SpeechStream(text, synth).parsed.parts:
                for _ in synth.synthesize(part):
                    pass
            whole.append((time.perf_counter() - t0) * 1e3)
        out[f"tts_first_chunk_streaming_ms[{engine}]"] = summarize(first)
        out[f"tts_whole_utterance_ms[{engine}]"] = summarize(whole)
    return out


def _greet_and_barge_in(session: StackSession, samples: dict[str, list[float]]) -> None:
    """One greeting, talked over a second into the reply; its latencies go into ``samples``."""
    since = time.time_ns()
    turn = session.say(GREETING)
    trace, reply_ns = _reply(session, since, 20.0)
    session.wait_for(lambda: time.time_ns() > reply_ns + 1e9, 10.0, "a second of the reply")
    barge = session.say(BARGE_IN)
    session.wait_for(barge.played.is_set, 10.0, "the barge-in")
    session.wait_for(lambda: session.agent_idle(since, quiet_s=1.0), 20.0, "the agent to finish")
    for key, value in (("speech_start_ms", speech_start_ms(session, turn)),
                       ("first_audio_ms", first_audio_ms(session, turn)),
                       ("barge_in_stop_ms", barge_in_stop_ms(session, barge, trace))):
        if value is not None:
            samples[key].append(value)


def _conversation(repeats: int, echo, log: Path, launch_args: dict[str, str]) -> dict[str, dict]:
    """Greetings and barge-ins only, on a stack started with ``launch_args`` (a baseline)."""
    samples: dict[str, list[float]] = {"speech_start_ms": [], "first_audio_ms": [], "barge_in_stop_ms": []}
    with StackSession(launch_args=launch_args, node_log=log, echo=echo) as session:
        session.wait_ready()
        for i in range(repeats):
            echo(f"[bench] {launch_args}: turn {i + 1}/{repeats}")
            _greet_and_barge_in(session, samples)
    return {k: summarize(v) for k, v in samples.items()}


def run_bench(json_path: str, repeats: int = 3, echo=print, memory_baseline: bool = False) -> int:
    out = Path(json_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    samples: dict[str, list[float]] = {"speech_start_ms": [], "first_audio_ms": [], "barge_in_stop_ms": []}
    echo("[bench] starting the simulated stack")
    with StackSession(node_log=out.with_suffix(".nodes.log"), echo=echo) as session:
        session.wait_ready()
        t_start = time.time_ns()
        for i in range(repeats):
            echo(f"[bench] turn {i + 1}/{repeats}: {GREETING!r}, then a barge-in {BARGE_IN!r}")
            _greet_and_barge_in(session, samples)
        echo(f"[bench] manipulation: {PICK!r}")
        since = time.time_ns()
        turn = session.say(PICK)
        session.wait_for(lambda: bool(session.events(ev.ACTION_RESULT, since)), 60.0, "the pick to finish")
        if (v := speech_start_ms(session, turn)) is not None:
            samples["speech_start_ms"].append(v)
        figures = {k: summarize(v) for k, v in samples.items()}
        figures.update(node_figures(session))
        duration_s = (time.time_ns() - t_start) / 1e9
        # The sensors' rates over the whole run (the sim's targets: camera_hz, state 100 Hz).
        rates = {t.name: round(session.rate_hz(t, duration_s), 1) for t in (topics.CAMERA, topics.JOINT_STATES)}
    baseline = tts_baseline(["Hello! I can pick up, push or point at the cubes on the table. What should I do?"])
    if memory_baseline:  # the same conversation with no memory node and no reads of it
        echo("[bench] baseline: the stack without memory (memory:=false)")
        off = _conversation(repeats, echo, out.with_suffix(".nomemory.log"), {"memory": "false"})
        baseline.update({f"{k}[memory off]": v for k, v in off.items()})
        baseline.update({f"{k}[memory on]": figures[k] for k in off})
    report = {
        **figures,
        "budgets_ms": {k: b.budget_ms for k, b in BUDGETS.items()},
        "baseline": baseline,
        "sensor_rates_hz": rates,
        "run": {"repeats": repeats, "duration_s": round(duration_s, 1), **machine_info()},
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    table = format_table(figures)
    base_table = format_table(baseline, budgets={})
    rates_line = ", ".join(f"{name} {hz} Hz" for name, hz in rates.items())
    out.with_suffix(".md").write_text(f"# seal bench\n\n{table}\n\nSensor rates over the run: {rates_line}\n\n"
                                      f"Baseline (same run):\n\n{base_table}\n")
    echo(f"\n{table}\n\nSensor rates over the run: {rates_line}")
    echo("\nBaseline, same run (streaming TTS vs whole-utterance synthesis):\n" + base_table)
    echo(f"\n[bench] wrote {out} and {out.with_suffix('.md')}")
    return 0
