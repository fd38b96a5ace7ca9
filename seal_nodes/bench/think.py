"""``seal bench-think``: the thinking layer's latencies and context size.

    seal bench-think --json out/think_bench.json [--turns 12] [--no-llm]

* first words after the user stops: the scripted model at 100 tokens/s on the wall clock
  (the thinker's own overhead = measured − the model's schedule), the fast path, and the
  embedded LLM (SmolLM2 via llama.cpp) on free-form questions, with the share of turns that
  needed a filler;
* interruption → first resumed words (scripted and LLM);
* context size over an hour-long scripted conversation (simulated clock), with a plot.

Writes JSON, a Markdown table next to it, and ``context_size.png``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from seal_nodes.core import events as ev
from seal_nodes.core.thinking.lm.registry import make_model
from seal_nodes.core.thinking.lm.scripted import split_pieces
from seal_nodes.tools.charts import line_chart
from seal_nodes.tools.scenario import SimClock
from seal_nodes.core.thinking.commands import Say
from seal_nodes.core.thinking.thinker import Thinker, ThinkerConfig

OBJECTS = {"red_cube", "green_cube", "blue_cube"}
ANSWER = ("<think>The user asks about the table. I know three cubes and a bin.</think>"
          "<assistant>There are three cubes on the table, red, green and blue, and a bin.</assistant>")
QUESTIONS = ("What can you see on the table?", "Tell me a fun fact about robots?", "How do you pick things up?",
             "What colour do you like best?", "Why is the sky blue?", "Can you describe the bin?",
             "What is your name?", "How far can your arm reach?", "What would you do with a green cube?",
             "Do you ever get tired?", "What is the heaviest thing you can lift?", "How do you see the cubes?")


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _turn(th: Thinker, text: str, until_ms: float, stop_at_first: bool = True) -> tuple[float | None, list]:
    """Feed a final transcript on the wall clock; ms until the first Say (None: none said).
    The returned commands are (ms, command) pairs."""
    t0 = time.monotonic_ns()
    cmds = [(0.0, c) for c in th.handle(ev.Event(ev.SPEECH_END, t0, text=text, trace_id=ev.new_trace_id()))]
    first = 0.0 if any(isinstance(c, Say) for _, c in cmds) else None
    while (th.gen is not None or first is None) and (time.monotonic_ns() - t0) / 1e6 < until_ms:
        new = th.tick()
        now = (time.monotonic_ns() - t0) / 1e6
        cmds += [(now, c) for c in new]
        if first is None and any(isinstance(c, Say) for c in new):
            first = now
            if stop_at_first:
                break
        time.sleep(0.0005)
    return first, cmds


def scripted_first_words(turns: int) -> dict:
    """The engine's overhead over a model of known speed (100 tokens/s, wall clock)."""
    pieces = split_pieces(ANSWER)
    first_clause = next(i for i, p in enumerate(pieces) if p.endswith(",") and i > 12) + 2  # the space after it
    ideal_ms = first_clause * 10.0
    model = make_model("scripted", script=[ANSWER] * turns, tokens_per_s=100.0)
    th = Thinker(model, set(OBJECTS), config=ThinkerConfig(fast_path=False, think_while_listening=False))
    lat = []
    for i in range(turns):
        first, _ = _turn(th, QUESTIONS[i % len(QUESTIONS)], 5000)
        th.close()
        th.speaking.clear()
        if first is not None:
            lat.append(first)
    over = [v - ideal_ms for v in lat]
    return {"turns": turns, "model_schedule_ms": ideal_ms, "first_say_p50_ms": pct(lat, 50),
            "first_say_p99_ms": pct(lat, 99), "overhead_p50_ms": pct(over, 50), "overhead_p99_ms": pct(over, 99)}


def fast_path(turns: int) -> dict:
    th = Thinker(None, set(OBJECTS))
    lat = []
    for i in range(turns):
        t0 = time.perf_counter()
        cmds = th.handle(ev.Event(ev.SPEECH_END, time.monotonic_ns(), text="Put the red cube in the bin.",
                                  trace_id=f"f{i}"))
        lat.append((time.perf_counter() - t0) * 1e3)
        assert any(isinstance(c, Say) for c in cmds)
        th.speaking.clear()
    return {"turns": turns, "decide_p50_ms": pct(lat, 50), "decide_p99_ms": pct(lat, 99)}


def scripted_resume(turns: int) -> dict:
    """The user's new words arrive while the agent speaks and thinks: time to resumed words."""
    streams = []
    for _ in range(turns):
        streams += [ANSWER + "<think>" + " and more thought" * 40 + "</think>",
                    "<think>Interrupted; answer the new question.</think><assistant>Sure, the red one.</assistant>"]
    th = Thinker(make_model("scripted", script=streams, tokens_per_s=100.0), set(OBJECTS),
                 config=ThinkerConfig(fast_path=False, think_while_listening=False))
    lat = []
    for i in range(turns):
        _turn(th, "What is on the table?", 5000)
        time.sleep(0.25)  # speaking and thinking on
        th.tick()
        first, _ = _turn(th, "Wait, which one is red?", 5000)
        if first is not None:
            lat.append(first)
        th.close()
        th.speaking.clear()
    return {"turns": turns, "resume_p50_ms": pct(lat, 50), "resume_p99_ms": pct(lat, 99)}


def llm_turns(turns: int) -> dict:
    model = make_model("llama", seed=0)
    try:
        th = Thinker(model, set(OBJECTS))
        first, model_first, fillers, resume = [], [], 0, []
        for i in range(turns):
            before = th.filler_turns
            t_first, cmds = _turn(th, QUESTIONS[i % len(QUESTIONS)], 20000, stop_at_first=False)
            if t_first is not None:
                first.append(t_first)
            own = [t for t, c in cmds if isinstance(c, Say) and not c.filler]
            if own:
                model_first.append(own[0])
            fillers += th.filler_turns - before
            th.speaking.clear()
        # interruption: new words while the model is generating
        for i in range(max(2, turns // 3)):
            th.handle(ev.Event(ev.SPEECH_END, time.monotonic_ns(), text=QUESTIONS[i], trace_id=f"r{i}"))
            time.sleep(0.15)
            th.tick()
            t, _ = _turn(th, "Sorry, say that again please?", 20000)
            if t is not None:
                resume.append(t)
            th.close()
            th.speaking.clear()
        return {"turns": turns, "first_say_p50_ms": pct(first, 50), "first_say_p99_ms": pct(first, 99),
                "model_words_p50_ms": pct(model_first, 50), "model_words_p99_ms": pct(model_first, 99),
                "model_spoke_turns": len(model_first),
                "filler_share": round(fillers / max(1, turns), 2), "resume_p50_ms": pct(resume, 50),
                "resume_p99_ms": pct(resume, 99)}
    finally:
        model.close()


def context_growth(minutes: float = 60.0, turn_s: float = 6.0) -> dict:
    """An hour of conversation on a simulated clock: the context must plateau."""
    clock = SimClock()
    n = int(minutes * 60 / turn_s)
    model = make_model("scripted", script=[ANSWER] * n, tokens_per_s=100.0, clock_ns=clock)
    th = Thinker(model, set(OBJECTS), clock_ns=clock, config=ThinkerConfig(fast_path=False))
    sizes = []
    for i in range(n):
        th.handle(ev.Event(ev.SPEECH_END, clock(), text=f"Question number {i}: {QUESTIONS[i % len(QUESTIONS)]}",
                           trace_id=f"c{i}"))
        while th.gen is not None:
            clock.t += 10_000_000
            th.tick()
        th.speaking.clear()
        clock.t += int(turn_s * 1e9)
        sizes.append(len(th.context.render()))
    return {"turns": n, "minutes": minutes, "chars_max": max(sizes), "chars_last": sizes[-1],
            "chars_at_10_turns": sizes[min(9, n - 1)], "limit_chars": th.cfg.max_context_chars, "series": sizes}


def table(r: dict) -> str:
    s, f, c, res = r["scripted"], r["fast_path"], r["context"], r["scripted_resume"]
    rows = [("first words, scripted 100 tok/s (p50/p99 ms)", f"{s['first_say_p50_ms']} / {s['first_say_p99_ms']}"),
            ("  model's own schedule (ms)", f"{s['model_schedule_ms']}"),
            ("  thinker overhead (p50/p99 ms)", f"{s['overhead_p50_ms']} / {s['overhead_p99_ms']}"),
            ("fast path decision (p50/p99 ms)", f"{f['decide_p50_ms']} / {f['decide_p99_ms']}"),
            ("interruption → resumed words, scripted (p50/p99 ms)", f"{res['resume_p50_ms']} / {res['resume_p99_ms']}")]
    if r.get("llm"):
        llm = r["llm"]
        rows += [("first words, SmolLM2 (p50/p99 ms)", f"{llm['first_say_p50_ms']} / {llm['first_say_p99_ms']}"),
                 ("  the model's own first words (p50/p99 ms)",
                  f"{llm['model_words_p50_ms']} / {llm['model_words_p99_ms']} ({llm['model_spoke_turns']} turns)"),
                 ("  turns that needed a filler", f"{llm['filler_share']:.0%}"),
                 ("interruption → resumed words, SmolLM2 (p50/p99 ms)", f"{llm['resume_p50_ms']} / {llm['resume_p99_ms']}")]
    rows += [(f"context after {c['turns']} turns ({c['minutes']:.0f} min), chars: max / last / limit",
              f"{c['chars_max']} / {c['chars_last']} / {c['limit_chars']}")]
    out = ["| measure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(out) + "\n\nBudget (DESIGN.md): first words ≤ 500 ms after the user stops.\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal bench-think", description=__doc__.splitlines()[0])
    ap.add_argument("--json", default="out/think_bench.json")
    ap.add_argument("--turns", type=int, default=12)
    ap.add_argument("--no-llm", action="store_true", help="skip the embedded LLM measurements")
    args = ap.parse_args(argv)
    steps = [("scripted", lambda: scripted_first_words(args.turns)), ("fast_path", lambda: fast_path(200)),
             ("scripted_resume", lambda: scripted_resume(max(3, args.turns // 2))), ("context", context_growth)]
    if not args.no_llm:
        steps.append(("llm", lambda: llm_turns(args.turns)))
    result: dict = {}
    for i, (name, fn) in enumerate(steps, 1):
        print(f"[{i}/{len(steps)}] {name} …", file=sys.stderr, flush=True)
        result[name] = fn()
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    line_chart(out.with_name("context_size.png"), {"context": result["context"]["series"]},
               title="context size over the conversation", xlabel="turn", ylabel="characters",
               limits={"limit": result["context"]["limit_chars"]}, y_from_zero=True)
    out.write_text(json.dumps(result, indent=2))
    md = table(result)
    out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
