"""``seal bench --load``'s CPU hog, its histograms and tables; where a benchmark ran (host, calibration)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from seal_nodes.bench.load import CpuHog, format_histogram, format_side_by_side, histogram
from seal_nodes.stack.measure import DDS_HOP, biggest_stage, frame_stages
from seal_nodes.tools import calibration as cal
from seal_nodes.tools.latency import write_report

pytestmark = pytest.mark.unit


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_each_hog_process_leads_its_own_session_and_all_are_reaped_even_when_the_body_fails():
    hog = CpuHog(processes=2)
    with pytest.raises(RuntimeError, match="body"):
        with hog:
            pids = [p.pid for p in hog.procs]
            assert len(pids) == 2 and all(p.poll() is None for p in hog.procs)
            # a session each: with autogroup, each loop competes as one more process does
            assert [os.getsid(pid) for pid in pids] == pids and os.getsid(0) not in pids
            raise RuntimeError("body")
    assert hog.procs == [] and all(_gone(pid) for pid in pids)  # killed and waited for: not even zombies
    hog.stop()  # a second stop is harmless


def test_the_hog_ends_by_itself_when_the_bench_is_killed():
    code = ("import sys, time; sys.path.insert(0, %r); from seal_nodes.bench.load import CpuHog\n"
            "h = CpuHog(processes=1); h.start(); print(h.procs[0].pid, flush=True); time.sleep(60)"
            % os.getcwd())
    bench = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    busy = int(bench.stdout.readline())
    bench.send_signal(signal.SIGKILL)  # no finally runs: the orphan notices its new parent
    bench.wait()
    deadline = time.monotonic() + 30
    while not _gone(busy) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(busy) or open(f"/proc/{busy}/stat").read().split()[2] == "Z"  # ended (a zombie of init at most)


def test_bad_hog_sizes_are_refused():
    with pytest.raises(ValueError, match="processes"):
        CpuHog(processes=-1)
    assert CpuHog().processes == (os.cpu_count() or 1)
    assert CpuHog(processes=0, render=True).describe()["offscreen_renderer"] is True


def test_histograms_share_edges_so_idle_and_loaded_read_side_by_side():
    hist = histogram({"idle": [1.0, 2.0, 2.5, 3.0], "loaded": [2.0, 9.0, 10.0]}, bins=3)
    assert hist["edges_ms"] == [1.0, 4.0, 7.0, 10.0]
    assert hist["counts"] == {"idle": [4, 0, 0], "loaded": [1, 0, 2]}
    text = format_histogram("frame_to_command_ms", hist, width=4)
    assert text.splitlines()[0] == "frame_to_command_ms (ms; # idle, = loaded)"
    assert "####" in text.splitlines()[1] and len(text.splitlines()) == 4
    assert histogram({"idle": [], "loaded": []}) == {"edges_ms": [], "counts": {"idle": [], "loaded": []}}
    assert format_histogram("x", histogram({"idle": []})) == "x: no samples"


def test_side_by_side_table_holds_the_loaded_p99_to_the_budget():
    idle = {"ros_hop_ms": {"p50": 1.0, "p99": 2.0, "n": 10}}
    loaded = {"ros_hop_ms": {"p50": 3.0, "p99": 9.0, "n": 8}, "extra": {"p50": None, "p99": None, "n": 0}}
    rows = format_side_by_side(idle, loaded).splitlines()
    assert rows[2] == "| ros_hop_ms | 1.0 | 2.0 | 3.0 | 9.0 | 10/8 | 5.0 | NO |"
    assert rows[3] == "| extra | – | – | – | – | 0/0 | – | – |"


def test_frame_stages_in_order_with_the_dds_hop_derived_at_the_median():
    samples = {"camera_render_ms": [20.0], "camera_publish_ms": [1.0], "frame_transport_ms": [24.0],
               "frame_preprocess_ms": [0.5], "frame_queue_ms": [2.0], "policy_inference_ms": [8.0],
               "command_publish_ms": [0.3]}
    stages = frame_stages(samples)
    assert list(stages)[:3] == ["camera_render_ms", "camera_publish_ms", DDS_HOP]
    assert stages[DDS_HOP] == {"p50": 3.0, "p99": None, "n": 1}
    assert biggest_stage(stages) == "camera_render_ms"
    assert frame_stages({})[DDS_HOP]["p50"] is None and biggest_stage(frame_stages({})) is None


def test_cpu_model_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\n")
    assert cal.cpu_model(info) == "Example CPU @ 2.0GHz"
    assert cal.cpu_model(tmp_path / "missing")  # falls back to the platform, never empty
    host = cal.host()
    assert host["cores"] == os.cpu_count() and 1 <= host["cores_usable"] <= host["cores"]


def test_best_of_runs_the_workload_each_time():
    calls = []
    ms = cal.best_of_ms(lambda: calls.append(1), repeats=4)
    assert len(calls) == 4 and ms >= 0
    with pytest.raises(ValueError):
        cal.best_of_ms(lambda: None, repeats=0)


def test_every_report_says_where_it_ran_and_calibrates_only_when_asked(tmp_path, monkeypatch, capsys):
    def no_models():
        raise AssertionError("calibration loads models: only on request")

    monkeypatch.setattr(cal, "calibration", no_models)
    write_report(tmp_path / "a.json", {"x": 1}, "table")
    got = json.loads((tmp_path / "a.json").read_text())
    assert got["x"] == 1 and set(got["host"]) == {"cpu_model", "cores", "cores_usable"}
    assert (tmp_path / "a.md").read_text() == "table" and "table" in capsys.readouterr().out
    monkeypatch.setattr(cal, "calibration", lambda: {"whisper_decode_ms": 1.0})
    write_report(tmp_path / "b.json", {"x": 1}, "table", calibration=True)
    assert json.loads((tmp_path / "b.json").read_text())["host"]["calibration"] == {"whisper_decode_ms": 1.0}


class _Session:
    """What ``speech_stages`` reads of a StackSession: the events and the speaker chunks received."""

    def __init__(self, events: list, chunks: list) -> None:
        self._events, self._chunks = events, chunks

    def events(self, type_: str | None = None, since_ns: int = 0) -> list:
        return [r for r in self._events if (type_ is None or r.msg.type == type_) and r.t_ns >= since_ns]

    def messages(self, topic) -> list:
        return self._chunks


def _received(t_ns: int, type_: str = "", trace: str = "", payload: str = "", stamp_ns: int = 0):
    from types import SimpleNamespace

    from seal_nodes.stack.session import Received

    stamp = SimpleNamespace(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)
    return Received(t_ns, SimpleNamespace(type=type_, trace_id=trace, payload_json=payload,
                                          header=SimpleNamespace(stamp=stamp)))


def test_speech_stages_split_first_audio_into_the_hops_the_topics_show():
    from seal_nodes.core import events as ev
    from seal_nodes.stack.measure import speech_stages
    from seal_nodes.stack.session import SpokenTurn

    ms = 1_000_000
    turn = SpokenTurn("hello", onset_ns=1000 * ms, offset_ns=2000 * ms)
    events = [_received(1040 * ms, ev.SPEECH_START, "u1"),
              _received(2350 * ms, ev.SPEECH_END, "u1", '{"decode_ms": 210.5}'),
              _received(2400 * ms, ev.AGENT_SPEECH_START, "u1")]
    chunks = [_received(0, trace="old", stamp_ns=2100 * ms), _received(0, trace="u1", stamp_ns=2550 * ms)]
    stages = speech_stages(_Session(events, chunks), turn)
    assert stages == {"end_of_turn_ms": 350.0, "final_decode_ms": 210.5, "reply_start_ms": 50.0,
                      "first_chunk_ms": 150.0}
    # No reply yet: only the stages that happened; no speech_end: nothing.
    assert set(speech_stages(_Session(events[:2], []), turn)) == {"end_of_turn_ms", "final_decode_ms"}
    assert speech_stages(_Session(events[:1], chunks), turn) == {}
