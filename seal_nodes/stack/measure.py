"""Latency measurements from what a session saw on the topics (shared by demo and bench).

Speech figures run from the true onset/offset in the played audio to the observable effect on
a topic; the policy figures are the samples the policy node publishes on /seal/latency (camera
frame stamp → command); the ROS hop is measured on /joint_states.
"""
from __future__ import annotations

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.audio.frames import s16_duration_ns
from seal_nodes.nodes.common import stamp_to_ns
from seal_nodes.stack.session import Received, SpokenTurn, StackSession
from seal_nodes.tools.latency import summarize

GAP_NS = 2_000_000  # chunks of one voice join sample-exactly; a later start is a pause or an underrun


def speech_start_ms(session: StackSession, turn: SpokenTurn) -> float | None:
    """True onset → receipt of the first speech_start after it (an early one counts as 0)."""
    for r in session.events(ev.SPEECH_START):
        if r.t_ns >= turn.onset_ns - 300_000_000:
            return max(0.0, (r.t_ns - turn.onset_ns) / 1e6)
    return None


def final_transcript_ms(session: StackSession, turn: SpokenTurn) -> float | None:
    """True end of speech → receipt of the first speech_end after the onset."""
    for r in session.events(ev.SPEECH_END):
        if r.t_ns >= turn.onset_ns:
            return (r.t_ns - turn.offset_ns) / 1e6
    return None


def first_audio_ms(session: StackSession, turn: SpokenTurn) -> float | None:
    """True end of the user's speech → play-out stamp of the first reply chunk after it."""
    for r in session.messages(topics.SPEAKER):
        stamp = stamp_to_ns(r.msg.header.stamp)
        if stamp > turn.offset_ns:
            return (stamp - turn.offset_ns) / 1e6
    return None


# End of speech → first reply audio, stage by stage, from what the topics show (no node times it).
SPEECH_STAGES = ("end_of_turn_ms", "final_decode_ms", "reply_start_ms", "first_chunk_ms")


def speech_stages(session: StackSession, turn: SpokenTurn) -> dict[str, float]:
    """Where one turn's ``first_audio_ms`` went.

    ``end_of_turn_ms``: true end of speech → speech_end received (the silence judged, the final
    decode, the hop); ``final_decode_ms`` is the Whisper part of it, as perception reports;
    ``reply_start_ms``: speech_end → the TTS starting the reply (the thinker, the goal's hop, the
    TTS queue); ``first_chunk_ms``: that start → the reply's first chunk's play-out stamp (the
    first clause synthesised, the lead). A stage that did not happen is left out.
    """
    out: dict[str, float] = {}
    end = next((r for r in session.events(ev.SPEECH_END) if r.t_ns >= turn.onset_ns), None)
    if end is None:
        return out
    out["end_of_turn_ms"] = (end.t_ns - turn.offset_ns) / 1e6
    try:
        decode = ev.Event.parse_payload(end.msg.payload_json).get("decode_ms")
    except ValueError:
        decode = None
    if isinstance(decode, (int, float)):
        out["final_decode_ms"] = float(decode)
    start = next((r for r in session.events(ev.AGENT_SPEECH_START, end.t_ns)), None)
    if start is None:
        return out
    out["reply_start_ms"] = (start.t_ns - end.t_ns) / 1e6
    chunk = next((r for r in session.messages(topics.SPEAKER)
                  if r.msg.trace_id == start.msg.trace_id and stamp_to_ns(r.msg.header.stamp) > turn.offset_ns), None)
    if chunk is not None:
        out["first_chunk_ms"] = (stamp_to_ns(chunk.msg.header.stamp) - start.t_ns) / 1e6
    return out


def barge_in_stop_ms(session: StackSession, turn: SpokenTurn, interrupted_trace: str) -> float | None:
    """Barge-in onset → the voice stopped for a confirmed onset: the later of the end of the last
    chunk of the interrupted utterance that was played and the ``speech_start`` received (a pause
    before it is only a maybe; ``barge_in_pause_ms`` times that).

    None when that utterance had already ended before the barge-in (nothing was interrupted).
    """
    spans = _played(session, interrupted_trace)
    if not spans or spans[-1][1] < turn.onset_ns:
        return None
    start = next((r.t_ns for r in session.events(ev.SPEECH_START) if r.t_ns >= turn.onset_ns - 300_000_000), 0)
    return (max(spans[-1][1], start) - turn.onset_ns) / 1e6


def barge_in_pause_ms(session: StackSession, turn: SpokenTurn, interrupted_trace: str) -> float | None:
    """Barge-in onset → end of the last chunk of the interrupted utterance played before its first
    gap after the pause was asked for (the first ``voice_maybe`` start or ``speech_start`` received;
    a gap before that is an underrun): when the user stops hearing the agent, resumed or not.

    None when that utterance had already ended before the barge-in (nothing was interrupted).
    """
    after = [(start, end) for start, end in _played(session, interrupted_trace) if end > turn.onset_ns]
    if not after:
        return None
    asked = next((r.t_ns for r in session.events(None, turn.onset_ns - 300_000_000)
                  if r.msg.type == ev.SPEECH_START or (r.msg.type == ev.VOICE_MAYBE and _state(r) == "start")), None)
    for (_, end), (start, _) in zip(after, after[1:]):
        if start > end + GAP_NS and asked is not None and end >= asked:
            return (end - turn.onset_ns) / 1e6
    return (after[-1][1] - turn.onset_ns) / 1e6


def _played(session: StackSession, trace_id: str) -> list[tuple[int, int]]:
    """The play-out spans (start, end ns) of one utterance's chunks on /audio/speaker, in order."""
    return sorted((stamp, stamp + s16_duration_ns(len(r.msg.data), r.msg.channels, r.msg.sample_rate))
                  for r in session.messages(topics.SPEAKER) if r.msg.trace_id == trace_id
                  for stamp in (stamp_to_ns(r.msg.header.stamp),))


def _state(r: Received) -> object:
    """A received event's payload ``state`` (None where it has none, or the payload is malformed)."""
    try:
        return ev.Event.parse_payload(r.msg.payload_json).get("state")
    except ValueError:
        return None


def latency_samples(session: StackSession, path: str, since_ns: int = 0) -> list[float]:
    return [r.msg.ms for r in session.messages(topics.LATENCY) if r.msg.path == path and r.t_ns >= since_ns]


def ros_hop_samples(session: StackSession) -> list[float]:
    return [(r.t_ns - stamp_to_ns(r.msg.header.stamp)) / 1e6 for r in session.messages(topics.JOINT_STATES)]


def node_samples(session: StackSession) -> dict[str, list[float]]:
    """The samples that do not depend on the scenario: policy loop and ROS hop."""
    return {"frame_to_command_ms": latency_samples(session, "frame_to_command_ms"),
            "policy_inference_ms": latency_samples(session, "policy_inference_ms"),
            "ros_hop_ms": ros_hop_samples(session)}


def node_figures(session: StackSession) -> dict[str, dict]:
    return {path: summarize(values) for path, values in node_samples(session).items()}


# Camera → command, stage by stage: the sim measures the first two, the policy node the rest.
SIM_STAGES = ("camera_render_ms", "camera_publish_ms")
POLICY_STAGES = ("frame_transport_ms", "frame_preprocess_ms", "frame_queue_ms", "command_publish_ms")
DDS_HOP = "dds_hop_ms[derived]"


def frame_stages(samples: dict[str, list[float]]) -> dict[str, dict]:
    """The stages in the order a frame passes them, from ``latency_samples`` of each path.

    The sim stamps a frame before rendering it and the policy node notes its receipt
    (``frame_transport_ms``); what that leaves after render and publish is the DDS hop with the
    wait for the receiving executor, given at the median only (the stages' tails need not coincide).
    """
    got = {path: summarize(samples.get(path, [])) for path in (*SIM_STAGES, *POLICY_STAGES, "policy_inference_ms")}
    parts = [got["frame_transport_ms"]["p50"], got["camera_render_ms"]["p50"], got["camera_publish_ms"]["p50"]]
    hop = None if None in parts else round(parts[0] - parts[1] - parts[2], 2)
    order = ("camera_render_ms", "camera_publish_ms", DDS_HOP, "frame_preprocess_ms", "frame_queue_ms",
             "policy_inference_ms", "command_publish_ms")
    stages = {path: got[path] if path != DDS_HOP else {"p50": hop, "p99": None, "n": got["frame_transport_ms"]["n"]}
              for path in order}
    return {**stages, "frame_transport_ms": got["frame_transport_ms"]}


def stage_samples(session: StackSession) -> dict[str, list[float]]:
    return {path: latency_samples(session, path) for path in (*SIM_STAGES, *POLICY_STAGES, "policy_inference_ms")}


def biggest_stage(stages: dict[str, dict]) -> str | None:
    """The stage with the largest median (the sum ``frame_transport_ms`` excluded)."""
    known = {k: v["p50"] for k, v in stages.items() if k != "frame_transport_ms" and v["p50"] is not None}
    return max(known, key=known.__getitem__) if known else None
