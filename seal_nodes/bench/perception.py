"""``seal bench-perception``: the audio perception core on the spoken test set (``speechset``).

Every item is streamed through ``perceive_pcm`` (simulated real-time clock, real CPU time), so
latencies include processing delay. Figures:

- word error rate of final transcripts and of the last partial before the final, by condition
  and by voice family; Whisper with the trimmed encoder context against the full 30 s context
  (the baseline) on the same clean segments;
- ``speech_start`` latency (emission after the true onset) and stamp error, end-of-turn delay
  (``speech_end`` emission after the true end of speech), premature ends in paused sentences;
- barge-in: false interrupts on backchannels and noises, missed interruptions, echo false
  starts (a turn begun by the agent's own voice), interrupt decision time; the pause decision
  (``voice_maybe`` or ``speech_start``, whichever first) and the pauses no onset confirmed;
- context biasing: keyword recall with and without the item's expected words;
- CPU seconds per second of audio.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from seal_nodes.core import events as ev
from seal_nodes.core.audio.wav import read_wav
from seal_nodes.core.perception.audio import AudioPerception, AudioPerceptionConfig
from seal_nodes.tools.latency import summarize, write_report
from seal_nodes.tools.perceive import PerceiveResult, perceive_pcm
from seal_nodes.tools.speechset import SpeechItem, build_speech_set
from seal_nodes.tools.wer import keyword_recall, wer

SCENE_WORDS = ["red cube", "green cube", "blue cube", "bin"]
DEFAULT_DIR = Path.home() / ".cache" / "seal" / "speechset"


def _finals(res: PerceiveResult) -> list:
    return [t for t in res.events if t.event.type == ev.SPEECH_END]


def _first(res: PerceiveResult, etype: str):
    return next((t for t in res.events if t.event.type == etype), None)


def _label(res: PerceiveResult) -> str:
    kinds = {t.event.type for t in res.events}
    if ev.INTERRUPT in kinds or ev.SPEECH_END in kinds:
        return "interrupt"
    if ev.BACKCHANNEL in kinds:
        return "backchannel"
    return "noise"  # a transient noise event, or nothing at all: either way the agent goes on


def _ratio(k: int, n: int) -> float | None:
    return round(k / n, 3) if n else None


def _text(res: PerceiveResult) -> str:
    return " ".join(t.event.text for t in _finals(res))


class _Scores:
    """What the bench tallies, item by item; ``summary`` turns it into the result."""

    def __init__(self, core: AudioPerception) -> None:
        self.core = core
        self.refs: dict[str, list[str]] = defaultdict(list)
        self.finals: dict[str, list[str]] = defaultdict(list)
        self.partial_refs: list[str] = []
        self.partials: list[str] = []
        self.start_ms: list[float] = []
        self.stamp_err_ms: list[float] = []
        self.eot_ms: list[float] = []
        self.interrupt_ms: list[float] = []
        self.pause_ms: list[float] = []  # interjection onset → the first event that pauses the voice
        self.unconfirmed_pauses = 0  # voice_maybe ends: the voice paused, then resumed
        self.paused = self.premature = self.revised_whole = 0
        self.barge: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.echo_false_starts = 0
        self.recall: dict[str, list[float]] = {"none": [], "correction": [], "prompt+correction": []}
        self.ctx: dict[str, tuple[list, list, list]] = {"trimmed": ([], [], []), "full": ([], [], [])}
        self.prompt_refs: list[str] = []
        self.prompt_hyps: dict[bool, list[str]] = {False: [], True: []}
        self.audio_s = self.cpu_s = 0.0
        self.details: list[dict] = []  # one line per item, for looking into failures

    def add(self, item: SpeechItem) -> None:
        """Stream ``item`` through perception and score it by its kind."""
        pcm, rate = read_wav(item.path)
        ref = read_wav(item.ref_path) if item.ref_path else None
        self.core.config.bias_words = list(SCENE_WORDS)
        res = perceive_pcm(pcm, rate, core=self.core, reference=ref)
        self.audio_s += res.audio_s
        self.cpu_s += res.cpu_s
        self.details.append({"id": item.id, "kind": item.kind, "condition": item.condition, "voice": item.voice,
                             "text": item.text, "label": item.label,
                             "events": [[round(t.t_ms), t.event.type, t.event.text] for t in res.events]})
        start = _first(res, ev.SPEECH_START)
        if item.kind in ("utterance", "paused_utterance", "bias") and start is not None:
            self.start_ms.append(start.t_ms - item.onset_ms)
            self.stamp_err_ms.append(start.event.stamp_ns / 1e6 - item.onset_ms)
        if item.kind in ("utterance", "paused_utterance"):
            hyp = self._turns(item, res)
            if item.kind == "utterance":
                self._scene_prompt(item, pcm, rate, hyp)
            if item.kind == "utterance" and item.condition == "clean" and rate == 16_000:
                self._whisper_context(item, pcm)
        elif item.kind == "barge_in":
            self._barge_in(item, res)
        if item.kind == "bias":
            self._bias(item, pcm, rate, res)

    def _turns(self, item: SpeechItem, res: PerceiveResult) -> str:
        """WER by condition, voice and section; end-of-turn delay; partials; premature ends."""
        ends = _finals(res)
        # a speech_end that revises an earlier one replaces it (a sentence resumed after a pause)
        kept = [t for t in ends if not any(u.event.payload.get("revises") == t.event.trace_id for u in ends)]
        hyp = " ".join(t.event.text for t in kept)
        family = item.voice.split(":")[0]
        for key in ("all", f"condition:{item.condition}", f"voice:{family}", f"section:{item.section}"):
            self.refs[key].append(item.text)
            self.finals[key].append(hyp)
        if ends:
            self.eot_ms.append(ends[-1].t_ms - item.offset_ms)
            before = [t for t in res.events if t.event.type == ev.SPEECH_FRAGMENT and t.t_ms <= ends[0].t_ms]
            self.partial_refs.append(item.text)
            self.partials.append(before[-1].event.text if before else "")
        if item.kind == "paused_utterance":
            self.paused += 1
            resume_ms = (item.pause_start_ms or 0) + (item.pause_ms or 0)
            early = any(t.t_ms < resume_ms for t in ends)
            self.premature += early
            self.revised_whole += early and len(kept) == 1 and "revises" in kept[0].event.payload
        return hyp

    def _scene_prompt(self, item: SpeechItem, pcm: np.ndarray, rate: int, hyp: str) -> None:
        """The scene words as a Whisper prompt too: better or worse?"""
        self.prompt_refs.append(item.text)
        self.prompt_hyps[False].append(hyp)
        self.core.config.bias_prompt = True
        prompted = perceive_pcm(pcm, rate, core=self.core)
        self.core.config.bias_prompt = False
        self.prompt_hyps[True].append(_text(prompted))

    def _whisper_context(self, item: SpeechItem, pcm: np.ndarray) -> None:
        """The trimmed encoder context against the full 30 s one, on the same 16 kHz segment."""
        asr = self.core.recognizer
        a = max(0, int((item.onset_ms - 250) * 16))
        b = int((item.offset_ms + 150) * 16)
        for name, full in (("trimmed", False), ("full", True)):
            asr.full_context = full
            tr = asr.transcribe(pcm[a:b], 16_000)
            refs, hyps, decode_ms = self.ctx[name]
            refs.append(item.text)
            hyps.append(tr.text)
            decode_ms.append(tr.decode_ms)
        asr.full_context = False

    def _barge_in(self, item: SpeechItem, res: PerceiveResult) -> None:
        """The decision against the item's label; turns begun by the agent's own voice."""
        self.barge[item.label][_label(res)] += 1
        self.echo_false_starts += any(t.event.type == ev.SPEECH_START and t.event.stamp_ns / 1e6 < item.onset_ms - 100
                                      for t in res.events)
        intr = _first(res, ev.INTERRUPT)
        if item.label == "interrupt" and intr is not None:
            self.interrupt_ms.append(intr.t_ms - item.onset_ms)
        pause = next((t for t in res.events if t.event.type in (ev.VOICE_MAYBE, ev.SPEECH_START)
                      and t.event.payload.get("state", "start") == "start" and t.t_ms >= item.onset_ms - 100), None)
        if item.label == "interrupt" and pause is not None:
            self.pause_ms.append(pause.t_ms - item.onset_ms)
        self.unconfirmed_pauses += sum(t.event.type == ev.VOICE_MAYBE and t.event.payload.get("state") == "end"
                                       for t in res.events)

    def _bias(self, item: SpeechItem, pcm: np.ndarray, rate: int, res: PerceiveResult) -> None:
        """Keyword recall without the item's expected words, then with them (correction, prompt)."""
        self.recall["none"].append(keyword_recall(item.keywords, _text(res)))
        self.core.config.bias_words = list(SCENE_WORDS) + list(item.keywords)
        for mode, prompt in (("correction", False), ("prompt+correction", True)):
            self.core.config.bias_prompt = prompt
            biased = perceive_pcm(pcm, rate, core=self.core)
            self.recall[mode].append(keyword_recall(item.keywords, _text(biased)))
        self.core.config.bias_prompt = False

    def summary(self) -> dict:
        barge = self.barge
        n_backchannel = sum(barge["backchannel"].values())
        n_noise = sum(barge["noise"].values())
        n_interrupt = sum(barge["interrupt"].values())
        prompt_refs, prompt_hyps = self.prompt_refs, self.prompt_hyps
        return {
            "wer_final": {k: round(wer(self.refs[k], self.finals[k]), 3) for k in sorted(self.refs)},
            "wer_utterances_scene_prompt": {
                "off": round(wer(prompt_refs, prompt_hyps[False]), 3) if prompt_refs else None,
                "on": round(wer(prompt_refs, prompt_hyps[True]), 3) if prompt_refs else None},
            "wer_partial_last_before_final":
                round(wer(self.partial_refs, self.partials), 3) if self.partial_refs else None,
            "whisper_context": {name: {"wer": round(wer(r, h), 3) if r else None, "decode_ms": summarize(ms)}
                                for name, (r, h, ms) in self.ctx.items()},
            "speech_start_ms": summarize(self.start_ms),
            "speech_start_stamp_error_ms": summarize([abs(x) for x in self.stamp_err_ms]),
            "end_of_turn_ms": summarize(self.eot_ms),
            "premature_end_in_pause": {"rate": _ratio(self.premature, self.paused), "n": self.paused,
                                       "revised_whole": _ratio(self.revised_whole, self.paused)},
            "barge_in": {
                "confusion": {k: dict(v) for k, v in barge.items()},
                "false_interrupt_rate": _ratio(barge["backchannel"]["interrupt"] + barge["noise"]["interrupt"],
                                               n_backchannel + n_noise),
                "missed_interrupt_rate": _ratio(n_interrupt - barge["interrupt"]["interrupt"], n_interrupt),
                "echo_false_starts": self.echo_false_starts,
                "interrupt_decision_ms": summarize(self.interrupt_ms),
                "pause_decision_ms": summarize(self.pause_ms),
                "unconfirmed_pauses": self.unconfirmed_pauses,
            },
            "bias_keyword_recall": {k: round(float(np.mean(v)), 3) if v else None for k, v in self.recall.items()},
            "cpu_s_per_audio_s": round(self.cpu_s / self.audio_s, 4) if self.audio_s else None,
            "audio_s": round(self.audio_s, 1),
            "details": self.details,
        }


def run_perception_bench(size: str = "full", out_dir: Path = DEFAULT_DIR, seed: int = 0,
                         limit: int | None = None) -> dict:
    items = build_speech_set(out_dir / size, size=size, seed=seed, limit=limit)
    scores = _Scores(AudioPerception(AudioPerceptionConfig(bias_words=list(SCENE_WORDS))))
    for item in tqdm(items, desc="perception bench", unit="item"):
        scores.add(item)
    return {"items": len(items), "size": size, **scores.summary()}


def format_table(r: dict) -> str:
    def lat(name: str, s: dict) -> str:
        return f"| {name} | {s.get('p50', '-')} | {s.get('p99', '-')} | {s.get('n', 0)} |"

    lines = [f"# Perception benchmark ({r['items']} items, {r['audio_s']} s of audio)", "",
             "| word error rate | value |", "|---|---|"]
    lines += [f"| final, {k} | {v} |" for k, v in r["wer_final"].items()]
    lines += [f"| last partial before the final | {r['wer_partial_last_before_final']} |",
              f"| utterances, scene words also as Whisper prompt: off / on | {r['wer_utterances_scene_prompt']['off']}"
              f" / {r['wer_utterances_scene_prompt']['on']} |"]
    for name, v in r["whisper_context"].items():
        lines.append(f"| Whisper {name} context (clean segments; decode p50 {v['decode_ms'].get('p50', '-')} ms) "
                     f"| {v['wer']} |")
    lines += ["", "| latency (ms) | p50 | p99 | n |", "|---|---|---|---|",
              lat("speech_start after true onset (emitted)", r["speech_start_ms"]),
              lat("speech_start stamp error", r["speech_start_stamp_error_ms"]),
              lat("speech_end after true end of speech", r["end_of_turn_ms"]),
              lat("interrupt decision after user onset", r["barge_in"]["interrupt_decision_ms"]),
              lat("pause decision (voice_maybe or speech_start) after user onset", r["barge_in"]["pause_decision_ms"])]
    b = r["barge_in"]
    lines += ["", "| turn taking | value |", "|---|---|",
              f"| premature end in a mid-sentence pause | {r['premature_end_in_pause']['rate']} "
              f"(n={r['premature_end_in_pause']['n']}) |",
              f"| ... of which the resumed sentence revised the turn whole | "
              f"{r['premature_end_in_pause']['revised_whole']} of all paused |",
              f"| false interrupts (backchannels + noises) | {b['false_interrupt_rate']} |",
              f"| missed interruptions | {b['missed_interrupt_rate']} |",
              f"| turns started by the agent's own voice | {b['echo_false_starts']} |",
              f"| pauses no onset confirmed (voice_maybe ended: the voice resumed) | {b['unconfirmed_pauses']} |",
              f"| barge-in confusion (truth → decided) | {json.dumps(b['confusion'])} |",
              "| keyword recall: no biasing / near-miss correction / prompt + correction | "
              + " / ".join(str(v) for v in r["bias_keyword_recall"].values()) + " |",
              f"| CPU seconds per audio second | {r['cpu_s_per_audio_s']} |"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="seal bench-perception", description=__doc__.splitlines()[0])
    ap.add_argument("--json", dest="json_path", required=True, help="where to write the results")
    ap.add_argument("--size", choices=("small", "full"), default="full")
    ap.add_argument("--limit", type=int, default=None, help="only the first N items")
    ap.add_argument("--data", type=Path, default=DEFAULT_DIR, help="where the spoken test set is built/cached")
    args = ap.parse_args(argv)
    result = run_perception_bench(args.size, args.data, limit=args.limit)
    write_report(args.json_path, result, format_table(result), calibration=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
