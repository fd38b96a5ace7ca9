"""Who is talking: names from what people say, and voices matched against enrolled ones.

The voice side takes embeddings from any speaker encoder (a fixed-length vector per utterance)
and compares them by cosine with each user's centroid; it knows nothing of the model behind
them. An unknown voice becomes a new guest, who keeps their entries when they later say their name.
"""
from __future__ import annotations

import re

import numpy as np

from seal_nodes.core.memory.store import Store

GUEST_PREFIX = "guest-"
# Words that follow "I'm" but are not names ("I'm Sorry" capitalised by an ASR included).
_NOT_NAMES = frozenset("""
a an the not so very just really sorry fine good ok okay well here there back home done ready sure
going trying looking wondering afraid tired busy hungry happy sad glad new still also always never
in on at from with about your yours his her their this that what who sitting standing talking
""".split())
_STRONG = re.compile(r"\b(?:my name is|my name's|call me)\s+([A-Za-z][A-Za-z'-]{1,30})\b", re.IGNORECASE)
# Weaker: the name must be capitalised, as an ASR writes names.
_WEAK = re.compile(r"\b(?:i'm|i am|this is)\s+([A-Za-z][A-Za-z'-]{1,30})\b", re.IGNORECASE)


def canonical(name: str) -> str:
    """The registry key: a name as written on a badge ("ana" → "Ana")."""
    clean = " ".join(str(name).split())
    if not clean or len(clean) > 40 or not re.fullmatch(r"[^\W\d_][\w' -]*", clean):
        raise ValueError(f"not a usable name: {name!r}")
    if clean.startswith(GUEST_PREFIX):
        return clean
    return " ".join(part[:1].upper() + part[1:].lower() for part in clean.split())


def name_from_text(text: str) -> str | None:
    """The name the speaker gives for themselves, or None.

    "my name is Ana", "call me Ana" count whatever the case; "I'm Ana", "this is Ana" only with
    the name capitalised and not a word that often follows those ("I'm Sorry")."""
    if not isinstance(text, str):
        return None
    for pattern in (_STRONG, _WEAK):
        for match in pattern.finditer(text):
            word = match.group(1).strip("'-")
            if len(word) < 2 or word.lower() in _NOT_NAMES or word.lower().endswith("'s"):
                continue
            if pattern is _WEAK and not word[0].isupper():
                continue
            return canonical(word)
    return None


def split_introduction(text: str) -> str:
    """A sentence break after the name the speaker gives, where an ASR left none ("Hi, I'm Ana my
    favourite cube is …" → "Hi, I'm Ana. my favourite cube is …"), so what follows reads on its own."""
    name = name_from_text(text)
    if name is None:
        return text
    for pattern in (_STRONG, _WEAK):
        for match in pattern.finditer(text):
            if match.group(1).strip("'-").lower() == name.lower():
                end = match.end()
                rest = text[end:]
                if rest.strip() and not rest.lstrip().startswith((".", "!", "?", ";")):
                    return f"{text[:end]}. {rest.lstrip(' ,')}"
                return text
    return text


def _unit(vector: np.ndarray, dim: int | None) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"a voice embedding is one non-empty vector, got shape {v.shape}")
    if dim is not None and v.size != dim:
        raise ValueError(f"voice embedding has {v.size} values; the enrolled ones have {dim}")
    norm = np.linalg.norm(v)
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("voice embedding is zero or not finite")
    return v / norm


class UserRegistry:
    """The people the robot has met, kept in the store: names, guests and voiceprints."""

    def __init__(self, store: Store, threshold: float = 0.8) -> None:
        """``threshold``: the cosine with a user's centroid above which a voice is theirs; it
        belongs to the speaker encoder plugged in (set it from that encoder's measurements)."""
        if not -1.0 < threshold < 1.0:
            raise ValueError(f"threshold is a cosine within (-1, 1), got {threshold}")
        self.store = store
        self.threshold = threshold
        self._centroids: dict[str, np.ndarray] | None = None

    def names(self) -> list[str]:
        return [name for name, _ in self.store.users()]

    def add(self, name: str) -> str:
        """Register ``name`` (or mark them seen); its canonical form."""
        key = canonical(name)
        self.store.ensure_user(key, guest=key.startswith(GUEST_PREFIX))
        return key

    def new_guest(self) -> str:
        taken = {n for n in self.names() if n.startswith(GUEST_PREFIX)}
        n = len(taken) + 1
        while f"{GUEST_PREFIX}{n}" in taken:
            n += 1
        return self.add(f"{GUEST_PREFIX}{n}")

    def _dim(self) -> int | None:
        centroids = self.centroids()
        return next(iter(centroids.values())).size if centroids else None

    def centroids(self) -> dict[str, np.ndarray]:
        """Each enrolled user's mean voice direction, unit length."""
        if self._centroids is None:
            self._centroids = {}
            for user, rows in self.store.voiceprints().items():
                mean = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).mean(axis=0)
                self._centroids[user] = mean / np.linalg.norm(mean)
        return self._centroids

    def enroll(self, user: str, embedding: np.ndarray) -> str:
        """Add one utterance's voice embedding to ``user`` (registered if new); the user's key."""
        vector = _unit(embedding, self._dim())
        key = self.add(user)
        self.store.add_voiceprint(key, vector.astype(np.float32))
        self._centroids = None
        return key

    def scores(self, embedding: np.ndarray) -> dict[str, float]:
        """Cosine of ``embedding`` with every enrolled user's centroid."""
        centroids = self.centroids()
        if not centroids:
            return {}
        vector = _unit(embedding, self._dim())
        return {user: float(c @ vector) for user, c in centroids.items()}

    def identify(self, embedding: np.ndarray) -> str | None:
        """The enrolled user whose voice this is, or None when nobody's is close enough."""
        scores = self.scores(embedding)
        if not scores:
            return None
        user = max(scores, key=scores.__getitem__)
        return user if scores[user] >= self.threshold else None

    def identify_or_guest(self, embedding: np.ndarray) -> str:
        """The speaker's key; an unknown voice is enrolled as a new guest."""
        user = self.identify(embedding)
        if user is None:
            _unit(embedding, self._dim())  # a bad vector is refused before a guest is made for it
            user = self.enroll(self.new_guest(), embedding)
        return user

    def rename(self, old: str, new: str) -> list[tuple[int, str]]:
        """``old`` (a guest) said their name: their voice and entries become ``new``'s. The moved
        entries as (id, contextual text), to re-embed under the new name."""
        moved = self.store.rename_user(canonical(old), canonical(new))
        self._centroids = None
        return moved
