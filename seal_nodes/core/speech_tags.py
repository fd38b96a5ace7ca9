"""Parse the talk's TTS control tags (``[THINKING]``, ``[SPEED:0.8x]`` …) into speakable segments.

Tags are never spoken. Known tags become prosody changes, fillers or pauses; an unknown
ALL-CAPS tag is dropped and reported in ``warnings``; any other bracket text stays text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

MAX_TEXT_CHARS = 5000

# Fillers for "busy" tags: (word spoken, pause after it in ms).
_FILLERS: dict[str, tuple[str, int]] = {
    "THINKING": ("hmm,", 250),
    "SEARCHING": ("uh,", 250),
    "UNCERTAIN": ("um,", 200),
}
# Non-verbal sounds: rendered as silence in this first version.
_PAUSES_MS: dict[str, int] = {"BREATH": 250, "SIGH": 450, "CLEAR_THROAT": 350}
_LAUGH_MS: dict[str, int] = {"small": 300, "medium": 450, "big": 600}
# Emotion -> pitch offset (espeak pitch units, base 50 on a 0..100 scale).
_EMO_PITCH: dict[str, int] = {
    "neutral": 0, "happy": 8, "excited": 12, "surprised": 10, "sad": -8,
    "calm": -3, "serious": -4, "angry": 4, "curious": 5, "tired": -6,
}
_STYLE_RATE: dict[str, float] = {"neutral": 1.0, "casual": 1.05, "formal": 0.95}
SPEED_MIN, SPEED_MAX = 0.5, 2.0

KNOWN_TAGS = frozenset({*_FILLERS, *_PAUSES_MS, "LAUGH", "EMO", "SPEED", "STYLE"})

_TAG_RE = re.compile(r"\[\s*([A-Za-z][A-Za-z0-9_]*)\s*(?::\s*([^\[\]\n]{0,40}?)\s*)?\]")
# An unknown name is treated as a tag only if it looks like one (ALL_CAPS, >= 3 chars);
# "[i]", "[see note]" or "[1]" stay text.
_UNKNOWN_TAG_NAME = re.compile(r"[A-Z][A-Z0-9_]{2,}")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # \x01 would start espeak embedded commands
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Segment:
    """One piece of an utterance: text to synthesize with prosody, or a pause (``text == ""``)."""

    text: str = ""
    pause_ms: int = 0
    rate_scale: float = 1.0
    pitch_offset: int = 0
    content: bool = True  # False for fillers: audible, but not part of the reply text
    text_offset: int = 0  # where ``text`` starts in ParsedSpeech.clean_text (content only)
    tag: str = ""  # tag that produced a filler or pause

    @property
    def is_pause(self) -> bool:
        return not self.text


@dataclass(frozen=True)
class ParsedSpeech:
    segments: tuple[Segment, ...]
    clean_text: str  # the text with tags removed and whitespace collapsed
    warnings: tuple[str, ...]


def coerce_text(text: object) -> str:
    """Validate input text: str or UTF-8 bytes, non-empty, at most MAX_TEXT_CHARS; raises ValueError."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"text bytes are not valid UTF-8: {exc}") from None
    if not isinstance(text, str):
        raise ValueError(f"text must be str or UTF-8 bytes, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text contains characters that cannot be encoded as UTF-8") from None
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    if not text.strip():
        raise ValueError("text is empty")
    return _CONTROL_RE.sub(" ", text)


class _Builder:
    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.clean = ""
        self.warnings: list[str] = []
        self.speed = 1.0
        self.style_rate = 1.0
        self.pitch = 0
        self.tag_since_text = False

    @property
    def rate(self) -> float:
        return self.speed * self.style_rate

    def add_text(self, piece: str) -> None:
        piece = _SPACE_RE.sub(" ", piece)
        if not self.clean or self.clean.endswith(" "):
            piece = piece.lstrip()
        elif self.tag_since_text and piece and not piece.startswith(" "):
            piece = " " + piece  # "word[BREATH]word" -> two words, as the pause implies
        if not piece.strip():
            return
        self.tag_since_text = False
        self.segments.append(Segment(text=piece, rate_scale=self.rate, pitch_offset=self.pitch,
                                     text_offset=len(self.clean)))
        self.clean += piece

    def pause(self, ms: int, tag: str) -> None:
        self.segments.append(Segment(pause_ms=ms, tag=tag))

    def apply(self, name: str, value: str | None, raw: str) -> None:
        self.tag_since_text = True
        val = (value or "").strip().lower()
        if name in _FILLERS:
            word, pause_ms = _FILLERS[name]
            self.segments.append(Segment(text=word, rate_scale=self.rate * 0.9, pitch_offset=self.pitch,
                                         content=False, tag=name))
            self.pause(pause_ms, name)
        elif name in _PAUSES_MS:
            self.pause(_PAUSES_MS[name], name)
        elif name == "LAUGH":
            self.pause(_LAUGH_MS.get(val or "small", _LAUGH_MS["small"]), name)
            if val and val not in _LAUGH_MS:
                self.warnings.append(f"{raw}: unknown laugh size, used 'small'")
        elif name == "EMO":
            if val in _EMO_PITCH:
                self.pitch = _EMO_PITCH[val]
            else:
                self.warnings.append(f"{raw}: unknown emotion, ignored")
        elif name == "SPEED":
            self._speed(val, raw)
        elif name == "STYLE":
            if val in _STYLE_RATE:
                self.style_rate = _STYLE_RATE[val]
            else:
                self.warnings.append(f"{raw}: unknown style, ignored")

    def _speed(self, val: str, raw: str) -> None:
        try:
            speed = float(val[:-1] if val.endswith("x") else val)
        except ValueError:
            self.warnings.append(f"{raw}: speed is not a number, ignored")
            return
        if not SPEED_MIN <= speed <= SPEED_MAX:  # also rejects nan
            clamped = min(max(speed, SPEED_MIN), SPEED_MAX) if speed == speed else 1.0
            self.warnings.append(f"{raw}: speed clamped to {clamped:g}")
            speed = clamped
        self.speed = speed


def parse_speech(text: str | bytes) -> ParsedSpeech:
    """Split tagged text into segments; raises ValueError if nothing speakable remains."""
    text = coerce_text(text)
    b = _Builder()
    pos = 0
    for m in _TAG_RE.finditer(text):
        name, value, raw = m.group(1), m.group(2), m.group(0)
        upper = name.upper()
        if upper not in KNOWN_TAGS:
            if not _UNKNOWN_TAG_NAME.fullmatch(name):
                continue  # ordinary bracketed text: leave it in place
            b.add_text(text[pos:m.start()])
            pos = m.end()
            b.tag_since_text = True
            b.warnings.append(f"{raw}: unknown tag dropped")
            continue
        b.add_text(text[pos:m.start()])
        pos = m.end()
        b.apply(upper, value, raw)
    b.add_text(text[pos:])
    clean = b.clean.rstrip()
    if not clean:
        raise ValueError("text contains no speakable words (only tags or whitespace)")
    segs = [replace(s, text=s.text.rstrip()) if s.content and s.text else s for s in b.segments]
    return ParsedSpeech(segments=tuple(s for s in segs if s.text or s.pause_ms),
                        clean_text=clean, warnings=tuple(b.warnings))
