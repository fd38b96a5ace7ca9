"""``seal diagnose RECORDING.mcap [--out DIR]``: what went wrong in a run, and regression cases for it.

Prints each finding in plain words (which event came late, which output was refused, which
action failed and its message) and writes ``DIR/diagnosis.md`` plus one case per fault: a
``seal think`` scenario with an ``expect`` block for a thinking-layer fault (``case_N.yaml``),
seed + instruction for an arm fault (``arm_case_N.json``; the seed is the one the recording's sim
node was launched with, ``--seed`` overrides). ``seal diagnose --check CASE`` plays a scenario case
and fails where the thinker does not do what it expects, or replays an arm case in the tabletop
world and fails where the task's own success test does.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from seal_nodes.core import events as ev
from seal_nodes.core.observe.trace.diagnose import ARM, THINKING, Finding, diagnose
from seal_nodes.core.observe.trace.episode import build_episode
from seal_nodes.core.observe.trace.reader import Recording, TraceError, read_recording
from seal_nodes.tools.arm_case import BACKENDS as ARM_BACKENDS
from seal_nodes.tools.arm_case import ArmCaseError, load_case, replay_case
from seal_nodes.tools.latency import BUDGETS
from seal_nodes.tools.recording import LAUNCH_ARGS, NODE_PARAMS
from seal_nodes.tools.scenario import Scenario, ScenarioError, load_scenario
from seal_nodes.tools.think import run_scenario

TURN_GAP_MS = 10_000  # replayed user lines this far apart, so each turn (and its action) is done first
# The model's place in a case: a reply that never acts, so a case passes only where the thinker's own
# reading (fast path, understanding) carries the request out.
FALLBACK = "<assistant>Sorry, I did not get that.</assistant>"


def scenario_case(findings: list[Finding], rec: Recording, name: str) -> dict[str, Any]:
    """A ``seal think`` scenario replaying the user's words of ``findings`` (one trace) with what to expect."""
    said_at = {}
    for e in rec.events:
        if e.type == ev.SPEECH_END:
            said_at.setdefault(e.text, e.log_ns)
    words = sorted({w for f in findings for w in f.user_texts}, key=lambda w: said_at.get(w, 0))
    expected = next((f.expected_action for f in findings if f.expected_action), "")
    seen = sorted({str(e.payload.get("name")) for e in rec.events if e.type == ev.OBJECT_SEEN and e.payload.get("name")})
    expect: dict[str, Any] = {"answered": True}
    if expected:
        expect["actions"] = [expected]
    return {"name": name, "description": " / ".join(f.text for f in findings),
            "recording": rec.path, "trace_id": findings[0].trace_id,
            "known_objects": sorted(set(Scenario("", []).known_objects) | set(seen)),
            "thinker": {"fast_path": True}, "script": [FALLBACK] * len(words),
            "events": [{"t_ms": i * TURN_GAP_MS, "user": w} for i, w in enumerate(words)], "expect": expect}


def launched_with(rec: Recording) -> dict[str, Any]:
    """What an arm case needs of how the recorded run was launched: the sim node's parameters
    (layout seed, scene, …), the policy backend and its control rate; empty where not recorded."""
    sim = {k: yaml.safe_load(v) for k, v in rec.metadata.get(NODE_PARAMS + "sim", {}).items()}
    args, policy = rec.metadata.get(LAUNCH_ARGS, {}), rec.metadata.get(NODE_PARAMS + "vla_policy", {})
    out: dict[str, Any] = {}
    if isinstance(sim.get("seed"), int):
        out["seed"] = sim["seed"]
    if sim:
        out["sim"] = {k: v for k, v in sim.items() if k != "seed"}
    backend = policy.get("backend") or args.get("policy_backend")
    if backend:
        out["backend"] = backend
    hz = yaml.safe_load(policy["control_hz"]) if "control_hz" in policy else None
    if isinstance(hz, (int, float)) and hz > 0:
        out["control_hz"] = float(hz)
    return out


def write_cases(findings: list[Finding], rec: Recording, out: Path, seed: int | None) -> list[Path]:
    """One case per thinking-layer trace and per failed arm action; their paths. ``seed``: the
    layout seed of the arm cases where the recording does not carry it (or to override it)."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    by_trace: dict[str, list[Finding]] = {}
    for f in findings:
        if f.layer == THINKING and f.user_texts:
            by_trace.setdefault(f.trace_id, []).append(f)
    stem = Path(rec.path).stem
    for i, group in enumerate(by_trace.values(), 1):
        path = out / f"case_{i}.yaml"
        path.write_text(yaml.safe_dump(scenario_case(group, rec, f"{stem}_case_{i}"), sort_keys=False, width=110, allow_unicode=True))
        written.append(path)
    launch = launched_with(rec)
    for i, f in enumerate((f for f in findings if f.layer == ARM), 1):
        path = out / f"arm_case_{i}.json"
        case = {"kind": "arm", "seed": seed if seed is not None else launch.get("seed"), "instruction": f.instruction,
                "action": f.action, "failure": f.text, "recording": rec.path, "trace_id": f.trace_id,
                **{k: v for k, v in launch.items() if k != "seed"}}
        path.write_text(json.dumps(case, indent=1) + "\n")
        written.append(path)
    return written


def check_case(path: str | Path, known_objects: set[str] | None = None, **run: Any) -> list[str]:
    """Play a scenario case; what it expected that did not happen (empty: it passes).

    ``known_objects`` replaces the case's (the thinker's object catalog); ``run``: ``run_scenario``'s options."""
    sc = load_scenario(path)
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    expect = raw.get("expect") if isinstance(raw, dict) else None
    if not isinstance(expect, dict) or not expect:
        raise ScenarioError(f"{path}: a case needs an 'expect' mapping (actions, answered)")
    if known_objects is not None:
        sc.known_objects = sorted(known_objects)
    result = run_scenario(sc, **run)
    acts = [c["text"] for c in result["commands"] if c["kind"] == "act"]
    said = [c["text"] for c in result["commands"] if c["kind"] == "say"]
    failures = [f"expected {a}; the thinker did {acts or 'no action'} and said {said or 'nothing'}"
                for a in expect.get("actions", []) if a not in acts]
    if expect.get("answered") and any(ms is None for ms in result["first_say_ms"]):
        failures.append(f"a user turn went unanswered (first_say_ms {result['first_say_ms']})")
    return failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal diagnose", description=__doc__.splitlines()[0])
    ap.add_argument("recording", nargs="?", help="an MCAP recording (seal demo writes one)")
    ap.add_argument("--out", help="where to write diagnosis.md and the cases (default: diagnosis/ beside it)")
    ap.add_argument("--seed", type=int, help="the run's layout seed for arm cases (default: the one it was launched "
                                             "with, where the recording says)")
    ap.add_argument("--check", nargs="+", metavar="CASE",
                    help="play these cases instead (case_N.yaml: the thinker; arm_case_N.json: the tabletop world); "
                         "fail on a miss")
    ap.add_argument("--backend", choices=sorted(ARM_BACKENDS),
                    help="arm cases: the manipulation backend (default: the case's, else the learned policy)")
    args = ap.parse_args(argv)
    try:
        if args.check:
            return _check(args.check, args.backend)
        if not args.recording:
            ap.error("a recording (or --check CASE) is needed")
        rec = read_recording(args.recording)
    except (TraceError, ScenarioError, ArmCaseError, ValueError) as exc:
        print(f"seal diagnose: {exc}", file=sys.stderr)
        return 2
    findings = diagnose(build_episode(rec), {p: b.budget_ms for p, b in BUDGETS.items()})
    out = Path(args.out) if args.out else Path(args.recording).with_name("diagnosis")
    cases = write_cases(findings, rec, out, args.seed)
    lines = [f"- **{f.kind}** ({f.layer}): {f.text}" for f in findings] or ["- nothing went wrong that the trace can see"]
    report = f"# Diagnosis of {args.recording}\n\n" + "\n".join(lines) + "\n\nRegression cases: " + (
        ", ".join(p.name for p in cases) or "none") + "\n"
    (out / "diagnosis.md").write_text(report)
    print(report)
    return 1 if findings else 0


def check_arm_case(path: str | Path, backend: str | None = None) -> tuple[list[str], str]:
    """Replay an arm case: (why it failed, empty where the task's success test passes; what happened)."""
    result = replay_case(load_case(path), backend)
    return ([] if result.success else [result.reason]), result.reason


def _check(cases: list[str], backend: str | None = None) -> int:
    failed = 0
    for case in cases:
        misses, note = check_arm_case(case, backend) if Path(case).suffix == ".json" else (check_case(case), "")
        failed += bool(misses)
        print(f"{'FAIL' if misses else 'ok'}: {case}" + "".join(f"\n  {m}" for m in (misses or [note]) if m))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
