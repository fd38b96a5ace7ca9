"""Streaming grammar-constrained recognition with PocketSphinx (bundled en-US model, JSGF grammar).

Confidence (``finish``): PocketSphinx normalises each frame's acoustic scores to the best senone
of that frame, so a word segment's ``ascore`` is how far the grammar-forced path falls below the
unconstrained best senones. We average that gap over the frames of real words (silences and
fillers excluded), in nats per frame, and map it through a logistic:
``conf = 1 / (1 + exp((gap - CONF_MID) / CONF_SCALE))``. In-grammar espeak speech measures a gap of
about 3.0-3.4 nats/frame (conf ~0.75-0.85); out-of-grammar speech forced onto the grammar 5+ (conf
< 0.1). A hypothesis the grammar does not accept as a whole sentence (PocketSphinx falls back to the best
partial path when no final state is reached) is rejected ("", 0.0).
The lattice posterior (``get_prob``) is not used: with a small grammar it mostly reflects how many
alternative paths exist, not whether the audio matched.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

SAMPLE_RATE = 16_000
DEFAULT_COLORS: tuple[str, ...] = ("red", "green", "blue", "yellow", "orange", "purple")
CONF_MID = 4.0  # nats/frame gap where confidence is 0.5
CONF_SCALE = 0.6
_LN_LOGBASE = math.log(1.0001)  # PocketSphinx logmath base; ascore*this = natural log


def default_command_grammar(colors: Sequence[str] = DEFAULT_COLORS) -> str:
    """JSGF for the stack's command language; top rule ``<command>``."""
    if not colors or any(not c.replace("_", "").isalpha() for c in colors):
        raise ValueError(f"colors must be non-empty plain words, got {list(colors)!r}")
    color_alts = " | ".join(c.lower() for c in colors)
    return f"""#JSGF V1.0;
grammar commands;
public <command> = <greeting> | <pick> | <put> | <push> | <point>
                 | go home | stop | thank you | how are you;
<greeting> = (hello | hi | hey | good morning) [robot | there];
<pick> = (pick up | grab | lift) the <color> cube;
<put> = put the <color> cube in the bin;
<push> = push the <color> cube (left | right);
<point> = point at the <color> cube;
<color> = {color_alts};
"""


def _confidence(gap_nats_per_frame: float) -> float:
    return 1.0 / (1.0 + math.exp((gap_nats_per_frame - CONF_MID) / CONF_SCALE))


class StreamingRecognizer:
    """One utterance at a time: ``start`` → ``feed``* (``partial`` any time) → ``finish``.

    Not thread-safe; one instance per audio stream. Audio must be 16 kHz mono int16.
    """

    def __init__(self, jsgf: str | None = None, hmm: str | None = None, dictionary: str | None = None) -> None:
        from pocketsphinx import Decoder, get_model_path  # local: loading costs ~0.2 s

        model_dir = get_model_path()
        self._decoder = Decoder(
            hmm=hmm or os.path.join(model_dir, "en-us", "en-us"),
            dict=dictionary or os.path.join(model_dir, "en-us", "cmudict-en-us.dict"),
            lm=None,
            samprate=SAMPLE_RATE,
            loglevel="FATAL",
        )
        grammar = jsgf or default_command_grammar()
        try:
            self._decoder.add_jsgf_string("commands", grammar)
        except (RuntimeError, ValueError) as exc:  # bad syntax or words missing from the dictionary
            raise ValueError(f"JSGF grammar rejected by PocketSphinx: {exc}") from exc
        self._decoder.activate_search("commands")
        self._fsg = self._decoder.get_fsg("commands")
        self._logmath = self._decoder.get_logmath()
        self._active = False
        self.samples_fed = 0

    @property
    def active(self) -> bool:
        return self._active

    def start(self) -> None:
        """Begin an utterance; a still-open one is discarded."""
        if self._active:
            self._decoder.end_utt()
        self._decoder.start_utt()
        self._active = True
        self.samples_fed = 0

    def feed(self, pcm16k: np.ndarray) -> None:
        """Decode more audio of the current utterance (starts one if needed)."""
        pcm = np.asarray(pcm16k)
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"recognizer needs 1-D int16 audio, got {pcm.dtype} shape {pcm.shape}")
        if not self._active:
            self.start()
        if len(pcm):
            self._decoder.process_raw(pcm.astype("<i2", copy=False).tobytes(), False, False)
            self.samples_fed += len(pcm)

    def partial(self) -> str:
        """Best hypothesis so far ("" if none). May be a prefix of a grammar sentence."""
        if not self._active:
            return ""
        hyp = self._decoder.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""

    def finish(self) -> tuple[str, float]:
        """End the utterance; return (text, confidence in 0..1). ("", 0.0) when nothing matched."""
        if not self._active:
            return "", 0.0
        self._decoder.end_utt()
        self._active = False
        hyp = self._decoder.hyp()
        text = hyp.hypstr.strip() if hyp is not None else ""
        segs = list(self._decoder.seg() or [])
        # when the search never reaches a final state PocketSphinx returns the best partial path
        # ("how are"); only sentences the grammar accepts count as recognised
        if not text or not segs or not self._fsg.accept(text):
            return "", 0.0
        frames, log_ascore = 0, 0.0
        for s in segs:
            if s.word.startswith(("<", "[", "+")):
                continue
            frames += s.end_frame - s.start_frame + 1
            log_ascore += self._logmath.log(s.ascore) if s.ascore > 0 else -1e9
        if frames == 0:
            return "", 0.0
        gap = -log_ascore * _LN_LOGBASE / frames
        return text, round(_confidence(gap), 4)
