"""``seal think``: play a timed scenario against the thinker and write what it thought and said.

    seal think --scenario scenarios/alaska_airlines.yaml --backend scripted --json out/think.json

The scripted backend replays the scenario's ``script`` on a simulated clock (exact, instant);
the other backends run on the wall clock, so latencies are the model's real ones.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from seal_nodes.core.thinking.intent import IntentReader
from seal_nodes.core.thinking.references import scene_objects
from seal_nodes.core.thinking.lm.base import LanguageModel
from seal_nodes.core.thinking.lm.registry import BACKENDS, make_model
from seal_nodes.core.thinking.thinker import Thinker, ThinkerConfig
from seal_nodes.tools.scenario import Scenario, ScenarioError, ScenarioWorld, SimClock, WallClock, load_scenario

SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"  # the talk's examples


def find_scenario(name: str) -> Path:
    """A path, or the name of a shipped scenario (``alaska_airlines``)."""
    p = Path(name)
    if p.exists() or p.suffix:
        return p
    return SCENARIOS_DIR / f"{name}.yaml"


def run_scenario(scenario: Scenario, backend: str = "scripted", tokens_per_s: float | None = None,
                 config: ThinkerConfig | None = None, model: LanguageModel | None = None,
                 clock: Callable[[], int] | None = None, intent: IntentReader | None = None,
                 understanding: bool | None = None, wrap: Callable[[Thinker], Any] | None = None,
                 **params: Any) -> dict:
    """Play ``scenario``; a ``model`` given by the caller must run on ``clock`` (if given).
    Without one, ``make_model`` builds ``backend`` with ``params``, the scenario's script and ``clock``.
    ``understanding`` (default: on when ``intent`` is given or the conversation is not scripted)
    reads user turns with ``intent``, an IntentReader built here if none is given (share one
    across runs: it loads MiniLM). ``wrap`` puts an observer around the thinker (a recorder of its
    inputs and outputs) that the world talks to instead."""
    simulated = backend in ("scripted", "commands")
    if understanding is None:
        understanding = intent is not None or backend != "scripted"
    if clock is None:
        clock = SimClock() if simulated else WallClock()
    if config is None:
        # A scripted conversation is the whole truth: no fast path in front of it, and it
        # thinks while listening only where the scenario says so (each thought takes a stream).
        scripted = backend == "scripted"
        fields = {"fast_path": not scripted, "think_while_listening": not scripted, "system_extra": scenario.system,
                  "understanding": understanding}
        fields.update(scenario.thinker)
        try:
            config = ThinkerConfig(**fields)
        except TypeError as exc:
            raise ScenarioError(f"scenario {scenario.name!r}: bad 'thinker' settings: {exc}") from exc
    if model is None:
        rate = tokens_per_s or scenario.tokens_per_s or 100.0
        model = make_model(backend, script=scenario.script, tokens_per_s=rate, clock_ns=clock, **params)
    if understanding and config.understanding and intent is None:
        intent = IntentReader()
        # loaded now, so the first turn's latency is the thinker's, not MiniLM's loading
        intent.read("pick up the cube", scene_objects(set(scenario.known_objects), {}))
    thinker = Thinker(model, set(scenario.known_objects), clock_ns=clock, config=config,
                      intent=intent if understanding else None)
    world = ScenarioWorld(scenario, wrap(thinker) if wrap else thinker, clock, simulated=simulated)
    try:
        world.run()
    finally:
        thinker.close()
    out = world.result()
    out["backend"] = backend
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal think", description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", required=True,
                    help="scenario file (YAML or JSON; see seal_nodes/tools/scenarios/README.md) or a shipped one's name")
    ap.add_argument("--backend", default="scripted", choices=BACKENDS)
    ap.add_argument("--json", help="write the result here")
    ap.add_argument("--record", metavar="MCAP", help="also record the run as the stack would (seal trace, seal diagnose)")
    ap.add_argument("--tokens-per-s", type=float, help="scripted backend's replay rate (default: the "
                    "scenario's, else 100)")
    ap.add_argument("--model", help="transformers: model path; llama: GGUF path; openai: model name")
    ap.add_argument("--url", help="openai: base URL of the endpoint (e.g. http://127.0.0.1:8080)")
    ap.add_argument("--understanding", action=argparse.BooleanOptionalAction, default=None,
                    help="read each user turn with the intent step before the model (default: on, except with "
                         "the scripted backend); --no-understanding: the fast path only")
    args = ap.parse_args(argv)
    try:
        scenario = load_scenario(find_scenario(args.scenario))
        params = {"openai_url": args.url or ""}
        if args.backend == "openai":
            params["openai_model"] = args.model or "default"
        else:
            params["model_path"] = args.model or ""
        if args.record:
            from seal_nodes.tools.scenario_recording import record_scenario

            result = record_scenario(scenario, args.record, backend=args.backend, tokens_per_s=args.tokens_per_s,
                                     understanding=args.understanding, **params)
        else:
            result = run_scenario(scenario, args.backend, args.tokens_per_s, understanding=args.understanding, **params)
    except (ScenarioError, ValueError, RuntimeError) as exc:
        print(f"seal think: {exc}", file=sys.stderr)
        return 2
    print(result["transcript"])
    print(f"\nfirst_say_ms per user turn: {result['first_say_ms']}  fillers: {result['fillers']}")
    for r in result["reports"]:
        print(f"report: {r}", file=sys.stderr)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
