"""The flight recorder: a recorded run read back, shown as a page, diagnosed and turned into a case.

The recordings are made here with the real thinker and the scenario runner, written as MCAP
with the project's recorder: one whose thinker's object catalog lacks the blue cube the user
asks for (a faulty configuration), one with the right catalog.
"""
from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
import wave
import zlib
from pathlib import Path

import pytest
from mcap_ros2._dynamic import serialize_dynamic

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.observe.trace.diagnose import ARM, THINKING, diagnose
from seal_nodes.core.observe.trace.episode import build_episode
from seal_nodes.core.observe.trace.media import audio_wav, frame_png
from seal_nodes.core.observe.trace.page import render_page
from seal_nodes.core.observe.trace.reader import (AudioRec, EventRec, FrameRec, LatencyRec, Recording, ThoughtRec,
                                                  TraceError, read_recording)
from seal_nodes.core.observe.trace.schema import SCHEMAS, payload_problems, render
from seal_nodes.tools import diagnose as diagnose_cli
from seal_nodes.tools import trace as trace_cli
from seal_nodes.tools.latency import BUDGETS, summarize
from seal_nodes.tools.recording import McapRecorder, message_definition
from seal_nodes.tools.scenario import parse_scenario
from seal_nodes.tools.scenario_recording import record_scenario

pytestmark = pytest.mark.unit

ASKS = [{"t_ms": 500, "user": "Pick up the blue cube."}, {"t_ms": 9000, "user": "Pick up the blue cube, please."}]
FAULTY = {"red_cube", "green_cube"}  # the catalog the faulty run's thinker was given
RIGHT = {"red_cube", "green_cube", "blue_cube"}
BUDGET_MS = {p: b.budget_ms for p, b in BUDGETS.items()}


def record(path: Path, objects: set[str]) -> Path:
    sc = parse_scenario({"name": "blue", "known_objects": sorted(objects), "thinker": {"fast_path": True},
                         "script": ["<assistant>Sorry, I did not get that.</assistant>"] * 2, "events": ASKS})
    record_scenario(sc, path)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("runs")
    return {"faulty": record(folder / "faulty.mcap", FAULTY), "right": record(folder / "right.mcap", RIGHT)}


def event(t_s: float, type_: str, text: str = "", trace: str = "t1", **payload) -> EventRec:
    ns = int(t_s * 1e9)
    return EventRec(ns, ns, type_, text, "test", trace, 1.0, payload)


# --- parsers that keep up ------------------------------------------------------------------------

def test_every_known_event_type_has_a_schema_and_a_renderer():
    assert not ev.KNOWN_TYPES - set(SCHEMAS), f"no schema/renderer for {sorted(ev.KNOWN_TYPES - set(SCHEMAS))}"
    for type_ in ev.KNOWN_TYPES:
        assert render(event(0, type_, "x")), type_  # an empty payload still renders


def test_payloads_of_a_recorded_run_match_their_schemas(runs):
    seen = set()
    for path in runs.values():
        for e in read_recording(path).events:
            assert not payload_problems(e), payload_problems(e)
            seen.add(e.type)
    assert {ev.SPEECH_END, ev.TURN_DONE, ev.AGENT_SPEECH_END, ev.ACTION_RESULT} <= seen


def test_a_payload_off_its_schema_is_named():
    problems = payload_problems(event(0, ev.ACTION_RESULT, goal_id="g1", speed=3))
    assert "action_result: missing payload key 'success'" in problems
    assert "action_result: payload key 'speed' not in its schema" in problems


def test_an_unknown_event_type_is_a_generic_row_and_listed_as_not_understood():
    rec = Recording("synthetic", events=[event(1, "teleport", "beam me up", trace="x")])
    html = render_page(build_episode(rec), BUDGET_MS, summarize)
    assert "id=not-understood" in html and "teleport" in html and "row unknown" in html


# --- the page ------------------------------------------------------------------------------------

def test_the_page_has_a_row_per_turn_and_fetches_nothing(runs, tmp_path):
    page = trace_cli.write_trace(runs["right"], tmp_path / "page.html")
    html = page.read_text()
    assert html.count("class='row turn'") == 2 and html.count("class='row action'") == 2
    assert "pick(object=blue_cube)" in html and "<details class=step>" in html
    assert "http://" not in html and "https://" not in html


def test_the_served_page_is_on_loopback_and_rendered_afresh_at_each_load(runs, tmp_path):
    live = tmp_path / "live.mcap"
    live.write_bytes(b"not yet")  # the run has not written a whole record yet
    with trace_cli.trace_server(live) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        host, port = server.server_address
        assert host == "127.0.0.1"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30)
        assert err.value.code == 503
        live.write_bytes(runs["right"].read_bytes())  # the recording grew
        html = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read().decode()
        assert html.count("class='row turn'") == 2
        server.shutdown()


def test_a_turn_shows_each_generation_with_the_prompt_and_the_raw_output(tmp_path):
    sc = parse_scenario({"name": "chat", "known_objects": sorted(RIGHT), "thinker": {"fast_path": False},
                         "script": ["<think>Small talk.</think><assistant>Blue, like the sky.</assistant>"],
                         "events": [{"t_ms": 500, "user": "What is your favourite colour?"}]})
    record_scenario(sc, tmp_path / "chat.mcap")
    rec = read_recording(tmp_path / "chat.mcap")
    (gen,) = [e for e in rec.events if e.type == ev.GENERATION]
    assert not payload_problems(gen) and "What is your favourite colour?" in gen.payload["prompt"]
    html = trace_cli.trace_html(tmp_path / "chat.mcap")
    assert "generation by" in html and "&lt;assistant&gt;Blue, like the sky.&lt;/assistant&gt;" in html
    assert "<div>prompt</div>" in html and "<div>raw</div>" in html


def test_an_action_shows_its_camera_frames_and_a_turn_its_audio():
    frame = FrameRec(int(1.5e9), 4, 2, "rgb8", bytes(range(24)))
    mic = [AudioRec(int(1e9), 16000, 1, "", b"\x01\x00" * 160)]
    voice = [AudioRec(int(1.3e9), 22050, 1, "t1", b"\x02\x00" * 220)]
    rec = Recording("synthetic", frames=[frame], mic=mic, speaker=voice, trajectory_ns=[int(1.6e9)], events=[
        event(1.0, ev.SPEECH_START, onset_ns=int(1e9)), event(1.2, ev.SPEECH_END, "pick it", offset_ns=int(1.1e9)),
        event(1.5, ev.ACTION_FEEDBACK, "approach", goal_id="g1", progress=0.5),
        event(2.0, ev.ACTION_RESULT, "dropped it", goal_id="g1", success=False, canceled=False,
              action="pick(object=red_cube)", instruction="pick up the red cube")])
    html = render_page(build_episode(rec), BUDGET_MS, summarize)
    assert "data:image/png;base64," in html and "FAILED" in html
    assert "user audio: <audio controls src='data:audio/wav;base64," in html
    assert "agent audio as played: <audio controls src='data:audio/wav;base64," in html
    assert "1 arm commands" in html


def test_an_actions_frames_are_the_recorded_ones_nearest_its_start_and_end(tmp_path):
    image = serialize_dynamic(topics.CAMERA.type, message_definition(topics.CAMERA.type))[topics.CAMERA.type]
    event_cdr = serialize_dynamic(topics.EVENTS.type, message_definition(topics.EVENTS.type))[topics.EVENTS.type]
    recorder = McapRecorder(tmp_path / "arm.mcap")
    recorder.add_channel(topics.CAMERA.name, topics.CAMERA.type)
    recorder.add_channel(topics.EVENTS.name, topics.EVENTS.type)
    for k in range(10):  # a frame every 0.1 s, each a different shade
        recorder.write(topics.CAMERA.name, image({"header": {"stamp": {"sec": 0, "nanosec": 0}, "frame_id": ""},
                                                  "height": 1, "width": 2, "encoding": "mono8", "is_bigendian": 0,
                                                  "step": 2, "data": bytes([k, k])}), k * 100_000_000)
    for t_ns, type_, payload in ((210_000_000, ev.ACTION_FEEDBACK, {"goal_id": "g1"}),
                                 (690_000_000, ev.ACTION_RESULT, {"goal_id": "g1", "success": True})):
        recorder.write(topics.EVENTS.name, event_cdr({"header": {"stamp": {"sec": 0, "nanosec": 0}, "frame_id": ""},
                                                      "type": type_, "text": "", "confidence": 1.0, "source": "t",
                                                      "trace_id": "t1", "payload_json": json.dumps(payload)}), t_ns)
    recorder.close()
    rec = read_recording(tmp_path / "arm.mcap")
    assert len(rec.frame_ns) == 10 and not rec.frames  # timed, not held
    (run,) = build_episode(rec).actions
    assert [(label, f.data[0]) for label, f in run.frames] == [("start", 2), ("end", 7)]


def test_frames_and_audio_encode_to_valid_files():
    png = frame_png(FrameRec(0, 3, 2, "bgr8", bytes(range(18))))
    assert png is not None and png.startswith(b"\x89PNG")
    raw = zlib.decompress(png[png.index(b"IDAT") + 4:png.index(b"IEND") - 8])
    assert raw[:4] == bytes([0, 2, 1, 0])  # filter byte, then the first pixel with blue and red swapped
    assert frame_png(FrameRec(0, 3, 2, "32FC1", b"")) is None
    wav = audio_wav([AudioRec(0, 16000, 1, "", b"\x00\x01" * 100)])
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getframerate(), w.getnframes()) == (16000, 100)


def test_a_file_that_is_not_a_recording_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "notes.mcap"
    bad.write_text("hello")
    with pytest.raises(TraceError, match="not a readable MCAP"):
        read_recording(bad)
    assert trace_cli.main([str(bad)]) == 2 and diagnose_cli.main([str(bad)]) == 2
    assert "seal trace:" in capsys.readouterr().err


def test_a_recording_cut_short_is_read_up_to_the_cut(runs, tmp_path):
    whole = runs["right"].read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(whole[:len(whole) * 2 // 3])  # the stack killed mid-run: no summary, a torn chunk
    rec = read_recording(cut)
    assert rec.truncated and rec.events
    html = render_page(build_episode(rec), BUDGET_MS, summarize)
    assert "id=truncated" in html


# --- failures become tests -----------------------------------------------------------------------

def test_diagnose_says_which_output_was_refused_and_why(runs):
    findings = diagnose(build_episode(read_recording(runs["faulty"])), BUDGET_MS)
    assert [f.kind for f in findings] == ["refused", "refused", "repeated"]
    assert all(f.layer == THINKING and f.expected_action == "pick(object=blue_cube)" for f in findings)
    assert "“Pick up the blue cube.”" in findings[0].text and "I don't see the blue cube here." in findings[0].text
    assert diagnose(build_episode(read_recording(runs["right"])), BUDGET_MS) == []


def test_a_recorded_failure_becomes_a_case_that_fails_before_the_fix_and_passes_after(runs, tmp_path, capsys):
    assert diagnose_cli.main([str(runs["faulty"]), "--out", str(tmp_path)]) == 1
    assert "refused" in (tmp_path / "diagnosis.md").read_text()
    cases = sorted(tmp_path.glob("case_*.yaml"))
    assert cases
    for case in cases:
        misses = diagnose_cli.check_case(case, known_objects=FAULTY)  # the faulty configuration
        assert misses and "expected pick(object=blue_cube)" in misses[0]
        assert diagnose_cli.check_case(case, known_objects=RIGHT) == []  # the fixed one
    assert diagnose_cli.main(["--check", str(cases[0])]) == 0  # as written: the world's objects


def test_a_failed_action_a_missed_budget_an_unanswered_turn_and_a_correction_are_found(tmp_path):
    rec = Recording("synthetic.mcap", trajectory_ns=[int(1.5e9)], events=[
        event(1.0, ev.SPEECH_END, "pick up the red cube", offset_ns=int(0.9e9)),
        event(1.1, ev.ACTION_FEEDBACK, "approach", goal_id="g1"),
        event(2.0, ev.ACTION_RESULT, "the cube slipped", goal_id="g1", success=False, canceled=False,
              action="pick(object=red_cube)", instruction="pick up the red cube"),
        event(2.1, ev.TURN_DONE, outcome="acted", actions=["pick(object=red_cube)"], success=[False]),
        event(3.0, ev.SPEECH_END, "no, not that one, the green one", trace="t2", offset_ns=int(2.9e9))],
        thoughts=[ThoughtRec(int(1.05e9), "act", "pick(object=red_cube)", "t1")],
        latency=[LatencyRec(int(1.5e9), "policy_inference_ms", 25.0, "t1")])
    findings = diagnose(build_episode(rec), BUDGET_MS)
    kinds = {f.kind: f for f in findings}
    assert {"action_failed", "over_budget", "unanswered", "corrected"} <= set(kinds)
    assert "the cube slipped" in kinds["action_failed"].text and kinds["action_failed"].layer == ARM
    assert "25.0 ms" in kinds["over_budget"].text
    written = diagnose_cli.write_cases(findings, rec, tmp_path, seed=7)
    arm = json.loads((tmp_path / "arm_case_1.json").read_text())
    assert arm["seed"] == 7 and arm["instruction"] == "pick up the red cube" and tmp_path / "case_1.yaml" in written
