"""Parse the talk's TTS control tags (``[THINKING]``, ``[SPEED:0.8x]`` …) into speakable parts.

Tags are never spoken. What each one renders as:

- ``[THINKING]``, ``[SEARCHING]``, ``[UNCERTAIN]``: a filler (words chosen by the style, varied
  from one occurrence to the next) said a little slower, then a pause. Fillers are audible but
  are not part of the reply's text (``SpeechPart.content`` is False).
- ``[EMO:name]``: prosody from here on: pitch, rate, loudness and expressiveness (``EMOTIONS``).
- ``[SPEED:1.2x]``: rate from here on (0.5–2.0, clamped with a warning).
- ``[STYLE:name]``: rate, length of pauses and the fillers' wording (``STYLES``).
- ``[BREATH]``, ``[SIGH]``, ``[CLEAR_THROAT]``, ``[COUGH]``, ``[LAUGH:small|medium|big]``: a
  non-verbal sound (``SpeechPart.sound``, synthesised by ``seal_nodes.core.voice.nonverbal``) and a short
  pause after it.

An unknown ALL-CAPS tag is dropped and reported in ``warnings``; any other bracket text stays
text. Prosody set by tags can be carried into a following utterance with ``ProsodyState``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

MAX_TEXT_CHARS = 5000
SPEED_MIN, SPEED_MAX = 0.5, 2.0


@dataclass(frozen=True)
class Emotion:
    pitch: int = 0  # offset in espeak pitch units (base 50 on 0..100); engines map it to their own scale
    rate: float = 1.0
    volume: float = 1.0
    expressiveness: float = 1.0  # variability of timing and intonation (piper: noise scales)


EMOTIONS: dict[str, Emotion] = {
    "neutral": Emotion(),
    "happy": Emotion(8, 1.05, 1.0, 1.15),
    "excited": Emotion(12, 1.12, 1.05, 1.25),
    "playful": Emotion(7, 1.05, 1.0, 1.2),
    "surprised": Emotion(10, 1.0, 1.05, 1.2),
    "curious": Emotion(5, 1.0, 1.0, 1.1),
    "warm": Emotion(-1, 0.96, 0.95, 1.0),
    "calm": Emotion(-3, 0.94, 0.9, 0.85),
    "confident": Emotion(-2, 1.0, 1.05, 0.9),
    "serious": Emotion(-4, 0.96, 1.0, 0.85),
    "empathetic": Emotion(-3, 0.93, 0.9, 0.9),
    "apologetic": Emotion(-4, 0.92, 0.88, 0.9),
    "nervous": Emotion(6, 1.08, 0.9, 1.2),
    "angry": Emotion(4, 1.06, 1.1, 1.1),
    "sad": Emotion(-8, 0.88, 0.85, 0.8),
    "tired": Emotion(-6, 0.88, 0.85, 0.8),
}


@dataclass(frozen=True)
class Style:
    rate: float = 1.0
    pause_scale: float = 1.0  # pauses after fillers and non-verbal sounds
    fillers: str = "neutral"  # which filler wording (_FILLERS)


STYLES: dict[str, Style] = {
    "neutral": Style(),
    "casual": Style(1.05, 0.8, "casual"),
    "formal": Style(0.95, 1.2, "formal"),
    "storytelling": Style(0.93, 1.3, "neutral"),
    "brisk": Style(1.1, 0.7, "casual"),
}

# Busy tags: filler wordings per style (used in turn), and the pause after the filler in ms.
_FILLERS: dict[str, dict[str, tuple[str, ...]]] = {
    "THINKING": {"neutral": ("hmm,", "let me think,"), "casual": ("hmm,", "hmm, let's see,"),
                 "formal": ("let me think,", "one moment,")},
    "SEARCHING": {"neutral": ("let me check,", "uh, let me see,"), "casual": ("uh, let's see,", "lemme check,"),
                  "formal": ("one moment, please,", "let me look that up,")},
    "UNCERTAIN": {"neutral": ("um,", "well,"), "casual": ("uh,", "um,"), "formal": ("well,", "perhaps,")},
}
_FILLER_PAUSE_MS = {"THINKING": 300, "SEARCHING": 300, "UNCERTAIN": 200}
# Non-verbal sounds: tag -> (sound name, pause after it in ms).
_SOUNDS: dict[str, tuple[str, int]] = {
    "BREATH": ("breath", 60), "SIGH": ("sigh", 150), "CLEAR_THROAT": ("clear_throat", 150),
    "COUGH": ("cough", 150), "LAUGH": ("laugh", 120),
}
LAUGH_SIZES = ("small", "medium", "big")

KNOWN_TAGS = frozenset({*_FILLERS, *_SOUNDS, "EMO", "SPEED", "STYLE"})

_TAG_RE = re.compile(r"\[\s*([A-Za-z][A-Za-z0-9_]*)\s*(?::\s*([^\[\]\n]{0,40}?)\s*)?\]")
# An unknown name is treated as a tag only if it looks like one (ALL_CAPS, >= 3 chars);
# "[i]", "[see note]" or "[1]" stay text.
_UNKNOWN_TAG_NAME = re.compile(r"[A-Z][A-Z0-9_]{2,}")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # \x01 would start espeak embedded commands
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class ProsodyState:
    """What the tags have set so far; a following utterance can start from it."""

    speed: float = 1.0
    emotion: str = "neutral"
    style: str = "neutral"
    fillers_said: int = 0  # rotates the filler wording

    @property
    def rate(self) -> float:
        return self.speed * EMOTIONS[self.emotion].rate * STYLES[self.style].rate


@dataclass(frozen=True)
class SpeechPart:
    """One piece of an utterance: text to synthesize with prosody, a pause, or a non-verbal sound."""

    text: str = ""
    pause_ms: int = 0
    rate_scale: float = 1.0
    pitch_offset: int = 0  # espeak pitch units (-50..50 around the voice's own)
    content: bool = True  # False for fillers: audible, but not part of the reply text
    text_offset: int = 0  # where ``text`` starts in ParsedSpeech.clean_text (content only)
    tag: str = ""  # tag that produced a filler, pause or sound
    volume: float = 1.0
    expressiveness: float = 1.0
    sound: str = ""  # non-verbal sound: breath, sigh, clear_throat, cough, laugh
    sound_size: str = ""  # laugh: small, medium, big

    @property
    def is_pause(self) -> bool:
        return not self.text and not self.sound

    @property
    def is_sound(self) -> bool:
        return bool(self.sound)


@dataclass(frozen=True)
class ParsedSpeech:
    parts: tuple[SpeechPart, ...]
    clean_text: str  # the text with tags removed and whitespace collapsed
    warnings: tuple[str, ...]
    final_state: ProsodyState = ProsodyState()


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
    if "\ufffd" in text:  # what a decoder makes of bytes that were not UTF-8 (rclpy does this)
        raise ValueError("text is not valid UTF-8 (it contains U+FFFD, the replacement for undecodable bytes)")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    if not text.strip():
        raise ValueError("text is empty")
    return _CONTROL_RE.sub(" ", text)


class _Builder:
    def __init__(self, state: ProsodyState) -> None:
        self.parts: list[SpeechPart] = []
        self.clean = ""
        self.warnings: list[str] = []
        self.state = state
        self.tag_since_text = False

    def _prosody(self, rate: float = 1.0) -> dict:
        emo = EMOTIONS[self.state.emotion]
        return {"rate_scale": self.state.rate * rate, "pitch_offset": emo.pitch, "volume": emo.volume,
                "expressiveness": emo.expressiveness}

    def add_text(self, piece: str) -> None:
        piece = _SPACE_RE.sub(" ", piece)
        if not self.clean or self.clean.endswith(" "):
            piece = piece.lstrip()
        elif self.tag_since_text and piece and not piece.startswith(" "):
            piece = " " + piece  # "word[BREATH]word" -> two words, as the pause implies
        if not piece.strip():
            return
        self.tag_since_text = False
        self.parts.append(SpeechPart(text=piece, text_offset=len(self.clean), **self._prosody()))
        self.clean += piece

    def pause(self, ms: int, tag: str) -> None:
        self.parts.append(SpeechPart(pause_ms=max(1, round(ms * STYLES[self.state.style].pause_scale)), tag=tag))

    def apply(self, name: str, value: str | None, raw: str) -> None:
        self.tag_since_text = True
        val = (value or "").strip().lower()
        if name in _FILLERS:
            options = _FILLERS[name][STYLES[self.state.style].fillers]
            word = options[self.state.fillers_said % len(options)]
            self.state = replace(self.state, fillers_said=self.state.fillers_said + 1)
            self.parts.append(SpeechPart(text=word, content=False, tag=name, **self._prosody(0.9)))
            self.pause(_FILLER_PAUSE_MS[name], name)
        elif name in _SOUNDS:
            sound, pause_ms = _SOUNDS[name]
            size = ""
            if name == "LAUGH":
                size = val or "small"
                if size not in LAUGH_SIZES:
                    self.warnings.append(f"{raw}: unknown laugh size, used 'small'")
                    size = "small"
            elif val:
                self.warnings.append(f"{raw}: {name} takes no value, ignored it")
            emo = EMOTIONS[self.state.emotion]
            self.parts.append(SpeechPart(sound=sound, sound_size=size, tag=name, pitch_offset=emo.pitch,
                                         volume=emo.volume))
            self.pause(pause_ms, name)
        elif name == "EMO":
            if val in EMOTIONS:
                self.state = replace(self.state, emotion=val)
            else:
                self.warnings.append(f"{raw}: unknown emotion, ignored (known: {', '.join(EMOTIONS)})")
        elif name == "SPEED":
            self._speed(val, raw)
        elif name == "STYLE":
            if val in STYLES:
                self.state = replace(self.state, style=val)
            else:
                self.warnings.append(f"{raw}: unknown style, ignored (known: {', '.join(STYLES)})")

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
        self.state = replace(self.state, speed=speed)


def parse_speech(text: str | bytes, state: ProsodyState | None = None) -> ParsedSpeech:
    """Split tagged text into parts; raises ValueError if nothing speakable remains.

    ``state``: prosody to start from (a continuation of an earlier utterance); default neutral.
    """
    text = coerce_text(text)
    b = _Builder(state or ProsodyState())
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
    parts = [replace(s, text=s.text.rstrip()) if s.content and s.text else s for s in b.parts]
    return ParsedSpeech(parts=tuple(s for s in parts if s.text or s.pause_ms or s.sound),
                        clean_text=clean, warnings=tuple(b.warnings), final_state=b.state)
