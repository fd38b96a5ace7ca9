"""``seal bench``: the latency budgets measured through the running graph.

Plays recorded (espeak-rendered) speech into /audio/mic of the simulated stack and measures,
from topic traffic only: speech_start_ms, first_audio_ms, barge_in_pause_ms (the voice falls
silent) and barge_in_stop_ms (stopped for a confirmed onset), frame_to_command_ms,
policy_inference_ms, ros_hop_ms (definitions: ``seal_nodes.tools.latency.BUDGETS``). A baseline
measured in the same run sits beside the streaming TTS: synthesising the whole reply before
the first sample can play (what a non-streaming pipeline waits for). camera → command is also
given stage by stage (render, publish, DDS hop, preprocessing, queue, inference, command).

``--load`` runs the scenario twice: on the machine as it is, then beside a CPU hog the bench
starts and reaps itself (``seal_nodes.bench.load``); both side by side, with histograms (as text, and
drawn against the budgets in ``<json stem>.latency.png``).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.nodes.common import stamp_to_ns
from seal_nodes.bench.recordings import (Recording, RecordingsError, format_rows, load_recordings,
                                         summarize_rows, time_recordings)
from seal_nodes.core.audio.frames import AudioFormatError
from seal_nodes.bench.load import CpuHog, format_histogram, format_side_by_side, histogram
from seal_nodes.stack.measure import (SPEECH_STAGES, barge_in_pause_ms, barge_in_stop_ms, biggest_stage,
                                      first_audio_ms, frame_stages, node_samples, speech_stages, speech_start_ms,
                                      stage_samples)
from seal_nodes.stack.session import StackSession
from seal_nodes.tools.charts import latency_histograms
from seal_nodes.tools.latency import BUDGETS, format_table, machine_info, summarize, write_report

GREETING = "Hello robot."
BARGE_IN = "Thank you."
PICK = "Pick up the green cube."
HISTOGRAM_PATHS = ("frame_to_command_ms", "ros_hop_ms", "first_audio_ms")


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


def _greet_and_barge_in(session: StackSession, samples: dict[str, list[float]], slack: float = 1.0,
                        stages: dict[str, list[float]] | None = None) -> None:
    """One greeting, talked over a second into the reply; its latencies go into ``samples``, and
    where its first audio's time went into ``stages``."""
    since = time.time_ns()
    turn = session.say(GREETING)
    trace, reply_ns = _reply(session, since, 20.0 * slack)
    session.wait_for(lambda: time.time_ns() > reply_ns + 1e9, 10.0 * slack, "a second of the reply")
    barge = session.say(BARGE_IN)
    session.wait_for(barge.played.is_set, 10.0 * slack, "the barge-in")
    session.wait_for(lambda: session.agent_idle(since, quiet_s=1.0), 20.0 * slack, "the agent to finish")
    for key, value in (("speech_start_ms", speech_start_ms(session, turn)),
                       ("first_audio_ms", first_audio_ms(session, turn)),
                       ("barge_in_pause_ms", barge_in_pause_ms(session, barge, trace)),
                       ("barge_in_stop_ms", barge_in_stop_ms(session, barge, trace))):
        if value is not None:
            samples[key].append(value)
    if stages is not None:
        for key, value in speech_stages(session, turn).items():
            stages.setdefault(key, []).append(value)


def _conversation(repeats: int, echo, log: Path, launch_args: dict[str, str]) -> dict[str, dict]:
    """Greetings and barge-ins only, on a stack started with ``launch_args`` (a baseline)."""
    samples: dict[str, list[float]] = {"speech_start_ms": [], "first_audio_ms": [], "barge_in_pause_ms": [],
                                       "barge_in_stop_ms": []}
    with StackSession(launch_args=launch_args, node_log=log, echo=echo) as session:
        session.wait_ready()
        for i in range(repeats):
            echo(f"[bench] {launch_args}: turn {i + 1}/{repeats}")
            _greet_and_barge_in(session, samples)
    return {k: summarize(v) for k, v in samples.items()}


@dataclass
class StackRun:
    """What one run of the scenario measured: raw samples per path, sensor rates, stages."""

    samples: dict[str, list[float]]
    rates_hz: dict[str, float]
    duration_s: float
    stages: dict[str, dict]
    speech_stages: dict[str, dict]  # end of speech → first audio, stage by stage (``speech_stages``)
    load_avg: tuple[float, ...]  # the machine's 1, 5, 15 min load averages at the end: others' work too
    recordings: list[dict] = field(default_factory=list)  # --audio DIR: one row per file

    @property
    def figures(self) -> dict[str, dict]:
        return {path: summarize(values) for path, values in self.samples.items()}

    def record(self) -> dict[str, object]:
        out = {**self.figures, "frame_stages_ms": self.stages, "biggest_frame_stage": biggest_stage(self.stages),
               "speech_stages_ms": self.speech_stages,
               "sensor_rates_hz": self.rates_hz, "duration_s": round(self.duration_s, 1),
               "load_avg": [round(v, 2) for v in self.load_avg]}
        if self.recordings:
            out["recordings"] = {"files": self.recordings, **summarize_rows(self.recordings)}
        return out


def _scenario(repeats: int, echo, log: Path, slack: float = 1.0, recordings: list[Recording] | None = None,
              launch_args: dict[str, str] | None = None) -> StackRun:
    """Greetings with barge-ins, then a pick, then the user's ``recordings`` (``--audio``), on the
    simulated stack (started with ``launch_args``); ``slack`` stretches the timeouts."""
    samples: dict[str, list[float]] = {"speech_start_ms": [], "first_audio_ms": [], "barge_in_pause_ms": [],
                                       "barge_in_stop_ms": []}
    speech: dict[str, list[float]] = {}
    echo("[bench] starting the simulated stack")
    with StackSession(launch_args=launch_args, node_log=log, echo=echo) as session:
        session.wait_ready(90.0 * slack)
        t_start = time.time_ns()
        for i in range(repeats):
            echo(f"[bench] turn {i + 1}/{repeats}: {GREETING!r}, then a barge-in {BARGE_IN!r}")
            _greet_and_barge_in(session, samples, slack, speech)
        echo(f"[bench] manipulation: {PICK!r}")
        since = time.time_ns()
        turn = session.say(PICK)
        session.wait_for(lambda: bool(session.events(ev.ACTION_RESULT, since)), 60.0 * slack, "the pick to finish")
        if (v := speech_start_ms(session, turn)) is not None:
            samples["speech_start_ms"].append(v)
        samples.update(node_samples(session))
        timed = time_recordings(session, recordings, echo, slack) if recordings else []
        duration_s = (time.time_ns() - t_start) / 1e9
        # The sensors' rates over the whole run (the sim's targets: camera_hz, state 100 Hz).
        rates = {t.name: round(session.rate_hz(t, duration_s), 1) for t in (topics.CAMERA, topics.JOINT_STATES)}
        stages = frame_stages(stage_samples(session))
    return StackRun(samples, rates, duration_s, stages, {k: summarize(speech.get(k, [])) for k in SPEECH_STAGES},
                    os.getloadavg(), timed)


def _stage_line(run: StackRun) -> str:
    parts = ", ".join(f"{k} {v['p50']}" for k, v in run.stages.items() if k != "frame_transport_ms")
    speech = ", ".join(f"{k} {v['p50']}" for k, v in run.speech_stages.items())
    return (f"camera → command by stage (p50 ms): {parts}; biggest: {biggest_stage(run.stages)}\n\n"
            f"end of speech → first audio by stage (p50 ms; final_decode_ms is part of end_of_turn_ms): {speech}")


def run_bench(json_path: str, repeats: int = 3, echo=print, memory_baseline: bool = False,
              load: bool = False, audio: str | None = None) -> int:
    """The scenario on the machine as it is and, with ``load``, again beside a CPU hog the bench runs;
    with ``audio`` (a folder of WAVs), the user's recordings timed in each."""
    out = Path(json_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        recordings = load_recordings(audio) if audio else []
    except (RecordingsError, AudioFormatError) as exc:  # before minutes of stack start-up
        echo(f"[bench] --audio: {exc}")
        return 2
    idle = _scenario(repeats, echo, out.with_suffix(".nodes.log"), recordings=recordings)
    loaded, hog = None, CpuHog(render=True)
    if load:
        echo(f"[bench] the same under load: {hog.describe()}")
        with hog:
            loaded = _scenario(repeats, echo, out.with_suffix(".loaded.nodes.log"), slack=2.0, recordings=recordings)
    baseline = tts_baseline(["Hello! I can pick up, push or point at the cubes on the table. What should I do?"])
    if memory_baseline:  # the same conversation with no memory node and no reads of it
        echo("[bench] baseline: the stack without memory (memory:=false)")
        off = _conversation(repeats, echo, out.with_suffix(".nomemory.log"), {"memory": "false"})
        baseline.update({f"{k}[memory off]": v for k, v in off.items()})
        baseline.update({f"{k}[memory on]": idle.figures[k] for k in off})
    report = {
        **idle.record(),
        "budgets_ms": {k: b.budget_ms for k, b in BUDGETS.items()},
        "baseline": baseline,
        "run": {"repeats": repeats, "duration_s": round(idle.duration_s, 1), **machine_info()},
    }
    rates_line = ", ".join(f"{name} {hz} Hz" for name, hz in idle.rates_hz.items())
    text = [f"# seal bench\n\n{format_table(idle.figures)}\n\nSensor rates over the run: {rates_line}\n\n"
            f"{_stage_line(idle)}\n"]
    if loaded is not None:
        report["loaded"] = {**loaded.record(), "hog": hog.describe()}
        report["histograms"] = {path: histogram({"idle": idle.samples[path], "loaded": loaded.samples[path]})
                                for path in HISTOGRAM_PATHS}
        loaded_rates = ", ".join(f"{name} {hz} Hz" for name, hz in loaded.rates_hz.items())
        text.append(f"\n## Idle and loaded ({hog.describe()})\n\n{format_side_by_side(idle.figures, loaded.figures)}"
                    f"\n\nSensor rates under load: {loaded_rates}\n\nUnder load, {_stage_line(loaded)}\n")
        text += [f"\n```\n{format_histogram(path, report['histograms'][path])}\n```\n" for path in HISTOGRAM_PATHS]
        png = out.with_name(f"{out.stem}.latency.png")
        latency_histograms(png, report["histograms"], report["budgets_ms"])
        text.append(f"\nThe same histograms against their budgets: `{png.name}`.\n")
    for name, run in (("idle", idle), ("loaded", loaded)):
        if run is not None and run.recordings:
            figures = format_table(summarize_rows(run.recordings), budgets={})
            text.append(f"\n## The recordings of {audio} ({name})\n\n{figures}\n\n{format_rows(run.recordings)}\n")
    text.append(f"\nBaseline, same run (streaming TTS vs whole-utterance synthesis):\n\n"
                f"{format_table(baseline, budgets={})}\n")
    write_report(out, report, "".join(text), calibration=True)
    echo(f"\n[bench] wrote {out} and {out.with_suffix('.md')}")
    return 0
