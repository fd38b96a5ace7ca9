"""Speech benchmark: the two voices side by side (piper, espeak-ng), in one run.

Per voice, in the core (``SpeechStream`` in this process):

- ``first_chunk_ms``: a goal's text handed over → its first 20 ms chunk handed to the sink.
- ``barge_in_stop_ms``: ``cancel()`` → the last chunk handed to the sink (0 when none left after
  it); ``audio_after_cancel_ms``: ``cancel()`` → the end of that chunk's play-out (the chunk
  already on its way: at most one chunk of lead plus the one playing).
- ``rtf``: synthesis time / audio duration (whole utterances, unpaced).
- ``follow_on_gap_samples``: a second utterance queued (and so pre-synthesised) while the first
  plays: silence between the last sample of the first and the first of the second.
- ``wer`` (Whisper tiny.en transcribing the voice back, per voice): plain text, and text with
  control tags (reference: the words actually said, fillers included; ``tag_leaks``: tag names
  heard as words).

Through the real node (a ``tts`` process per voice, real topics): ``node_first_chunk_ms``
(goal sent → first chunk received), ``node_barge_in_stop_ms`` (cancel sent → last chunk
received), ``node_audio_after_cancel_ms`` (cancel sent → end of the last chunk's play-out
stamp), ``node_follow_on_gap_samples``.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from seal_nodes.core.audio.frames import s16_duration_ns
from seal_nodes.tools.latency import machine_info, summarize
from seal_nodes.tools.waiting import wait_until

ENGINES = ("piper", "espeak")
PLAIN = [
    "Hello! I can pick up, push or point at the cubes on the table.",
    "I will pick up the red cube now.",
    "The green cube is to the left of the blue one.",
    "Sorry, I didn't understand. You can ask me to pick up a cube.",
    "It is a little after three in the afternoon, and the weather looks fine.",
    "Please put the cup back on the shelf when you are done.",
]
TAGGED = [
    "[THINKING] I think the blue cube is closer to you.",
    "[EMO:happy] Sure! [BREATH] I can do that right away.",
    "[SPEED:1.3x] This part goes a bit faster. [SPEED:1.0x] And this is normal again.",
    "[STYLE:formal] [SEARCHING] The red cube is on the left side of the table.",
    "[UNCERTAIN] Maybe the green one? [LAUGH:small] I am not sure.",
    "[EMO:sad] [SIGH] I could not reach the cube. [CLEAR_THROAT] Let me try again.",
]
# Replies as the thinker opens them: timed with the openers kept warm (as the tts node does) and
# without (the baseline), in the same run.
OPENED = ["Sure, picking up the red cube.", "Okay, putting the blue cube in the bin.",
          "Hello! What can I do for you?", "Sorry, I didn't catch that."]
LONG = ("This sentence is long enough that cancelling it halfway leaves most words unspoken, "
        "and it keeps going for a few more seconds so that there is time to interrupt it.")
TAG_WORDS = {"thinking", "searching", "uncertain", "emo", "speed", "style", "breath", "sigh", "clear", "throat",
             "laugh", "cough", "happy", "sad", "formal", "bracket"}


def make_synth(engine: str):  # type: ignore[no-untyped-def]
    if engine == "piper":
        from seal_nodes.core.voice.piper import PiperSynthesizer

        return PiperSynthesizer()
    if engine == "espeak":
        from seal_nodes.core.voice.espeak import EspeakSynthesizer

        return EspeakSynthesizer()
    raise ValueError(f"unknown engine {engine!r}")


def spoken_reference(text: str) -> str:
    """What a listener should hear: fillers and words, in order, no tags."""
    from seal_nodes.core.voice.speech_tags import parse_speech

    return " ".join(s.text for s in parse_speech(text).parts if s.text)


def render(text: str, synth: Any) -> np.ndarray:
    """The whole utterance as one int16 buffer (unpaced)."""
    from seal_nodes.core.voice.stream import SpeechStream

    parts: list[np.ndarray] = []
    SpeechStream(text, synth).run(lambda f: parts.append(f.samples), paced=False)
    return np.concatenate(parts) if parts else np.zeros(0, np.int16)


# --- core measurements ---------------------------------------------------------------------------

def core_first_chunk(synth: Any, texts: list[str], repeats: int) -> list[float]:
    from seal_nodes.core.voice.stream import SpeechStream

    out = []
    for _ in range(repeats):
        for text in texts:
            got: list[float] = []
            t0 = time.perf_counter()
            stream = SpeechStream(text, synth)

            def sink(_f: Any, stream: SpeechStream = stream, got: list[float] = got, t0: float = t0) -> None:
                got.append((time.perf_counter() - t0) * 1e3)
                stream.cancel()

            stream.run(sink)
            stream.close()  # the next measurement must not wait for this one's synthesis
            out.append(got[0])
    return out


def core_rtf(synth: Any, texts: list[str]) -> list[float]:
    out = []
    for text in texts:
        t0 = time.perf_counter()
        pcm = render(text, synth)
        out.append((time.perf_counter() - t0) / (len(pcm) / synth.sample_rate))
    return out


def core_barge_in(synth: Any, repeats: int, rng: random.Random) -> tuple[list[float], list[float], list[bool]]:
    """Cancel at a random moment of real-time playback; (stop ms, audio after cancel ms, truthful)."""
    from seal_nodes.core.voice.stream import SpeechStream

    stops, after, truthful = [], [], []
    for _ in range(repeats):
        stream = SpeechStream(LONG, synth)
        sunk: list[tuple[float, int, int]] = []  # (perf time at hand-over, stamp_ns end, samples)
        cancel_at: list[tuple[float, int]] = []
        delay = rng.uniform(0.4, 2.0)

        def sink(f: Any, sunk: list = sunk) -> None:
            sunk.append((time.perf_counter(), f.end_ns, len(f.samples)))

        def canceller(stream: SpeechStream = stream, delay: float = delay, cancel_at: list = cancel_at) -> None:
            time.sleep(delay)
            cancel_at.append((time.perf_counter(), time.time_ns()))
            stream.cancel()

        th = threading.Thread(target=canceller)
        th.start()
        result = stream.run(sink)
        th.join()
        stream.close()
        if not cancel_at or result.completed:
            continue
        t_cancel, wall_cancel = cancel_at[0]
        stops.append(max(0.0, (sunk[-1][0] - t_cancel) * 1e3) if sunk else 0.0)
        after.append(max(0.0, (sunk[-1][1] - wall_cancel) / 1e6) if sunk else 0.0)
        ends = {w: e for w, _, e in stream.word_timings}
        heard = sum(s for _, _, s in sunk)
        expected = [w for w, _, e in stream.word_timings if e is not None and e <= heard]
        truthful.append(result.words_spoken == expected and len(ends) > 0)
    return stops, after, truthful


def core_follow_on_gap(synth: Any, repeats: int) -> list[int]:
    from seal_nodes.core.voice.stream import SpeechStream

    gaps = []
    for i in range(repeats):
        first = SpeechStream("Here is the first sentence.", synth)
        second = SpeechStream("And here is the second one, queued behind it.", synth)
        second.start()  # queued: pre-synthesised while the first plays
        frames: list[Any] = []
        ra = first.run(frames.append)
        n_first = len(frames)
        rb = second.run(frames.append, start_at=ra.end_playout_ns)
        second.cancel()
        a_end = frames[n_first - 1].end_ns
        b_start = frames[n_first].stamp_ns if len(frames) > n_first else a_end
        gaps.append(int(round((b_start - a_end) * synth.sample_rate / 1e9)))
        assert rb.gap_samples is not None
    return gaps


def core_wer(synth: Any, recognizer: Any, texts: list[str]) -> dict[str, Any]:
    from seal_nodes.tools.wer import normalize, wer

    refs, hyps, samples = [], [], []
    leaks = 0
    for text in texts:
        pcm = render(text, synth)
        hyp = recognizer.transcribe(pcm, synth.sample_rate).text
        ref = spoken_reference(text)
        # Whisper does not write hesitations ("hmm", "um"): they count on neither side; the
        # fillers that are words ("let me think", "one moment, please") stay in the reference.
        refs.append(normalize(ref, drop_fillers=True))
        hyps.append(normalize(hyp, drop_fillers=True))
        samples.append({"ref": ref, "hyp": hyp})
        leaks += len((set(normalize(hyp)) & TAG_WORDS) - set(normalize(ref)))
    return {"wer": round(float(wer(refs, hyps)), 3), "n": len(texts), "tag_leaks": leaks, "samples": samples}


# --- through the node ----------------------------------------------------------------------------

class TtsNodeHarness:
    """One ``tts`` node process and an rclpy client for it (Speak, /audio/speaker, /seal/events,
    /tts/control). Shared by the benchmark and the integration tests."""

    def __init__(self, engine: str = "piper", params: dict[str, str] | None = None, domain_id: int | None = None,
                 log_path: str | os.PathLike | None = None) -> None:
        self.engine = engine
        self.params = {"engine": engine, **(params or {})}
        self.domain_id = domain_id
        self.log_path = log_path
        self.lock = threading.Lock()
        self.chunks: list[tuple[int, Any]] = []  # (receipt wall ns, AudioChunk)
        self.events: list[tuple[int, Any]] = []

    def __enter__(self) -> TtsNodeHarness:
        import rclpy
        from rclpy.action import ActionClient
        from rclpy.executors import SingleThreadedExecutor
        from seal_interfaces.action import Speak

        from seal_nodes.core import topics
        from seal_nodes.nodes.common import publisher, subscription
        from seal_nodes.ros_env import ros_environment

        env = dict(os.environ)
        env.update(ros_environment("localhost", self.domain_id))
        env["PYTHONUNBUFFERED"] = "1"
        for key, value in env.items():
            if key.startswith(("ROS_", "RMW_", "FASTDDS_")):
                os.environ[key] = value  # this process's participant must join the same graph
        args = [sys.executable, "-m", "seal_nodes.nodes.tts", "--ros-args", "-r", "__node:=tts"]
        for key, value in self.params.items():
            args += ["-p", f"{key}:={value}"]
        self._log = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("speech_bench_client", context=self.context)
        self.client = ActionClient(self.node, Speak, topics.SPEAK.name)
        self.control = publisher(self.node, topics.TTS_CONTROL)
        self.event_pub = publisher(self.node, topics.EVENTS)
        subscription(self.node, topics.SPEAKER, self._on_chunk)
        subscription(self.node, topics.EVENTS, self._on_event)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._spin = threading.Thread(target=self.executor.spin, daemon=True)
        self._spin.start()
        return self

    def _on_chunk(self, msg: Any) -> None:
        with self.lock:
            self.chunks.append((time.time_ns(), msg))

    def _on_event(self, msg: Any) -> None:
        with self.lock:
            self.events.append((time.time_ns(), msg))

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not (self.client.server_is_ready() and self.control.get_subscription_count() > 0):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the tts node exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("the tts node did not come up")
            time.sleep(0.05)

    def wait(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        wait_until(predicate, timeout_s, what, poll_s=0.002)  # fine-grained: it times the node

    def call(self, future: Any, timeout_s: float = 30.0) -> Any:
        self.wait(future.done, timeout_s, "the action server")
        return future.result()

    def send(self, text: str, trace_id: str, feedback: Callable | None = None) -> Any:
        from seal_interfaces.action import Speak

        goal = Speak.Goal(text=text, utterance_id=trace_id, trace_id=trace_id)
        return self.call(self.client.send_goal_async(goal, feedback_callback=feedback))

    def trace_chunks(self, trace_id: str) -> list[tuple[int, Any]]:
        with self.lock:
            return [(t, m) for t, m in self.chunks if m.trace_id == trace_id]

    def trace_events(self, type_: str | None = None) -> list[Any]:
        with self.lock:
            return [m for _, m in self.events if type_ is None or m.type == type_]

    def publish_control(self, command: str) -> None:
        from std_msgs.msg import String

        self.control.publish(String(data=command))

    def __exit__(self, *exc: object) -> None:
        import rclpy

        try:
            self.executor.shutdown(timeout_sec=1.0)
            self._spin.join(timeout=2.0)
            self.node.destroy_node()
            rclpy.try_shutdown(context=self.context)
        finally:
            if self.proc.poll() is None:
                self.proc.send_signal(2)  # SIGINT: the node's own clean shutdown
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
            if self._log is not subprocess.DEVNULL:
                self._log.close()


def _stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def _chunk_end_ns(msg: Any) -> int:
    return _stamp_ns(msg) + s16_duration_ns(len(msg.data), msg.channels, msg.sample_rate)


def node_measure(engine: str, repeats: int, rng: random.Random, domain_id: int | None = None) -> dict[str, Any]:
    first, stops, after, gaps = [], [], [], []
    with TtsNodeHarness(engine, domain_id=domain_id) as h:
        h.wait_ready()
        h.call(h.send("Ready.", "warm-up").get_result_async())
        for i in range(repeats):
            trace = f"first-{i}"
            t0 = time.time_ns()
            handle = h.send(PLAIN[i % len(PLAIN)], trace)
            h.wait(lambda trace=trace: bool(h.trace_chunks(trace)), 10, "the first chunk")
            first.append((h.trace_chunks(trace)[0][0] - t0) / 1e6)
            h.call(handle.cancel_goal_async())
            h.call(handle.get_result_async())
            # barge-in: cancel at a random moment while it plays
            trace = f"barge-{i}"
            handle = h.send(LONG, trace)
            h.wait(lambda trace=trace: bool(h.trace_chunks(trace)), 10, "the first chunk")
            time.sleep(rng.uniform(0.3, 1.5))
            t_cancel = time.time_ns()
            h.call(handle.cancel_goal_async())
            h.call(handle.get_result_async())
            time.sleep(0.2)
            chunks = h.trace_chunks(trace)
            stops.append(max(0.0, (chunks[-1][0] - t_cancel) / 1e6))
            after.append(max(0.0, (_chunk_end_ns(chunks[-1][1]) - t_cancel) / 1e6))
            # follow-on: the second goal is sent while the first plays
            ta, tb = f"follow-a-{i}", f"follow-b-{i}"
            ha = h.send("Here is the first sentence.", ta)
            hb = h.send("And here is the second one, queued behind it.", tb)
            h.call(ha.get_result_async())
            h.call(hb.get_result_async())
            time.sleep(0.1)
            a, b = h.trace_chunks(ta), h.trace_chunks(tb)
            if a and b:
                rate = a[-1][1].sample_rate
                gaps.append(int(round((_stamp_ns(b[0][1]) - _chunk_end_ns(a[-1][1])) * rate / 1e9)))
    return {"node_first_chunk_ms": summarize(first), "node_barge_in_stop_ms": summarize(stops),
            "node_audio_after_cancel_ms": summarize(after),
            "node_follow_on_gap_samples": summarize([float(g) for g in gaps])}


# --- the run -------------------------------------------------------------------------------------

def core_figures(synth: Any, repeats: int, rng: random.Random) -> dict[str, Any]:
    """First chunk, real-time factor, follow-on gap and barge-in of one voice, without ROS."""
    first = core_first_chunk(synth, PLAIN, repeats)
    rtf = core_rtf(synth, PLAIN + TAGGED)
    gaps = core_follow_on_gap(synth, max(2, repeats // 2))
    stops, after, truthful = core_barge_in(synth, max(4, repeats * 2), rng)
    return {
        "first_chunk_ms": summarize(first),
        "rtf": summarize(rtf),
        "follow_on_gap_samples": summarize([float(g) for g in gaps]),
        "barge_in_stop_ms": summarize(stops),
        "audio_after_cancel_ms": summarize(after),
        "spoken_text_truthful": f"{sum(truthful)}/{len(truthful)}",
    }


def opener_figures(synth: Any, repeats: int) -> dict[str, Any]:
    """First chunk of replies that open with a stock phrase: cold (``synth``) and with the
    openers kept warm, as the tts node runs piper."""
    from seal_nodes.core.voice.piper import OPENERS, PiperSynthesizer

    warm = PiperSynthesizer(cache_pieces=64, warm_phrases=OPENERS)
    return {"first_chunk_opener_ms": summarize(core_first_chunk(synth, OPENED, repeats)),
            "first_chunk_opener_warm_ms": summarize(core_first_chunk(warm, OPENED, repeats))}


def run_speech_bench(repeats: int = 5, *, through_node: bool = True, whisper: bool = True, seed: int = 0,
                     echo: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Measure both voices; ``repeats`` scales every latency sample count. Returns
    ``{"engines": {engine: {metric: {"p50","p99","n"} | value}}, "run": {...}}``."""
    rng = random.Random(seed)
    recognizer = None
    whisper_error = ""
    if whisper:
        try:
            from seal_nodes.core.perception.whisper import WhisperRecognizer

            recognizer = WhisperRecognizer()
        except Exception as exc:  # noqa: BLE001 - reported in the result, the rest still runs
            whisper_error = str(exc)
    engines: dict[str, dict[str, Any]] = {}
    t_start = time.perf_counter()
    for engine in ENGINES:
        echo(f"[speech bench] {engine}: loading")
        t0 = time.perf_counter()
        synth = make_synth(engine)
        load_ms = (time.perf_counter() - t0) * 1e3
        res: dict[str, Any] = {"load_ms": round(load_ms, 1)}
        if engine == "piper":
            res["provider"] = synth.provider
            res["word_timing"] = "model durations" if synth.has_durations else "piece"
        echo(f"[speech bench] {engine}: first chunk, RTF, follow-on gap, barge-in")
        res.update(core_figures(synth, repeats, rng))
        if engine == "piper":
            res.update(opener_figures(synth, repeats))
        if recognizer is not None:
            echo(f"[speech bench] {engine}: Whisper WER")
            res["wer_plain"] = core_wer(synth, recognizer, PLAIN)
            res["wer_tagged"] = core_wer(synth, recognizer, TAGGED)
        if through_node:
            echo(f"[speech bench] {engine}: through the tts node")
            try:
                res.update(node_measure(engine, max(3, repeats), rng))
            except Exception as exc:  # noqa: BLE001 - the core figures stand on their own
                res["node_error"] = f"{type(exc).__name__}: {exc}"
        engines[engine] = res
        del synth
    return {"engines": engines,
            "run": {"repeats": repeats, "duration_s": round(time.perf_counter() - t_start, 1),
                    **machine_info(),
                    "whisper": "tiny.en (CTranslate2 int8)" if recognizer is not None
                    else f"unavailable: {whisper_error}"}}


ROWS = [
    ("first_chunk_ms", "first chunk after a goal (core), ms"),
    ("first_chunk_opener_ms", "first chunk of a reply opening \"Sure,\" … (core, no piece cache), ms"),
    ("first_chunk_opener_warm_ms", "the same, openers kept warm (core, as the tts node runs), ms"),
    ("node_first_chunk_ms", "first chunk after a goal (node, goal sent → chunk received), ms"),
    ("barge_in_stop_ms", "barge_in_stop_ms: cancel → last chunk handed to the sink (core)"),
    ("audio_after_cancel_ms", "cancel → end of the last chunk's play-out (core), ms"),
    ("node_barge_in_stop_ms", "barge_in_stop_ms through the node: cancel sent → last chunk received"),
    ("node_audio_after_cancel_ms", "cancel sent → end of the last chunk's play-out (node), ms"),
    ("rtf", "real-time factor (synthesis time / audio time)"),
    ("follow_on_gap_samples", "gap between follow-on utterances (core), samples"),
    ("node_follow_on_gap_samples", "gap between follow-on goals (node), samples"),
]


def format_speech_table(result: dict[str, Any]) -> str:
    """Markdown: one row per metric, p50 / p99 per voice; WER rows; run details."""
    engines = list(result.get("engines", {}))
    data = result.get("engines", {})

    def cell(stats: Any, digits: int = 1) -> str:
        if not isinstance(stats, dict) or stats.get("p50") is None:
            return "–"
        return f"{stats['p50']:.{digits}f} / {stats['p99']:.{digits}f}"

    head = "| metric (p50 / p99) | " + " | ".join(engines) + " |"
    lines = [head, "|---|" + "---:|" * len(engines)]
    for key, label in ROWS:
        if not any(key in data[e] for e in engines):
            continue
        digits = 4 if key == "rtf" else 1
        lines.append(f"| {label} | " + " | ".join(cell(data[e].get(key), digits) for e in engines) + " |")
    for key, label in (("wer_plain", "WER, plain text (Whisper tiny.en)"),
                       ("wer_tagged", "WER, text with control tags (fillers in the reference)")):
        if any(key in data[e] for e in engines):
            lines.append(f"| {label} | " + " | ".join(
                f"{data[e][key]['wer']:.3f} (n={data[e][key]['n']}, tag leaks {data[e][key]['tag_leaks']})"
                if key in data[e] else "–" for e in engines) + " |")
    for key, label in (("spoken_text_truthful", "spoken_text after a cancel = words whose audio was played"),
                       ("load_ms", "voice load, ms"), ("provider", "onnxruntime provider"),
                       ("word_timing", "word timing source"), ("node_error", "node error")):
        if any(key in data[e] for e in engines):
            lines.append(f"| {label} | " + " | ".join(str(data[e].get(key, "–")) for e in engines) + " |")
    run = result.get("run", {})
    if run:
        lines.append("")
        lines.append(f"repeats {run.get('repeats')}, {run.get('duration_s')} s, {run.get('cpus')} CPUs "
                     f"({run.get('machine')}), Python {run.get('python')}, Whisper: {run.get('whisper')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default="")
    parser.add_argument("--no-node", action="store_true", help="core measurements only")
    parser.add_argument("--no-whisper", action="store_true")
    args = parser.parse_args(argv)
    result = run_speech_bench(args.repeats, through_node=not args.no_node, whisper=not args.no_whisper, echo=print)
    table = format_speech_table(result)
    print(table)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
        with open(os.path.splitext(args.json)[0] + ".md", "w") as fh:
            fh.write("# speech bench\n\n" + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
