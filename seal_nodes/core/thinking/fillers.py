"""Natural fillers: what the agent says when its first real words would come too late.

The talk: if the answer needs thought, say something short first ("Let me think…") so the
user hears the agent within ~500 ms. The filler fits what the user said (a question, a
request, a statement), carries the TTS's ``[THINKING]`` tag (a hesitant prosody and a pause),
and never repeats the previous one.
"""
from __future__ import annotations

_QUESTION = ("[THINKING] Hmm, good question.", "[THINKING] Let me think.", "[THINKING] Hmm, let me see.")
_REQUEST = ("Okay, [THINKING] one moment.", "Sure, [THINKING] let me see.", "[THINKING] Right, let me think.")
_STATEMENT = ("[THINKING] Mm, I see.", "Okay. [THINKING] Let me think.", "[THINKING] Hmm.")
_STILL = ("[THINKING] Still thinking.", "[THINKING] Bear with me.", "[THINKING] Nearly there.")
_QUESTION_WORDS = ("what", "why", "how", "which", "where", "when", "who", "can", "could", "do", "does", "is",
                   "are", "will", "would", "should")
_REQUEST_WORDS = ("please", "put", "pick", "push", "move", "give", "show", "tell", "find", "go", "book", "click")


def kind_of(user_text: str) -> str:
    words = user_text.lower().replace(",", " ").split()
    if user_text.rstrip().endswith("?") or (words and words[0] in _QUESTION_WORDS):
        return "question"
    if any(w.strip(".!") in _REQUEST_WORDS for w in words[:3]):
        return "request"
    return "statement"


class FillerChooser:
    def __init__(self) -> None:
        self._last = ""
        self._n = 0

    def choose(self, user_text: str, still_thinking: bool = False) -> str:
        """A filler for a reply to ``user_text``; ``still_thinking`` for a second one in a turn."""
        options = _STILL if still_thinking else {"question": _QUESTION, "request": _REQUEST,
                                                  "statement": _STATEMENT}[kind_of(user_text)]
        self._n += 1
        pick = options[self._n % len(options)]
        if pick == self._last:
            pick = options[(self._n + 1) % len(options)]
        self._last = pick
        return pick
