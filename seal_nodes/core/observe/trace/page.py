"""The trace page: one self-contained HTML file (inline CSS and JS, images and audio as data URIs).

Compressed by default, one row per turn, action or perception event; every row and every step in
it is a ``<details>`` that opens to the full payload and raw text.
"""
from __future__ import annotations

import json
from html import escape
from typing import Callable

from seal_nodes.core import events as ev
from seal_nodes.core.observe.trace.episode import ActionRun, Episode, Turn
from seal_nodes.core.observe.trace.media import audio_wav, data_uri, frame_png
from seal_nodes.core.observe.trace.reader import EventRec, ThoughtRec
from seal_nodes.core.observe.trace.schema import SCHEMAS, payload_problems, render

Summarize = Callable[[list[float]], dict]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.3em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px}
details.row{background:#fff;border:1px solid #ddd;border-radius:4px;margin:3px 0;padding:3px 8px}
details.row>summary{cursor:pointer}details.step{margin-left:1.5em}details.step>summary{cursor:pointer;color:#333}
.t{color:#888;font-family:monospace;display:inline-block;width:6em}.kind{font-weight:bold;display:inline-block;width:5em}
.turn .kind{color:#1565c0}.action .kind{color:#2e7d32}.event .kind{color:#6a1b9a}.unknown .kind{color:#b71c1c}
.bad{color:#b71c1c;font-weight:bold}.ok{color:#2e7d32}pre{background:#f3f3f3;padding:4px;white-space:pre-wrap;
word-break:break-all;margin:2px 0}img{border:1px solid #aaa;margin:4px}.note{background:#fff3e0;padding:4px 8px}
audio{vertical-align:middle;height:28px;margin:2px}
"""
_JS = """
function setAll(open){document.querySelectorAll('details').forEach(d=>{d.open=open;});}
"""


def _ms(t_ns: int, t0: int) -> str:
    return f"{(t_ns - t0) / 1e9:7.2f} s"


def _pre(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=1, ensure_ascii=False, default=str)
    return f"<pre>{escape(text)}</pre>"


def _event_step(e: EventRec, t0: int) -> str:
    raw = {"type": e.type, "text": e.text, "source": e.source, "trace_id": e.trace_id, "confidence": e.confidence,
           "stamp_ns": e.stamp_ns, "payload": e.payload}
    problems = "".join(f"<div class=bad>{escape(p)}</div>" for p in payload_problems(e))
    # a generation's prompt, grammar and output read as text, not as JSON strings
    texts = "".join(f"<div>{name}</div>{_pre(e.payload[name])}" for name in ("prompt", "grammar", "raw")
                    if e.type == ev.GENERATION and isinstance(e.payload.get(name), str) and e.payload[name])
    return (f"<details class=step><summary><span class=t>{_ms(e.log_ns, t0)}</span> {escape(render(e))}</summary>"
            f"{problems}{texts}{_pre(raw)}</details>")


def _thought_step(t: ThoughtRec, t0: int) -> str:
    return (f"<details class=step><summary><span class=t>{_ms(t.log_ns, t0)}</span> thought &lt;{escape(t.kind)}&gt; "
            f"{escape(t.text[:160])}</summary>{_pre(t.text)}</details>")


def _budget_badges(measured: dict[str, float], budgets: dict[str, float]) -> str:
    out = []
    for path, ms in measured.items():
        budget = budgets.get(path)
        over = budget is not None and ms > budget
        cls = "bad" if over else "ok"
        out.append(f"<span class={cls}>{escape(path)} {ms:.0f} ms" + (f" / {budget:.0f}" if budget else "") + "</span>")
    return " · ".join(out)


def _turn(turn: Turn, t0: int, budgets: dict[str, float]) -> str:
    said = " / ".join(("✂ " if s.payload.get("interrupted") else "") + s.text for s in turn.said)
    outcome = turn.outcome or "NO ANSWER"
    cls = "bad" if outcome in ("NO ANSWER", "refused", "apologized") else ""
    acts = f" · actions: {', '.join(turn.actions)}" if turn.actions else ""
    summary = (f"<span class=t>{_ms(turn.start_ns, t0)}</span><span class=kind>turn</span> "
               f"user: “{escape(turn.user_text)}” → <span class='{cls}'>{escape(outcome)}</span>{escape(acts)}"
               f"{' · agent: “' + escape(said) + '”' if said else ''}")
    steps = sorted([(e.log_ns, _event_step(e, t0)) for e in turn.events]
                   + [(t.log_ns, _thought_step(t, t0)) for t in turn.thoughts], key=lambda s: s[0])
    audio = "".join(f"<div>{who}: <audio controls src='{data_uri('audio/wav', wav)}'></audio></div>"
                    for who, chunks in (("user audio", turn.mic), ("agent audio as played", turn.voice))
                    if (wav := audio_wav(chunks)) is not None)
    badges = _budget_badges(turn.measured, budgets)
    return (f"<details class='row turn'><summary>{summary}</summary>{audio}"
            f"{'<div>latency: ' + badges + '</div>' if badges else ''}{''.join(s for _, s in steps)}</details>")


def _action(run: ActionRun, t0: int) -> str:
    if run.result is None:
        verdict = "<span class=bad>no result recorded</span>"
    else:
        p = run.result.payload
        ok = p.get("success") and not p.get("canceled")
        word = "canceled" if p.get("canceled") else ("succeeded" if ok else "FAILED")
        verdict = f"<span class={'ok' if ok else 'bad'}>{word}</span>: {escape(run.result.text)}"
    span = (run.end_ns - run.start_ns) / 1e9
    summary = (f"<span class=t>{_ms(run.start_ns, t0)}</span><span class=kind>action</span> {escape(run.name)} "
               f"{verdict} · {span:.1f} s, {len(run.feedback)} feedback, {run.commands} arm commands")
    images = "".join(f"<figure style='display:inline-block'><img alt='{label}' src='{data_uri('image/png', png)}'>"
                     f"<figcaption>camera at {label}</figcaption></figure>"
                     for label, frame in run.frames if (png := frame_png(frame)) is not None)
    feedback = "".join(_event_step(e, t0) for e in run.feedback)
    fb = (f"<details class=step><summary>{len(run.feedback)} feedback messages</summary>{feedback}</details>"
          if run.feedback else "")
    result = _event_step(run.result, t0) if run.result is not None else ""
    return f"<details class='row action'><summary>{summary}</summary>{images}{fb}{result}</details>"


def _event(e: EventRec, t0: int) -> str:
    known = e.type in SCHEMAS
    label = "event" if known else "unknown"
    return (f"<details class='row {label}'><summary><span class=t>{_ms(e.log_ns, t0)}</span>"
            f"<span class=kind>{label}</span> {escape(render(e))}</summary>{_event_step(e, t0)}</details>")


def _latency_table(ep: Episode, budgets: dict[str, float], summarize: Summarize) -> str:
    rows = []
    for path in sorted(set(ep.samples) | set(budgets)):
        s = summarize(ep.samples.get(path, []))
        if not s.get("n"):
            continue
        budget = budgets.get(path)
        within = "–" if budget is None else ("yes" if s["p99"] <= budget else "<span class=bad>NO</span>")
        rows.append(f"<tr><td>{escape(path)}</td><td>{s['p50']}</td><td>{s['p99']}</td><td>{s['n']}</td>"
                    f"<td>{budget if budget is not None else '–'}</td><td>{within}</td></tr>")
    head = "<tr><th>path</th><th>p50 ms</th><th>p99 ms</th><th>n</th><th>budget ms</th><th>within (p99)</th></tr>"
    return f"<table id=latency>{head}{''.join(rows)}</table>" if rows else "<p>no latency samples</p>"


def render_page(ep: Episode, budgets: dict[str, float], summarize: Summarize, title: str = "") -> str:
    """The whole page; ``budgets`` (path → ms) and ``summarize`` come from the project's latency tools."""
    rec, t0 = ep.recording, ep.recording.start_ns
    body = []
    for _, kind, item in ep.rows():
        if kind == "turn":
            body.append(_turn(item, t0, budgets))  # type: ignore[arg-type]
        elif kind == "action":
            body.append(_action(item, t0))  # type: ignore[arg-type]
        else:
            body.append(_event(item, t0))  # type: ignore[arg-type]
    note = ""
    if ep.unknown_types:
        note = (f"<p class=note id=not-understood>Not understood (shown as generic rows): "
                f"{escape(', '.join(ep.unknown_types))}</p>")
    if rec.truncated:
        note += f"<p class=note id=truncated>Recording cut short: {escape(rec.truncated)}</p>"
    problems = sorted({p for e in rec.events for p in payload_problems(e)})
    if problems:
        note += "<p class=note id=schema-problems>Payloads off their schema: " + escape("; ".join(problems)) + "</p>"
    channels = ", ".join(f"{escape(k)} ({v})" for k, v in sorted(rec.channels.items()))
    title = escape(title or rec.path)
    return (f"<!doctype html><html><head><meta charset=utf-8><title>trace: {title}</title><style>{_CSS}</style>"
            f"<script>{_JS}</script></head><body><h1>Trace of {title}</h1>"
            f"<p>User turns: {len(ep.turns)}; actions: {len(ep.actions)}; other events: {len(ep.others)}. "
            f"Channels: {channels}</p>"
            f"{note}<h2>Latency against the budgets</h2>{_latency_table(ep, budgets, summarize)}"
            f"<h2>Timeline</h2><p><button onclick='setAll(true)'>expand all</button> "
            f"<button onclick='setAll(false)'>collapse all</button></p><div id=timeline>{''.join(body)}</div>"
            f"</body></html>")
