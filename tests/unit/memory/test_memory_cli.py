"""``seal memory`` on a recorded folder: list, search, show, forget (asked, refused, done), export, import, errors."""
from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest

from seal_nodes import cli
from seal_nodes.core.memory import location
from seal_nodes.core.memory.store import Store
from seal_nodes.tools.memory_cli import main

pytestmark = pytest.mark.unit


def _run(capsys, folder: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--dir", str(folder), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _state(folder: Path) -> tuple[list, list, list]:
    store = Store(location.store_path(folder))
    try:
        return store.user_records(), store.episodes(), store.stored_entries()
    finally:
        store.close()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_list_shows_users_then_one_users_dated_entries(memory_dir, capsys):
    code, out, _ = _run(capsys, memory_dir, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["user", "entries", "episodes", "last", "seen"]
    assert lines[1].split()[:3] == ["Ana", "6", "1"] and lines[2].split()[:3] == ["Bob", "4", "1"]
    code, out, _ = _run(capsys, memory_dir, "list", "--user", "ana")  # names as people type them
    assert code == 0 and out.startswith("Ana: 1 episodes, 6 entries")
    assert "2025-12-0" in out and "preference Ana prefers the blue bin" in out and "jazz" not in out


def test_search_finds_the_entry_by_its_words(memory_dir, capsys):
    code, out, err = _run(capsys, memory_dir, "search", "which bin does she prefer", "--user", "Ana",
                          "--no-embeddings", "-k", "2")
    assert code == 0 and err == ""
    first = out.splitlines()[0]
    assert "Ana: Ana prefers the blue bin" in first and first.endswith("[bm25]") and len(out.splitlines()) == 2
    code, out, _ = _run(capsys, memory_dir, "search", "jazz", "--user", "Ana", "--no-embeddings")
    assert code == 0 and out == "nothing found\n"  # Bob's preference is his


def test_search_by_meaning_with_minilm(minilm_memory_dir, capsys):
    code, out, err = _run(capsys, minilm_memory_dir, "search", "which container does she favour", "--user", "Ana")
    assert code == 0 and "skipped" not in err
    assert "Ana prefers the blue bin" in out.splitlines()[0] and "vector" in out.splitlines()[0]


def test_search_over_another_encoders_rows_says_so_and_uses_words(memory_dir, capsys):
    code, out, err = _run(capsys, memory_dir, "search", "blue bin", "--user", "Ana")
    assert code == 0 and "vector search skipped" in err and "Ana prefers the blue bin" in out


def test_show_an_episode_as_a_conversation_and_an_entry(memory_dir, capsys):
    _, episodes, entries = _state(memory_dir)
    ana = next(e for e in episodes if e.user == "Ana")
    code, out, _ = _run(capsys, memory_dir, "show", ana.id)
    assert code == 0 and out.startswith(f"episode {ana.id} with Ana")
    assert "Ana prefers the blue bin" in out
    said = [line.split("  ", 1)[1].strip() for line in out.split("conversation", 1)[1].splitlines()[1:]]
    assert said[:3] == ["Ana: Hello. I prefer the blue bin.", "robot: Noted, the blue bin.", "[turn done: answered]"]
    assert "[pick(object=green_cube): failed] slipped at the edge" in said
    assert "[pick(object=green_cube): ok] picked" in said
    entry = next(s.entry for s in entries if s.key == "preference:the blue bin")
    code, out, _ = _run(capsys, memory_dir, "show", f"#{entry.id}")
    assert code == 0 and out.startswith(f"entry #{entry.id} of Ana") and f"episode: {ana.id}" in out


def test_forget_removes_rows_voice_and_raw_files(memory_dir, capsys):
    ana_files = [e.raw_path for e in _state(memory_dir)[1] if e.user == "Ana"]
    code, out, _ = _run(capsys, memory_dir, "forget", "--user", "ana", "--yes")
    assert code == 0 and out == "forgot Ana: 6 entries, 1 episodes, 1 raw files\n"
    users, episodes, entries = _state(memory_dir)
    assert [u.name for u in users] == ["Bob"] and {e.user for e in episodes} == {"Bob"}
    assert {s.entry.user for s in entries} == {"Bob"}
    assert not any(Path(p).exists() for p in ana_files) and len(list((memory_dir / "episodes").iterdir())) == 1
    with sqlite3.connect(location.store_path(memory_dir)) as db:
        assert db.execute("SELECT count(*) FROM voiceprints").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM entries_fts WHERE entries_fts MATCH 'ana'").fetchone() == (0,)


def test_forget_without_yes_refuses_when_no_one_can_answer(memory_dir, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    before = _state(memory_dir)
    code, out, err = _run(capsys, memory_dir, "forget", "--user", "Ana")
    assert code == 2 and out == "" and "not a terminal" in err and "--yes" in err
    after = _state(memory_dir)
    assert after[:2] == before[:2] and [s.entry for s in after[2]] == [s.entry for s in before[2]]
    assert len(list((memory_dir / "episodes").iterdir())) == 2


def test_forget_asks_on_a_terminal(memory_dir, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", _Terminal())
    asked = []
    answers = iter(["", "yes"])
    monkeypatch.setattr("builtins.input", lambda question: asked.append(question) or next(answers))
    code, out, _ = _run(capsys, memory_dir, "forget", "--user", "Ana")
    assert code == 1 and out == "nothing forgotten\n" and "Ana" in _state(memory_dir)[0][0].name
    assert asked[0].startswith("Forget everything about Ana (6 entries, 1 episodes")
    code, out, _ = _run(capsys, memory_dir, "forget", "--user", "Ana")
    assert code == 0 and out.startswith("forgot Ana")


def test_export_and_import_through_the_command(memory_dir, tmp_path, capsys):
    dest, target = tmp_path / "ana.jsonl", tmp_path / "elsewhere"
    code, out, _ = _run(capsys, memory_dir, "export", str(dest), "--user", "ana")
    assert code == 0 and out.startswith("exported 1 users, 1 voiceprints, 1 episodes, 6 entries, 1 raw files")
    assert json.loads(dest.read_text(encoding="utf-8").splitlines()[0])["user"] == "Ana"
    code, _, err = _run(capsys, memory_dir, "export", str(dest))
    assert code == 2 and "exists" in err  # an earlier export is never overwritten
    code, out, _ = _run(capsys, target, "import", str(dest))
    assert code == 0 and out.startswith("imported 1 users")
    code, out, _ = _run(capsys, target, "search", "blue bin", "--no-embeddings")
    assert "Ana prefers the blue bin" in out


def test_the_seal_command_passes_memory_through(memory_dir, capsys):
    assert cli.main(["memory", "--dir", str(memory_dir), "list"]) == 0
    assert "Ana" in capsys.readouterr().out


@pytest.mark.parametrize("argv, why", [
    (["list"], "no memory at"),
    (["import", "missing.jsonl"], "no export file at"),
])
def test_a_missing_folder_or_file_is_a_clear_error(tmp_path, capsys, argv, why):
    code, _, err = _run(capsys, tmp_path / "nothing", *argv)
    assert code == 2 and why in err and err.startswith(f"seal memory {argv[0]}:")
    assert not (tmp_path / "nothing").exists()  # no empty memory made on the way


@pytest.mark.parametrize("argv, why", [
    (["list", "--user", "Carol"], "no user named 'Carol'"),
    (["forget", "--user", "Carol", "--yes"], "no user named 'Carol'"),
    (["show", "20990101-000000-abcdef"], "no episode or entry"),
    (["show", "#999"], "no entry #999"),
    (["search", "bin", "--user", "1nvalid!"], "not a usable name"),
])
def test_unknown_ids_and_users_are_clear_errors(memory_dir, capsys, argv, why):
    code, out, err = _run(capsys, memory_dir, *argv)
    assert code == 2 and out == "" and why in err


def test_a_foreign_store_or_export_is_a_clear_error(tmp_path, capsys):
    folder = tmp_path / "m"
    folder.mkdir()
    sqlite3.connect(location.store_path(folder)).execute("CREATE TABLE t (x)").connection.close()
    code, _, err = _run(capsys, folder, "list")
    assert code == 2 and "not a SEAL memory" in err
    (tmp_path / "x.jsonl").write_text('{"format": "other"}\n', encoding="utf-8")
    code, _, err = _run(capsys, tmp_path / "n", "import", str(tmp_path / "x.jsonl"))
    assert code == 2 and "not a SEAL memory export" in err


def test_the_default_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(location.ENV, str(tmp_path / "here"))
    assert location.default_dir() == tmp_path / "here"
    assert location.store_path(location.default_dir()) == tmp_path / "here" / "memory.sqlite3"
    monkeypatch.delenv(location.ENV)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert location.default_dir() == tmp_path / ".local" / "share" / "seal" / "memory"
    assert location.raw_dir(tmp_path) == tmp_path / "episodes"
