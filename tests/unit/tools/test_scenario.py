"""Scenarios: parsing and loading, the simulated voice, and ScenarioWorld's perception events."""
from __future__ import annotations

import heapq
import json

import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.thinking.commands import Say
from seal_nodes.core.thinking.thinker import Thinker, ThinkerConfig
from seal_nodes.tools.scenario import (DECISION_MS, FRAGMENT_EVERY_MS, SILENCE_TEXT, USER_WORDS_PER_S, Scenario,
                                      ScenarioError, ScenarioWorld, SimClock, VoiceSim, load_scenario,
                                      parse_scenario, user_duration_ms)

pytestmark = pytest.mark.unit

OK_EVENTS = [{"t_ms": 0, "user": "hello"}]


# --- parse_scenario ------------------------------------------------------------------------------
def test_minimal_scenario_and_defaults():
    sc = parse_scenario({"events": OK_EVENTS}, "mine.yaml")
    assert isinstance(sc, Scenario)
    assert sc.name == "mine.yaml"  # no name: where it came from
    assert sc.entries == OK_EVENTS
    assert sc.script == []
    assert sc.known_objects == ["red_cube", "green_cube", "blue_cube"]
    assert sc.voice == {} and sc.actions == {} and sc.thinker == {}
    assert sc.end_ms is None and sc.tokens_per_s is None
    assert sc.description == "" and sc.system == ""


def test_full_scenario_fields():
    data = {
        "name": "demo", "description": "d", "system": "You sell tickets.",
        "events": [{"t_ms": 500, "silence": 3}, {"t_ms": 0, "user": "hi"}, {"t_ms": 200.5, "object_seen": "mug"}],
        "script": ["<assistant>Hi.</assistant>"], "known_objects": ["mug"], "voice": {"words_per_s": 3},
        "actions": {"auto": False}, "end_ms": 9000, "thinker": {"fast_path": False}, "tokens_per_s": 50,
    }
    sc = parse_scenario(data)
    assert sc.name == "demo" and sc.description == "d" and sc.system == "You sell tickets."
    assert [e["t_ms"] for e in sc.entries] == [0, 200.5, 500]  # sorted by time
    assert sc.script == ["<assistant>Hi.</assistant>"]
    assert sc.known_objects == ["mug"]
    assert sc.voice == {"words_per_s": 3} and sc.actions == {"auto": False}
    assert sc.end_ms == 9000 and sc.thinker == {"fast_path": False} and sc.tokens_per_s == 50


def test_sorting_is_stable_for_equal_times():
    sc = parse_scenario({"events": [{"t_ms": 5, "user": "a"}, {"t_ms": 5, "user": "b"}, {"t_ms": 1, "user": "c"}]})
    assert [e["user"] for e in sc.entries] == ["c", "a", "b"]


@pytest.mark.parametrize("data, words", [
    ([1, 2], ["top level", "mapping"]),
    ("events: []", ["top level", "mapping"]),
    (None, ["top level", "mapping"]),
    ({}, ["'events'", "non-empty list"]),
    ({"events": []}, ["'events'", "non-empty list"]),
    ({"events": {"t_ms": 0, "user": "x"}}, ["'events'", "non-empty list"]),
    ({"events": [{"user": "x"}]}, ["event 0", "t_ms"]),
    ({"events": [{"t_ms": 0, "user": "x"}, {"t_ms": "soon", "user": "y"}]}, ["event 1", "t_ms"]),
    ({"events": ["hello"]}, ["event 0", "t_ms"]),
    ({"events": [{"t_ms": 0, "user": "x", "silence": 3}]}, ["event 0", "exactly one", "user", "silence"]),
    ({"events": [{"t_ms": 0}]}, ["event 0", "exactly one"]),
    ({"events": [{"t_ms": 0, "user": 42}]}, ["event 0", "user must be a string"]),
    ({"events": OK_EVENTS, "script": "<assistant>x</assistant>"}, ["'script'", "list of strings"]),
    ({"events": OK_EVENTS, "script": ["ok", 3]}, ["'script'", "list of strings"]),
])
def test_parse_errors_name_the_problem(data, words):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, "where.yaml")
    msg = str(info.value)
    assert msg.startswith("where.yaml")
    for w in words:
        assert w in msg


def test_scenario_error_is_a_value_error():
    assert issubclass(ScenarioError, ValueError)


# --- load_scenario -------------------------------------------------------------------------------
def test_load_yaml_and_json(tmp_path):
    y = tmp_path / "s.yaml"
    y.write_text("name: yml\nevents:\n  - {t_ms: 0, user: hello there}\nscript: ['<assistant>Hi.</assistant>']\n")
    sc = load_scenario(y)
    assert sc.name == "yml" and sc.entries[0]["user"] == "hello there"
    assert sc.script == ["<assistant>Hi.</assistant>"]
    j = tmp_path / "s.json"
    j.write_text(json.dumps({"events": [{"t_ms": 1, "silence": 2}]}))
    sc = load_scenario(str(j))
    assert sc.name == str(j)
    assert sc.entries == [{"t_ms": 1, "silence": 2}]


@pytest.mark.parametrize("name, text, error", [
    ("bad.yaml", "events: [ {t_ms: 0, user: hi\n", "not valid YAML"),
    ("bad.json", '{"events": [', "not valid JSON"),
    ("nope.yaml", None, "cannot read scenario"),
])
def test_load_errors_name_the_file(tmp_path, name, text, error):
    p = tmp_path / name
    if text is not None:
        p.write_text(text)
    with pytest.raises(ScenarioError, match=error) as info:
        load_scenario(p)
    assert str(p) in str(info.value)


def test_load_a_directory(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path)


def test_load_non_utf8(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("events:\n  - {t_ms: 0, user: 'caf\u00e9'}\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match="cannot read scenario") as info:
        load_scenario(p)
    assert "utf-8" in str(info.value).lower()


def test_load_valid_yaml_but_bad_scenario_names_the_file(tmp_path):
    p = tmp_path / "list.yaml"
    p.write_text("- a\n- b\n")
    with pytest.raises(ScenarioError, match="top level must be a mapping") as info:
        load_scenario(p)
    assert str(p) in str(info.value)


def test_user_duration():
    assert user_duration_ms("hi") == 400.0  # a floor for short lines
    words = "one two three four five six seven eight nine ten"
    assert user_duration_ms(words) == pytest.approx(10 / USER_WORDS_PER_S * 1000.0)


def test_sim_clock_only_moves_when_set():
    c = SimClock(start_ns=5)
    assert c() == 5 and c() == 5
    c.t = 9
    assert c() == 9


# --- VoiceSim ------------------------------------------------------------------------------------
def say(text: str, uid: str = "u1") -> Say:
    return Say(text, uid, "trace")


def test_voice_plays_after_the_first_audio_lead():
    v = VoiceSim(words_per_s=2.0, first_audio_ms=100.0)
    s = say("one two")  # 1000 ms of audio
    assert v.say(s) is True
    assert v.busy
    assert v.next_change_ms() == pytest.approx(1100.0)
    assert v.advance(50.0, now_ms=50.0) == []
    assert v.next_change_ms() == pytest.approx(1050.0)
    assert "u1" not in v.first_audio_at  # still silent
    assert v.advance(1049.0, now_ms=1099.0) == []
    assert v.first_audio_at["u1"] == pytest.approx(100.0)
    assert v.advance(1.0, now_ms=1100.0) == [(s, "one two", False)]
    assert not v.busy
    assert v.next_change_ms() is None


def test_voice_queue_plays_back_to_back_without_a_second_lead():
    v = VoiceSim(words_per_s=2.0, first_audio_ms=100.0)
    a, b = say("one two", "a"), say("three four five six", "b")
    v.say(a)
    v.say(b)
    done = v.advance(100.0 + 1000.0 + 2000.0, now_ms=3100.0)
    assert done == [(a, "one two", False), (b, "three four five six", False)]
    assert v.first_audio_at == {"a": pytest.approx(100.0), "b": pytest.approx(1100.0)}


def test_voice_lead_again_after_idle():
    v = VoiceSim(words_per_s=2.0, first_audio_ms=100.0)
    v.say(say("one", "a"))
    v.advance(600.0, now_ms=600.0)
    assert not v.busy
    v.say(say("two", "b"))
    assert v.next_change_ms() == pytest.approx(600.0)
    v.advance(600.0, now_ms=5600.0)
    assert v.first_audio_at["b"] == pytest.approx(5100.0)


def test_voice_speaks_only_the_words_not_the_tags():
    v = VoiceSim(words_per_s=1.0, first_audio_ms=0.0)
    s = say("[THINKING] Hello there.")
    v.say(s)
    assert v.next_change_ms() == pytest.approx(2000.0)
    assert v.advance(2000.0, now_ms=2000.0) == [(s, "Hello there.", False)]


def test_pause_holds_progress():
    v = VoiceSim(words_per_s=2.0, first_audio_ms=0.0)
    s = say("a b c d")  # 2000 ms
    v.say(s)
    assert v.advance(500.0, now_ms=500.0) == []
    v.paused = True
    assert v.next_change_ms() is None
    assert v.advance(10_000.0, now_ms=10_500.0) == []  # nothing plays while paused
    assert v.busy
    v.paused = False
    assert v.next_change_ms() == pytest.approx(1500.0)
    assert v.advance(1499.0, now_ms=11_999.0) == []
    assert v.advance(1.0, now_ms=12_000.0) == [(s, "a b c d", False)]


def test_cancel_reports_the_words_fully_played_by_the_cut():
    v = VoiceSim(words_per_s=2.0, first_audio_ms=0.0)
    a, b = say("a b c d", "a"), say("e f", "b")
    v.say(a)
    v.say(b)
    v.advance(1400.0, now_ms=1400.0)  # 2.8 words' worth: two whole words
    v.paused = True
    assert v.cancel() == [(a, "a b", True), (b, "", True)]
    assert not v.busy and not v.paused
    assert v.next_change_ms() is None
    assert v.advance(5000.0, now_ms=6400.0) == []


def test_cancel_at_a_word_boundary_and_before_any_audio():
    v = VoiceSim(words_per_s=2.0, first_audio_ms=200.0)
    s = say("a b c d")
    v.say(s)
    v.advance(150.0, now_ms=150.0)  # still in the lead
    assert v.cancel() == [(s, "", True)]
    v.say(s)
    v.advance(200.0 + 1000.0, now_ms=2000.0)
    assert v.cancel() == [(s, "a b", True)]
    # a new utterance after the cut gets the lead again
    v.say(s)
    assert v.next_change_ms() == pytest.approx(2200.0)


def test_cancel_when_idle_is_nothing():
    assert VoiceSim().cancel() == []


@pytest.mark.parametrize("text", ["", "   ", "[THINKING]", "[EMO:happy] [BREATH]", "x" * 6000])
def test_refused_text_returns_false_and_queues_nothing(text):
    v = VoiceSim()
    assert v.say(say(text)) is False
    assert not v.busy
    assert v.next_change_ms() is None


# --- ScenarioWorld: expanding user lines --------------------------------------------------------
def make_world(events, **extra) -> ScenarioWorld:
    sc = parse_scenario({"events": events, **extra})
    clock = SimClock()
    thinker = Thinker(None, set(sc.known_objects), clock_ns=clock, config=ThinkerConfig())
    return ScenarioWorld(sc, thinker, clock, simulated=True)


def drain(world: ScenarioWorld) -> list[tuple[float, ev.Event]]:
    out = []
    while world.timeline:
        ms, _, e = heapq.heappop(world.timeline)
        out.append((ms, e))
    return out


def of(timeline, kind):
    return [(ms, e) for ms, e in timeline if e.type == kind]


SIX = "please pick up the red cube"  # 6 words: 2307.7 ms at the default pace


def test_user_line_becomes_start_fragments_and_end():
    w = make_world([{"t_ms": 1000, "user": SIX}])
    w._expand(w.sc.entries[0])
    tl = drain(w)
    dur = user_duration_ms(SIX)
    assert [e.type for _, e in tl] == [ev.SPEECH_START] + [ev.SPEECH_FRAGMENT] * 7 + [ev.SPEECH_END]
    (t_start, start), = of(tl, ev.SPEECH_START)
    assert t_start == 1000 and start.payload == {"agent_speaking": False, "onset_ns": w._at_ns(1000)}
    assert start.stamp_ns == w._at_ns(1000)
    frags = of(tl, ev.SPEECH_FRAGMENT)
    assert [ms for ms, _ in frags] == [1000 + k * FRAGMENT_EVERY_MS for k in range(1, 8)]
    texts = [e.text for _, e in frags]
    words = SIX.split()
    lengths = [len(t.split()) for t in texts]
    assert lengths == sorted(lengths) and lengths[0] >= 1 and lengths[-1] < len(words)  # growing prefixes
    assert len(set(texts)) > 1
    for t in texts:
        assert SIX.startswith(t)
    for ms, e in frags:
        assert e.stamp_ns == w._at_ns(ms)
    (t_end, end), = of(tl, ev.SPEECH_END)
    assert t_end == pytest.approx(1000 + dur)
    assert end.text == SIX
    assert end.payload == {"duration_ms": pytest.approx(dur), "offset_ns": w._at_ns(1000 + dur)}
    assert end.stamp_ns == w._at_ns(1000 + dur)
    assert {e.trace_id for _, e in frags} | {start.trace_id} == {end.trace_id}  # one user turn, one trace
    assert not of(tl, ev.INTERRUPT) and not of(tl, ev.BACKCHANNEL)


def test_user_line_with_duration_and_end_delay():
    w = make_world([{"t_ms": 0, "user": SIX, "duration_ms": 1000, "end_delay_ms": 250}])
    w._expand(w.sc.entries[0])
    tl = drain(w)
    assert [(ms, e.text) for ms, e in of(tl, ev.SPEECH_FRAGMENT)] == [
        (300, "please"), (600, "please pick up"), (900, "please pick up the red")]
    (t_end, end), = of(tl, ev.SPEECH_END)
    assert t_end == 1250  # perception's end-of-turn delay
    assert end.stamp_ns == w._at_ns(1000)  # stamped when the user stopped


def test_short_user_line_has_no_fragments():
    w = make_world([{"t_ms": 0, "user": "hi", "duration_ms": 300}])
    w._expand(w.sc.entries[0])
    assert [e.type for _, e in drain(w)] == [ev.SPEECH_START, ev.SPEECH_END]


def test_user_line_over_a_speaking_agent_interrupts_after_the_decision_time():
    w = make_world([{"t_ms": 2000, "user": SIX}])
    assert w.voice.say(Say("I am talking right now.", "u9", "tr"))
    w._expand(w.sc.entries[0])
    tl = drain(w)
    (_, start), = of(tl, ev.SPEECH_START)
    assert start.payload == {"agent_speaking": True, "onset_ns": w._at_ns(2000)}
    (t_int, interrupt), = of(tl, ev.INTERRUPT)
    assert {e.trace_id for _, e in tl} == {start.trace_id}  # the interrupt is of the same utterance
    assert t_int == 2000 + DECISION_MS
    assert interrupt.text == "please pick"
    assert interrupt.stamp_ns == w._at_ns(2000)  # the onset
    assert len(of(tl, ev.SPEECH_END)) == 1  # the turn still ends normally
    assert of(tl, ev.SPEECH_END)[0][1].text == SIX


def test_backchannel_over_a_speaking_agent():
    w = make_world([{"t_ms": 2000, "user": "uh-huh", "backchannel": True}])
    w.voice.say(Say("I am talking right now.", "u9", "tr"))
    w._expand(w.sc.entries[0])
    tl = drain(w)
    assert [e.type for _, e in tl] == [ev.SPEECH_START, ev.BACKCHANNEL]  # no fragments, no speech_end
    (t_bc, bc), = of(tl, ev.BACKCHANNEL)
    assert t_bc == 2000 + DECISION_MS
    assert bc.text == "uh-huh" and bc.trace_id == tl[0][1].trace_id


def test_short_backchannel_decided_when_it_ends():
    w = make_world([{"t_ms": 0, "user": "mm", "backchannel": True, "duration_ms": 200}])
    w._expand(w.sc.entries[0])
    assert [(ms, e.type) for ms, e in drain(w)] == [(0, ev.SPEECH_START), (200, ev.BACKCHANNEL)]


def test_other_entries_expand_to_their_events():
    w = make_world([{"t_ms": 100, "silence": 4}, {"t_ms": 200, "object_seen": "mug"},
                    {"t_ms": 300, "event": {"type": "noise", "text": "bang", "payload": {"source": "transient"}}},
                    {"t_ms": 400, "event": "not a mapping"}])
    for e in w.sc.entries:
        w._expand(e)
    tl = drain(w)
    assert [(ms, e.type) for ms, e in tl] == [(100, ev.SILENCE), (200, ev.OBJECT_SEEN), (300, "noise")]
    assert tl[0][1].text == SILENCE_TEXT.format(s=4.0) and tl[0][1].payload == {"seconds": 4.0}
    assert tl[1][1].payload == {"name": "mug"}
    assert tl[2][1].text == "bang" and tl[2][1].payload == {"source": "transient"}
    assert any("not a mapping" in r for r in w.reports)


# --- ScenarioWorld: played against the commands backend -------------------------------------------
def test_run_user_turn_then_barge_in_cuts_the_agent():
    w = make_world([{"t_ms": 0, "user": "pick up the red cube"}, {"t_ms": 3000, "user": "what do you see"}])
    w.run()
    fed = w.events_fed
    types = [e["type"] for e in fed]
    assert types[0] == ev.SPEECH_START
    first_end = next(e for e in fed if e["type"] == ev.SPEECH_END)
    assert first_end["text"] == "pick up the red cube"
    [interrupt] = [e for e in fed if e["type"] == ev.INTERRUPT]
    assert interrupt["t_ms"] == pytest.approx(3000 + DECISION_MS)
    said = [c for c in w.commands if c[1] == "say"]
    assert said and said[0][2].startswith("Sure")
    assert [c[2] for c in w.commands if c[1] == "act"] == ["pick(object=red_cube)"]
    res = w.result()
    says = [s for s in res["segments"] if s["kind"] == "say"]
    first = says[0]
    assert first.get("interrupted") is True
    # only what the voice played before the onset at 3000 ms: a true prefix of what was meant
    assert said[0][2].startswith(first["text"]) and first["text"] != said[0][2]
    assert first["text"].split()  # some words were said
    assert "<interrupted/>" in res["transcript"]
    assert res["reports"] == []


def test_run_backchannel_lets_the_agent_finish():
    w = make_world([{"t_ms": 0, "user": "pick up the red cube"},
                    {"t_ms": 2500, "user": "uh-huh", "backchannel": True}])
    w.run()
    types = [e["type"] for e in w.events_fed]
    assert ev.BACKCHANNEL in types and ev.INTERRUPT not in types
    assert types.count(ev.SPEECH_END) == 1
    res = w.result()
    says = [s for s in res["segments"] if s["kind"] == "say"]
    assert says and not any(s.get("interrupted") for s in says)
    meant = [c[2] for c in w.commands if c[1] == "say"]
    assert [s["text"] for s in says] == meant[:len(says)]
    assert [s["text"] for s in res["segments"] if s["kind"] == "user"] == ["pick up the red cube"]


def test_run_action_result_without_action_is_reported():
    w = make_world([{"t_ms": 0, "action_result": {"success": True}}])
    w.run()
    assert any("no action running" in r for r in w.reports)


def test_run_ends_at_end_ms():
    w = make_world([{"t_ms": 0, "silence": 5}], end_ms=1234)
    w.run()
    assert w.now_ms() == pytest.approx(1234)


def test_a_raw_event_keeps_the_trace_id_it_names():
    """A replayed turn stays one turn: the speech_end that revises it names its trace id."""
    clock = SimClock()
    thinker = Thinker(None, {"red_cube"}, clock_ns=clock)
    sc = parse_scenario({"events": [
        {"t_ms": 0, "event": {"type": "speech_end", "text": "pick up the", "trace_id": "t1"}},
        {"t_ms": 900, "event": {"type": "speech_end", "text": "pick up the red cube", "trace_id": "t2",
                                "payload": {"revises": "t1"}}}]})
    ScenarioWorld(sc, thinker, clock, simulated=True).run()
    users = [s for s in thinker.history if s.kind == "user"]
    assert [(s.text, s.trace_id) for s in users] == [("pick up the red cube", "t1")]  # revised in place
