"""The thoughts as a readable transcript line: the talk's tagged format, shared by the live view
and the recording (the same Foxglove layout opens both)."""
from __future__ import annotations

TRANSCRIPT = "/seal/transcript"  # the channel the transcript goes out on (live view, recording)
# A thought's kind → the talk's tag for it (what `seal demo` writes to conversation.txt).
TAGS = {"user": "user", "think": "think", "say": "assistant", "act": "action", "observe": "observation",
        "wait": "wait"}


def transcript_line(kind: str, text: str) -> str:
    """One thought in the talk's tagged format; an interrupted utterance keeps what was really said."""
    if kind == "interrupted":
        return f"<assistant>{text}<interrupted/></assistant>"
    tag = TAGS.get(kind, kind or "thought")
    return f"<{tag}>{text}</{tag}>"
