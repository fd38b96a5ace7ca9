"""The spoken command set of ``seal bench-understanding``: items, validation, rendered audio.

``data/understanding_set.yaml`` (format at its top) holds everyday requests for the tabletop:
new wordings of the six arm/system actions, compound requests resolved against a fixed scene,
ambiguous ones that deserve a question back, out-of-scope asks and chit-chat, each with the
outcome expected; ``data/understanding_heldout.yaml`` holds new ones in the same format, kept
out of development so that its score is an honest one. ``render_set`` speaks every line and its
follow-up in voices the project never used elsewhere, clean and in noise (soundgen),
deterministically per seed; each clip is cached under a name that hashes everything it depends
on (its text included, so the two sets share a cache), and a partial run is reused by a larger one.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from seal_nodes.core.actions import Action, ActionError, validate
from seal_nodes.core.audio.frames import RATE
from seal_nodes.core.audio.wav import read_wav, write_wav
from seal_nodes.core.thinking.fast_path import parse_action
from seal_nodes.tools import soundgen, spoken
from seal_nodes.tools.speechset import SPEECH_DBFS, Condition, Voice, balanced_cycle, seeded_rng, speak

DATA = Path(__file__).parent / "data" / "understanding_set.yaml"
HELDOUT = DATA.with_name("understanding_heldout.yaml")  # same format; never tuned against
CATEGORIES = ("pick", "place", "push", "point", "home", "stop", "compound", "ambiguous", "out_of_scope", "chat")
ACT, ASK, DECLINE, ANSWER = "act", "ask", "decline", "answer"  # what the agent should do
NO = "No."  # the user's answer when the agent asks back about something else than was meant
_OUTCOME = {"ambiguous": ASK, "out_of_scope": DECLINE, "chat": ANSWER}  # every other category: ACT
_KEYS = {"category", "text", "actions", "any_order", "ask", "reply", "mentions"}
# Voices and rates no other set of the project speaks in (speechset uses en-us, en-us+f3, en-gb,
# en-gb-scotland and piper joe at 0.85-1.2): two rates per espeak voice, piper far slower/faster.
VOICES = ("espeak:en-us+m3@140", "espeak:en-us+m3@195", "espeak:en-029@150", "espeak:en-029@185",
          "espeak:en-gb-x-rp@135", "espeak:en-gb-x-rp@180", "espeak:en-us+f2@160", "espeak:en-us+f2@205",
          "espeak:en-us+m7@125", "espeak:en-us+m7@170", "piper:joe@0.75", "piper:joe@1.35")
CONDITIONS = ("clean", "pink_10db", "fan_10db", "music_10db")
_LEVEL = 25  # |sample| (int16) above this is the synthesiser's sound, not its silence
_VERSION = 1  # bump when the rendering changes in a way the source hashes cannot see


class UnderstandingSetError(ValueError):
    """A command set file that cannot be used; the message says which item and why."""


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    category: str
    outcome: str  # ACT, ASK, DECLINE or ANSWER
    actions: tuple[Action, ...]  # expected (after the follow-up, for ASK)
    reply: str  # the user's answer to a question back
    any_order: bool = False
    mentions: tuple[str, ...] = ()  # ANSWER: one of these words must be said


@dataclass(frozen=True)
class CommandSet:
    scene: dict[str, tuple[float, ...]]  # object name → robot-frame position (m)
    items: tuple[Item, ...]

    @property
    def objects(self) -> set[str]:
        return set(self.scene)


def load_set(path: Path = DATA) -> CommandSet:
    """Parse and validate the command set; raises UnderstandingSetError naming the bad item."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UnderstandingSetError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("scene"), dict) or not isinstance(data.get("items"), list):
        raise UnderstandingSetError(f"{path}: needs a 'scene' mapping and an 'items' list")
    scene = {}
    for name, pos in data["scene"].items():
        if not (isinstance(pos, list) and len(pos) in (2, 3) and all(isinstance(v, (int, float)) for v in pos)):
            raise UnderstandingSetError(f"{path}: scene {name!r} needs a position [x, y] or [x, y, z]")
        scene[str(name)] = tuple(float(v) for v in pos)
    counts: dict[str, int] = {}
    items = []
    for i, raw in enumerate(data["items"]):
        try:
            items.append(_item(raw, counts, set(scene)))
        except (UnderstandingSetError, ActionError, ValueError, TypeError) as exc:
            raise UnderstandingSetError(f"{path}: item {i} ({raw!r}): {exc}") from None
    texts = [_norm(i.text) for i in items]
    dup = sorted({t for t in texts if texts.count(t) > 1})
    if dup:
        raise UnderstandingSetError(f"{path}: items said twice: {dup}")
    return CommandSet(scene, tuple(items))


def _item(raw: object, counts: dict[str, int], objects: set[str]) -> Item:
    if not isinstance(raw, dict):
        raise UnderstandingSetError("an item is a mapping")
    unknown = set(raw) - _KEYS
    if unknown:
        raise UnderstandingSetError(f"unknown keys {sorted(unknown)}")
    category, text = raw.get("category"), raw.get("text")
    if category not in CATEGORIES:
        raise UnderstandingSetError(f"category must be one of {CATEGORIES}")
    if not isinstance(text, str) or not text.strip():
        raise UnderstandingSetError("text must be a non-empty string")
    outcome = _OUTCOME.get(category, ACT)
    actions = tuple(validate(parse_action(str(a)), objects) for a in raw.get("actions") or ())
    if (outcome in (ACT, ASK)) != bool(actions):
        raise UnderstandingSetError(f"a {category} item {'needs' if outcome in (ACT, ASK) else 'takes no'} actions")
    if (outcome == ASK) != ("ask" in raw):
        raise UnderstandingSetError("'ask' (the follow-up) is given for, and only for, an ambiguous item")
    mentions = tuple(str(m) for m in raw.get("mentions") or ())
    if mentions and outcome != ANSWER:
        raise UnderstandingSetError("'mentions' is for chat items")
    reply = raw.get("ask") or raw.get("reply") or ("yes" if outcome == ACT else "no")
    if not isinstance(reply, str) or not reply.strip():
        raise UnderstandingSetError("the follow-up must be a non-empty string")
    counts[category] = counts.get(category, 0) + 1
    return Item(f"{category}-{counts[category]:02d}", text.strip(), category, outcome, actions, reply.strip(),
                bool(raw.get("any_order", False)), mentions)


def affirmative(text: str) -> bool:
    """A follow-up that is a plain yes ("Yes.", "Yes, please.")."""
    return _norm(text).split()[:1] == ["yes"]


def _norm(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c in " '").split())


def interleave(items: Sequence[Item]) -> list[Item]:
    """Round-robin over categories, so the first N items of a ``--limit`` run cover them all."""
    by_cat = [[i for i in items if i.category == c] for c in CATEGORIES]
    longest = max((len(b) for b in by_cat), default=0)
    return [b[k] for k in range(longest) for b in by_cat if k < len(b)]


# ----------------------------------------------------------------------------- audio
@dataclass(frozen=True)
class Clip:
    """One rendered line: the item's request (``role`` "line"), its follow-up ("reply"), or, where
    that is a yes, the "no" for a question back about something else."""

    item_id: str
    role: str
    text: str
    voice: str
    condition: str
    path: str
    onset_ms: float
    offset_ms: float

    def pcm(self) -> tuple[np.ndarray, int]:
        return read_wav(self.path)


def assign(items: Sequence[Item], seed: int, voices: Sequence[str] = VOICES,
           conditions: Sequence[str] = CONDITIONS) -> dict[str, tuple[Voice, Condition]]:
    """Each item's voice and condition (its follow-up is spoken the same way), balanced over the
    whole set in file order, so a ``--limit`` run renders the same clips as the full one."""
    vs, cs = [Voice.parse(v) for v in voices], [Condition.parse(c) for c in conditions]
    if not vs or not cs:
        raise UnderstandingSetError("voices and conditions must not be empty")
    vcyc, ccyc = balanced_cycle(vs, seeded_rng(seed, "voice")), balanced_cycle(cs, seeded_rng(seed, "condition"))
    return {i.id: (next(vcyc), next(ccyc)) for i in items}


def _speech(voice: Voice, text: str, dbfs: float) -> np.ndarray:
    """The synthesiser's sound cut from its silence (short faded edges), at an RMS of ``dbfs``."""
    x = speak(voice, text)
    pcm = np.round(x * 32768.0)
    on, off = spoken.true_onset(pcm, _LEVEL), spoken.true_offset(pcm, _LEVEL)
    if off <= on:
        raise UnderstandingSetError(f"{voice.key} produced no sound for {text!r}")
    edge = int(0.005 * RATE)
    x = x[max(0, on - edge): off + edge].astype(np.float64)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, edge))
    x[:edge] *= ramp
    x[len(x) - edge:] *= ramp[::-1]
    return x * 10 ** ((dbfs - soundgen.rms_db(x)) / 20)


def render_line(text: str, voice: Voice, condition: Condition, rng: np.random.Generator
                ) -> tuple[np.ndarray, float, float]:
    """``text`` as heard at the mic: 0.8–1.5 s of the background, the speech, 1.5 s more, with the
    background at the condition's SNR re the speech. (int16 samples, onset ms, offset ms)."""
    speech = _speech(voice, text, SPEECH_DBFS + rng.uniform(-3, 3))
    lead = int(rng.uniform(0.8, 1.5) * RATE)
    clean = np.concatenate([np.zeros(lead), speech, np.zeros(int(1.5 * RATE))])
    seed, dur = int(rng.integers(2**31)), len(clean) / RATE
    if condition.background is None:
        mixed = clean
    else:
        bg = (soundgen.music(dur, rate=RATE, seed=seed, style=str(rng.choice(["pop", "piano"])))
              if condition.background == "music" else soundgen.noise(condition.background, dur, rate=RATE, seed=seed))
        mixed = soundgen.mix_at_snr(clean, bg, condition.snr_db)
    pcm = np.clip(np.round(np.asarray(mixed) * 32768.0), -32768, 32767).astype(np.int16)
    return pcm, lead * 1000 / RATE, (lead + len(speech)) * 1000 / RATE


def _source_hash() -> str:
    h = hashlib.sha256(str(_VERSION).encode())
    for module in (soundgen, spoken):  # the sound and the synthesiser calls
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()[:12]


def render_set(items: Sequence[Item], out_dir: Path, *, seed: int = 0, voices: Sequence[str] = VOICES,
               conditions: Sequence[str] = CONDITIONS, all_items: Sequence[Item] | None = None,
               progress: bool = True) -> dict[str, dict[str, Clip]]:
    """Every item's lines as WAVs under ``out_dir``: ``{item id: {role: Clip}}`` (see ``Clip``).

    Voices and conditions are assigned over ``all_items`` (default: ``items``). A clip already
    rendered with the same text, voice, condition, seed and sound code is loaded, not redone.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = assign(all_items if all_items is not None else items, seed, voices, conditions)
    source = _source_hash()
    clips: dict[str, dict[str, Clip]] = {}
    for item in tqdm(items, desc="rendering", unit="item", disable=not progress):
        voice, cond = plan[item.id]
        lines = [("line", item.text), ("reply", item.reply)] + ([("no", NO)] if affirmative(item.reply) else [])
        clips[item.id] = {role: _clip(item.id, role, text, voice, cond, seed, source, out_dir) for role, text in lines}
    return clips


def _clip(item_id: str, role: str, text: str, voice: Voice, cond: Condition, seed: int, source: str,
          out_dir: Path) -> Clip:
    key = json.dumps([text, voice.key, cond.key, seed, source])
    stem = f"{item_id}.{role}.{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    wav, meta = out_dir / f"{stem}.wav", out_dir / f"{stem}.json"
    if wav.is_file() and meta.is_file():
        try:
            return Clip(**json.loads(meta.read_text(encoding="utf-8")))
        except (ValueError, TypeError):
            pass  # a broken cache entry is rendered again
    # the clip's own draws: the same whatever else is rendered
    pcm, onset, offset = render_line(text, voice, cond, seeded_rng(seed, f"{item_id}/{role}"))
    write_wav(wav, pcm, RATE)
    clip = Clip(item_id, role, text, voice.key, cond.key, str(wav.resolve()), round(onset, 1), round(offset, 1))
    meta.write_text(json.dumps(asdict(clip)), encoding="utf-8")  # written last: a clip is complete
    return clip
