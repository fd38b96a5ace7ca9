"""The talk's interactive-ReAct examples, shipped as scenarios, replayed with the scripted model
on a simulated clock: each transcript must show the behaviour its example is about."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from seal_nodes.core.thinking.lm.base import ANSWER, FREE, THINK_ONLY
from seal_nodes.core.thinking.lm.scripted import ScriptedModel
from seal_nodes.tools.scenario import SimClock, load_scenario
from seal_nodes.tools.think import SCENARIOS_DIR, main, run_scenario

pytestmark = pytest.mark.unit


def play(name: str, **kw) -> tuple[dict, ScriptedModel]:
    sc = load_scenario(SCENARIOS_DIR / f"{name}.yaml")
    clock = SimClock()
    model = ScriptedModel(sc.script, tokens_per_s=sc.tokens_per_s or 100.0, clock_ns=clock)
    return run_scenario(sc, "scripted", model=model, clock=clock, **kw), model


def lines(result: dict) -> list[str]:
    return result["transcript"].splitlines()


def test_every_shipped_scenario_loads_and_uses_its_whole_script():
    files = sorted(SCENARIOS_DIR.glob("*.yaml"))
    assert len(files) >= 5
    for f in files:
        result, model = play(f.stem)
        assert len(model.prompts) == len(load_scenario(f).script), f.stem  # nothing left over, nothing missing
        assert not [r for r in result["reports"] if "could not start" in r], f.stem


def test_alaska_airlines_interruptions_wait_and_silence_hint():
    result, _ = play("alaska_airlines")
    t = lines(result)
    cut = [i for i, line in enumerate(t) if line.startswith("<assistant>I'd like to book") and "<interrupted/>" in line]
    assert cut, "the first answer is cut by the agent on the phone"
    assert t[cut[0] + 1] == "<user>What date are you planning to depart?</user>"
    said = re.match(r"<assistant>(.*)<interrupted/></assistant>", t[cut[0]]).group(1)
    assert 0 < len(said.split()) < len("I'd like to book a flight from San Francisco to Seattle".split()) + 8
    hold = t.index("<user>Let me check that for you, please hold.</user>")
    assert "<assistant><wait></assistant>" in t[hold + 1:hold + 3]
    hint = [i for i, line in enumerate(t) if "[SYSTEM HINT]" in line]
    assert hint and "<assistant>Have you found anything?</assistant>" in t[hint[0] + 1:hint[0] + 3]
    assert sum("<interrupted/>" in line for line in t) == 2
    # one latency per user turn; the turn answered by <wait> has no first words
    fs = result["first_say_ms"]
    assert len(fs) == 5 and fs[2] is None and all(v is not None and v < 500 for i, v in enumerate(fs) if i != 2)


def test_plan_change_keeps_the_interrupted_thought_and_continues_it():
    result, model = play("plan_change")
    t = lines(result)
    first_user = next(i for i, line in enumerate(t) if line.startswith("<user>I want to change my plan"))
    assert t[first_user + 1].startswith("<think>The user wants to change") and t[first_user + 1].endswith(
        "<interrupted/></think>")
    assert t[first_user + 2].startswith("<user>By the way")
    # the model resumed with the interrupted thought and the new input in its context
    resumed = model.prompts[1].transcript
    assert "<interrupted/></think>" in resumed and resumed.rstrip().endswith("79 dollars a month?</user>")
    assert any(line.startswith("<assistant>Yes, the $79 plan.") for line in t)
    # the filler meant while the user was still talking was never said, so it is not in the record
    assert not any(line == "<assistant><interrupted/></assistant>" for line in t)


def test_confirm_order_speaks_while_thinking_and_resumes_after_the_reply():
    result, _ = play("confirm_order")
    t = lines(result)
    q = t.index("<user>Do you confirm ordering this plan?</user>")
    assert t[q + 1].startswith("<think>") and t[q + 2].startswith("<assistant>Let me just confirm")
    assert t[q + 3].startswith("<think>Let me think deeply") and t[q + 3].endswith("<interrupted/></think>")
    assert t[q + 4] == "<user>Yes, 79 dollars a month.</user>"
    assert "<assistant>Let me think...</assistant>" in t
    assert t[-1] == "<assistant>Great, I'll book it now!</assistant>"
    # the deep thought ran while the preliminary answer was being spoken
    segs = result["segments"]
    say_t = next(s["t_ms"] for s in segs if s["text"].startswith("Let me just confirm"))
    think_t = next(s["t_ms"] for s in segs if s["text"].startswith("Let me think deeply"))
    # (the 8 words of the answer take ~3 s to speak; the thought starts within the first second)
    assert say_t < think_t < say_t + 1000


def test_robot_arm_refuses_unknown_objects_and_smuggled_actions():
    result, _ = play("robot_arm")
    t = result["transcript"]
    assert "<observation>refused place(object=purple_cube, target=bin): unknown object" in t
    assert "<assistant>Sorry, I can't do that. I don't see purple cube here.</assistant>" in t
    acts = [c["text"] for c in result["commands"] if c["kind"] == "act"]
    assert acts == ["place(object=red_cube, target=bin)"]
    assert "<observation>place(object=red_cube, target=bin) succeeded" in t
    assert "&lt;action&gt;home()&lt;/action&gt;" in t and "<action>home()</action>" not in t


def test_think_while_listening_revises_the_user_line_and_answers_without_rethinking():
    result, model = play("think_while_listening")
    forces = [p.force for p in model.prompts]
    assert forces == [THINK_ONLY, ANSWER]
    partial = re.search(r"<user>(.*)</user>", model.prompts[0].transcript).group(1)
    final = "Could you tell me which cube is closest to the bin?"
    assert final.startswith(partial) and len(partial) < len(final)  # thought began mid-sentence
    assert f"<user>{final}</user>" in result["transcript"]
    assert result["transcript"].count("<user>") == 1  # revised in place, not a second turn
    assert result["first_say_ms"][0] < 350 and result["fillers"] == 0


def test_without_the_early_thought_the_answer_comes_later():
    """The same conversation with think-while-listening off: one FREE generation that thinks
    first, so the first words come later (the reason for thinking while listening)."""
    sc = load_scenario(SCENARIOS_DIR / "think_while_listening.yaml")
    clock = SimClock()
    joined = sc.script[0] + sc.script[1]
    model = ScriptedModel([joined], tokens_per_s=100.0, clock_ns=clock)
    from seal_nodes.core.thinking.thinker import ThinkerConfig

    slow = run_scenario(sc, "scripted", model=model, clock=clock,
                        config=ThinkerConfig(fast_path=False, think_while_listening=False))
    fast, _ = play("think_while_listening")
    assert [p.force for p in model.prompts] == [FREE]
    assert slow["first_say_ms"][0] > fast["first_say_ms"][0] + 100


def test_seal_think_writes_the_documented_json(tmp_path: Path, capsys):
    out = tmp_path / "think.json"
    assert main(["--scenario", "alaska_airlines", "--backend", "scripted", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert set(data) >= {"transcript", "segments", "first_say_ms"}
    assert all(set(s) >= {"t_ms", "kind", "text"} for s in data["segments"])
    assert data["transcript"] in capsys.readouterr().out


def test_seal_think_bad_scenario_is_a_clear_error(tmp_path: Path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("events: [{user: hi}]")
    assert main(["--scenario", str(bad)]) == 2
    assert "t_ms" in capsys.readouterr().err
    assert main(["--scenario", str(tmp_path / "missing.yaml")]) == 2
