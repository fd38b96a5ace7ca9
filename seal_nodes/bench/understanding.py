"""``seal bench-understanding``: does the agent do what people mean, from everyday spoken requests?

The command set (``tools/understanding_set.py``: new wordings, compound requests, ambiguous
ones, out-of-scope asks, chit-chat) is spoken in voices the project never used elsewhere, clean
and in noise, and transcribed by the real perception core (Whisper tiny.en, biased to the scene
words as the stack is), offline and on a simulated real-time clock. Each transcript is played to
a ``Thinker`` with no language model (the ``commands`` backend) in the scenario world of
``seal think``: vision has reported the three cubes and where they are, every action succeeds,
and a question back is answered with the item's follow-up line, transcribed the same way (an
honest user: a yes becomes "no" when the question is about something else than was meant).

Two configurations side by side on the same transcripts: ``fast_path`` (the regex fast path
only, understanding off) and ``understanding`` (the ``IntentReader`` in front of it). Each item
is classified (``classify``) and the rates are given per configuration and category, with the
word error rate of the transcripts and the time the thinker takes to decide on a final
transcript. ``--text-only`` feeds the texts themselves (no audio): quick, and what the tests run.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from itertools import permutations
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from tqdm import tqdm

from seal_nodes.core import events as ev
from seal_nodes.core.actions import Action
from seal_nodes.core.thinking.commands import Command, Say, TurnDone
from seal_nodes.core.thinking.context import ACT
from seal_nodes.core.thinking.fast_path import parse_action
from seal_nodes.core.thinking.thinker import Thinker, ThinkerConfig
from seal_nodes.tools.charts import bar_chart
from seal_nodes.tools.latency import machine_info, summarize
from seal_nodes.tools.scenario import ScenarioWorld, SimClock, parse_scenario
from seal_nodes.tools.understanding_set import ACT as ACT_AT_ONCE
from seal_nodes.tools.understanding_set import (ANSWER, ASK, CATEGORIES, CONDITIONS, DATA, DECLINE, HELDOUT, NO,
                                                VOICES, Clip, CommandSet, Item, UnderstandingSetError, affirmative,
                                                interleave, load_set, render_set)
from seal_nodes.tools.wer import normalize, wer

if TYPE_CHECKING:
    from seal_nodes.core.perception.audio import AudioPerception
    from seal_nodes.core.thinking.intent import IntentReader

CONFIGS = ("fast_path", "understanding")
CORRECT, WRONG, ASKED, ASKED_WRONG, DECLINED, SILENT, OTHER = (
    "correct", "wrong", "asked", "asked_wrong", "declined", "silent", "other")
CLASSES = (CORRECT, WRONG, ASKED, ASKED_WRONG, DECLINED, SILENT, OTHER)
GOOD = (CORRECT, ASKED, DECLINED)  # carried out as the user meant
SCENE_WORDS = ["red cube", "green cube", "blue cube", "bin"]  # the sim stack's bias words
DEFAULT_DIR = Path.home() / ".cache" / "seal" / "understanding"
USER_AT_MS = 200.0  # the request starts this long after vision reported the scene
REPLY_AFTER_MS = 500.0  # the user answers a question back this long after the agent went quiet


# ----------------------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class Turn:
    """What the agent did with one user line."""

    heard: str  # the final transcript the thinker got
    said: tuple[str, ...]  # its words, fillers left out
    actions: tuple[Action, ...]  # started, in order (stop included)
    outcome: str = ""  # the last TurnDone's outcome ("asked" = a question back)
    understood: str = ""  # what the agent took the request for (what it asked about)

    @property
    def asked(self) -> bool:
        return self.outcome == "asked"


def _same(done: Sequence[Action], expected: Sequence[Action], any_order: bool) -> bool:
    if any_order:
        return sorted(map(str, done)) == sorted(map(str, expected))
    return list(map(str, done)) == list(map(str, expected))


def _unexpected(done: Sequence[Action], expected: Sequence[Action]) -> bool:
    """Is any action done beyond what was expected (counted: twice the same pick is one too many)?"""
    return bool(Counter(map(str, done)) - Counter(map(str, expected)))


def _answered(item: Item, turn: Turn) -> bool:
    if turn.outcome in ("apologized", "refused"):  # "I didn't understand" answers nothing
        return False
    words = set(normalize(" ".join(turn.said)))
    return not item.mentions or any(set(normalize(m)) <= words for m in item.mentions)


def classify(item: Item, turns: Sequence[Turn]) -> str:
    """One of CLASSES for what the agent did with ``item`` (the request, then the follow-up).

    Acting at once is correct only with exactly the expected actions: for an ambiguous item only
    when its follow-up is a plain yes (the guess was the meaning), any other action is wrong. A
    question back is fine for any item; what counts is what the follow-up leads to.
    """
    first = turns[0]
    acts_now = item.outcome == ACT_AT_ONCE or (item.outcome == ASK and affirmative(item.reply))
    expected_now = item.actions if acts_now else ()
    if first.actions:
        if _same(first.actions, expected_now, item.any_order) and expected_now:
            return CORRECT
        return WRONG if _unexpected(first.actions, expected_now) else OTHER
    if first.asked:
        after = turns[1] if len(turns) > 1 else None
        if after is None or after.asked:
            return OTHER
        if not after.said and not after.actions:
            return SILENT
        if item.outcome in (DECLINE, ANSWER):
            return ASKED_WRONG if after.actions else ASKED
        if _same(after.actions, item.actions, item.any_order):
            return ASKED
        return ASKED_WRONG if _unexpected(after.actions, item.actions) else OTHER
    if not first.said:
        return SILENT
    if item.outcome == DECLINE:
        return DECLINED
    if item.outcome == ANSWER and _answered(item, first):
        return CORRECT
    return OTHER


# ----------------------------------------------------------------------------- hearing
@dataclass(frozen=True)
class Heard:
    """A line as the thinker gets it: scenario entries (times from the clip's start)."""

    text: str  # the final transcript(s), a revised one replacing what it revises
    entries: tuple[dict, ...]
    cpu_s: float = 0.0  # perception's processing time


def hear_text(text: str) -> Heard:
    """The line itself, as the scenario world makes perception events of a ``user`` entry."""
    return Heard(text, ({"t_ms": 0.0, "user": text},))


def hear_clip(clip: Clip, core: AudioPerception) -> Heard:
    """The clip streamed through the perception core (simulated real-time clock, real CPU time).

    Every event is replayed as the stack would deliver it: at its emission time, with its trace
    id and payload. The partials go along as they are (the thinker keeps the last one as an
    alternative transcript); nothing is added that perception does not publish.
    """
    from seal_nodes.tools.perceive import perceive_pcm

    pcm, rate = clip.pcm()
    core.config.bias_words = list(SCENE_WORDS)
    res = perceive_pcm(pcm, rate, core=core)
    entries, finals = [], []
    for te in res.events:
        e = te.event
        if e.type == ev.SPEECH_END:  # a final that revises an earlier one replaces it
            finals = [f for f in finals if f[0] != e.payload.get("revises")] + [(e.trace_id, e.text.strip())]
        entries.append({"t_ms": round(te.t_ms, 1), "event": {"type": e.type, "text": e.text,
                                                               "payload": dict(e.payload), "trace_id": e.trace_id}})
    return Heard(" ".join(t for _, t in finals if t), tuple(entries), res.cpu_s)


def _perception_key() -> str:
    """What a transcript depends on besides its audio: the perception code, the recogniser's
    model file and the bias words."""
    import seal_nodes
    from seal_nodes.core.perception.whisper import model_dir

    root = Path(seal_nodes.__file__).parent
    h = hashlib.sha256(json.dumps(SCENE_WORDS).encode())
    for path in sorted([*(root / "core" / "perception").rglob("*.py"), *(root / "core" / "audio").rglob("*.py"),
                        root / "tools" / "perceive.py"]):
        h.update(path.read_bytes())
    h.update(str((model_dir() / "model.bin").stat().st_size).encode())
    return h.hexdigest()[:12]


class Ears:
    """Clips transcribed once: a transcript is kept on disk under ``cache_dir``, keyed by its
    clip and ``_perception_key``, so a rerun of the thinker side needs no Whisper."""

    def __init__(self, cache_dir: Path) -> None:
        self.dir = Path(cache_dir)
        self.key = _perception_key()
        self.core: AudioPerception | None = None  # loaded on the first clip not in the cache

    def hear(self, clip: Clip) -> Heard:
        path = self.dir / f"{Path(clip.path).stem}.heard.{self.key}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Heard(data["text"], tuple(data["entries"]), data["cpu_s"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # not heard yet (or a broken entry): transcribe
        if self.core is None:
            from seal_nodes.core.perception.audio import AudioPerception, AudioPerceptionConfig

            self.core = AudioPerception(AudioPerceptionConfig(bias_words=list(SCENE_WORDS)))
        heard = hear_clip(clip, self.core)
        self.dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(heard)), encoding="utf-8")
        return heard


# ----------------------------------------------------------------------------- playing
class _RecordingThinker(Thinker):
    """The real thinker; keeps every command it returns and times its decision on each final."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.commands: list[Command] = []
        self.decide_ms: list[float] = []

    def handle(self, event: ev.Event) -> list[Command]:
        t0 = time.perf_counter()
        out = super().handle(event)
        if event.type == ev.SPEECH_END:
            self.decide_ms.append((time.perf_counter() - t0) * 1e3)
        self.commands += out
        return out

    def tick(self) -> list[Command]:
        out = super().tick()
        self.commands += out
        return out


def _seen(name: str, pos: Sequence[float]) -> dict:
    """An object_seen payload as vision sends one with a calibrated camera."""
    return {"name": name, "color": name.split("_")[0], "position": list(pos), "frame": "world"}


def _scene_entries(cset: CommandSet) -> list[dict]:
    return [{"t_ms": 0.0, "event": {"type": ev.OBJECT_SEEN, "text": name, "payload": _seen(name, pos)}}
            for name, pos in cset.scene.items()]


def follow_up_role(item: Item, asked: Turn) -> str:
    """Which line the user answers a question back with: the item's follow-up, except that a
    plain yes becomes "no" when the agent proposes something else than was meant."""
    if not affirmative(item.reply):
        return "reply"
    from seal_nodes.core.thinking.intent import Reading

    orders = permutations(item.actions) if item.any_order else [item.actions]
    meant = {Reading(tuple(a), 1.0, "expected", item.text).describe() for a in orders}
    return "reply" if asked.understood in meant else "no"


def _shift(entries: Sequence[dict], ms: float) -> list[dict]:
    return [{**e, "t_ms": e["t_ms"] + ms} for e in entries]


def _play(thinker: _RecordingThinker, clock: SimClock, name: str, entries: list[dict], heard: str,
          known: list[str]) -> Turn:
    """Play ``entries`` until everything is quiet (every action done); what the agent did."""
    history, commands = len(thinker.history), len(thinker.commands)
    world = ScenarioWorld(parse_scenario({"name": name, "events": entries, "known_objects": known}),
                          thinker, clock, simulated=True)
    world.run()
    out = thinker.commands[commands:]
    said = tuple(c.text for c in out if isinstance(c, Say) and not c.filler)
    done = [c for c in out if isinstance(c, TurnDone)]
    actions = tuple(parse_action(s.text) for s in thinker.history[history:] if s.kind == ACT)
    return Turn(heard, said, actions, done[-1].outcome if done else "", done[-1].understood if done else "")


def play_item(item: Item, cset: CommandSet, line: Heard, reply: Callable[[str], Heard], understanding: bool,
              reader: IntentReader | None = None) -> tuple[list[Turn], list[float]]:
    """The item's conversation with a fresh thinker: its turns and the decision times (ms).
    ``reply(role)`` hears the user's answer to a question back (see ``follow_up_role``)."""
    clock = SimClock()
    thinker = _RecordingThinker(None, set(cset.objects), clock_ns=clock,
                                config=ThinkerConfig(understanding=understanding),
                                intent=reader if understanding else None)
    known = sorted(cset.objects)
    try:
        turns = [_play(thinker, clock, item.id, _scene_entries(cset) + _shift(line.entries, USER_AT_MS),
                       line.text, known)]
        if turns[0].asked:
            answer = reply(follow_up_role(item, turns[0]))
            turns.append(_play(thinker, clock, f"{item.id}/reply", _shift(answer.entries, REPLY_AFTER_MS),
                               answer.text, known))
    finally:
        thinker.close()
    return turns, thinker.decide_ms


def make_reader(cset: CommandSet) -> IntentReader:
    """The intent step as the thinker node builds it, warmed up on the scene (MiniLM loaded and
    the scene's paraphrases embedded now, not in the first item's turn)."""
    from seal_nodes.core.language.encoder import SentenceEncoder
    from seal_nodes.core.thinking.intent import IntentReader
    from seal_nodes.core.thinking.references import scene_objects

    reader = IntentReader(SentenceEncoder())
    scene = {name: _seen(name, pos) for name, pos in cset.scene.items()}
    reader.read("pick up the red cube", scene_objects(cset.objects, scene))
    return reader


# ----------------------------------------------------------------------------- the run
@dataclass
class _Tally:
    classes: Counter = field(default_factory=Counter)
    by_category: dict[str, Counter] = field(default_factory=dict)
    decide_ms: list[float] = field(default_factory=list)

    def add(self, item: Item, cls: str, decide_ms: list[float]) -> None:
        self.classes[cls] += 1
        self.by_category.setdefault(item.category, Counter())[cls] += 1
        self.decide_ms += decide_ms

    def summary(self) -> dict:
        def rates(c: Counter) -> dict:
            n = sum(c.values())
            out = {k: round(c[k] / n, 3) for k in CLASSES} if n else {}
            return {"n": n, "counts": {k: c[k] for k in CLASSES}, "rates": out,
                    "success": round(sum(c[k] for k in GOOD) / n, 3) if n else None}

        return {**rates(self.classes), "by_category": {k: rates(self.by_category[k]) for k in CATEGORIES
                                                       if k in self.by_category},
                "decide_ms": summarize(self.decide_ms)}


def run_bench(*, text_only: bool = False, out_dir: Path = DEFAULT_DIR, seed: int = 0, limit: int | None = None,
              configs: Sequence[str] = CONFIGS, voices: Sequence[str] = VOICES,
              conditions: Sequence[str] = CONDITIONS, progress: bool = True, set_path: Path = DATA) -> dict:
    """Every item of the set at ``set_path`` (the first ``limit``, interleaved over categories) in
    each of ``configs``: the verdicts, their rates per configuration and category, the transcripts'
    WER, per-item details. Sets share ``out_dir``: a clip's cache name hashes its text."""
    cset = load_set(set_path)
    items = interleave(cset.items)[:limit]
    reader = make_reader(cset) if "understanding" in configs else None
    clips: dict[str, dict[str, Clip]] = {}
    ears = None
    if not text_only:
        clips = render_set(items, out_dir / f"seed{seed}", seed=seed, voices=voices, conditions=conditions,
                           all_items=cset.items, progress=progress)
        ears = Ears(out_dir / f"seed{seed}")
    heard: dict[tuple[str, str], Heard] = {}

    def hear(item: Item, role: str) -> Heard:
        if (item.id, role) not in heard:
            text = {"line": item.text, "reply": item.reply, "no": NO}[role]
            heard[item.id, role] = hear_text(text) if ears is None else ears.hear(clips[item.id][role])
        return heard[item.id, role]

    tallies = {c: _Tally() for c in configs}
    details = []
    for item in tqdm(items, desc="playing" if text_only else "transcribing + playing", unit="item",
                     disable=not progress):
        line = hear(item, "line")
        row = {"id": item.id, "category": item.category, "text": item.text, "reply": item.reply,
               "expected": [str(a) for a in item.actions], "heard": line.text}
        if clips:
            row.update(voice=clips[item.id]["line"].voice, condition=clips[item.id]["line"].condition)
        for name in configs:
            turns, decide_ms = play_item(item, cset, line, lambda role, i=item: hear(i, role),
                                         name == "understanding", reader)
            cls = classify(item, turns)
            tallies[name].add(item, cls, decide_ms)
            row[name] = {"class": cls, "turns": [{**asdict(t), "actions": [str(a) for a in t.actions]}
                                                 for t in turns]}
        details.append(row)
    return {"items": len(items), "set": Path(set_path).name, "mode": "text" if text_only else "audio", "seed": seed,
            "voices": list(voices) if not text_only else [], "conditions": list(conditions) if not text_only else [],
            "machine": machine_info(), "configs": {c: t.summary() for c, t in tallies.items()},
            **({} if text_only else _wer(items, heard, clips)), "details": details}


def _wer(items: Sequence[Item], heard: dict[tuple[str, str], Heard], clips: dict[str, dict[str, Clip]]) -> dict:
    """Word error rates of the finals: requests overall, by condition and voice; follow-ups."""
    groups: dict[str, tuple[list[str], list[str]]] = {}
    cpu = 0.0
    for (item_id, role), h in heard.items():
        clip = clips[item_id][role]
        keys = [role] + ([f"condition:{clip.condition}", f"voice:{clip.voice}"] if role == "line" else [])
        for key in keys:
            refs, hyps = groups.setdefault(key, ([], []))
            refs.append(clip.text)
            hyps.append(h.text)
        cpu += h.cpu_s
    return {"wer": {k: {"wer": round(wer(r, h), 3), "n": len(r)} for k, (r, h) in sorted(groups.items())},
            "perception_cpu_s": round(cpu, 1)}


# ----------------------------------------------------------------------------- report
def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def format_table(r: dict) -> str:
    cfgs = list(r["configs"])
    head = f"# Understanding benchmark ({r['items']} items of {r['set']}, {r['mode']}"
    head += f", seed {r['seed']})" if r["mode"] == "audio" else ")"
    lines = [head, "", "| | " + " | ".join(cfgs) + " |", "|---|" + "---|" * len(cfgs)]
    rows = [("carried out as meant (correct + asked + declined); target ≥ 90%", lambda s: _pct(s["success"]))]
    rows += [(f"{k}{' (target ≤ 1%)' if k == WRONG else ' (target 0)' if k == SILENT else ''}",
              lambda s, k=k: _pct(s["rates"].get(k))) for k in CLASSES]
    rows += [("thinker's decision on a final transcript, ms: p50 / p99",
              lambda s: f"{s['decide_ms']['p50']} / {s['decide_ms']['p99']}")]
    for label, fn in rows:
        lines.append(f"| {label} | " + " | ".join(fn(r["configs"][c]) for c in cfgs) + " |")
    lines += ["", "| category | n | " + " | ".join(f"{c}: as meant / wrong / asked / silent" for c in cfgs) + " |",
              "|---|---|" + "---|" * len(cfgs)]
    for cat in CATEGORIES:
        per = [r["configs"][c]["by_category"].get(cat) for c in cfgs]
        if not per[0]:
            continue
        cells = [" / ".join(_pct(x) for x in (p["success"], p["rates"][WRONG],
                                             p["rates"][ASKED] + p["rates"][ASKED_WRONG], p["rates"][SILENT]))
                 for p in per]
        lines.append(f"| {cat} | {per[0]['n']} | " + " | ".join(cells) + " |")
    if "wer" in r:
        lines += ["", "| word error rate of the transcripts | WER | n |", "|---|---|---|"]
        lines += [f"| {k} | {v['wer']} | {v['n']} |" for k, v in r["wer"].items()]
    return "\n".join(lines) + "\n"


def write_chart(r: dict, path: Path) -> None:
    """Per category, each configuration's share carried out as meant, wrong actions stacked in red."""
    cats = [c for c in CATEGORIES if c in next(iter(r["configs"].values()))["by_category"]]
    series = {name: [s["by_category"][c]["success"] for c in cats] for name, s in r["configs"].items()}
    wrong = {name: [s["by_category"][c]["rates"][WRONG] for c in cats] for name, s in r["configs"].items()}
    bar_chart(path, cats, series, on_top=wrong, title="carried out as meant, per category", ylabel="share of items",
              on_top_label="wrong action")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal bench-understanding", description=__doc__.splitlines()[0])
    ap.add_argument("--json", dest="json_path", help="write the results here (and the table as .md, "
                    "the chart as .png next to it)")
    ap.add_argument("--out", type=Path, default=DEFAULT_DIR,
                    help="where the rendered audio and its transcripts are cached")
    ap.add_argument("--seed", type=int, default=0, help="voices, conditions and noise of the rendering")
    ap.add_argument("--limit", type=int, default=None, help="only the first N items (every category covered)")
    ap.add_argument("--text-only", action="store_true", help="feed the texts themselves: no audio, no ASR")
    ap.add_argument("--set", dest="set_path", type=Path, default=DATA,
                    help=f"the command set file (default: the development set; the held-out one is {HELDOUT})")
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be at least 1")
    try:
        result = run_bench(text_only=args.text_only, out_dir=args.out, seed=args.seed, limit=args.limit,
                           set_path=args.set_path)
    except UnderstandingSetError as exc:
        ap.error(str(exc))
    table = format_table(result)
    print(table)
    if args.json_path:
        path = Path(args.json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1) + "\n")
        path.with_suffix(".md").write_text(table)
        write_chart(result, path.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
