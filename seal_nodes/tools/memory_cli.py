"""seal memory: list, search, read, export, import and forget what the robot remembers.

People own their data: everything the memory holds about someone can be listed, read back as
a conversation, taken away as one file, brought back, or deleted with the raw episode files.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from seal_nodes.core import events as ev
from seal_nodes.core.memory import location, portable
from seal_nodes.core.memory.backends import make_store
from seal_nodes.core.memory.episodes import forget_files, read_raw
from seal_nodes.core.memory.retrieval import QueryEncoder, Retriever
from seal_nodes.core.memory.store import Entry, Episode, Store, StoreError, format_date
from seal_nodes.core.memory.users import canonical

PROG = "seal memory"


class CliError(Exception):
    """What to tell the user on stderr; the command exits with 2."""


@contextmanager
def _opened(folder: Path, create: bool = False) -> Iterator[Store]:
    path = location.store_path(folder)
    if not create and not path.is_file():
        raise CliError(f"no memory at {path} (give --dir, or set {location.ENV})")
    store = make_store(path, qdrant_url=location.qdrant_url())
    try:
        yield store
    finally:
        store.close()


def _who(store: Store, name: str) -> str:
    """The stored user ``name`` means: as written, else as the registry writes names."""
    known = {u.name for u in store.user_records()} | {ep.user for ep in store.episodes()}
    if name in known:
        return name
    try:
        key = canonical(name)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if key not in known:
        raise CliError(f"no user named {name!r} ({PROG} list shows who there is)")
    return key


def _entry_line(e: Entry) -> str:
    return f"  #{e.id:<5} {e.date}  {e.kind:<10} {e.text}" + ("  (shared)" if e.shared else "")


def _episode_line(ep: Episode) -> str:
    return f"  {ep.id}  {format_date(ep.started_ns)}  {ep.task}, {ep.outcome}"


# --- the commands ---------------------------------------------------------------------------
def cmd_list(folder: Path, args: argparse.Namespace) -> int:
    with _opened(folder) as store:
        if args.user:
            user = _who(store, args.user)
            episodes, entries = store.episodes(user), [s.entry for s in store.stored_entries(user)]
            print(f"{user}: {len(episodes)} episodes, {len(entries)} entries")
            print("episodes:", *map(_episode_line, episodes), sep="\n")
            print("entries:", *map(_entry_line, entries), sep="\n")
            return 0
        users = {u.name: u for u in store.user_records()}
        episodes = store.episodes()
        n_entries = Counter(s.entry.user for s in store.stored_entries())
        n_episodes = Counter(ep.user for ep in episodes)
        names = list(users) + sorted((set(n_entries) | set(n_episodes)) - set(users))
    if not names:
        print("the memory is empty")
        return 0
    width = max(len(n) for n in names + ["user"])
    print(f"{'user':<{width}}  entries  episodes  last seen")
    for name in names:
        seen = users[name].last_seen_ns if name in users else \
            max((ep.ended_ns for ep in episodes if ep.user == name), default=0)
        print(f"{name:<{width}}  {n_entries[name]:>7}  {n_episodes[name]:>8}  {format_date(seen) if seen else '-'}")
    return 0


def _encoder() -> QueryEncoder | None:
    """MiniLM if its package is installed (it loads offline), else None: BM25 alone."""
    from seal_nodes.core.language.encoder import SentenceEncoder, model_dir

    try:
        model_dir()
    except ModuleNotFoundError as exc:
        print(f"{PROG}: {exc}; searching by words only", file=sys.stderr)
        return None
    return SentenceEncoder()


def cmd_search(folder: Path, args: argparse.Namespace) -> int:
    with _opened(folder) as store:
        user = _who(store, args.user) if args.user else None
        retriever = Retriever(store, None if args.no_embeddings else _encoder())
        hits = retriever.recall(args.query, user, args.k)
    if retriever.last_problem:
        print(f"{PROG}: {retriever.last_problem}; searched by words only", file=sys.stderr)
    if not hits:
        print("nothing found")
    for hit in hits:
        e = hit.entry
        print(f"#{e.id:<5} {hit.date}  {e.user}: {e.text}  [{'+'.join(hit.found_by)}]")
    return 0


def _said(row: dict) -> str | None:
    """One raw event as a line of the conversation; None for the file's header line."""
    kind = row.get("type")
    if not isinstance(kind, str):
        return None
    stamp = row.get("stamp_ns")
    when = time.strftime("%H:%M:%S", time.localtime(stamp / 1e9)) if isinstance(stamp, int) else "--:--:--"
    text = str(row.get("text") or "")
    payload = row.get("payload") if isinstance(row.get("payload"), dict) else {}
    if kind == ev.SPEECH_END:
        return f"{when}  {row.get('user') or 'user'}: {text}"
    if kind == ev.AGENT_SPEECH_END:
        return f"{when}  robot: {text}" + ("  (cut off)" if payload.get("interrupted") else "")
    if kind == ev.ACTION_RESULT:
        done = "ok" if payload.get("success") else "canceled" if payload.get("canceled") else "failed"
        return f"{when}      [{payload.get('action') or 'action'}: {done}] {text}".rstrip()
    if kind == ev.TURN_DONE:
        return f"{when}      [turn done: {payload.get('outcome') or '?'}]"
    return f"{when}      [{kind}] {text}".rstrip()


def cmd_show(folder: Path, args: argparse.Namespace) -> int:
    target = args.id.strip()
    with _opened(folder) as store:
        if target.lstrip("#").isdigit():
            found = store.entries([int(target.lstrip("#"))])
            if not found:
                raise CliError(f"no entry {target}")
            e = found[0]
            print(f"entry #{e.id} of {e.user}, {e.date}: {e.kind}, {e.task}, {e.outcome}"
                  + (", shared" if e.shared else ""))
            print(f"  {e.text}\n  indexed as: {e.header} {e.text}\n  episode: {e.episode}")
            return 0
        episode = next((ep for ep in store.episodes() if ep.id == target), None)
        if episode is None:
            raise CliError(f"no episode or entry {target!r} ({PROG} list --user NAME shows the ids)")
        entries = [s.entry for s in store.stored_entries() if s.entry.episode == episode.id]
    ep = episode
    print(f"episode {ep.id} with {ep.user}, {format_date(ep.started_ns)} to {format_date(ep.ended_ns)}: "
          f"{ep.task}, {ep.outcome}")
    print("entries:", *map(_entry_line, entries), sep="\n")
    if not ep.raw_path:
        print("no raw record")
    elif not Path(ep.raw_path).is_file():
        print(f"the raw record {ep.raw_path} is missing")
    else:
        print(f"conversation ({ep.raw_path}):")
        print(*[line for line in map(_said, read_raw(ep.raw_path)) if line is not None], sep="\n")
    return 0


def _confirmed(question: str) -> bool:
    if not sys.stdin.isatty():
        raise CliError("stdin is not a terminal to confirm on: add --yes to forget without asking")
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except (EOFError, KeyboardInterrupt):
        print()
        return False


def cmd_forget(folder: Path, args: argparse.Namespace) -> int:
    with _opened(folder) as store:
        user = _who(store, args.user)
        n_episodes, n_entries = len(store.episodes(user)), len(store.stored_entries(user))
        if not args.yes and not _confirmed(f"Forget everything about {user} ({n_entries} entries, {n_episodes} "
                                           "episodes and their raw files)? This cannot be undone."):
            print("nothing forgotten")
            return 1
        gone = forget_files(folder, store.forget_user(user))
    print(f"forgot {user}: {n_entries} entries, {n_episodes} episodes, {gone} raw files")
    return 0


def cmd_export(folder: Path, args: argparse.Namespace) -> int:
    dest = Path(args.path)
    if dest.exists():
        raise CliError(f"{dest} exists: choose another path or remove it first")
    with _opened(folder) as store:
        counts = portable.export(store, folder, dest, _who(store, args.user) if args.user else None)
    print(f"exported {counts} to {dest}")
    return 0


def cmd_import(folder: Path, args: argparse.Namespace) -> int:
    src = Path(args.path)
    if not src.is_file():
        raise CliError(f"no export file at {src}")
    with _opened(folder, create=True) as store:
        counts = portable.import_(store, folder, src)
    print(f"imported {counts} into {folder}")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a positive whole number, not {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, help=f"the memory folder (default: ${location.ENV}, else "
                    "~/.local/share/seal/memory)")
    ap.add_argument("--qdrant-url", default="", help=f"the Qdrant server holding the vectors (default: "
                    f"${location.QDRANT_ENV}; none: the file alone)")
    sub = ap.add_subparsers(dest="command", required=True)
    commands: list[tuple[str, Callable[[Path, argparse.Namespace], int], str]] = [
        ("list", cmd_list, "the users with their entry and episode counts; with --user, that user's episodes "
                           "and entries"),
        ("search", cmd_search, "the entries that best match a query (words, and meaning when MiniLM loads)"),
        ("show", cmd_show, "one entry, or one episode with its entries and its conversation"),
        ("forget", cmd_forget, "delete everything about a user: entries, episodes, voice and raw files"),
        ("export", cmd_export, "write the memory, or one user's part, to one JSON Lines file"),
        ("import", cmd_import, "read an export back in (merging with what is here)"),
    ]
    p = {}
    for name, func, help_ in commands:
        p[name] = sub.add_parser(name, help=help_, description=help_)
        p[name].set_defaults(func=func)
    p["list"].add_argument("--user", help="list this user's episodes and entries")
    p["search"].add_argument("query")
    p["search"].add_argument("--user", help="this user's entries and the shared ones only")
    p["search"].add_argument("-k", type=_positive, default=5, help="how many entries (at most 50)")
    p["search"].add_argument("--no-embeddings", action="store_true", help="BM25 only: do not load MiniLM")
    p["show"].add_argument("id", help="an episode id, or an entry id (#12 or 12)")
    p["forget"].add_argument("--user", required=True)
    p["forget"].add_argument("--yes", action="store_true", help="do not ask (needed when stdin is not a terminal)")
    p["export"].add_argument("path", help="the file to write (must not exist)")
    p["export"].add_argument("--user", help="only this user's data")
    p["import"].add_argument("path", help="a file written by seal memory export")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.qdrant_url:
        os.environ[location.QDRANT_ENV] = args.qdrant_url  # where _opened finds it
    folder = (args.dir or location.default_dir()).expanduser()
    try:
        return int(args.func(folder, args))
    except (CliError, StoreError, portable.PortableError, sqlite3.Error, OSError) as exc:
        print(f"{PROG} {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
