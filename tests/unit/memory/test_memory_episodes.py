"""The recorder over scripted event sequences: raw files, entries, episode cuts, names, the LM hook, forgetting."""
from __future__ import annotations

import json
import re
import threading

import numpy as np
import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.memory.episodes import ANONYMOUS, EpisodeRecorder, RecorderConfig, as_event, forget_files, \
    read_raw, slug
from seal_nodes.core.memory.retrieval import Retriever
from seal_nodes.core.memory.store import Note, Store, contextual

pytestmark = pytest.mark.unit

T = 1_765_000_000 * 10**9
S = 10**9
PICK = "pick(object=green_cube)"


def _e(t: float, type_: str, text: str = "", trace: str = "t1", **payload) -> dict:
    return {"type": type_, "stamp_ns": T + int(t * S), "text": text, "trace_id": trace, "source": "test",
            "payload": payload}


def _turn(t: float, trace: str, said: str, *after: dict, outcome: str = "answered", actions=(), success=()) -> list:
    return [_e(t, "speech_end", said, trace), *after,
            _e(t + 3, "turn_done", "", trace, outcome=outcome, actions=list(actions), success=list(success),
               understood="")]


def _pick(t: float, trace: str, said: str, ok: bool, message: str) -> list:
    return _turn(t, trace, said, _e(t + 2, "action_result", message, trace, action=PICK, success=ok, canceled=False),
                 outcome="acted", actions=[PICK], success=[ok])


SESSION = [
    *_turn(0, "t1", "Hello. I prefer the blue bin.", _e(1, "agent_speech_end", "Noted, the blue bin.", "t1")),
    _e(4, "object_seen", "green_cube", "v"),  # not part of the record
    *_pick(10, "t2", "pick up the green cube", False, "slipped at the edge"),
    *_pick(20, "t3", "try again", False, "slipped again"),
    *_pick(30, "t4", "once more", True, "picked"),
]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "memory.sqlite3")
    yield s
    s.close()


def _all(store: Store) -> list:
    return store.entries(list(range(1, 200)))


def test_a_session_becomes_raw_file_and_entries(store, tmp_path, concepts):
    rec = EpisodeRecorder(store, tmp_path, encoder=concepts, user="ana")
    written = [rec.feed(e) for e in SESSION]
    assert written[2] and all(not w for w in written[:2])  # entries land when the turn is done
    rec.close()
    files = list((tmp_path / "episodes").iterdir())
    assert len(files) == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d{6}_ana_hello-i-prefer-the-blue-bin\.jsonl", files[0].name)
    rows = read_raw(files[0])
    assert rows[0]["user"] == "Ana" and rows[0]["episode"] == store.episodes()[0].id
    assert [r["type"] for r in rows[1:4]] == ["speech_end", "agent_speech_end", "turn_done"]
    assert len(rows) == 1 + 3 + 3 * 3 and all(r["user"] == "Ana" for r in rows[1:])
    texts = [e.text for e in _all(store)]
    assert "Ana prefers the blue bin" in texts
    assert "pick up the green cube failed twice: slipped again" in texts
    assert "pick up the green cube failed once: slipped at the edge" not in texts  # the count replaced it
    assert "pick up the green cube succeeded after failing twice (last failure: slipped again)" in texts
    assert 'Ana asked "try again"; done: pick up the green cube (failed)' in texts
    episode = store.episodes()[0]
    assert (episode.user, episode.task, episode.outcome, episode.raw_path) == ("Ana", "pick", "failed", str(files[0]))
    assert len(store.vectors()[0]) == len(texts)  # every entry embedded
    hits = Retriever(store, concepts).for_turn("Ana", "which receptacle")
    assert hits[0].entry.text == "Ana prefers the blue bin"


def test_events_as_objects_and_what_is_not_recorded(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path)
    assert rec.feed(ev.Event(ev.AGENT_SPEECH_END, T, text="hello?")) == []  # nobody has spoken yet
    assert rec.feed(ev.Event(ev.OBJECT_SEEN, T, text="red_cube")) == []
    rec.feed(ev.Event(ev.SPEECH_END, T + S, text="what do you see?", trace_id="a"))
    assert rec.feed(ev.Event(ev.TURN_DONE, T + 2 * S, trace_id="a", payload={"outcome": "answered"}))
    assert [e.user for e in _all(store)] == [ANONYMOUS]


@pytest.mark.parametrize("bad,why", [
    ("speech_end", "an Event or a dict"), ({"text": "hi"}, "without a type"), ({"type": ""}, "without a type"),
    ({"type": "speech_end", "stamp_ns": -1}, "non-negative int"), ({"type": "x", "stamp_ns": 1.5}, "non-negative int"),
    ({"type": "x", "stamp_ns": True}, "non-negative int"), ({"type": "x", "payload": [1]}, "payload must be a dict"),
])
def test_malformed_events_are_refused_clearly(store, tmp_path, bad, why):
    with pytest.raises(ValueError, match=why):
        EpisodeRecorder(store, tmp_path).feed(bad)


def test_as_event_fills_what_is_missing():
    assert as_event({"type": "error"}) == {"type": "error", "stamp_ns": 0, "text": "", "trace_id": "", "source": "",
                                           "payload": {}}


def test_an_idle_gap_ends_the_episode(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, user="Ana", cfg=RecorderConfig(idle_gap_s=60, turn_timeout_s=30))
    for e in _turn(0, "a", "what time is it?"):
        rec.feed(e)
    assert rec.tick(T + 50 * S) == [] and len(store.episodes()) == 1
    for e in _turn(200, "b", "what day is it?"):  # the gap closed the first episode before this turn
        rec.feed(e)
    rec.close()
    assert len(store.episodes()) == 2 and len(list((tmp_path / "episodes").iterdir())) == 2


def test_a_turn_without_turn_done_is_written_as_unfinished(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, user="Ana", cfg=RecorderConfig(idle_gap_s=600, turn_timeout_s=30))
    rec.feed(_e(0, "speech_end", "pick up the green cube", "a"))
    rec.feed(_e(5, "action_result", "slipped", "a", action=PICK, success=False, canceled=False))
    assert rec.tick(T + 20 * S) == []
    assert rec.tick(T + 31 * S)
    texts = [e.text for e in _all(store)]
    assert 'Ana asked "pick up the green cube"; done: pick up the green cube (failed)' in texts
    assert "pick up the green cube failed once: slipped" in texts


def test_a_revised_turn_is_one_turn_with_the_whole_sentence(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, user="Ana")
    rec.feed(_e(0, "speech_end", "I prefer", "a"))
    rec.feed(_e(1, "speech_end", "I prefer the blue bin", "b", revises="a"))
    rec.feed(_e(2, "turn_done", "", "b", outcome="answered"))
    rec.close()
    assert [e.text for e in _all(store) if e.kind == "request"] == ['Ana asked "I prefer the blue bin"; answered']
    assert "Ana prefers the blue bin" in [e.text for e in _all(store)]


def test_events_of_an_unknown_trace_go_to_the_latest_turn(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, user="Ana")
    rec.feed(_e(0, "speech_end", "pick up the green cube", "a"))
    rec.feed(_e(2, "action_result", "slipped", "goal-trace", action=PICK, success=False, canceled=False))
    rec.feed(_e(3, "turn_done", "", "a", outcome="acted", actions=[PICK], success=[False]))
    assert "pick up the green cube failed once: slipped" in [e.text for e in _all(store)]


def test_a_turn_done_closes_only_its_own_turn_and_tolerates_odd_payloads(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, user="Ana")
    rec.feed(_e(0, "speech_end", "pick up the green cube", "a"))
    assert rec.feed(_e(1, "turn_done", "", "never-heard", outcome="answered")) == []
    assert rec.feed(_e(2, "turn_done", "", "a", outcome="acted", actions="pick", success=None, understood=7))
    assert [e.text for e in _all(store)] == ['Ana asked "pick up the green cube" (understood: 7); acted']


def test_an_anonymous_speaker_who_says_their_name_takes_this_episode_only(store, tmp_path, concepts):
    rec = EpisodeRecorder(store, tmp_path, encoder=concepts, cfg=RecorderConfig(idle_gap_s=60, turn_timeout_s=30))
    for e in _turn(0, "a", "I prefer the azure bin"):
        rec.feed(e)
    rec.tick(T + 100 * S)  # that anonymous episode is over
    for e in _turn(200, "b", "I like jazz") + _turn(210, "c", "I'm Ana, by the way"):
        rec.feed(e)
    rec.close()
    by_user = {e.text: e.user for e in _all(store)}
    assert by_user["someone prefers the azure bin"] == ANONYMOUS
    assert by_user["someone likes jazz"] == "Ana"  # written before she said her name, moved to her
    moved = next(e for e in _all(store) if e.text == "someone likes jazz")
    assert moved.header.startswith("Ana, ")
    ids, rows = store.vectors("Ana")
    row = rows[list(ids).index(moved.id)]
    np.testing.assert_allclose(row, concepts.encode(f"{moved.header} {moved.text}"))


def test_a_guest_who_says_their_name_keeps_everything(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path)
    guest = rec.users.new_guest()
    rec.set_user(guest)
    for e in _turn(0, "a", "I prefer the red bin") + _turn(10, "b", "my name is cleo"):
        rec.feed(e)
    rec.close()
    assert rec.user == "Cleo" and {e.user for e in _all(store)} == {"Cleo"}
    assert rec.users.names() == ["Cleo"]


def test_someone_else_naming_themselves_starts_their_own_episode(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, user="Ana")
    for e in _turn(0, "a", "I prefer the blue bin") + _turn(10, "b", "Hi, I'm Bob. I prefer the red bin"):
        rec.feed(e)
    rec.close()
    assert [(e.user, e.task) for e in store.episodes()] == [("Ana", "conversation"), ("Bob", "conversation")]
    assert {e.text: e.user for e in _all(store) if e.kind == "preference"} == {
        "Ana prefers the blue bin": "Ana", "Bob prefers the red bin": "Bob"}


def test_set_user_ends_the_episode(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, user="Ana")
    rec.feed(_e(0, "speech_end", "pick up the green cube", "a"))
    assert rec.set_user("Bob", T + S)  # Ana's unfinished turn is written as she leaves
    assert rec.set_user("bob") == [] and rec.user == "Bob"
    assert [e.user for e in store.episodes()] == ["Ana"]


class _Summariser:
    """A language model stand-in that answers from its prompt, on the recorder's worker thread."""

    def __init__(self, fail: bool = False) -> None:
        self.prompts: list[str] = []
        self.threads: list[str] = []
        self.fail = fail

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        self.threads.append(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("model crashed")
        return "- Ana's green cube slips at the table edge.\n- Ana prefers the blue bin."


def test_the_lm_summary_runs_off_the_hot_path_when_the_episode_ends(store, tmp_path):
    lm = _Summariser()
    rec = EpisodeRecorder(store, tmp_path, user="Ana", summariser=lm)
    for e in SESSION:
        rec.feed(e)
    assert lm.prompts == []  # nothing while the episode runs
    rec.close()
    assert "Ana: pick up the green cube" in lm.prompts[0] and lm.threads[0].startswith("memory-lm")
    summaries = [e for e in _all(store) if e.kind == "summary"]
    assert [s.text for s in summaries] == ["Ana's green cube slips at the table edge.", "Ana prefers the blue bin."]
    assert summaries[0].task == "pick" and summaries[0].outcome == "failed"


def test_a_failing_lm_leaves_the_rule_entries(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, user="Ana", summariser=_Summariser(fail=True))
    for e in SESSION:
        rec.feed(e)
    rec.close()
    assert "Ana prefers the blue bin" in [e.text for e in _all(store)]
    assert any("model crashed" in p for p in rec.problems)


class _BrokenEncoder:
    def encode_many(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("no model")


def test_an_encoder_failure_stores_entries_for_bm25(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, encoder=_BrokenEncoder(), user="Ana")
    for e in SESSION[:3]:
        rec.feed(e)
    assert len(store.vectors()[0]) == 0 and any("without embeddings" in p for p in rec.problems)
    assert "Ana prefers the blue bin" in [h.entry.text for h in Retriever(store).recall("blue bin", user="Ana")]


def test_forget_removes_entries_files_and_the_open_episode(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, user="Ana")
    for e in SESSION[:3]:
        rec.feed(e)
    rec.set_user("Bob")
    for e in _turn(100, "b", "I prefer the red bin"):
        rec.feed(e)
    rec.set_user("Ana")
    rec.feed(_e(200, "speech_end", "my office is room 4", "c"))
    assert rec.forget("ana") == 1
    rec.close()
    assert {e.user for e in _all(store)} == {"Bob"}
    assert [p.name.split("_")[2] for p in (tmp_path / "episodes").iterdir()] == ["bob"]
    assert "Ana" not in rec.users.names()


def test_forget_files_stays_inside_the_folder(tmp_path):
    inside, outside = tmp_path / "mem" / "a.jsonl", tmp_path / "b.jsonl"
    inside.parent.mkdir()
    inside.write_text("{}\n")
    outside.write_text("{}\n")
    assert forget_files(tmp_path / "mem", [str(inside), str(outside), "", str(tmp_path / "mem" / "gone")]) == 1
    assert not inside.exists() and outside.exists()


def test_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps({"episode": "x"}) + "\n" + '{"type": "speech_en')
    assert read_raw(path) == [{"episode": "x"}]


def test_names_and_config():
    assert slug("Put the RED cube, in the bin!") == "put-the-red-cube-in-the"
    assert slug("?!") == "turn" and slug("guest-3", 3) == "guest-3"
    with pytest.raises(ValueError):
        RecorderConfig(idle_gap_s=10, turn_timeout_s=20)
    with pytest.raises(ValueError):
        RecorderConfig(turn_timeout_s=0)


def test_the_contextual_text_is_what_was_embedded(store, tmp_path, concepts):
    rec = EpisodeRecorder(store, tmp_path, encoder=concepts, user="Ana")
    for e in SESSION[:3]:
        rec.feed(e)
    entry = next(e for e in _all(store) if e.kind == "preference")
    ids, rows = store.vectors()
    expected = concepts.encode(f"{entry.header} {entry.text}")
    np.testing.assert_allclose(rows[list(ids).index(entry.id)], expected)
    note = Note(entry.kind, entry.text, entry.task, entry.outcome)
    assert contextual("Ana", entry.created_ns, note) == f"{entry.header} {entry.text}"



# --- voices -------------------------------------------------------------------------------------

def _voice(axis: int, wobble: float = 0.0) -> np.ndarray:
    v = np.zeros(8, dtype=np.float32)
    v[axis], v[(axis + 1) % 8] = 1.0, wobble
    return v


def _say(rec: EpisodeRecorder, t: float, trace: str, text: str) -> None:
    rec.feed(_e(t, "speech_end", text, trace))


def test_a_named_speakers_first_voice_is_theirs_and_a_second_voice_is_someone_else(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, user="ana")
    _say(rec, 0, "t1", "hello")
    assert rec.voice("t1", _voice(0), T) == ("Ana", "named")
    rec.feed(_e(1, "turn_done", "", "t1", outcome="answered"))
    _say(rec, 10, "t2", "hi again")
    assert rec.voice("t2", _voice(0, 0.1), T) == ("Ana", "voice")
    rec.feed(_e(11, "turn_done", "", "t2", outcome="answered"))
    _say(rec, 20, "t3", "I prefer the red bin")  # another person talks
    assert rec.voice("t3", _voice(4), T + 20 * S) == ("guest-1", "new voice")
    rec.feed(_e(21, "turn_done", "", "t3", outcome="answered"))
    rec.close()
    owners = {e.user for e in _all(store) if "red bin" in e.text}
    assert owners == {"guest-1"}  # the turn went with its speaker
    assert {ep.user for ep in store.episodes()} == {"Ana", "guest-1"}
    assert set(store.voiceprints()) == {"Ana", "guest-1"}


def test_an_unknown_voice_becomes_a_guest_who_keeps_it_when_they_say_their_name(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path)
    _say(rec, 0, "t1", "hello there")
    assert rec.voice("t1", _voice(2), T) == ("guest-1", "new voice")
    rec.feed(_e(1, "turn_done", "", "t1", outcome="answered"))
    _say(rec, 5, "t2", "my name is Bob")
    rec.feed(_e(6, "turn_done", "", "t2", outcome="answered"))
    rec.close()
    assert set(store.voiceprints()) == {"Bob"}
    # the next session: Bob's voice is known before he says anything
    rec = EpisodeRecorder(store, tmp_path)
    _say(rec, 100, "t3", "pick up the red cube")
    assert rec.voice("t3", _voice(2, 0.05), T + 100 * S) == ("Bob", "voice")
    assert rec.user == "Bob"


def test_a_voice_close_to_the_speakers_stays_theirs(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, user="ana")
    _say(rec, 0, "t1", "hello")
    rec.voice("t1", _voice(0), T)
    _say(rec, 1, "t2", "and again")
    unsure = _voice(0, 0.9)  # cosine 0.74 with Ana's voice: under the threshold, within the margin
    assert rec.voice("t2", unsure, T) == ("Ana", "voice")
    assert len(store.voiceprints()["Ana"]) == 1  # an unsure turn is not enrolled


def test_an_unusable_voice_is_refused(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path, user="ana")
    with pytest.raises(ValueError):
        rec.voice("t1", np.zeros(8), T)
    rec.voice("t1", _voice(0), T)
    with pytest.raises(ValueError):
        rec.voice("t1", np.full(8, np.nan), T)
    with pytest.raises(ValueError):
        rec.voice("t1", np.ones(3), T)


def test_the_raw_file_follows_an_anonymous_speaker_who_says_their_name(store, tmp_path):
    rec = EpisodeRecorder(store, tmp_path)
    for e in _turn(0, "a", "hello there") + _turn(10, "b", "my name is Dora"):
        rec.feed(e)
    rec.close()
    files = [f.name for f in (tmp_path / "episodes").iterdir()]
    assert len(files) == 1 and "_dora_hello-there" in files[0]
    assert store.episodes()[0].raw_path.endswith(files[0]) and store.episodes()[0].user == "Dora"
