"""Audio sources and sinks as processes: a WAV microphone, and real devices that may be absent."""
from __future__ import annotations

import time

import pytest

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.tools.spoken import synthesize_piper
from seal_nodes.core.audio.wav import write_wav
from seal_nodes.stack.session import StackSession
from seal_nodes.tools.wer import normalize
from tests.integration.conftest import wait_event

pytestmark = pytest.mark.integration

LAUNCH = """
launch:
- arg: {name: audio_file}
- node: {pkg: seal_bringup, exec: audio_perception, name: audio_perception}
- node:
    pkg: seal_bringup
    exec: wav_source
    name: wav_source
    param:
    - {name: file, value: "$(var audio_file)"}
    - {name: start_delay_s, value: 1.0}
- node: {pkg: seal_bringup, exec: mic, name: mic, param: [{name: device, value: no-such-card}]}
- node: {pkg: seal_bringup, exec: speaker, name: speaker, param: [{name: device, value: no-such-card}]}
"""


def test_wav_source_speaks_into_perception_and_missing_devices_are_reported(tmp_path):
    wav = tmp_path / "command.wav"
    utt = synthesize_piper("Put the blue cube in the bin.")
    write_wav(wav, utt.pcm, 16000)
    launch = tmp_path / "audio.launch.yaml"
    launch.write_text(LAUNCH)
    since = time.time_ns()
    with StackSession(launch, {"audio_file": str(wav)}, node_log=tmp_path / "nodes.log") as session:
        end = wait_event(session, ev.SPEECH_END, since, timeout_s=40)
        assert normalize(end.msg.text) == normalize("put the blue cube in the bin"), end.msg.text
        voice = wait_event(session, ev.VOICE, since, timeout_s=20, where=lambda r: r.msg.trace_id == end.msg.trace_id)
        payload = ev.Event.parse_payload(voice.msg.payload_json)
        assert len(payload["embedding"]) == 256 and payload["model"] == "resemblyzer-ge2e"
        assert abs(sum(v * v for v in payload["embedding"]) - 1.0) < 1e-3 and payload["seconds"] > 1.0
        chunks = [r.msg for r in session.messages(topics.MIC)]
        assert chunks and all(c.sample_rate == 16000 and c.encoding == "S16LE" for c in chunks)
        for source in ("mic", "speaker"):
            err = wait_event(session, ev.ERROR, since, where=lambda r, s=source: r.msg.source == s)
            assert "no-such-card" in err.msg.text or "no audio" in err.msg.text
        status = session.supervisor.status()
        assert status["mic"].alive and status["speaker"].alive  # reported, not crashed


def test_wav_source_reports_a_file_that_is_not_audio(tmp_path):
    bogus = tmp_path / "notes.wav"
    bogus.write_text("this is not audio")
    launch = tmp_path / "audio.launch.yaml"
    launch.write_text(LAUNCH)
    since = time.time_ns()
    with StackSession(launch, {"audio_file": str(bogus)}, node_log=tmp_path / "nodes.log") as session:
        err = wait_event(session, ev.ERROR, since, timeout_s=30, where=lambda r: r.msg.source == "wav_source")
        assert "notes.wav" in err.msg.text
        assert session.supervisor.status()["wav_source"].alive


def test_wav_source_that_waits_in_vain_for_listeners_says_so_and_plays(tmp_path):
    wav = tmp_path / "hello.wav"
    write_wav(wav, synthesize_piper("Hello robot.").pcm, 16000)
    launch = tmp_path / "audio.launch.yaml"
    launch.write_text(LAUNCH.replace(
        "- {name: start_delay_s, value: 1.0}",
        "- {name: start_delay_s, value: 1.0}\n    - {name: listener, value: no_such_node}\n"
        "    - {name: listener_wait_s, value: 2.0}"))
    since = time.time_ns()
    with StackSession(launch, {"audio_file": str(wav)}, node_log=tmp_path / "nodes.log") as session:
        err = wait_event(session, ev.ERROR, since, timeout_s=40, where=lambda r: r.msg.source == "wav_source")
        assert "no_such_node has not subscribed to /audio/mic" in err.msg.text and "playing anyway" in err.msg.text
        # and it plays: the file's audio arrives (whoever was listening by then hears it)
        session.wait_for(lambda: len(session.messages(topics.MIC)) >= 10, 30, "the file's audio")
