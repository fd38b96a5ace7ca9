"""The skill library in the memory store: save and versions, retrieval, trust and retirement; the v1 -> v2 migration."""
from __future__ import annotations

import re
import sqlite3

import numpy as np
import pytest

from seal_nodes.core.memory.retrieval import Retriever
from seal_nodes.core.memory.store import SCHEMA_VERSION, Store, StoreError
from seal_nodes.core.skills.library import SkillLibrary, indexed_text
from seal_nodes.core.skills.model import Anchor, Skill, Step

pytestmark = pytest.mark.unit

T = 1_765_000_000 * 10**9


def _skill(name: str, description: str, params: dict[str, str] | None = None, **kw) -> Skill:
    return Skill(name, description, params or {}, (Step("click", Anchor("button", "Go")),), **kw)


class Concepts:
    """Words that mean the same share a dimension: paraphrases meet, other words add nothing."""

    GROUPS = (("weather", "forecast", "wind", "humidity", "climate"), ("flight", "plane", "airline", "fly"),
              ("book", "reserve", "booking", "reservation"), ("email", "mail", "inbox"))

    def encode(self, text: str) -> np.ndarray:
        words = re.findall(r"[a-z]+", text.lower())
        v = np.array([sum(w in g for w in words) for g in self.GROUPS], dtype=np.float32)
        return v / (np.linalg.norm(v) or 1.0)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "memory.sqlite3")
    yield s
    s.close()


def _fill(library: SkillLibrary) -> None:
    library.save(_skill("weather-tab", "Look up the wind, humidity or forecast for a city", {"city": "Paris"}), T)
    library.save(_skill("book-cheapest", "Book the cheapest flight between two cities",
                        {"origin": "London", "destination": "Paris"}), T)
    library.save(_skill("mail-read", "Read the newest email in the inbox"), T)


# --- saving ---------------------------------------------------------------------------------
def test_a_saved_skill_comes_back_whole_after_reopening(tmp_path):
    store = Store(tmp_path / "m.sqlite3")
    skill = _skill("weather-tab", "The wind in a city", {"city": "Paris"}, episode="ep-1")
    assert SkillLibrary(store).save(skill, T) == skill
    store.close()
    store = Store(tmp_path / "m.sqlite3")
    library = SkillLibrary(store)
    assert library.get("weather-tab") == skill and library.get("nothing") is None
    assert [s.name for s in library.list()] == ["weather-tab"]
    row = store.skill_rows(["weather-tab"])[0]
    assert (row.description, row.status, row.episode, row.created_ns, row.updated_ns) == (
        "The wind in a city", "provisional", "ep-1", T, T)
    store.close()


def test_a_new_version_replaces_the_old_one_and_starts_afresh(store):
    library = SkillLibrary(store)
    library.save(_skill("weather-tab", "old wording"), T)
    library.record_outcome("weather-tab", True, T + 1)
    library.record_outcome("weather-tab", True, T + 2)
    assert library.get("weather-tab").status == "trusted"
    again = library.save(_skill("weather-tab", "Look up the humidity in a city"), T + 3)
    assert again.version == 2 and again.status == "provisional" and again.successes == 0
    assert library.get("weather-tab") == again and len(library.list()) == 1
    assert store.skill_rows(["weather-tab"])[0].created_ns == T  # first saved then
    assert [h.skill.name for h in library.find("humidity")] == ["weather-tab"]
    assert library.find("wording") == []  # the old text is out of the index


# --- finding --------------------------------------------------------------------------------
def test_bm25_finds_a_skill_by_its_description_and_parameters(store):
    library = SkillLibrary(store)
    _fill(library)
    hits = library.find("book a flight to Oslo")
    assert hits[0].skill.name == "book-cheapest" and hits[0].found_by == ("bm25",)
    assert [h.skill.name for h in library.find("destination")] == ["book-cheapest"]  # a parameter's name
    assert library.find("what's the wind in Lima", k=1)[0].skill.name == "weather-tab"
    assert indexed_text(library.get("weather-tab")) == ("Look up the wind, humidity or forecast for a city "
                                                        "Parameters: city (e.g. Paris).")


def test_embeddings_find_a_paraphrase_and_both_lists_fuse(store):
    library = SkillLibrary(store, Concepts())
    _fill(library)
    assert SkillLibrary(store).find("reserve a plane seat") == []  # no word in common
    hits = library.find("reserve a plane seat")
    assert hits[0].skill.name == "book-cheapest" and hits[0].found_by == ("vector",)
    both = library.find("book a flight")
    assert both[0].skill.name == "book-cheapest" and both[0].found_by == ("bm25", "vector")
    assert both[0].score == pytest.approx(2 / 61)


def test_find_never_raises_on_what_a_model_may_type(store):
    library = SkillLibrary(store, Concepts())
    _fill(library)
    assert library.find("") == [] and library.find(None) == [] and library.find("weather", k=0) == []
    assert library.find('"wind" OR (NEAR* AND') and len(library.find("the city", k="two")) <= 3

    class Broken:
        def encode(self, text: str) -> np.ndarray:
            raise RuntimeError("encoder gone")

    broken = SkillLibrary(store, Broken())
    assert broken.find("wind")[0].skill.name == "weather-tab" and "encoder gone" in broken.last_problem
    broken.save(_skill("mail-send", "Send an email"), T)  # saved all the same, found by BM25
    assert "not embedded" in broken.last_problem and broken.find("send")[0].skill.name == "mail-send"


# --- outcomes -------------------------------------------------------------------------------
def test_two_successes_make_a_skill_trusted(store):
    library = SkillLibrary(store)
    library.save(_skill("s", "a skill"), T)
    assert library.record_outcome("s", True, T + 1).status == "provisional"
    skill = library.record_outcome("s", True, T + 2)
    assert (skill.status, skill.successes, skill.failures) == ("trusted", 2, 0)
    assert library.get("s") == skill and store.skill_rows(["s"])[0].status == "trusted"
    assert library.record_outcome("s", False, T + 3).status == "trusted"  # one failure is not a pattern


def test_three_failures_in_a_row_retire_a_skill_and_it_is_no_longer_found(store):
    library = SkillLibrary(store)
    library.save(_skill("s", "look up the wind"), T)
    for ok in (False, False, True, False, False):  # a success breaks the run
        skill = library.record_outcome("s", ok, T)
    assert skill.status == "provisional" and (skill.failures, skill.failing) == (4, 2)
    skill = library.record_outcome("s", False, T)
    assert skill.status == "retired" and skill.failing == 3
    assert library.find("wind") == [] and [s.status for s in library.list()] == ["retired"]
    assert library.record_outcome("s", True, T).status == "retired"  # retired stays retired
    assert library.save(_skill("s", "look up the wind"), T).version == 2
    assert library.find("wind")[0].skill.status == "provisional"  # a new version is found again


def test_an_outcome_for_an_unknown_skill_is_a_key_error(store):
    with pytest.raises(KeyError, match="no skill named 'ghost'"):
        SkillLibrary(store).record_outcome("ghost", True)


def test_skills_leave_the_entries_alone(store):
    library = SkillLibrary(store, Concepts())
    _fill(library)
    assert store.count() == 0 and store.match('"wind"') == []
    assert Retriever(store).recall("wind") == []


# --- the v1 -> v2 migration -----------------------------------------------------------------
# The schema v1 files were written with (kept here: the store's own string may change later).
V1_SCHEMA = """
CREATE TABLE users (name TEXT PRIMARY KEY, guest INTEGER NOT NULL DEFAULT 0, created_ns INTEGER NOT NULL,
    last_seen_ns INTEGER NOT NULL);
CREATE TABLE voiceprints (id INTEGER PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE ON UPDATE CASCADE,
    vector BLOB NOT NULL, created_ns INTEGER NOT NULL);
CREATE TABLE episodes (id TEXT PRIMARY KEY, user TEXT NOT NULL, started_ns INTEGER NOT NULL, ended_ns INTEGER NOT NULL,
    task TEXT NOT NULL, outcome TEXT NOT NULL, raw_path TEXT NOT NULL);
CREATE TABLE entries (id INTEGER PRIMARY KEY, user TEXT NOT NULL, episode TEXT NOT NULL, kind TEXT NOT NULL,
    key TEXT NOT NULL, task TEXT NOT NULL, outcome TEXT NOT NULL, shared INTEGER NOT NULL, text TEXT NOT NULL,
    header TEXT NOT NULL, created_ns INTEGER NOT NULL, embedding BLOB);
CREATE UNIQUE INDEX entries_key ON entries(user, key) WHERE key != '';
CREATE INDEX entries_user ON entries(user, kind, created_ns);
CREATE VIRTUAL TABLE entries_fts USING fts5(body, tokenize = 'porter unicode61 remove_diacritics 2');
PRAGMA application_id = 1397047629;
PRAGMA user_version = 1;
PRAGMA journal_mode = WAL;
"""


def _v1_file(path, extra: str = "") -> None:
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA + extra)
    db.execute("INSERT INTO users VALUES ('Ana', 0, 1, 2)")
    db.execute("INSERT INTO episodes VALUES ('e1', 'Ana', 1, 2, 'place', 'succeeded', '')")
    db.execute("INSERT INTO entries VALUES (1, 'Ana', 'e1', 'preference', 'preference:the blue bin', 'place', "
               "'stated', 0, 'Ana prefers the blue bin', 'Ana, 2025-12-06, place, stated.', 2, ?)",
               (np.array([1, 0, 0], dtype=np.float32).tobytes(),))
    db.execute("INSERT INTO entries_fts(rowid, body) VALUES (1, 'Ana, 2025-12-06, place, stated. "
               "Ana prefers the blue bin')")
    db.commit()
    db.close()


def _version(path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def test_a_v1_file_is_upgraded_as_it_is_opened_and_keeps_everything(tmp_path):
    path = tmp_path / "memory.sqlite3"
    _v1_file(path)
    store = Store(path)
    assert SCHEMA_VERSION == 2 and _version(path) == 2
    assert store.users() == [("Ana", False)] and [e.id for e in store.episodes()] == ["e1"]
    assert store.match('"blue"') == [1] and store.entries([1])[0].text == "Ana prefers the blue bin"
    assert list(store.vectors()[0]) == [1]
    library = SkillLibrary(store)
    library.save(_skill("weather-tab", "The wind in a city"), T)
    store.close()
    store = Store(path)  # a v2 file opens as it is
    assert SkillLibrary(store).find("wind")[0].skill.name == "weather-tab" and store.match('"blue"') == [1]
    store.close()


def test_a_migration_that_fails_leaves_the_v1_file_as_it_was(tmp_path):
    path = tmp_path / "memory.sqlite3"
    _v1_file(path, "CREATE TABLE skills (x);")  # in the way of the migration's own table
    with pytest.raises(StoreError, match="upgrading it to v2 failed .*table skills already exists.*left it as it was"):
        Store(path)
    db = sqlite3.connect(path)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert _version(path) == 1 and "skills_fts" not in tables and "entries" in tables  # all or nothing


def test_newer_and_foreign_files_are_still_refused(tmp_path):
    newer = tmp_path / "newer.sqlite3"
    Store(newer).close()
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer than this SEAL"):
        Store(newer)
    foreign = tmp_path / "foreign.sqlite3"
    _v1_file(foreign)
    db = sqlite3.connect(foreign)
    db.execute("PRAGMA application_id = 7")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not a SEAL memory"):
        Store(foreign)
    assert _version(foreign) == 1


def test_a_new_file_has_the_same_tables_as_a_migrated_one(tmp_path):
    def schema(path) -> set[tuple[str, str]]:
        db = sqlite3.connect(path)
        try:
            return {(t, n) for t, n in db.execute("SELECT type, name FROM sqlite_master")}
        finally:
            db.close()
    Store(tmp_path / "new.sqlite3").close()
    _v1_file(tmp_path / "old.sqlite3")
    Store(tmp_path / "old.sqlite3").close()
    assert schema(tmp_path / "new.sqlite3") == schema(tmp_path / "old.sqlite3")
    assert ("table", "skills") in schema(tmp_path / "new.sqlite3")
