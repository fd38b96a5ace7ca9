"""``seal bench-memory``: the knowledge base's retrieval quality, latency and crash safety.

Does it find what answers a question, how fast, and does a killed writer ever corrupt or lose it?

    seal bench-memory --json out/bench_memory.json [--quick] [--seed 0] [--kills 50]

1. Retrieval quality. The scripted sessions of ``tools/memory_set.py`` (users stating preferences
   and facts, requests that worked or failed, failures repeated until a changed approach worked,
   distractor users) are fed as events to an ``EpisodeRecorder`` twice: into a store that indexes
   each entry with its contextual header and into one that indexes the text alone. Every
   question is asked as its user (their entries and the shared ones) of BM25 alone, embeddings
   alone and the hybrid (reciprocal rank fusion, ``recall``), and as a turn's words (``for_turn``:
   the hybrid with the user's preferences and facts as a third list): recall@5, the share whose
   answer is not in the top 20, and the relative change in those failures that the headers
   bring; dev and held-out wordings apart.
2. Latency at ``--entries`` entries of 50 users, MiniLM on one thread: ``recall`` (its query
   embedded afresh), BM25 alone, the query embedding and the vector scan alone, the write of one
   entry with its embedding, loading the vectors after opening; with the machine's load.
3. Robustness: a writer process killed with SIGKILL at a random moment, ``--kills`` times over
   one file; after each kill the file must pass SQLite's and FTS5's integrity checks and hold
   every episode the writer reported committed.

Writes JSON and the table as Markdown next to it; prints the table.
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from seal_nodes.bench import memory_sessions
from seal_nodes.core.language.encoder import EMBED_DIM, SentenceEncoder
from seal_nodes.core.memory.retrieval import Retriever
from seal_nodes.core.memory.store import Episode, Note, Store, StoreError, header
from seal_nodes.tools.latency import machine_info, write_report
from seal_nodes.tools.memory_set import DEV, HELDOUT, MemorySet, Question, answer_ids, generate, record

INDEXES = ("plain", "contextual")  # the text alone; the header in front
RETRIEVERS = ("bm25", "vector", "hybrid", "turn")
LABELS = {"bm25": "BM25 only", "vector": "embeddings only", "hybrid": "hybrid (RRF)",
          "turn": "hybrid + profile (for_turn)"}
SPLITS = (DEV, HELDOUT)
TOP, DEPTH = 5, 20
TALK = {"vector": -0.35, "hybrid": -0.49}  # Contextual Retrieval's top-20 failure changes


# ----------------------------------------------------------------------------- metrics
def first_hit(ranking: Sequence[int], answers: set[int]) -> int | None:
    """The 1-based rank of the first answer in ``ranking``; None when it holds none."""
    return next((n for n, i in enumerate(ranking, 1) if i in answers), None)


def metrics(results: Sequence[tuple[Sequence[int], set[int]]]) -> dict:
    """recall@1, recall@5 and the top-20 failure rate over (ranking, answer ids) pairs."""
    ranks = [first_hit(r, a) for r, a in results]
    n = len(ranks)

    def share(ok: Callable[[int | None], bool]) -> float | None:
        return round(sum(map(ok, ranks)) / n, 4) if n else None

    return {"n": n, "recall_at_1": share(lambda r: r is not None and r <= 1),
            "recall_at_5": share(lambda r: r is not None and r <= TOP),
            "fail_at_20": share(lambda r: r is None or r > DEPTH)}


def change(new: float | None, old: float | None) -> float | None:
    """The relative change from ``old`` to ``new`` (-0.35: 35 % fewer); None when undefined."""
    if new is None or not old:
        return None
    return round((new - old) / old, 4)


def percentiles(values: Sequence[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    arr = np.asarray(values, dtype=float)
    return {**{f"p{q}": round(float(np.percentile(arr, q)), 2) for q in (50, 95, 99)}, "n": int(arr.size)}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ----------------------------------------------------------------------------- 1. quality
def rank(retriever: Retriever, how: str, q: Question) -> list[int]:
    """The top ``DEPTH`` entry ids for ``q`` by ``how`` (one of RETRIEVERS), asked as its user."""
    if how == "bm25":
        return retriever.bm25(q.text, q.user)[:DEPTH]
    if how == "vector":
        return retriever.vector(q.text, q.user)[:DEPTH]
    if how == "turn":
        return [h.entry.id for h in retriever.for_turn(q.user, q.text, k=DEPTH)]
    return [h.entry.id for h in retriever.recall(q.text, q.user, k=DEPTH)]


def quality(mset: MemorySet, folder: Path, encoder: SentenceEncoder, progress: bool = True) -> dict:
    """Every question against both indexes and every retriever; rates per split."""
    runs: dict[str, list[tuple[list[int], set[int]]]] = {}  # "split/index/retriever[/category]"
    entries, misses = {}, []
    for index in INDEXES:
        store = Store(folder / f"{index}.sqlite3", contextual_headers=index == "contextual")
        try:
            written = record(mset, store, folder / index, encoder,
                             sessions=lambda s, i=index: tqdm(s, desc=f"recording ({i})", unit="session",
                                                               disable=not progress))
            entries[index] = store.count()
            retriever = Retriever(store, encoder)
            for q in tqdm(mset.questions, desc=f"asking ({index})", unit="question", disable=not progress):
                answers = answer_ids(q, written, store)
                for how in RETRIEVERS:
                    ranking = rank(retriever, how, q)
                    for key in (f"{q.split}/{index}/{how}", f"{q.split}/{index}/{how}/{q.category}"):
                        runs.setdefault(key, []).append((ranking, answers))
                    if index == "contextual" and how == "hybrid" and q.split == DEV and \
                            (first_hit(ranking, answers) or DEPTH + 1) > TOP:
                        misses.append(_miss(store, q, answers, ranking))
        finally:
            store.close()
    results = {split: {index: {how: metrics(runs.get(f"{split}/{index}/{how}", [])) for how in RETRIEVERS}
                       for index in INDEXES} for split in SPLITS}
    categories = sorted({q.category for q in mset.questions})
    return {
        "users": len(mset.users), "asked": mset.asked, "sessions": len(mset.sessions), "entries": entries,
        "questions": {split: sum(q.split == split for q in mset.questions) for split in SPLITS},
        "results": results,
        "change_fail_at_20": {split: {how: change(results[split]["contextual"][how]["fail_at_20"],
                                                  results[split]["plain"][how]["fail_at_20"]) for how in RETRIEVERS}
                              for split in SPLITS},
        "talk_comparison": {split: {
            "contextual_embeddings_vs_plain_embeddings": change(results[split]["contextual"]["vector"]["fail_at_20"],
                                                                results[split]["plain"]["vector"]["fail_at_20"]),
            "contextual_hybrid_vs_plain_embeddings": change(results[split]["contextual"]["hybrid"]["fail_at_20"],
                                                            results[split]["plain"]["vector"]["fail_at_20"]),
            "talk": {"contextual_embeddings_vs_plain_embeddings": TALK["vector"],
                     "contextual_hybrid_vs_plain_embeddings": TALK["hybrid"]}} for split in SPLITS},
        "by_category": {split: {c: {index: metrics(runs.get(f"{split}/{index}/hybrid/{c}", [])) for index in INDEXES}
                                for c in categories} for split in SPLITS},
        "dev_misses": misses,
    }


def _miss(store: Store, q: Question, answers: set[int], ranking: list[int]) -> dict:
    """A dev question hybrid + headers did not answer in its top 5: what it wanted, what it got."""
    return {"question": q.text, "user": q.user, "topic": q.topic, "rank": first_hit(ranking, answers),
            "answers": [e.text for e in store.entries(sorted(answers))],
            "top5": [f"{e.header} {e.text}" for e in store.entries(ranking[:TOP])]}


# ----------------------------------------------------------------------------- 2. latency
def _embed_all(store: Store, ids: list[int], encoder: SentenceEncoder, progress: bool, chunk: int = 512) -> None:
    """Embed the entries ``ids`` as the recorder would have, in large batches."""
    for start in tqdm(range(0, len(ids), chunk), desc="embedding", unit="chunk", disable=not progress):
        part = store.entries(ids[start:start + chunk])
        vectors = encoder.encode_many([store.indexed(e.header, e.text) for e in part])
        store.set_embeddings([e.id for e in part], vectors)


def latency(seed: int, folder: Path, encoder: SentenceEncoder, entries: int, users: int, queries: int,
            writes: int, progress: bool = True) -> dict:
    """Search and write times over a store of about ``entries`` entries of ``users`` users.

    The entries are recorded without embeddings and embedded in batches afterwards (the same
    rows, much sooner). Every timed query is a text the encoder has not seen, so its embedding
    is computed inside the timing; the query embedding alone is timed on other unseen texts."""
    mset = generate(seed, users=users, asked=users, sessions=3 + math.ceil(max(0, entries / users - 30) / 4) + 2)
    store = Store(folder / "latency.sqlite3")
    try:
        written = record(mset, store, folder / "latency", None, max_entries=entries,
                         sessions=lambda s: tqdm(s, desc="recording", unit="session", disable=not progress))
        _embed_all(store, sorted({i for ids in written.values() for i in ids}), encoder, progress)
        count = store.count()
    finally:
        store.close()
    load_before = _load()
    store = Store(folder / "latency.sqlite3")
    try:
        t0 = time.perf_counter()
        store.vectors()
        load_vectors_ms = (time.perf_counter() - t0) * 1e3
        retriever = Retriever(store, encoder)
        encoder.encode("which bin do you use")  # the model loaded before any timing
        retriever.recall("warm up the search", None)
        asked = list({q.text: q for q in mset.questions}.values())
        random.Random(seed).shuffle(asked)
        times: dict[str, list[float]] = {k: [] for k in ("recall", "bm25", "embedding", "scan", "write")}
        pairs = list(zip(asked[0::2], asked[1::2]))[:queries]
        for q, other in tqdm(pairs, desc="timing searches", unit="query", disable=not progress):
            t0 = time.perf_counter()
            retriever.recall(q.text, q.user, k=TOP)
            t1 = time.perf_counter()
            retriever.bm25(q.text, q.user)
            t2 = time.perf_counter()
            query = encoder.encode(q.text)  # cached by the recall: only the scan is timed below
            t3 = time.perf_counter()
            store.nearest(query, q.user, (), retriever.depth, retriever.min_cosine)
            t4 = time.perf_counter()
            encoder.encode(other.text)
            t5 = time.perf_counter()
            for key, dt in (("recall", t1 - t0), ("bm25", t2 - t1), ("scan", t4 - t3), ("embedding", t5 - t4)):
                times[key].append(dt * 1e3)
        names = mset.users
        for n in tqdm(range(writes), desc="timing writes", unit="write", disable=not progress):
            user, stamp = names[n % len(names)], time.time_ns()
            note = Note("request", f'{user} asked "put the red cube in bin number {n}"; done: put the red cube in '
                                   f"bin number {n} (succeeded)", "place", "succeeded")
            t0 = time.perf_counter()
            vector = encoder.encode_many([store.indexed(header(user, stamp, note.task, note.outcome), note.text)])
            store.save_episode(Episode(f"bench-write-{n}", user, stamp, stamp, note.task, note.outcome, ""),
                               [note], vector)
            times["write"].append((time.perf_counter() - t0) * 1e3)
    finally:
        store.close()
    return {"entries": count, "users": users, "encoder_threads": 1, "loadavg_before": load_before,
            "loadavg_after": _load(), "recall_ms": percentiles(times["recall"]), "bm25_ms": percentiles(times["bm25"]),
            "query_embedding_ms": percentiles(times["embedding"]), "vector_scan_ms": percentiles(times["scan"]),
            "write_ms": percentiles(times["write"]), "load_vectors_ms": round(load_vectors_ms, 1)}


# ----------------------------------------------------------------------------- 3. robustness
WRITER_NOTES = 3  # entries per episode the writer saves


def writer(path: str, seed: int) -> None:
    """The kill test's child: save episodes of ``WRITER_NOTES`` entries (with embeddings) to
    ``path`` until killed, printing each episode's id once its transaction has committed."""
    store = Store(path)
    rng = np.random.default_rng(seed)
    for n in itertools.count():
        stamp = time.time_ns()
        episode = Episode(f"w{seed}-{n}", "Writer", stamp, stamp, "place", "succeeded", "")
        notes = [Note("request", f'Writer asked "put the red cube in the bin" ({seed}/{n}/{j}); done: put the red '
                                 "cube in the bin (succeeded)", "place", "succeeded") for j in range(WRITER_NOTES)]
        store.save_episode(episode, notes, rng.standard_normal((WRITER_NOTES, EMBED_DIM)).astype(np.float32))
        print(episode.id, flush=True)


def _check(path: Path, reported: set[str]) -> tuple[bool, set[str]]:
    """(the file is sound, the reported episodes it lacks or holds only partly)."""
    try:
        Store(path).close()  # opens as the node would after a crash
        db = sqlite3.connect(str(path))
        try:
            sound = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            db.execute("INSERT INTO entries_fts(entries_fts) VALUES ('integrity-check')")
            rows = db.execute("SELECT count(*) FROM entries").fetchone()[0]
            sound = sound and rows == db.execute("SELECT count(*) FROM entries_fts").fetchone()[0]
            whole = {e for (e,) in db.execute("SELECT episode FROM entries GROUP BY episode HAVING count(*) = ?",
                                              (WRITER_NOTES,))}
        finally:
            db.close()
    except (sqlite3.DatabaseError, StoreError):
        return False, set(reported)
    return sound, reported - whole


def robustness(folder: Path, kills: int, seed: int, progress: bool = True, max_delay_s: float = 0.3) -> dict:
    """Kill a writer ``kills`` times, each a random 0..``max_delay_s`` after its first commit."""
    path = folder / "kill.sqlite3"
    rng = random.Random(seed)
    corrupt, lost, reported_all = 0, 0, 0
    code = "import sys; from seal_nodes.bench.memory import writer; writer(sys.argv[1], int(sys.argv[2]))"
    for n in tqdm(range(kills), desc="kill -9 during writes", unit="kill", disable=not progress):
        proc = subprocess.Popen([sys.executable, "-c", code, str(path), str(n)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda p=proc: lines.extend(line.strip() for line in p.stdout), daemon=True)
        reader.start()
        deadline = time.monotonic() + 120.0
        while not lines and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if not lines:
            proc.kill()
            _, err = proc.communicate()
            raise RuntimeError(f"the writer never committed: {err.strip()[-500:] or 'no output'}")
        time.sleep(rng.uniform(0.0, max_delay_s))
        proc.kill()  # SIGKILL
        proc.wait()
        reader.join(timeout=10.0)
        err = proc.stderr.read()
        proc.stderr.close()
        if proc.returncode != -signal.SIGKILL:
            raise RuntimeError(f"the writer stopped by itself ({proc.returncode}): {err.strip()[-500:]}")
        reported = {line for line in lines if line}
        sound, missing = _check(path, reported)
        corrupt += not sound
        lost += len(missing)
        reported_all += len(reported)
    db = sqlite3.connect(str(path))
    try:
        in_file = db.execute("SELECT count(*) FROM episodes").fetchone()[0]
    finally:
        db.close()
    return {"kills": kills, "corrupt": corrupt, "lost": lost, "reported_committed": reported_all,
            "episodes_in_file": in_file, "max_delay_s": max_delay_s}


# ----------------------------------------------------------------------------- report
def _num(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.0f} %"


def format_table(r: dict) -> str:
    q = r["quality"]
    lines = [f"# Memory benchmark (seed {r['run']['seed']}{', quick' if r['run']['quick'] else ''})", "",
             f"Retrieval quality: {q['asked']} users asked about + {q['users'] - q['asked']} distractors, "
             f"{q['sessions']} sessions; {q['entries']['contextual']} entries per store; questions: "
             f"{q['questions'][DEV]} dev, {q['questions'][HELDOUT]} held-out; each asked as its user "
             "(their entries + the shared ones).", "",
             "| split | retriever | recall@5 plain | recall@5 contextual | top-20 failures plain | "
             "top-20 failures contextual | failures, contextual vs plain |", "|---|---|---:|---:|---:|---:|---:|"]
    for split in SPLITS:
        for how in RETRIEVERS:
            p, c = q["results"][split]["plain"][how], q["results"][split]["contextual"][how]
            lines.append(f"| {split} | {LABELS[how]} | {_num(p['recall_at_5'])} | {_num(c['recall_at_5'])} | "
                         f"{_num(p['fail_at_20'])} | {_num(c['fail_at_20'])} | "
                         f"{_pct(q['change_fail_at_20'][split][how])} |")
    lines += ["", "Top-20 failures against plain embeddings (the talk: contextual embeddings −35 %, "
              "with contextual BM25 added −49 %):", ""]
    for split in SPLITS:
        t = q["talk_comparison"][split]
        lines.append(f"- {split}: contextual embeddings {_pct(t['contextual_embeddings_vs_plain_embeddings'])}, "
                     f"contextual hybrid {_pct(t['contextual_hybrid_vs_plain_embeddings'])}")
    lines += ["", "| category (hybrid) | dev n | dev recall@5 plain / contextual | held-out n | "
              "held-out recall@5 plain / contextual |", "|---|---:|---|---:|---|"]
    for cat in q["by_category"][DEV]:
        d, h = q["by_category"][DEV][cat], q["by_category"][HELDOUT][cat]
        lines.append(f"| {cat} | {d['plain']['n']} | {_num(d['plain']['recall_at_5'])} / "
                     f"{_num(d['contextual']['recall_at_5'])} | {h['plain']['n']} | "
                     f"{_num(h['plain']['recall_at_5'])} / {_num(h['contextual']['recall_at_5'])} |")
    lat = r["latency"]
    lines += ["", f"Latency: {lat['entries']} entries of {lat['users']} users, contextual, MiniLM on one thread; "
              f"load average (1/5/15 min) {lat['loadavg_before']} before, {lat['loadavg_after']} after "
              f"({r['run']['machine']['cpus']} CPUs).", "",
              "| measure | p50 ms | p95 ms | p99 ms | n |", "|---|---:|---:|---:|---:|"]
    for key, label in (("recall_ms", "recall, one user, k=5 (query embedding included)"), ("bm25_ms", "BM25 alone"),
                       ("query_embedding_ms", "query embedding alone"), ("vector_scan_ms", "vector scan alone"),
                       ("write_ms", "write one entry with its embedding")):
        s = lat[key]
        lines.append(f"| {label} | {_num(s['p50'], 1)} | {_num(s['p95'], 1)} | {_num(s['p99'], 1)} | {s['n']} |")
    lines.append(f"| loading the vectors after opening | {lat['load_vectors_ms']} | | | 1 |")
    rb = r["robustness"]
    lines += ["", f"Robustness: {rb['kills']} × kill -9 during writes: {rb['corrupt']} corrupt, {rb['lost']} lost "
              f"({rb['reported_committed']} episodes reported committed, {rb['episodes_in_file']} in the file)."]
    ss = r["sessions"]
    lines += ["", f"Across restarts: {ss['users']} people × 3 sessions, a fresh thinker (intent step, no language "
              f"model), recorder and reader over one store each session; preference applied "
              f"{_num(ss['preference_applied'])}.", "",
              "| check | dev | n | held-out | n |", "|---|---:|---:|---:|---:|"]
    for kind, label in (("welcome", "welcomed back by name"), ("favourite", "'my favourite cube' → that cube"),
                        ("usual", "'the usual' → their most frequent request")):
        rate = ss["rates"].get(kind, {})
        lines.append(f"| {label} | {_num(rate.get('dev'))} | {rate.get('dev_n', 0)} | {_num(rate.get('held_out'))} | "
                     f"{rate.get('held_out_n', 0)} |")
    lines += [f"- failed: {what} (×{n})" for what, n in ss["failures"]]
    return "\n".join(lines) + "\n"


def sessions(seed: int, users: int, encoder: SentenceEncoder, progress: bool) -> dict:
    """Preferences used across restarts by the thinker (``memory_sessions``)."""
    from seal_nodes.core.thinking.intent import IntentReader

    bar = tqdm(total=users * 3, desc="sessions", disable=not progress)
    result = memory_sessions.run(users=users, seed=seed, intent=IntentReader(encoder), progress=bar.update)
    bar.close()
    return {"users": users, **result}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal bench-memory", description=__doc__.splitlines()[0])
    ap.add_argument("--json", default="out/bench_memory.json", help="write the results here (the table as .md)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every part")
    ap.add_argument("--kills", type=int, default=None, help="writer kills (default 50; 3 with --quick)")
    ap.add_argument("--entries", type=int, default=None, help="entries for the latency part (default 10000)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    kills = args.kills if args.kills is not None else (3 if args.quick else 50)
    entries = args.entries if args.entries is not None else (300 if args.quick else 10_000)
    if kills < 0 or entries < 1:
        ap.error("--kills must be >= 0 and --entries >= 1")
    users, asked = (3, 2) if args.quick else (35, 25)
    progress = not args.no_progress
    encoder = SentenceEncoder(threads=1)
    result: dict = {"run": {"seed": args.seed, "quick": args.quick, "machine": machine_info(),
                            "loadavg_start": _load(), "encoder": "all-MiniLM-L6-v2, 1 thread"}}
    with tempfile.TemporaryDirectory(prefix="seal-bench-memory-") as tmp:
        folder = Path(tmp)
        steps = [("quality", lambda: quality(generate(args.seed, users=users, asked=asked), folder / "quality",
                                             encoder, progress)),
                 ("latency", lambda: latency(args.seed + 1, folder / "latency", encoder, entries,
                                             10 if args.quick else 50, 20 if args.quick else 300,
                                             5 if args.quick else 100, progress)),
                 ("robustness", lambda: robustness(folder / "kill", kills, args.seed, progress)),
                 ("sessions", lambda: sessions(args.seed, 4 if args.quick else 24, encoder, progress))]
        for i, (name, step) in enumerate(steps, 1):
            print(f"[{i}/{len(steps)}] {name} …", file=sys.stderr, flush=True)
            (folder / name).mkdir(parents=True, exist_ok=True)
            result[name] = step()
    result["run"]["loadavg_end"] = _load()
    write_report(args.json, result, format_table(result), calibration=not args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
