"""``seal bench-voices``: who is talking, from their voice, on the spoken test set (``speechset``).

Every single-sentence item (``utterance`` and ``bias``, all background conditions) is cut at
its true onset and offset, as the VAD hands a turn over, and embedded with ``SpeakerEncoder``.
A speaker is a synthetic voice's timbre, whatever its speaking rate ("espeak:en-gb@130" and
"@210" are one person). Figures:

Speakers are grouped two ways: by voice (5: four espeak-ng voices and piper's joe) and by
timbre (3): espeak's en-us, en-gb and en-gb-scotland share one synthetic larynx (the default
"m1" variant) and differ only in accent, which a speaker encoder is not meant to tell apart.

- cosine between utterances of the same speaker and of different speakers;
- speaker identification: per split, 3 random utterances of each speaker enrol it (their
  normalised mean, the centroid), every other utterance goes to the nearest centroid;
  accuracy over all, on clean audio and in noise, and per speaker;
- open set, per threshold: how often a known speaker's own centroid reaches it (accepted)
  and how often some other speaker's centroid reaches it (a wrong voice above threshold);
- time to embed a 2 s utterance on one torch thread, and to load the encoder.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from seal_nodes.bench.perception import DEFAULT_DIR
from seal_nodes.core.audio.frames import RATE
from seal_nodes.core.audio.wav import read_wav
from seal_nodes.core.perception.speaker import MODEL, SpeakerEncoder
from seal_nodes.tools.latency import write_report
from seal_nodes.tools.speechset import SpeechItem, build_speech_set

KINDS = ("utterance", "bias")  # one sentence between two stretches of background
THRESHOLDS = (0.65, 0.7, 0.75, 0.8, 0.85)
ENROL = 3


def speaker(voice: str) -> str:
    """The person behind a voice key: the rate dropped ("espeak:en-gb@130" → "espeak:en-gb")."""
    return voice.rsplit("@", 1)[0]


def timbre(voice: str) -> str:
    """The sound of a voice key: espeak's variant ("+f3", default m1) without the accent."""
    name = speaker(voice)
    if not name.startswith("espeak:"):
        return name
    return "espeak+" + (name.split("+", 1)[1] if "+" in name else "m1")


def clip(item: SpeechItem) -> np.ndarray:
    """The item's speech, onset to offset (16 kHz int16)."""
    pcm, rate = read_wav(item.path)
    if rate != RATE:
        raise ValueError(f"{item.path}: {rate} Hz, the speech set is {RATE} Hz")
    return pcm[int(item.onset_ms * RATE / 1000):int(np.ceil(item.offset_ms * RATE / 1000))]


def _cosines(emb: np.ndarray, who: np.ndarray) -> dict[str, float]:
    sims = emb @ emb.T
    upper = np.triu_indices(len(who), 1)
    same = sims[upper][who[upper[0]] == who[upper[1]]]
    other = sims[upper][who[upper[0]] != who[upper[1]]]
    return {"same_mean": round(float(same.mean()), 3), "same_p5": round(float(np.percentile(same, 5)), 3),
            "other_mean": round(float(other.mean()), 3), "other_p95": round(float(np.percentile(other, 95)), 3),
            "other_max": round(float(other.max()), 3)}


def identify(emb: np.ndarray, who: np.ndarray, conditions: np.ndarray, *, enrol: int = ENROL, splits: int = 20,
             seed: int = 0, thresholds: tuple[float, ...] = THRESHOLDS) -> dict:
    """Closed- and open-set identification over ``splits`` random enrolments."""
    names = sorted(set(who))
    clean = conditions == "clean"
    rng = np.random.default_rng(seed)
    hits: dict[str, list[bool]] = defaultdict(list)
    own, best_other, tested_clean = [], [], []
    for _ in range(splits):
        centroids, tests = [], []
        for name in names:
            idx = rng.permutation(np.flatnonzero(who == name))
            c = emb[idx[:enrol]].mean(axis=0)
            centroids.append(c / np.linalg.norm(c))
            tests += [(i, names.index(name)) for i in idx[enrol:]]
        cents = np.stack(centroids)
        for i, k in tests:
            scores = cents @ emb[i]
            ok = int(np.argmax(scores)) == k
            keys = ["all", "clean"] if clean[i] else ["all", "noisy", f"condition {conditions[i]}"]
            for key in keys + [names[k]]:
                hits[key].append(ok)
            own.append(scores[k])
            best_other.append(np.delete(scores, k).max())
            tested_clean.append(clean[i])
    own_a, other_a, on_clean = np.array(own), np.array(best_other), np.array(tested_clean)
    return {
        "speakers": names, "enrol": enrol, "splits": splits, "trials": len(own),
        "accuracy": {key: round(float(np.mean(hits[key])), 3) for key in sorted(hits, key=_order)},
        "open_set": {f"{t:g}": {"accepted": _rate(own_a >= t), "wrong_above": _rate(other_a >= t),
                                "clean_accepted": _rate((own_a >= t)[on_clean]),
                                "clean_wrong_above": _rate((other_a >= t)[on_clean])} for t in thresholds},
    }


def _rate(flags: np.ndarray) -> float | None:
    return round(float(flags.mean()), 3) if len(flags) else None


def _order(key: str) -> tuple[int, str]:
    return (["all", "clean", "noisy"].index(key) if key in ("all", "clean", "noisy") else
            3 if key.startswith("condition") else 4, key)


def timing(encoder: SpeakerEncoder, pcm: np.ndarray, repeats: int = 20) -> dict[str, float]:
    """Milliseconds to embed exactly 2 s of ``pcm`` (repeated to length), after one warm-up."""
    two = np.resize(pcm, 2 * RATE)
    encoder.embed(two)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        encoder.embed(two)
        times.append((time.perf_counter() - t) * 1000)
    return {"median_ms": round(float(np.median(times)), 1), "p95_ms": round(float(np.percentile(times, 95)), 1),
            "repeats": repeats}


def run_voices_bench(size: str = "full", out_dir: Path = DEFAULT_DIR, seed: int = 0, splits: int = 20) -> dict:
    items = [i for i in build_speech_set(out_dir / size, size=size, seed=seed) if i.kind in KINDS]
    encoder = SpeakerEncoder(threads=1)
    t = time.perf_counter()
    encoder.load()
    load_ms = (time.perf_counter() - t) * 1000
    clips = [clip(i) for i in items]
    emb = np.stack([encoder.embed(c) for c in tqdm(clips, desc="voice bench", unit="item")])
    conditions = np.array([i.condition for i in items])
    groupings = {}
    for grouping, name_of in (("voice", speaker), ("timbre", timbre)):
        who = np.array([name_of(i.voice) for i in items])
        groupings[grouping] = {"speakers": len(set(who)), "cosine": _cosines(emb, who),
                               "identification": identify(emb, who, conditions, splits=splits, seed=seed)}
    first_clean = next(c for c, cond in zip(clips, conditions) if cond == "clean")
    return {"model": MODEL, "size": size, "items": len(items),
            "seconds_mean": round(float(np.mean([len(c) / RATE for c in clips])), 2), "by": groupings,
            "embed_2s_one_thread": timing(encoder, first_clean), "load_ms": round(load_ms, 1)}


def format_table(r: dict) -> str:
    lines = [f"# Speaker embeddings ({r['model']}): {r['items']} utterances, mean {r['seconds_mean']} s", ""]
    for grouping, g in r["by"].items():
        lines += _grouping_table(grouping, g)
    timing_ = r["embed_2s_one_thread"]
    lines += [f"2 s utterance, one thread: median {timing_['median_ms']} ms, p95 {timing_['p95_ms']} ms; "
              f"encoder load {r['load_ms']} ms", ""]
    return "\n".join(lines)


def _grouping_table(grouping: str, g: dict) -> list[str]:
    ident, cos = g["identification"], g["cosine"]
    lines = [f"## Speakers by {grouping} ({g['speakers']}: {', '.join(ident['speakers'])})", "",
             "| cosine | same speaker | other speaker |", "|---|---|---|",
             f"| mean | {cos['same_mean']} | {cos['other_mean']} |",
             f"| tail | p5 {cos['same_p5']} | p95 {cos['other_p95']}, max {cos['other_max']} |", "",
             f"Identification ({ident['enrol']} enrolment utterances per speaker, nearest centroid, "
             f"{ident['splits']} splits, {ident['trials']} trials):", "",
             "| test set | accuracy |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in ident["accuracy"].items()]
    lines += ["", "| threshold | known speaker accepted | a wrong speaker above threshold | clean: accepted "
              "| clean: wrong above |", "|---|---|---|---|---|"]
    lines += [f"| {t} | {v['accepted']} | {v['wrong_above']} | {v['clean_accepted']} | {v['clean_wrong_above']} |"
              for t, v in ident["open_set"].items()]
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal bench-voices", description=__doc__.splitlines()[0])
    ap.add_argument("--json", dest="json_path", required=True, help="where to write the results")
    ap.add_argument("--size", choices=("small", "full"), default="full")
    ap.add_argument("--data", type=Path, default=DEFAULT_DIR, help="where the spoken test set is built/cached")
    ap.add_argument("--splits", type=int, default=20, help="random enrolments to average over")
    args = ap.parse_args(argv)
    if args.splits < 1:
        ap.error("--splits must be at least 1")
    result = run_voices_bench(args.size, args.data, splits=args.splits)
    write_report(args.json_path, result, format_table(result), calibration=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
