"""``seal bench-memory``: the scripted set, the metrics, the headerless store option and a quick run end to end."""
from __future__ import annotations

import json
import re

import pytest

from seal_nodes.bench import memory as bench
from seal_nodes.core.memory.store import Store
from seal_nodes.tools.memory_set import DEV, HELDOUT, TEMPLATES, MemorySetError, answer_ids, generate, record

pytestmark = pytest.mark.unit


def _worded_by(template: str, text: str, user: str) -> bool:
    parts = re.split(r"\{(\w+)\}", template)  # literal, slot, literal, …
    pattern = "".join(re.escape(p) if n % 2 == 0 else re.escape(user) if p == "U" else ".+"
                      for n, p in enumerate(parts))
    return re.fullmatch(pattern, text) is not None


# --- the set ---------------------------------------------------------------------------------
def test_the_set_is_the_same_for_a_seed_and_differs_between_seeds():
    assert generate(3, users=4, asked=3) == generate(3, users=4, asked=3)
    assert generate(3, users=4, asked=3) != generate(4, users=4, asked=3)


def test_the_default_set_is_big_enough_and_holds_out_whole_templates():
    mset = generate(0)
    assert mset.asked >= 20 and len(mset.users) > mset.asked  # distractors
    assert all(sum(s.user == u for s in mset.sessions) == 3 for u in mset.users)
    assert len(mset.questions) >= 300
    assert sum(q.split == HELDOUT for q in mset.questions) >= 0.3 * len(mset.questions)
    for q in mset.questions:
        topic, split, n = q.template.split(":")
        assert split == q.split and q.topic == topic
        assert _worded_by(TEMPLATES[topic][split == HELDOUT][int(n)], q.text, q.user)
    assert {q.template for q in mset.questions if q.split == DEV}.isdisjoint(
        {q.template for q in mset.questions if q.split == HELDOUT})


def test_every_answer_is_a_turn_of_the_set_and_an_entry_once_recorded(tmp_path):
    mset = generate(5, users=6, asked=4)
    labels = mset.turn_labels()
    assert all(label in labels for q in mset.questions for label, _ in q.answers)
    store = Store(tmp_path / "m.sqlite3")
    written = record(mset, store, tmp_path)
    for q in mset.questions:
        found = store.entries(sorted(answer_ids(q, written, store)))
        assert found, q
        assert all(e.user == q.user for e in found)
        assert {e.kind for e in found} <= {kind for _, kind in q.answers}
    store.close()


@pytest.mark.parametrize("kwargs,why", [({"users": 0}, "users must be"), ({"users": 3, "asked": 4}, "asked must be"),
                                        ({"sessions": 2}, "sessions must be")])
def test_bad_generator_arguments_are_refused_clearly(kwargs, why):
    with pytest.raises(MemorySetError, match=why):
        generate(0, **kwargs)


# --- metrics ---------------------------------------------------------------------------------
def test_metrics_on_a_hand_made_ranking():
    twenty_two = list(range(100, 122))
    results = [([7, 1, 2], {7}),  # first
               ([1, 2, 3, 4, 9], {9, 50}),  # fifth
               ([1, 2, 3, 4, 5, 9], {9}),  # sixth: in the top 20, not the top 5
               (twenty_two, {121}),  # 22nd: a top-20 failure
               ([], {1})]  # nothing found
    assert bench.first_hit([1, 2, 3], {3, 9}) == 3 and bench.first_hit([1], set()) is None
    assert bench.metrics(results) == {"n": 5, "recall_at_1": 0.2, "recall_at_5": 0.4, "fail_at_20": 0.4}
    assert bench.metrics([]) == {"n": 0, "recall_at_1": None, "recall_at_5": None, "fail_at_20": None}
    assert bench.change(0.026, 0.04) == pytest.approx(-0.35) and bench.change(0.1, 0.0) is None
    assert bench.change(None, 0.1) is None
    assert bench.percentiles([]) == {"p50": None, "p95": None, "p99": None, "n": 0}
    assert bench.percentiles([1.0, 2.0, 3.0])["p50"] == 2.0


# --- the store without headers -----------------------------------------------------------------
def test_a_store_without_contextual_headers_indexes_the_text_alone(tmp_path):
    plain = Store(tmp_path / "plain.sqlite3", contextual_headers=False)
    written = record(generate(1, users=1, asked=1), plain, tmp_path)
    ids = sorted({i for v in written.values() for i in v})
    entries = plain.entries(ids)
    failure = next(e for e in entries if e.kind == "failure")  # shared: its text names nobody
    assert failure.header.startswith(f"{failure.user}, ") and failure.user not in failure.text
    assert failure.id not in plain.match(f'"{failure.user.lower()}"')
    assert plain.indexed("Ana, 2025-11-03, pick, failed.", "it slipped") == "it slipped"
    plain.close()
    with_headers = Store(tmp_path / "ctx.sqlite3")
    assert with_headers.indexed("Ana, 2025-11-03, pick, failed.", "it slipped") == \
        "Ana, 2025-11-03, pick, failed. it slipped"
    with_headers.close()


def test_the_recorder_embeds_what_the_store_indexes(tmp_path, concepts):
    plain = Store(tmp_path / "plain.sqlite3", contextual_headers=False)
    written = record(generate(1, users=1, asked=1), plain, tmp_path, encoder=concepts)
    ids, rows = plain.vectors()
    entries = {e.id: e for e in plain.entries([int(i) for i in ids])}
    assert len(ids) == len({i for v in written.values() for i in v})
    for entry_id, row in zip(ids, rows):
        assert row.tolist() == pytest.approx(concepts.encode(entries[int(entry_id)].text).tolist())
    plain.close()


# --- end to end --------------------------------------------------------------------------------
def test_a_quick_run_writes_every_part(tmp_path, capsys):
    out = tmp_path / "bench_memory.json"
    assert bench.main(["--quick", "--json", str(out), "--kills", "1", "--entries", "60", "--no-progress"]) == 0
    r = json.loads(out.read_text())
    assert set(r) == {"run", "quality", "latency", "robustness", "sessions", "host"}
    assert {"seed", "quick", "machine", "loadavg_start", "loadavg_end"} <= set(r["run"])
    q = r["quality"]
    for split in (DEV, HELDOUT):
        for index in bench.INDEXES:
            for how in bench.RETRIEVERS:
                assert set(q["results"][split][index][how]) == {"n", "recall_at_1", "recall_at_5", "fail_at_20"}
        assert set(q["change_fail_at_20"][split]) == set(bench.RETRIEVERS)
        assert set(q["talk_comparison"][split]) == {"contextual_embeddings_vs_plain_embeddings",
                                                    "contextual_hybrid_vs_plain_embeddings", "talk"}
    assert q["entries"]["plain"] == q["entries"]["contextual"] > 0
    lat = r["latency"]
    assert lat["entries"] >= 60 and len(lat["loadavg_before"]) == 3
    for key in ("recall_ms", "bm25_ms", "query_embedding_ms", "vector_scan_ms", "write_ms"):
        assert set(lat[key]) == {"p50", "p95", "p99", "n"} and lat[key]["n"] > 0
    assert r["robustness"]["kills"] == 1 and r["robustness"]["corrupt"] == 0 and r["robustness"]["lost"] == 0
    assert r["robustness"]["reported_committed"] >= 1
    assert r["sessions"]["users"] == 4 and r["sessions"]["rates"]["welcome"]["all"] == 1.0
    table = capsys.readouterr().out
    assert "| dev | hybrid (RRF) |" in table and "kill -9" in table and "welcomed back by name" in table
    assert out.with_suffix(".md").read_text() == table.rstrip("\n") + "\n"


def test_bad_arguments_exit_with_usage(tmp_path):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--kills", "-1", "--json", str(tmp_path / "x.json")])
    assert exc.value.code == 2
