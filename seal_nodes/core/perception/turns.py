"""Turn-taking decisions on transcripts: end of turn, backchannel vs interruption.

Pure functions on text, so the rules are unit-testable and the audio state machine
(``audio_perception``) only decides *when* to ask.

- End of turn: Whisper punctuates; a transcript that ends in ``.``/``?``/``!``, not on a
  word that needs a continuation ("put it in the…", "and…") and not a placing command
  without its destination ("put the green cube…") is a finished turn. Anything else waits
  for a longer silence, so those mid-sentence pauses do not end the turn. A pause after a
  sentence that reads complete ("pick up the cube … that is closest") still does: telling
  those apart needs prosody or a learned turn model.
- Backchannel: while the agent talks, a short utterance made only of acknowledgement tokens
  ("uh-huh", "yeah", "mm-hmm", "okay", "right", "I see") keeps the agent talking; any other
  word is a real interjection.
"""
from __future__ import annotations

import re

# Acknowledgements that do not claim the turn while the other side is talking.
BACKCHANNEL_WORDS = frozenset(
    {
        "uh", "huh", "uhhuh", "uh-huh", "mhm", "mmhmm", "mm-hmm", "mm", "hmm", "hm", "mmm",
        "yeah", "yep", "yes", "yup", "ok", "okay", "right", "sure", "alright", "cool", "nice",
        "i", "see", "got", "it", "ah", "oh", "wow", "good", "great", "true", "exactly",
        "really", "indeed",
    }
)
# Words that on their own take the turn from a speaker: heard at all, they count even when
# the recogniser is unsure (noise, the agent's own voice underneath).
INTERJECTION_WORDS = frozenset({"stop", "wait", "no", "nope", "hold", "hang", "sorry", "actually", "excuse", "pardon"})
# Backchannel phrases must be short: a long run of "yeah right okay" is someone taking the turn.
MAX_BACKCHANNEL_WORDS = 3
# A turn that stops on one of these is (almost always) unfinished.
CONTINUATION_WORDS = frozenset(
    {
        "a", "an", "the", "and", "or", "but", "so", "to", "of", "in", "on", "at", "with", "into",
        "onto", "from", "for", "by", "about", "than", "then", "because", "if", "when", "that",
        "which", "who", "my", "your", "his", "her", "its", "our", "their", "this", "these",
        "those", "um", "uh", "er", "like",
    }
)
# A command with one of these verbs is unfinished until it says where to ("put the green cube
# … in the bin"): the pause before the destination is the commonest mid-sentence pause.
NEEDS_DESTINATION = frozenset({"put", "place", "set", "move", "slide", "bring", "give", "hand", "drop", "carry"})
DESTINATION_WORDS = frozenset(
    {
        "in", "into", "on", "onto", "to", "towards", "toward", "next", "back", "beside", "behind",
        "under", "over", "left", "right", "up", "down", "here", "there", "away", "aside", "at",
        "near", "between", "inside", "out", "me", "it",
    }
)
_WORD_RE = re.compile(r"[a-z]+(?:['-][a-z]+)*")
_ELLIPSIS_RE = re.compile(r"(\.\.\.|\u2026|-|,)\s*$")


def words(text: str) -> list[str]:
    """Lower-case words, hyphen/apostrophe joined (``mm-hmm``, ``don't``)."""
    return _WORD_RE.findall(text.lower())


def is_backchannel(text: str) -> bool:
    """Only acknowledgement tokens, at most ``MAX_BACKCHANNEL_WORDS`` of them."""
    ws = words(text)
    return 0 < len(ws) <= MAX_BACKCHANNEL_WORDS and all(w in BACKCHANNEL_WORDS for w in ws)


def claims_turn(text: str) -> bool:
    """True when the text has a word that is not an acknowledgement: a real interjection."""
    return any(w not in BACKCHANNEL_WORDS for w in words(text)) or len(words(text)) > MAX_BACKCHANNEL_WORDS


def is_interjection(text: str) -> bool:
    """Does the text start with (or consist of) a word that claims the turn ("wait", "stop")?"""
    ws = words(text)
    return bool(ws) and (ws[0] in INTERJECTION_WORDS or (len(ws) <= 3 and any(w in INTERJECTION_WORDS for w in ws)))


def turn_complete(text: str) -> bool:
    """Does this (punctuated Whisper) transcript read as a finished turn?"""
    stripped = text.strip()
    ws = words(stripped)
    if not ws or _ELLIPSIS_RE.search(stripped):
        return False
    if ws[-1] in CONTINUATION_WORDS or _missing_destination(ws):
        return False
    return stripped[-1] in ".?!" or is_backchannel(stripped)


def _missing_destination(ws: list[str]) -> bool:
    """'put the green cube' (no 'in/on/to …' after the verb) is half a command."""
    for i, w in enumerate(ws):
        if w in NEEDS_DESTINATION:
            return not any(x in DESTINATION_WORDS for x in ws[i + 2:])
    return False
