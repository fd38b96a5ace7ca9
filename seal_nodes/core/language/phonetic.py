"""How alike two words sound: phonetic keys and a similarity in [0, 1].

Speech recognisers swap words for others that sound alike ("grab" heard as "ramp", "red" as
"read"). A key spells a word by sound with a simplified Metaphone (English spelling rules map
letters to one symbol per sound; vowels are kept, coarsely, since "pick" and "pack" differ by
theirs alone); the distance between keys is an edit distance whose costs follow phonetic
features, so a voicing swap (b/p, g/k) or a dropped consonant in a cluster costs less than
trading a vowel for a stop.
"""
from __future__ import annotations

from functools import lru_cache

VOWELS = "aeiou"

# Vowel spellings, longest first: the sound they usually make in short English words.
_VOWEL_SPELLINGS = (
    ("eau", "o"), ("ee", "i"), ("ea", "i"), ("ie", "i"), ("ey", "i"), ("ei", "e"), ("ai", "e"), ("ay", "e"),
    ("oo", "u"), ("ue", "u"), ("ew", "u"), ("ui", "u"), ("ou", "a"), ("ow", "o"), ("oa", "o"), ("oe", "o"),
    ("au", "o"), ("aw", "o"), ("oi", "o"), ("oy", "o"),
)
# Consonant spellings: (letters, symbol). 0 = "th", X = "sh"/"ch", J = soft g / j.
_CONSONANT_SPELLINGS = (
    ("tch", "X"), ("sch", "SK"), ("ph", "F"), ("sh", "X"), ("ch", "X"), ("th", "0"), ("ck", "K"), ("dg", "J"),
    ("qu", "KW"), ("wh", "W"), ("gh", ""),
)
_LETTER = {"b": "B", "d": "D", "f": "F", "h": "H", "j": "J", "k": "K", "l": "L", "m": "M", "n": "N",
           "p": "P", "q": "K", "r": "R", "s": "S", "t": "T", "v": "V", "w": "W", "z": "Z", "x": "KS"}
_SILENT_START = (("kn", "n"), ("gn", "n"), ("wr", "r"), ("ps", "s"), ("pn", "n"))

# Groups of sounds a recogniser confuses more readily than others; cost of a swap inside one.
_CLOSE = [
    ({"P", "B"}, 0.3), ({"T", "D"}, 0.3), ({"K", "G"}, 0.3), ({"F", "V"}, 0.3), ({"S", "Z"}, 0.3),
    ({"X", "J"}, 0.3), ({"0", "F"}, 0.4), ({"0", "T"}, 0.5), ({"0", "D"}, 0.4), ({"S", "X"}, 0.4),
    ({"M", "N"}, 0.3), ({"L", "R"}, 0.5), ({"W", "V"}, 0.6), ({"P", "F"}, 0.6), ({"B", "V"}, 0.5),
    ({"P", "T", "K"}, 0.5), ({"B", "D", "G"}, 0.5), ({"L", "W"}, 0.6), ({"R", "W"}, 0.6),
    ({"i", "e"}, 0.3), ({"e", "a"}, 0.35), ({"o", "u"}, 0.35), ({"a", "o"}, 0.4), ({"a", "u"}, 0.45),
    ({"i", "u"}, 0.6), ({"e", "o"}, 0.6), ({"i", "a"}, 0.6), ({"e", "u"}, 0.6), ({"i", "o"}, 0.7),
]
# Cost of a sound heard that was not said, or lost: vowels and glides come and go easily,
# nasals and h are often swallowed, other consonants less so.
_INDEL = {**{v: 0.5 for v in VOWELS}, "H": 0.3, "W": 0.5, "Y": 0.5, "M": 0.5, "N": 0.5, "R": 0.6, "L": 0.6}
_CONSONANT_INDEL = 0.8
_CLUSTER_INDEL = 0.3
_STOPS = set("PBTDKG")
_NASAL_BEFORE_STOP = {("M", "P"), ("M", "B"), ("N", "T"), ("N", "D"), ("N", "K"), ("N", "G")}


def _substitution(a: str, b: str) -> float:
    if a == b:
        return 0.0
    best = 1.0
    for group, cost in _CLOSE:
        if a in group and b in group:
            best = min(best, cost)
    return best


def _indel(sym: str) -> float:
    return _INDEL.get(sym, _CONSONANT_INDEL)


@lru_cache(maxsize=4096)
def phonetic_key(word: str) -> str:
    """One symbol per sound: consonants upper case, vowels a/e/i/o/u (``"read"`` → ``"Rid"``)."""
    w = "".join(ch for ch in word.lower() if "a" <= ch <= "z")
    if not w:
        return ""
    for spelled, sound in _SILENT_START:
        if w.startswith(spelled):
            w = sound + w[2:]
    # A final silent e after a consonant ("cube", "home", "place") lengthens the vowel before it
    # and softens a c or g ("place", "orange").
    if len(w) > 3 and w.endswith("e") and w[-2] not in VOWELS + "e" and any(c in VOWELS for c in w[:-2]):
        w = w[:-2] + {"c": "s", "g": "j"}.get(w[-2], w[-2])
    if w.endswith("mb"):
        w = w[:-1]
    out: list[str] = []
    i = 0
    while i < len(w):
        rest = w[i:]
        nxt = w[i + 1] if i + 1 < len(w) else ""
        vowel = next(((s, v) for s, v in _VOWEL_SPELLINGS if rest.startswith(s)), None)
        consonant = next(((s, c) for s, c in _CONSONANT_SPELLINGS if rest.startswith(s)), None)
        if vowel is not None:
            out.append(vowel[1])
            i += len(vowel[0])
        elif consonant is not None:
            out.append(consonant[1])
            i += len(consonant[0])
        elif w[i] in VOWELS:
            out.append(w[i])
            i += 1
        elif w[i] == "y":
            out.append("Y" if i == 0 and nxt in VOWELS else "i")
            i += 1
        elif w[i] == "c":
            out.append("S" if nxt in "eiy" and nxt else "K")
            i += 1
        elif w[i] == "g":
            out.append("J" if nxt in "eiy" and nxt and i > 0 else "G")
            i += 1
        elif w[i] == "n" and nxt == "g" and i + 2 == len(w):
            out.append("N")  # "-ng": the g is not heard on its own
            i += 2
        else:
            out.append(_LETTER[w[i]])
            i += 1
    key = "".join(out)
    # One symbol per sound: doubled letters ("ll", "ss") and an h after a vowel are one sound.
    collapsed: list[str] = []
    for sym in key:
        if collapsed and (sym == collapsed[-1] or (sym == "H" and collapsed[-1] in VOWELS)):
            continue
        collapsed.append(sym)
    return "".join(collapsed)


def phrase_key(text: str) -> str:
    """The key of a phrase: its words' keys run together (``"pick up"`` sounds like ``"pickup"``)."""
    return "".join(phonetic_key(w) for w in text.split())


def _indels(key: str) -> list[float]:
    """The cost of losing (or hearing in addition) each sound of ``key``, given the next one: a
    stop before r/l in a cluster ("grab" heard as "rab") and a nasal before a stop made in the
    same place ("ramp", "bent") come and go more easily than elsewhere."""
    out = []
    for i, sym in enumerate(key):
        nxt = key[i + 1] if i + 1 < len(key) else ""
        cost = _indel(sym)
        if sym in _STOPS and nxt in ("R", "L"):
            cost = _CLUSTER_INDEL
        elif (sym, nxt) in _NASAL_BEFORE_STOP:
            cost = _CLUSTER_INDEL
        out.append(cost)
    return out


def key_distance(a: str, b: str) -> float:
    """Weighted edit distance between two keys."""
    ia, ib = _indels(a), _indels(b)
    prev = [0.0]
    for cost in ib:
        prev.append(prev[-1] + cost)
    for sa, da in zip(a, ia):
        cur = [prev[0] + da]
        for j, sb in enumerate(b, 1):
            cur.append(min(prev[j] + da, cur[j - 1] + ib[j - 1], prev[j - 1] + _substitution(sa, sb)))
        prev = cur
    return prev[-1]


@lru_cache(maxsize=65536)
def similarity(a: str, b: str) -> float:
    """How alike two words or phrases sound: 1 the same key, 0 nothing in common."""
    ka, kb = phrase_key(a), phrase_key(b)
    if not ka or not kb:
        return 1.0 if ka == kb else 0.0
    worst = max(sum(_indel(s) for s in ka), sum(_indel(s) for s in kb))  # losing every sound of one
    return max(0.0, 1.0 - key_distance(ka, kb) / worst)


def closest(word: str, vocabulary: tuple[str, ...], at_least: float = 0.0) -> list[tuple[str, float]]:
    """The vocabulary entries that sound like ``word``, most alike first, at least ``at_least`` alike."""
    scored = [(v, similarity(word, v)) for v in vocabulary]
    return sorted((s for s in scored if s[1] >= at_least), key=lambda s: -s[1])
