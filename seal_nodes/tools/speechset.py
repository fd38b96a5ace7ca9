"""The spoken test set for the perception benchmark, rendered offline and deterministically.

Everything is made here from ``data/speechset_sentences.txt``: espeak-ng and the piper "joe"
voice speak the sentences, ``tools/soundgen.py`` makes the noise, music, coughs and claps.
Four kinds of item (16 kHz mono int16 WAV + one ``manifest.json`` entry each):

- ``utterance``: 0.8–1.5 s of background, a sentence, 1.5 s of background;
- ``paused_utterance``: a sentence split at a word boundary by a 500–700 ms pause that must
  not end the turn;
- ``barge_in``: the agent's voice as heard through a room plus the user's backchannel,
  interjection or a noise starting during it; the agent's clean track is the echo reference;
- ``bias``: sentences with rare names and objects, plus the keywords to bias a recogniser with.

Onsets and offsets are the truth, taken from the sample energy of the clean speech track.
A build is cached: the same parameters (and the same sentence file, generator code and
soundgen code) load the existing manifest instead of rendering again.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from subprocess import CalledProcessError

import numpy as np
from tqdm import tqdm

from seal_nodes.core.audio.frames import RATE, resample
from seal_nodes.core.audio.wav import write_wav
from seal_nodes.tools import soundgen
from seal_nodes.tools.spoken import piper_pcm, synthesize, true_offset, true_onset
from seal_nodes.tools.wer import keyword_recall

SENTENCES = Path(__file__).parent / "data" / "speechset_sentences.txt"
KINDS = ("utterance", "paused_utterance", "barge_in", "bias")
LABELS = ("interrupt", "backchannel", "noise")
SECTIONS = ("commands", "conversation", "bias", "backchannels", "interjections", "agent")
SIZES: dict[str, dict[str, int]] = {
    "small": {"utterance": 16, "paused_utterance": 8, "barge_in": 10, "bias": 6},
    "full": {"utterance": 140, "paused_utterance": 42, "barge_in": 78, "bias": 40},
}
# Each espeak voice at two of the three rates (a cyclic design: every rate appears with
# several voices), plus piper at three length scales.
DEFAULT_VOICES = (
    "espeak:en-us@130", "espeak:en-us@175", "espeak:en-us+f3@175", "espeak:en-us+f3@210",
    "espeak:en-gb@210", "espeak:en-gb@130", "espeak:en-gb-scotland@130",
    "espeak:en-gb-scotland@175", "piper:joe@0.85", "piper:joe@1", "piper:joe@1.2",
)
DEFAULT_CONDITIONS = ("clean", "pink_10db", "pink_5db", "fan_10db", "fan_5db",
                      "music_10db", "music_5db")
AGENT_VOICES = ("espeak:en-us@175", "piper:joe@1")
NOISE_EVENTS = ("cough", "clap", "click")
SPEECH_DBFS = -26.0  # active speech level (before a ±3 dB per-item variation)
ONSET_LEVEL = 100  # |sample| above this in the clean track is speech (≈ -50 dBFS)
_EDGE_S = 0.005  # kept around the trimmed speech, faded, so nothing is cut hard
_VERSION = 1  # bump when the rendering changes in a way the source hash cannot see


class SpeechSetError(ValueError):
    """Bad builder parameters or a sentence file / manifest that cannot be used."""


# ----------------------------------------------------------------------------- data model
@dataclass
class SpeechItem:
    """One rendered item. Times in ms from the start of the WAV; ``path`` is absolute."""

    id: str
    path: str
    kind: str
    text: str  # reference transcript ("" for a noise event)
    section: str  # where the text comes from: commands, conversation, bias, backchannels …
    voice: str  # "espeak:en-gb@130", "piper:joe@1" or "soundgen:cough"
    speed: float | None  # espeak words per minute, piper length_scale; None for a noise
    condition: str  # "clean" or "<background>_<snr>db"
    snr_db: float | None
    onset_ms: float
    offset_ms: float
    duration_ms: float
    keywords: list[str] = field(default_factory=list)  # bias items
    pause_after_words: int | None = None  # paused_utterance: words spoken before the pause
    pause_start_ms: float | None = None  # paused_utterance: true offset of the first part
    pause_ms: float | None = None  # paused_utterance: silence until the second part's onset
    label: str | None = None  # barge_in: interrupt | backchannel | noise
    ref_path: str | None = None  # barge_in: the agent track (what the speaker played)
    agent_text: str | None = None
    agent_voice: str | None = None
    echo_delay_ms: float | None = None
    echo_gain_db: float | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> SpeechItem:
        known = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        if set(data) - known or required - set(data):
            raise SpeechSetError(f"bad SpeechItem: unknown fields {sorted(set(data) - known)}, "
                                 f"missing fields {sorted(required - set(data))}")
        item = cls(**data)
        if item.kind not in KINDS:
            raise SpeechSetError(f"item {item.id}: kind {item.kind!r} not in {KINDS}")
        if item.kind == "barge_in" and item.label not in LABELS:
            raise SpeechSetError(f"item {item.id}: barge_in label {item.label!r} not in {LABELS}")
        item.keywords = list(item.keywords)
        return item


@dataclass(frozen=True)
class Sentence:
    section: str
    text: str  # the reference: marks and respellings removed
    spoken: str  # what the synthesiser says
    parts: tuple[str, ...] = ()  # the two halves around a pause mark, if there is one
    pause_after_words: int | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Voice:
    engine: str  # espeak | piper
    name: str
    speed: float

    @property
    def key(self) -> str:
        return f"{self.engine}:{self.name}@{self.speed:g}"

    @classmethod
    def parse(cls, key: str) -> Voice:
        m = re.fullmatch(r"(espeak|piper):([\w+-]+)@(\d+(?:\.\d+)?)", key)
        if not m:
            raise SpeechSetError(f"voice {key!r} is not 'espeak:NAME@WPM' or 'piper:joe@LENGTH_SCALE'")
        voice = cls(m[1], m[2], float(m[3]))
        if voice.engine == "espeak" and not 80 <= voice.speed <= 450:
            raise SpeechSetError(f"voice {key!r}: espeak rate must be 80..450 words per minute")
        if voice.engine == "piper" and (voice.name != "joe" or not 0.5 <= voice.speed <= 2.0):
            raise SpeechSetError(f"voice {key!r}: piper offers 'joe' with length_scale 0.5..2.0")
        return voice


@dataclass(frozen=True)
class Condition:
    background: str | None  # None = clean
    snr_db: float | None

    @property
    def key(self) -> str:
        return "clean" if self.background is None else f"{self.background}_{self.snr_db:g}db"

    @classmethod
    def parse(cls, key: str) -> Condition:
        if key == "clean":
            return cls(None, None)
        m = re.fullmatch(r"(white|pink|brown|hum|fan|music)_(-?\d+(?:\.\d+)?)db", key)
        if not m:
            raise SpeechSetError(f"condition {key!r} is not 'clean' or "
                                 "'<white|pink|brown|hum|fan|music>_<snr>db'")
        return cls(m[1], float(m[2]))


# ----------------------------------------------------------------------------- sentences
def load_sentences(path: Path = SENTENCES) -> dict[str, list[Sentence]]:
    """Parse the sectioned sentence file (format documented at its top)."""
    out: dict[str, list[Sentence]] = {s: [] for s in SECTIONS}
    section = None
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        m = re.fullmatch(r"#\s*section:\s*(\w+)", line)
        if m:
            section = m[1]
            if section not in out:
                raise SpeechSetError(f"{path}:{n}: unknown section {section!r}; expected {SECTIONS}")
            continue
        if not line or line.startswith("#"):
            continue
        if section is None:
            raise SpeechSetError(f"{path}:{n}: sentence before the first '# section:' line")
        try:
            out[section].append(_parse_line(line, section))
        except SpeechSetError as exc:
            raise SpeechSetError(f"{path}:{n}: {exc}") from None
    empty = [s for s, v in out.items() if not v]
    if empty:
        raise SpeechSetError(f"{path}: no sentences in sections {empty}")
    return out


def _parse_line(line: str, section: str) -> Sentence:
    keywords: tuple[str, ...] = ()
    if " :: " in line:
        line, kw = line.split(" :: ", 1)
        keywords = tuple(k.strip() for k in kw.split(";") if k.strip())
    if section == "bias" and not keywords:
        raise SpeechSetError("a bias sentence needs ' :: keyword; keyword'")
    halves = line.split(" | ")
    if len(halves) > 2:
        raise SpeechSetError("at most one ' | ' pause mark per sentence")
    refs = [re.sub(r"\{[^}]*\}", "", h).strip() for h in halves]  # word{respelling} → word
    spoken = [re.sub(r"(\S+?)\{([^}]*)\}", r"\2", h).strip() for h in halves]
    if "{" in "".join(refs) or "}" in "".join(refs) or not all(refs):
        raise SpeechSetError(f"malformed sentence {line!r}")
    if keywords and keyword_recall(keywords, " ".join(refs)) < 1.0:
        raise SpeechSetError(f"keywords {keywords} are not all in {' '.join(refs)!r}")
    whole = " ".join(spoken)
    if len(spoken) == 2 and spoken[0][-1].isalnum():
        spoken[0] += ","  # a comma gives the first half the non-final intonation of a hesitation
    paused = len(refs) == 2
    return Sentence(section, " ".join(refs), whole, tuple(spoken) if paused else (),
                    len(refs[0].split()) if paused else None, keywords)


# ----------------------------------------------------------------------------- synthesis
def speak(voice: Voice, text: str) -> np.ndarray:
    """``text`` in ``voice`` as 16 kHz float samples in [-1, 1], untrimmed and unlevelled."""
    if voice.engine == "espeak":
        try:
            return synthesize(text, voice.name, int(voice.speed)).pcm / 32768.0
        except CalledProcessError as exc:
            raise SpeechSetError(f"espeak-ng failed for voice {voice.key!r}: "
                                 f"{exc.stderr.decode(errors='replace').strip()}") from None
    # no sampling noise (see spoken.piper_pcm): the set must be reproducible from its seed
    pcm, rate = piper_pcm(text, voice.speed)
    return resample(pcm, rate, RATE) / 32768.0


def _pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(x) * 32768.0), -32768, 32767).astype(np.int16)


def _onset(x: np.ndarray) -> int:
    return true_onset(_pcm(x), ONSET_LEVEL)


def _offset(x: np.ndarray) -> int:
    return true_offset(_pcm(x), ONSET_LEVEL)


def _trim(x: np.ndarray, level: int = ONSET_LEVEL) -> np.ndarray:
    """Cut the synthesiser's silence, keeping a short faded edge so no sound is cut hard.

    Cut at ONSET_LEVEL once the level is set, so no faint tail (espeak's breathy variants,
    piper's decay, -55 dBFS) lingers past the true offset where a VAD could still hear it.
    """
    pcm = _pcm(x)
    on, off = true_onset(pcm, level), true_offset(pcm, level)
    if off <= on:
        raise SpeechSetError("the synthesiser produced no audible sound")
    edge = int(_EDGE_S * RATE)
    x = x[max(0, on - edge) : off + edge].astype(np.float64)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, edge))  # ends where the sound is loud
    x[: len(ramp)] *= ramp
    x[len(x) - len(ramp) :] *= ramp[::-1]
    return x


def _gain(x: np.ndarray, dbfs: float) -> float:
    """Gain that brings trimmed sound ``x`` to an RMS of ``dbfs``."""
    return 10 ** ((dbfs - soundgen.rms_db(x)) / 20)


def _levelled(x: np.ndarray, dbfs: float) -> np.ndarray:
    x = _trim(x, ONSET_LEVEL // 4)  # roughly first: the synthesiser's silence must not count
    return _trim(x * _gain(x, dbfs))


def _room_echo(ref: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """The agent's voice at the mic: delayed, through a decaying synthetic room, attenuated."""
    delay_ms, gain_db = rng.uniform(30, 60), rng.uniform(-12, -6)
    rt60, drr_db = rng.uniform(0.15, 0.45), rng.uniform(3, 10)  # a small room, speaker near the mic
    n = int(rt60 * RATE)
    tail = rng.normal(0, 1, n) * np.exp(-6.9 * np.arange(n) / n)  # -60 dB at rt60
    tail[0] = 0.0
    ir = tail * 10 ** (-drr_db / 20) / np.sqrt(np.sum(tail**2))
    ir[0] = 1.0  # the direct path, drr_db above the reverberant energy
    ir /= np.sqrt(np.sum(ir**2))  # unit energy, so gain_db is the echo's level re the reference
    size = 1 << int(np.ceil(np.log2(len(ref) + n)))
    wet = np.fft.irfft(np.fft.rfft(ref, size) * np.fft.rfft(ir, size), size)[: len(ref)]
    d = int(delay_ms * RATE / 1000)
    echo = np.concatenate([np.zeros(d), wet[: len(ref) - d]])
    return echo * 10 ** (gain_db / 20), round(delay_ms, 1), round(gain_db, 2)


def _mix(clean: np.ndarray, cond: Condition, rng: np.random.Generator) -> np.ndarray:
    """The clean track in the condition's background, at its SNR re the active speech."""
    seed = int(rng.integers(2**31))  # drawn even when clean: the rng stream stays the same
    if cond.background is None:
        return clean
    dur = len(clean) / RATE
    if cond.background == "music":  # with and without drums: a beat is the harder masker
        bg = soundgen.music(dur, rate=RATE, seed=seed, style=str(rng.choice(["pop", "piano"])))
    else:
        bg = soundgen.noise(cond.background, dur, rate=RATE, seed=seed)
    return soundgen.mix_at_snr(clean, bg, cond.snr_db).astype(np.float64)


# ----------------------------------------------------------------------------- planning
@dataclass(frozen=True)
class _Plan:
    id: str
    kind: str
    condition: Condition
    sentence: Sentence | None = None  # None for a noise event
    voice: Voice | None = None
    noise: str | None = None  # barge_in noise event: cough | clap | click
    label: str | None = None
    agent: Sentence | None = None
    agent_voice: Voice | None = None


def seeded_rng(seed: int, key: str) -> np.random.Generator:
    """An independent stream per purpose, so changing one list does not reshuffle the others."""
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def balanced_cycle(seq: Sequence, rng: np.random.Generator) -> Iterator:
    """Endless reshuffled passes over ``seq``: every element equally often (±1), order random."""
    while True:
        for i in rng.permutation(len(seq)):
            yield seq[i]


def _plan(size: str, seed: int, voices: list[Voice], conds: list[Condition],
          sents: dict[str, list[Sentence]]) -> list[_Plan]:
    """Which sentence, voice and condition each item gets (shared cycles: balanced set-wide)."""
    vcyc, ccyc = balanced_cycle(voices, seeded_rng(seed, "voice")), balanced_cycle(conds, seeded_rng(seed, "condition"))
    spoken = sents["commands"] + sents["conversation"]
    pools = {"utterance": spoken, "paused_utterance": [s for s in spoken if s.pause_after_words],
             "bias": sents["bias"]}
    if not pools["paused_utterance"]:
        raise SpeechSetError("no sentence has a ' | ' pause mark")
    prefix = {"utterance": "utt", "paused_utterance": "pause", "bias": "bias"}
    plans: list[_Plan] = []
    for kind, n in SIZES[size].items():
        if kind == "barge_in":
            plans += _plan_barge_in(n, seed, vcyc, ccyc, sents)
            continue
        scyc = balanced_cycle(pools[kind], seeded_rng(seed, kind))
        plans += [_Plan(f"{prefix[kind]}_{j:03d}", kind, next(ccyc), next(scyc), next(vcyc))
                  for j in range(n)]
    return plans


def _plan_barge_in(n: int, seed: int, vcyc: Iterator, ccyc: Iterator,
                   sents: dict[str, list[Sentence]]) -> list[_Plan]:
    lcyc, acyc = balanced_cycle(LABELS, seeded_rng(seed, "label")), balanced_cycle(sents["agent"], seeded_rng(seed, "agent"))
    avcyc = balanced_cycle([Voice.parse(v) for v in AGENT_VOICES], seeded_rng(seed, "agent_voice"))
    events = {"backchannel": balanced_cycle(sents["backchannels"], seeded_rng(seed, "backchannel")),
              "interrupt": balanced_cycle(sents["interjections"], seeded_rng(seed, "interrupt")),
              "noise": balanced_cycle(NOISE_EVENTS, seeded_rng(seed, "noise"))}
    out = []
    for j in range(n):
        label, agent_voice = next(lcyc), next(avcyc)
        sentence = noise = voice = None
        if label == "noise":
            noise = next(events["noise"])
        else:
            sentence, voice = next(events[label]), next(vcyc)
            for _ in range(8):  # the user should not sound like the agent (unless that is all)
                if (voice.engine, voice.name) != (agent_voice.engine, agent_voice.name):
                    break
                voice = next(vcyc)
        out.append(_Plan(f"barge_{j:03d}", "barge_in", next(ccyc), sentence, voice, noise,
                         label, next(acyc), agent_voice))
    return out


def _interleave(plans: list[_Plan]) -> list[_Plan]:
    """Round-robin over kinds, so a ``limit`` still covers every kind."""
    by_kind = [[p for p in plans if p.kind == k] for k in KINDS]
    longest = max(len(b) for b in by_kind)
    return [b[i] for i in range(longest) for b in by_kind if i < len(b)]


# ----------------------------------------------------------------------------- rendering
def _ms(samples: int) -> float:
    return round(samples * 1000 / RATE, 2)


def _render(p: _Plan, out_dir: Path, seed: int) -> SpeechItem:
    rng = seeded_rng(seed, p.id)  # the item's own draws: identical whatever else is in the set
    level = SPEECH_DBFS + rng.uniform(-3, 3)
    if p.kind == "barge_in":
        return _render_barge_in(p, out_dir, rng, level)
    texts = p.sentence.parts if p.kind == "paused_utterance" else (p.sentence.spoken,)
    parts = [_trim(speak(p.voice, s), ONSET_LEVEL // 4) for s in texts]
    gain = _gain(np.concatenate(parts), level)  # one gain, so the halves keep their balance
    parts = [_trim(x * gain) for x in parts]
    lead = int(rng.uniform(0.8, 1.5) * RATE)
    pieces, extra = [np.zeros(lead), parts[0]], {}
    if len(parts) == 2:  # 500–700 ms from the first half's true offset to the second's onset
        gap = int(rng.uniform(0.5, 0.7) * RATE)
        pad = gap - (len(parts[0]) - _offset(parts[0])) - _onset(parts[1])
        pieces += [np.zeros(pad), parts[1]]
        stop = lead + _offset(parts[0])
        extra = dict(pause_after_words=p.sentence.pause_after_words, pause_start_ms=_ms(stop),
                     pause_ms=_ms(gap))
    clean = np.concatenate(pieces + [np.zeros(int(1.5 * RATE))])
    path = out_dir / f"{p.id}.wav"
    write_wav(path, _pcm(_mix(clean, p.condition, rng)), RATE)
    return SpeechItem(p.id, str(path), p.kind, p.sentence.text, p.sentence.section, p.voice.key,
                      p.voice.speed, p.condition.key, p.condition.snr_db, _ms(_onset(clean)),
                      _ms(_offset(clean)), _ms(len(clean)), keywords=list(p.sentence.keywords),
                      **extra)


def _event(p: _Plan, rng: np.random.Generator, level: float) -> tuple[np.ndarray, str, float | None]:
    """The user's sound: a spoken backchannel / interjection, or a soundgen noise event."""
    if p.noise is not None:
        x = np.asarray(getattr(soundgen, p.noise)(rate=RATE, seed=int(rng.integers(2**31))), np.float64)
        # transients are set by their peak (an RMS over a 20 ms click means little)
        x = _trim(x * 10 ** (rng.uniform(-12, -6) / 20) / np.max(np.abs(x)))
        return x, f"soundgen:{p.noise}", None
    return _levelled(speak(p.voice, p.sentence.spoken), level), p.voice.key, p.voice.speed


def _render_barge_in(p: _Plan, out_dir: Path, rng: np.random.Generator, level: float) -> SpeechItem:
    agent = _levelled(speak(p.agent_voice, p.agent.spoken), SPEECH_DBFS)
    event, voice, speed = _event(p, rng, level)
    a0 = int(0.5 * RATE)  # the agent starts after half a second of silence
    # the user comes in between 1 s after the agent starts and 1 s before it ends
    start = a0 + int(rng.uniform(1.0, max(1.0, len(agent) / RATE - 1.0)) * RATE)
    n = max(a0 + len(agent), start + len(event)) + RATE
    ref, user = np.zeros(n), np.zeros(n)
    ref[a0 : a0 + len(agent)] = agent
    user[start : start + len(event)] = event
    echo, delay_ms, gain_db = _room_echo(ref, rng)
    path, ref_path = out_dir / f"{p.id}.wav", out_dir / f"{p.id}.ref.wav"
    write_wav(path, _pcm(_mix(user, p.condition, rng) + echo), RATE)  # SNR re the user's sound
    write_wav(ref_path, _pcm(ref), RATE)
    text, section = (p.sentence.text, p.sentence.section) if p.sentence else ("", "noise")
    return SpeechItem(p.id, str(path), p.kind, text, section, voice, speed,
                      p.condition.key, p.condition.snr_db, _ms(_onset(user)), _ms(_offset(user)),
                      _ms(n), label=p.label, ref_path=str(ref_path), agent_text=p.agent.text,
                      agent_voice=p.agent_voice.key, echo_delay_ms=delay_ms, echo_gain_db=gain_db)


# ----------------------------------------------------------------------------- build / load
def _params(size: str, seed: int, voices: list[Voice], conds: list[Condition],
            limit: int | None) -> dict[str, object]:
    def sha(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]

    # The sentence file and the generating code are part of the key: editing either rebuilds.
    return {"version": _VERSION, "size": size, "seed": seed, "limit": limit,
            "voices": [v.key for v in voices], "conditions": [c.key for c in conds],
            "sentences": sha(SENTENCES), "code": sha(Path(__file__)),
            "soundgen": sha(Path(soundgen.__file__))}


def build_speech_set(out_dir: Path, *, size: str = "full", seed: int = 0,
                     voices: Sequence[str] | None = None, conditions: Sequence[str] | None = None,
                     limit: int | None = None, progress: bool = True) -> list[SpeechItem]:
    """Render the set into ``out_dir`` (WAVs + ``manifest.json``), or load it if already built.

    ``size``: "small" (≈40 items, tests/CI) or "full" (≈300, the benchmark). ``voices`` /
    ``conditions``: keys such as "espeak:en-gb@130", "piper:joe@1", "clean", "music_5db"
    (defaults: DEFAULT_VOICES, DEFAULT_CONDITIONS). ``limit``: keep the first N items of the
    plan, interleaved over kinds; the items kept are identical to those of the unlimited set.
    """
    if size not in SIZES:
        raise SpeechSetError(f"size {size!r} not in {sorted(SIZES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpeechSetError(f"seed must be a non-negative int, got {seed!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise SpeechSetError(f"limit must be a positive int or None, got {limit!r}")
    vs = [Voice.parse(v) for v in (DEFAULT_VOICES if voices is None else voices)]
    cs = [Condition.parse(c) for c in (DEFAULT_CONDITIONS if conditions is None else conditions)]
    if not vs or not cs:
        raise SpeechSetError("voices and conditions must not be empty")
    out_dir = Path(out_dir).resolve()
    params = _params(size, seed, vs, cs, limit)
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    cached = _cached(out_dir, digest)
    if cached is not None:
        return cached
    plans = _interleave(_plan(size, seed, vs, cs, load_sentences()))[:limit]
    out_dir.mkdir(parents=True, exist_ok=True)
    items = [_render(p, out_dir, seed)
             for p in tqdm(plans, desc="speech set", unit="item", disable=not progress)]
    manifest = {"params_hash": digest, "params": params,
                "items": [_relative(i.to_json(), out_dir) for i in items]}
    tmp = out_dir / "manifest.json.tmp"  # written last and renamed: a broken build is never cached
    tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(tmp, out_dir / "manifest.json")
    return items


def load_speech_set(out_dir: Path) -> list[SpeechItem]:
    """The items of a built set, with absolute paths."""
    path = Path(out_dir) / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["items"]
    except FileNotFoundError:
        raise SpeechSetError(f"{path}: no speech set here; run build_speech_set first") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SpeechSetError(f"{path}: not a speech set manifest ({exc})") from None
    root = path.parent.resolve()
    items = []
    try:
        for e in entries:
            e = dict(e)
            e["path"] = str(root / e["path"])
            if e.get("ref_path"):
                e["ref_path"] = str(root / e["ref_path"])
            items.append(SpeechItem.from_json(e))
    except (KeyError, TypeError, ValueError) as exc:
        raise SpeechSetError(f"{path}: bad item in the manifest ({exc})") from None
    return items


def _relative(entry: dict[str, object], root: Path) -> dict[str, object]:
    """Manifest paths are relative, so a built set can be moved or copied as a folder."""
    for key in ("path", "ref_path"):
        if entry.get(key):
            entry[key] = os.path.relpath(entry[key], root)
    return entry


def _cached(out_dir: Path, digest: str) -> list[SpeechItem] | None:
    """The existing set if it was built with the same parameters and is complete, else None."""
    try:
        data = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
        items = load_speech_set(out_dir)
    except (OSError, ValueError):  # missing or unreadable manifest: build
        return None
    if data.get("params_hash") == digest and all(
            Path(i.path).is_file() and (i.ref_path is None or Path(i.ref_path).is_file()) for i in items):
        return items
    for i in items:  # a different set lived here: do not leave its WAVs among the new ones
        for p in (i.path, i.ref_path):
            if p and Path(p).parent == out_dir.resolve():
                Path(p).unlink(missing_ok=True)
    return None
