"""Word error rate and keyword recall for the perception benchmark.

Both sides are normalised the same way before alignment, so a recogniser is not charged for
spelling choices a listener would not notice ("OK" vs "okay", "21" vs "twenty-one",
"colour" vs "color"). Corpus WER is total errors over total reference words, not a mean of
per-utterance rates (which would over-weight short backchannels).
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()

# Backchannels and "okay" are spelled many ways by people and recognisers alike.
_VARIANTS = [
    (re.compile(r"\bm+-?\s?h+m+\b|\bm+h+m+\b"), "mhm"),  # mm-hmm, mm hmm, mmhmm, mhm, mm-hm
    (re.compile(r"\buh+-?\s?hu+h\b"), "uhhuh"),  # uh-huh, uh huh, uhhuh
    (re.compile(r"\bo\.\s?k\b\.?"), "okay"),  # o.k. (the dots would otherwise split it)
]
_SPELLING = {
    "ok": "okay", "yea": "yeah",
    # British → American, only where the mapping is one-to-one and unambiguous.
    "colour": "color", "colours": "colors", "coloured": "colored", "colourful": "colorful",
    "grey": "gray", "greyish": "grayish", "centre": "center", "centres": "centers",
    "metre": "meter", "metres": "meters", "litre": "liter", "litres": "liters",
    "favourite": "favorite", "favourites": "favorites", "favour": "favor",
    "neighbour": "neighbor", "neighbours": "neighbors", "behaviour": "behavior",
    "realise": "realize", "realised": "realized", "recognise": "recognize",
    "recognised": "recognized", "organise": "organize", "organised": "organized",
    "apologise": "apologize", "analyse": "analyze", "catalogue": "catalog",
    "cancelled": "canceled", "cancelling": "canceling", "labelled": "labeled",
    "travelled": "traveled", "travelling": "traveling", "modelling": "modeling",
    "aluminium": "aluminum", "theatre": "theater", "cosy": "cozy", "mould": "mold",
}
# Contractions with a single unambiguous expansion ('s and 'd are ambiguous and kept).
_CONTRACTIONS = [
    (re.compile(r"\bwon't\b"), "will not"), (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bshan't\b"), "shall not"), (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"\bain't\b"), "is not"), (re.compile(r"n't\b"), " not"),
    (re.compile(r"'re\b"), " are"), (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'ll\b"), " will"), (re.compile(r"\bi'm\b"), "i am"),
]
_FILLERS = frozenset({"um", "umm", "uh", "uhm", "er", "erm", "ah", "hmm", "mm"})
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'",
                         "\u2010": "-", "\u2011": "-", "\u2013": "-", "\u2014": " "})
# A number (digits, optional thousands commas/decimals) or a word with inner apostrophes.
_TOKEN = re.compile(r"\d[\d,]*(?:\.\d+)?|[^\W\d_]+(?:'[^\W\d_]+)*", re.UNICODE)


def number_words(n: int) -> str:
    """0–100 as English words ("twenty one"); the range a spoken command realistically uses."""
    if not 0 <= n <= 100:
        raise ValueError(f"number_words covers 0..100, got {n}")
    if n == 100:
        return "one hundred"
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])


def _strip_accents(text: str) -> str:
    # "Xóchitl" and "Xochitl" must compare equal: recognisers rarely emit diacritics.
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalize(text: str, *, drop_fillers: bool = False) -> list[str]:
    """Text → comparable words: lower case, no punctuation, hyphens split, 0–100 as words.

    ``drop_fillers`` removes hesitations ("um", "uh", "hmm"); backchannels such as "mhm" and
    "uh-huh" are words and are always kept.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize needs a str, got {type(text).__name__}")
    text = _strip_accents(text.translate(_QUOTES).lower())
    for pattern, repl in _CONTRACTIONS + _VARIANTS:  # "i'm hmm" must not become "i'mhm"
        text = pattern.sub(repl, text)
    words: list[str] = []
    for tok in _TOKEN.findall(text):
        if tok[0].isdigit():
            digits = tok.replace(",", "")
            if digits.isdigit() and int(digits) <= 100:
                words.extend(number_words(int(digits)).split())
            else:
                words.append(digits)
            continue
        tok = _SPELLING.get(tok, tok)
        if not (drop_fillers and tok in _FILLERS):
            words.append(tok)
    return words


@dataclass(frozen=True)
class WordErrors:
    """Edit counts of one alignment (or a sum of several: ``a + b``)."""

    substitutions: int
    deletions: int
    insertions: int
    ref_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """errors / ref_words; an empty reference scores 0.0 if the hypothesis is empty, else inf."""
        if self.ref_words == 0:
            return 0.0 if self.errors == 0 else math.inf
        return self.errors / self.ref_words

    def __add__(self, other: WordErrors) -> WordErrors:
        return WordErrors(self.substitutions + other.substitutions, self.deletions + other.deletions,
                          self.insertions + other.insertions, self.ref_words + other.ref_words)


def _words(x: str | Sequence[str], name: str) -> list[str]:
    """A str is normalised; a list is taken as already-normalised words."""
    if isinstance(x, str):
        return normalize(x)
    if isinstance(x, Sequence) and all(isinstance(w, str) for w in x):
        return list(x)
    raise TypeError(f"{name} must be a str or a sequence of words, got {type(x).__name__}")


def word_errors(ref: str | Sequence[str], hyp: str | Sequence[str]) -> WordErrors:
    """Levenshtein-align hypothesis to reference words and count S, D, I.

    Ties between equally cheap alignments prefer substitutions, then deletions, so the
    counts are deterministic (their sum is the edit distance either way).
    """
    r, h = _words(ref, "ref"), _words(hyp, "hyp")
    # cost[i][j] = (edits, subs, dels, ins) aligning r[:i] with h[:j]; tuples compare on edits first.
    prev = [(j, 0, 0, j) for j in range(len(h) + 1)]
    for i in range(1, len(r) + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, len(h) + 1):
            e, s, d, n = prev[j - 1]
            diag = (e, s, d, n) if r[i - 1] == h[j - 1] else (e + 1, s + 1, d, n)
            e, s, d, n = prev[j]
            dele = (e + 1, s, d + 1, n)
            e, s, d, n = cur[j - 1]
            ins = (e + 1, s, d, n + 1)
            cur.append(min((diag, 0), (dele, 1), (ins, 2), key=lambda c: (c[0][0], c[1]))[0])
        prev = cur
    _, s, d, n = prev[-1]
    return WordErrors(s, d, n, len(r))


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus WER: all errors over all reference words (see ``WordErrors.rate`` for empty refs)."""
    if isinstance(refs, str) or isinstance(hyps, str):
        raise TypeError("wer takes lists of sentences; use word_errors(ref, hyp).rate for one pair")
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    total = WordErrors(0, 0, 0, 0)
    for ref, hyp in zip(refs, hyps):
        total = total + word_errors(ref, hyp)
    return total.rate


def keyword_recall(keywords: Sequence[str], hyp: str | Sequence[str]) -> float:
    """Fraction of ``keywords`` (each may be several words: "teal cylinder") found in ``hyp``."""
    if isinstance(keywords, str):
        raise TypeError("keywords must be a list of strings, not one str")
    if not keywords:
        raise ValueError("keyword_recall needs at least one keyword")
    h = _words(hyp, "hyp")
    found = 0
    for kw in keywords:
        k = normalize(kw)
        if not k:
            raise ValueError(f"keyword {kw!r} has no words after normalisation")
        found += any(h[i : i + len(k)] == k for i in range(len(h) - len(k) + 1))
    return found / len(keywords)
