"""The ``seal`` command: launch, demo, bench, and the tools, benchmarks and training behind them."""
from __future__ import annotations

import argparse
import sys

from seal_nodes.core import topics


def cmd_launch(ns: argparse.Namespace) -> int:
    from seal_nodes.launcher.supervisor import run_until_signal
    from seal_nodes.launcher.yaml_launch import LaunchError
    from seal_nodes.stack import graph

    try:
        desc = graph.load(ns.file, ns.args)
    except LaunchError as exc:
        print(f"seal launch: {exc}", file=sys.stderr)
        return 2

    # The supervisor logs every start, crash, respawn and give-up with the node's name.
    sup = graph.make_supervisor(desc)
    print(f"[launch] {ns.file}: {', '.join(s.label for s in desc.nodes)} (Ctrl-C stops all)", flush=True)
    return run_until_signal(sup)


def cmd_demo(ns: argparse.Namespace) -> int:
    from seal_nodes.stack.demo import run_demo

    return run_demo(audio=ns.audio, out_dir=ns.out, timeout_s=ns.timeout, seed=ns.seed, gui=ns.gui, memory=ns.memory,
                    skills=ns.skills)


def cmd_bench(ns: argparse.Namespace) -> int:
    from seal_nodes.bench.stack import run_bench

    return run_bench(json_path=ns.json, repeats=ns.repeats, memory_baseline=ns.memory_baseline, load=ns.load,
                     audio=ns.audio)


# Sub-commands with their own argparse (``seal perceive -h`` shows their options): module, help.
PASSTHROUGH = {
    "perceive": ("seal_nodes.tools.perceive", "run audio perception over a WAV as a real-time stream; events as JSON"),
    "think": ("seal_nodes.tools.think", "play a timed scenario against the thinker; what it thought and said"),
    "memory": ("seal_nodes.tools.memory_cli", "what the robot remembers: list, search, show, forget, export, import"),
    "trace": ("seal_nodes.tools.trace", "a recording as a self-contained HTML page: turns, actions, latency budgets"),
    "diagnose": ("seal_nodes.tools.diagnose", "what went wrong in a recording, and regression cases for it"),
    "bench-perception": ("seal_nodes.bench.perception",
                         "perception benchmark on the spoken test set: WER, turn taking, barge-in"),
    "bench-speech": ("seal_nodes.bench.speech",
                     "TTS benchmark, piper and espeak-ng: first chunk, barge-in stop, RTF, Whisper WER"),
    "bench-think": ("seal_nodes.bench.think", "thinking-layer benchmark: first words, interruption, context size"),
    "bench-skills": ("seal_nodes.bench.skills",
                     "GUI skills: a task step by step, then replayed as a skill on a new layout; stale-skill detection"),
    "bench-memory": ("seal_nodes.bench.memory", "knowledge base: recall@5 with/without headers, latency, kill -9"),
    "bench-understanding": ("seal_nodes.bench.understanding",
                            "spoken everyday requests, fast path alone vs the intent step: carried out, wrong, asked"),
    "bench-voices": ("seal_nodes.bench.voices", "speaker embeddings on the spoken test set's voices: speaker ID, timing"),
    "faults": ("seal_nodes.bench.faults",
               "kill -9 / SIGSTOP each node of the sim stack mid-work: respawn, arm held, what was said, next request"),
    "soak": ("seal_nodes.bench.soak",
             "the sim stack fed a looping spoken session for N minutes: RSS, fds, threads, lost events, actions"),
    "test-load": ("seal_nodes.bench.suite_load",
                  "the test suite N times in a row beside a busy loop per core; what failed, what was left running"),
    "flood": ("seal_nodes.bench.flood",
              "flood every subscribed topic of the sim graph with malformed messages; rates before, during, after"),
    "train-vla": ("vla_policy.arm.train", "record expert episodes and train the arm's VLA policy"),
    "eval-vla": ("vla_policy.arm.evaluate", "the arm policy's success per task on held-out layouts"),
    "train-gui": ("vla_policy.mouse.train", "record browser pages and train the mouse policy"),
    "eval-gui": ("vla_policy.mouse.evaluate", "the mouse policy's success, steps and loop time on held-out pages"),
}


def _passthrough(module: str):
    def run(ns: argparse.Namespace) -> int:
        import importlib

        return int(importlib.import_module(module).main(ns.rest) or 0)
    return run


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PASSTHROUGH:  # argparse's REMAINDER cannot start with an --option
        return _passthrough(PASSTHROUGH[argv[0]][0])(argparse.Namespace(rest=argv[1:]))
    parser = argparse.ArgumentParser(prog="seal", description="SEAL: a streaming, event-driven agent loop on ROS 2")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("launch", help="run a ROS 2 YAML launch file: one process per node, respawn, clean Ctrl-C")
    p.add_argument("file")
    p.add_argument("args", nargs="*", metavar="name:=value")
    p.set_defaults(func=cmd_launch)

    p = sub.add_parser("demo", help="run the simulated stack on a spoken scenario and write what happened")
    p.add_argument("--audio", help=f"WAV to speak into {topics.MIC.name} instead of the built-in scenario")
    p.add_argument("--out", default="out/demo", help="output folder")
    p.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    p.add_argument("--seed", type=int, default=0, help="cube layout seed (with --gui: the page's seed)")
    p.add_argument("--gui", action="store_true", help="the GUI stack instead: 'click the search button' on a browser page")
    p.add_argument("--memory", action="store_true",
                   help="two sessions with a restart between: the agent knows David again and uses his preference")
    p.add_argument("--skills", action="store_true",
                   help="a web task taught by voice step by step, then done by the skill it became on a new layout")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", help="measure the latency budgets through the running graph")
    p.add_argument("--json", required=True, help="where to write the results")
    p.add_argument("--repeats", type=int, default=5, help="greetings and barge-ins to measure")
    p.add_argument("--memory-baseline", action="store_true",
                   help="also measure the conversation on a stack without memory (memory:=false), side by side")
    p.add_argument("--audio", metavar="DIR",
                   help="also time your own WAVs (onset/end of speech from DIR/reference.csv: file,onset_s,offset_s)")
    p.add_argument("--load", action="store_true",
                   help="measure again beside a CPU hog (a busy loop per core and an offscreen renderer), side by side")
    p.set_defaults(func=cmd_bench)

    for name, (module, help_) in PASSTHROUGH.items():
        p = sub.add_parser(name, add_help=False, help=help_)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(func=_passthrough(module))

    ns = parser.parse_args(argv)
    return int(ns.func(ns) or 0)


if __name__ == "__main__":
    sys.exit(main())
