"""Grounded intent: what a user's words ask of the agent, read against the objects it sees.

Candidate readings come from four sources: the fast path's verb rules; meaning (the MiniLM
embedding of the utterance against paraphrases of every arm action on the scene's objects);
sound (words that sound like the action vocabulary are corrected and read again, "ramp the blue
cube" → "grab the blue cube"); and the recogniser's other transcripts. Phrases naming several
objects or one by position ("the two cubes that are not blue", "the one closest to you") are
resolved against the scene first. A conditional logit ranks the candidates on their evidence,
a logistic regression turns the best one's evidence into a calibrated probability that it is
what the user meant, and its band says what to do: act, ask back, or say what the agent can do.
Lines that are no command are told apart by meaning too: questions (answered from the thinker's
state), chat, out-of-scope asks, yes/no replies, stop.
"""
from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from seal_nodes.core.actions import ACTION_SET, DIRECTIONS, Action, instruction_for, object_phrase
from seal_nodes.core.language.encoder import SentenceEncoder
from seal_nodes.core.language.phonetic import similarity
from seal_nodes.core.thinking.fast_path import COLORS, parse_command
from seal_nodes.core.thinking.frames import Frame, frame_of_action, merge, read_frame
from seal_nodes.core.thinking.misheard import ACTION_VERBS, PLACES, corrections, in_place_slot
from seal_nodes.core.thinking.paraphrases import (CHAT, OBJECT_QUESTIONS, OUT_OF_SCOPE, QUESTIONS, any_object_wordings,
                                                   keywords, vocabulary, wordings)
from seal_nodes.core.thinking.references import Reference, SceneObject, find_reference, plain_objects
from seal_nodes.core.thinking.social import EXEMPLARS
from seal_nodes.core.thinking.steps import split_steps

ACT, CONFIRM, UNSURE = "act", "confirm", "unsure"
COMMAND, QUESTION, CHAT_KIND, YES, NO, STOP, NONE = "command", "question", "chat", "yes", "no", "stop", "none"

# The evidence for one candidate reading, in the order of WEIGHTS.
FEATURES = (
    "cos",             # best cosine between the (corrected) utterance and the reading's paraphrases
    "margin_action",   # ... minus the best cosine of a reading with another action
    "margin_args",     # ... minus the best cosine of the same action on other arguments
    "missing",         # slot values (object colour, direction) the words do not mention
    "conflict",        # a colour or direction is mentioned that the reading does not use
    "rule",            # the fast path's verb rules read the same action
    "sound",           # how much sound correction it took: sum of (1 - similarity) per word replaced
    "alternative",     # read from another transcript than the recogniser's best
    "reference",       # objects resolved from a phrase ("all of them", "the one on the left")
    "count_mismatch",  # the user's count ("the two cubes") differs from what the phrase resolves to
    "negated",         # "don't", "never": the words may ask for the opposite
    "other",           # best cosine to a question, chat or out-of-scope line, minus the reading's cosine
    "asks",            # the words open like a question ("where", "is", "how")
    "keyword",         # a word only this action's paraphrases use is said ("grab", "bin")
    "rival_keyword",   # none is, but one only another action's paraphrases use is
)
# Fitted by seal_nodes/tools/intent_calibration.py (numpy, on generated utterances); rerun it
# after changing the features, the paraphrases or the phonetic costs. RANK_WEIGHTS score an
# utterance's readings against each other (a conditional logit: a reading's share is the softmax
# of its score among them); WEIGHTS and BIAS turn the best one's features and share into the
# probability that it is what the user meant (a logistic regression on the best ones).
RANK_WEIGHTS = (4.677, 6.597, 0.644, -2.652, -1.964, 0.775, -1.448, -0.194, 0.034, 0, 0, -3.639, 0, 3.396, -1.314)
WEIGHTS = (2.975, 2.626, 0.766, -3.768, -3.6, 1.238, -3.065, 0.135, 0.855, -5.532, -5.644, -5.065, -1.647, -0.505,
           -0.626, 4.236)
BIAS = -5.642
ACT_AT = 0.86
CONFIRM_AT = 0.3

_SCENES_KEPT = 8     # scenes whose paraphrase embeddings stay cached
_COMMAND_TIE = 0.05  # cosine by which a command wins a near tie with another kind of line

# Everyday words around requests, questions and chat: never taken for a misheard command word.
_COMMON_WORDS = set("""a an the this that these those it its them they me my you your i i'm i'd we us our to in into
on onto at of for from with by up down over off out away back here there please could can would will should might
may must do does did is are was were be been am have has had want need like just now then so and or but also too very
really um uh er erm ah oh okay ok well hey hi hello yes yeah no not don't what where which who why how when some any
all every each both other another thing things bit little more again let let's go get if side table gripper hand arm
container coloured colored big small large tiny first second last next same whole top bottom front behind near far
closest nearest farthest furthest middle centre center leftmost rightmost except besides apart than aren't isn't
that's it's thank thanks sorry sure maybe good great nice see look know think say tell give help make""".split())
_LEADING_CHATTER = re.compile(r"^(?:(?:hi|hello|hey|hey there|hi there|hello there|okay|ok|so|um|uh|well|"
                              r"good (?:morning|afternoon|evening)|robot)\s+)+")
_QUESTION_WORDS = {"what", "what's", "where", "where's", "which", "who", "who's", "whose", "why", "how", "when", "is",
                   "are", "was", "were", "do", "does", "did", "have", "has"}
_PRONOUNS = {"you", "i", "we", "they", "it", "he", "she", "that", "this", "these", "those"}
_STOP = re.compile(r"\b(stop|halt|freeze)\b|^(?:(?:whoa|hey|wait|no) )*hold it\b")
# "Don't move!" is a stop, though negated.
_DONT_MOVE = re.compile(r"^(?:(?:whoa|hey|wait|no) )*(?:don't|do not) (?:move|do that|do it)\b")
_NEGATION = re.compile(r"\b(?:don't|dont|do not|never)\b")
_YES = re.compile(r"^(?:yes|yeah|yep|yup|yea|sure|ok|okay|correct|right|exactly|absolutely|definitely|affirmative|"
                  r"of course|please do|do it|go ahead|go for it|that's right|that's it|uh huh|mhm|sounds good|"
                  r"alright|all right|i think so|please)\b")
_PLEASE = re.compile(r"^(?:please|oh|well|um|uh)\s+")
_NO = re.compile(r"^(?:no|nope|nah|don't|do not|not|negative|wrong|never mind|nevermind|that's wrong|"
                 r"i don't think so|cancel)\b")
# The yes or no words in front of a reply's rest ("no, the red one" → "the red one").
_ANSWER_WORDS = re.compile(r"^(?:(?:yes|yeah|yep|no|nope|nah|not|sure|okay|ok|please|oh|well|um|uh|sorry|"
                           r"actually|i mean|that's wrong|wrong|not that one|not that)\s+)+")
SOCIAL_AT = 0.55  # the least cosine to a small-talk exemplar that makes a line that act
FRAME_SOUND_COST = 0.3  # the most sound correction a slot filled from a misheard word may take


@dataclass(frozen=True)
class Reading:
    actions: tuple[Action, ...]   # one, or several for a compound request
    confidence: float             # calibrated: the probability this reading is what the user meant
    source: str                   # "rule" | "meaning" | "sound" | "compound" | "alternative"
    heard: str                    # the text it was read from (after sound correction)

    def describe(self) -> str:
        """In words: "pick up the blue cube", "put the red cube and the green cube in the bin"."""
        groups: list[tuple[Action, list[str]]] = []
        for action in self.actions:
            rest = {k: v for k, v in action.args.items() if k != "object"}
            if groups and groups[-1][0].name == action.name and \
                    {k: v for k, v in groups[-1][0].args.items() if k != "object"} == rest and "object" in action.args:
                groups[-1][1].append(action.args["object"])
            else:
                groups.append((action, [action.args["object"]] if "object" in action.args else []))
        parts = []
        for action, objects in groups:
            text = instruction_for(action)
            if len(objects) > 1:
                phrases = [object_phrase(o) for o in objects]
                text = text.replace(phrases[0], ", ".join(phrases[:-1]) + " and " + phrases[-1], 1)
            parts.append(text)
        return ", then ".join(parts)


@dataclass(frozen=True)
class Understanding:
    text: str
    band: str                     # ACT / CONFIRM / UNSURE: the band of ``best`` (UNSURE when there is none)
    best: Reading | None
    alternatives: tuple[Reading, ...] = ()
    kind: str = COMMAND           # "command" | "question" | "chat" | "yes" | "no" | "stop" | "none"


@dataclass
class Candidate:
    """A reading with its evidence, before calibration."""

    actions: tuple[Action, ...]
    source: str
    heard: str
    features: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        return tuple((a.name, tuple(sorted(a.args.items()))) for a in self.actions)


@dataclass(frozen=True)
class _Variant:
    text: str                      # what is read (cleaned, maybe sound-corrected)
    sound: float = 0.0
    alternative: bool = False
    reference: Reference | None = None
    rewritten: str = ""            # text with a reference phrase replaced by one object's phrase
    negated: bool = False          # the transcript says "don't" / "never" (before any correction)


@dataclass
class _Bank:
    """Paraphrase embeddings of every action a scene offers."""

    combos: list[Action]
    starts: np.ndarray             # first row of each combo's paraphrases in ``emb``
    emb: np.ndarray
    anchors: np.ndarray            # lines other than the scene's commands: questions (general and
    anchor_kinds: np.ndarray       # about its objects), chat, out-of-scope asks, requests about
    anchor_actions: np.ndarray     # any cube; their kinds, and the action of each request


# Words said for the same thing, made one before reading ("leftwards" is "left").
_SAME = ((re.compile(r"\b(left|right)(?:wards?| hand side)\b"), r"\1"),
         (re.compile(r"\b(left|right) most\b"), r"\1most"),
         (re.compile(r"\bwhereabouts\b"), "where"), (re.compile(r"\bcolou?r's\b"), "colour is"))


def clean(text: str) -> str:
    """Lower case, punctuation gone (apostrophes kept), one space between words, and a few words
    said for the same thing made one."""
    out = " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split())
    for pattern, same in _SAME:
        out = pattern.sub(same, out)
    return out


def rank(candidates: Sequence[Candidate], weights: Sequence[float] = RANK_WEIGHTS) -> list[tuple[Candidate, float]]:
    """One candidate per distinct action sequence (its best-scored) with its share of the
    utterance (softmax of the scores), the best first."""
    best: dict[tuple, tuple[float, Candidate]] = {}
    for c in candidates:
        score = sum(w * c.features[f] for w, f in zip(weights, FEATURES))
        if c.key not in best or score > best[c.key][0]:
            best[c.key] = (score, c)
    ranked = sorted(best.values(), key=lambda sc: -sc[0])
    if not ranked:
        return []
    top = ranked[0][0]
    exp = [math.exp(s - top) for s, _ in ranked]
    return [(c, e / sum(exp)) for (_, c), e in zip(ranked, exp)]


def probability(candidate: Candidate, share: float, weights: Sequence[float] = WEIGHTS, bias: float = BIAS) -> float:
    """The calibrated probability that a reading with this evidence and share is right."""
    values = [candidate.features[f] for f in FEATURES] + [share]
    z = bias + sum(w * v for w, v in zip(weights, values))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


class IntentReader:
    """Reads utterances against the scene; the encoder loads on the first read."""

    def __init__(self, encoder: SentenceEncoder | None = None, *, act_at: float = ACT_AT,
                 confirm_at: float = CONFIRM_AT) -> None:
        self.encoder = encoder or SentenceEncoder()
        self.act_at = act_at
        self.confirm_at = confirm_at
        self._banks: OrderedDict[tuple, _Bank] = OrderedDict()
        self._bank_lock = threading.Lock()
        self._known_words = vocabulary() | _COMMON_WORDS | set(COLORS)
        self._keywords = keywords(_COMMON_WORDS | set(DIRECTIONS) | {"one", "ones"})
        # The words that name one action in a request's slots: its verbs, and the bin for place.
        self.verbs = {w: name for name, words in self._keywords.items() if name != "stop" for w in words
                       if w in ACTION_VERBS or w in ("bin", "basket", "box", "home")}
        self._social: tuple[list[str], np.ndarray] | None = None

    # --- the API ---
    def prepare(self, objects: Sequence[SceneObject]) -> None:
        """Embed the paraphrases for these objects now (the slow part of reading), so that the next
        ``read`` on this scene takes milliseconds; call it when the scene changes."""
        self._bank(list(objects))

    def read(self, text: str, objects: Sequence[SceneObject], alternatives: Sequence[str] = (),
             executors: tuple[str, ...] = ("arm", "system")) -> Understanding:
        """Understand one utterance (``alternatives``: the recogniser's other transcripts)."""
        said = clean(text)
        if not said:
            return Understanding(text, UNSURE, None, kind=NONE)
        if "system" in executors and ((_STOP.search(said) and not _NEGATION.search(said)) or _DONT_MOVE.match(said)):
            stop = Reading((Action("stop"),), 1.0, "rule", said)
            return Understanding(text, ACT, stop, kind=STOP)
        steps = self._read_steps(text, list(objects), executors)
        if steps is not None:
            return Understanding(text, self._band(steps), steps, (), COMMAND)
        return self._read_one(text, objects, alternatives, executors)

    def frame(self, text: str, objects: Sequence[SceneObject]) -> Frame:
        """The slots the words fill (what to do, to which object, which way), none guessed; a slot
        the words leave empty may be filled from their sound-corrected version ("to the light")."""
        said = _without_chatter(clean(text))
        objects = list(objects)
        frame = read_frame(said, objects, self.verbs)
        if not frame.missing():
            return frame
        colors = tuple(dict.fromkeys([o.color for o in objects if o.color] + list(COLORS)))
        fixed = corrections(said, self._known_words, colors)
        if not fixed or fixed[0][1] > FRAME_SOUND_COST:
            return frame
        heard = read_frame(fixed[0][0], objects, self.verbs)
        # a slot filled from a sound-alike is a guess: the request no longer names every slot plainly
        return replace(frame, action=frame.action or heard.action, object=frame.object or heard.object,
                       direction=frame.direction or heard.direction, named=False)

    def reply_rest(self, text: str) -> str:
        """A reply without its yes or no in front: "no, the red one" → "the red one"; "" for a plain yes/no."""
        return _ANSWER_WORDS.sub("", clean(text) + " ").strip()

    def social_act(self, text: str) -> str:
        """The small-talk act a line is (social.EXEMPLARS' keys), or ""."""
        said = clean(text)
        if not said:
            return ""
        try:
            with self._bank_lock:
                if self._social is None:
                    acts = [(act, line) for act, lines in EXEMPLARS.items() for line in lines]
                    self._social = ([a for a, _ in acts], self.encoder.encode_many([line for _, line in acts]))
            acts, emb = self._social
            cos = emb @ self.encoder.encode_many([said])[0]
        except Exception:  # noqa: BLE001 - small talk is optional; read() reports a broken encoder
            return ""
        best = int(np.argmax(cos))
        return acts[best] if float(cos[best]) >= SOCIAL_AT else ""

    def _read_steps(self, text: str, objects: list[SceneObject], executors: tuple[str, ...]) -> Reading | None:
        """A request of several steps, each read on its own; a step that names no action borrows
        the one before it ("then the red one"). None unless there are several steps and each is sure
        (or is context only, like a question naming the object the next step calls "it")."""
        steps = split_steps(text, self.verbs.keys() | {"go", "come", "return"})
        if len(steps) < 2:
            return None
        actions: list[Action] = []
        confidence, before = 1.0, Frame()
        for step in steps:
            u = self._read_one(step, objects, (), executors)
            said = self.frame(step, objects)
            if u.best is not None and u.band == ACT and u.kind in (COMMAND, STOP) and \
                    not (said.vague and before.object):
                done = list(u.best.actions)
                confidence = min(confidence, u.best.confidence)
            else:
                merged = merge(before, said)
                action = merged.to_action() if said.action or said.object or said.direction else None
                if action is None:
                    if said.action or u.kind == COMMAND:
                        return None  # a step asks for something unclear: so does the whole request
                    before = merge(before, said)
                    continue
                done = [action]
            before = frame_of_action(done[-1])
            actions += [a for a in done if not actions or a != actions[-1]]
        if not actions or any(ACTION_SET[a.name].executor not in executors for a in actions):
            return None
        return Reading(tuple(actions), confidence, "compound", clean(text))

    def _read_one(self, text: str, objects: Sequence[SceneObject], alternatives: Sequence[str],
                  executors: tuple[str, ...]) -> Understanding:
        said = clean(text)
        candidates, kinds = self.candidates(text, objects, alternatives, executors)
        readings = self._rank(candidates)
        best = readings[0] if readings else None
        others = tuple(readings[1:4])
        answer = self.answer_kind(text)
        if answer != NONE and (best is None or best.confidence < self.act_at):
            # A reply to a question back; the rest of it may correct the reading ("no, the red one").
            return Understanding(text, self._band(best), best, others, answer)
        kind = _kind(said, kinds)
        if best is not None and best.confidence >= self.confirm_at and \
                (kind != QUESTION or best.confidence >= self.act_at):
            # A question that only might be a request ("can you see the red cube") is answered.
            kind = STOP if best.actions[0].name == "stop" else COMMAND
            return Understanding(text, self._band(best), best, others, kind)
        if kind != COMMAND:
            return Understanding(text, UNSURE, None, (), kind)
        return Understanding(text, self._band(best), best, others, COMMAND)

    def answer_kind(self, text: str) -> str:
        """ "yes" | "no" | "none": how a reply answers a question back."""
        said = _PLEASE.sub("", clean(text)) or clean(text)
        if not said:
            return NONE
        if _NO.match(said):
            return NO
        if _YES.match(said):
            return YES
        first = said.split()[0]
        if first not in self._known_words:
            if max(similarity(first, w) for w in ("no", "nope")) >= 0.8:
                return NO
            if max(similarity(first, w) for w in ("yes", "yeah", "yep")) >= 0.8:
                return YES
        return NONE

    # --- candidates and their evidence (also used by the calibration tool) ---
    def candidates(self, text: str, objects: Sequence[SceneObject], alternatives: Sequence[str] = (),
                   executors: tuple[str, ...] = ("arm", "system")) -> tuple[list[Candidate], dict[str, float]]:
        """Every candidate reading with its features, and the best cosine of the utterance to a
        command, a question, chat and an out-of-scope line (by kind)."""
        objects = list(objects)
        colors = tuple(dict.fromkeys([o.color for o in objects if o.color] + list(COLORS)))
        variants: list[_Variant] = []
        for n, transcript in enumerate([text, *alternatives]):
            core = _without_chatter(clean(transcript))
            if core:
                variants += self._sound_variants(core, n > 0, colors)
        variants = [self._resolve(v, objects, colors) for v in variants]
        variants = list(dict((v.rewritten, v) for v in reversed(variants)).values())[::-1]
        kinds = {COMMAND: 0.0, QUESTION: 0.0, CHAT_KIND: 0.0, NONE: 0.0}
        if not variants:
            return [], kinds
        bank = self._bank(objects)
        # Every arm action is scored, so that a request to an executor this agent lacks is
        # recognised as one (and is no command for it), but only the executors' are offered.
        offered = np.array([ACTION_SET[a.name].executor in executors for a in bank.combos])
        emb = self.encoder.encode_many([v.rewritten for v in variants])
        out: list[Candidate] = []
        for i, (v, u) in enumerate(zip(variants, emb)):
            anchor_cos = bank.anchors @ u
            combo_cos = np.maximum.reduceat(bank.emb @ u, bank.starts)
            if i == 0:
                for kind in (QUESTION, CHAT_KIND, NONE):
                    kinds[kind] = float(anchor_cos[bank.anchor_kinds == kind].max())
                # Requests for objects not on the table are requests still ("I don't see one").
                commands = list(combo_cos[offered])
                unoffered = list(combo_cos[~offered])
                (commands if "arm" in executors else unoffered).append(
                    float(anchor_cos[bank.anchor_kinds == COMMAND].max()))
                kinds[COMMAND] = max(commands, default=0.0)
                kinds[NONE] = max([kinds[NONE], *unoffered])
            out += self._meaning_candidates(v, bank, combo_cos, anchor_cos, colors, offered)
            if "gui" in executors:
                out += self._gui_candidates(v)
        return out, kinds

    # --- internals ---
    def _band(self, reading: Reading | None) -> str:
        if reading is None:
            return UNSURE
        band = ACT if reading.confidence >= self.act_at else CONFIRM if reading.confidence >= self.confirm_at \
            else UNSURE
        # Only another transcript than the recogniser's best says so: ask before acting on it.
        return CONFIRM if band == ACT and reading.source == "alternative" else band

    def _rank(self, candidates: list[Candidate]) -> list[Reading]:
        """One reading per distinct action sequence, the best first."""
        return [Reading(c.actions, probability(c, share), c.source, c.heard) for c, share in rank(candidates)]

    def _sound_variants(self, text: str, alternative: bool, colors: tuple[str, ...]) -> list[_Variant]:
        """The text as said, and with the words that sound like the action vocabulary replaced."""
        negated = bool(_NEGATION.search(text))
        return [_Variant(text, 0.0, alternative, negated=negated)] + [
            _Variant(fixed, cost, alternative, negated=negated)
            for fixed, cost in corrections(text, self._known_words, colors)]

    def _resolve(self, v: _Variant, objects: list[SceneObject], colors: tuple[str, ...]) -> _Variant:
        """Resolve a phrase naming objects and put one plain object phrase in its place."""
        ref = find_reference(v.text, objects, colors)
        if ref is None:
            return _Variant(v.text, v.sound, v.alternative, None, plain_objects(v.text, colors), v.negated)
        first = next(o for o in objects if o.name == ref.names[0])
        phrase = f"the {first.color} cube" if first.color else object_phrase(first.name)
        rewritten = " ".join((v.text[:ref.start] + " " + phrase + " " + v.text[ref.end:]).split())
        return _Variant(v.text, v.sound, v.alternative, ref, plain_objects(rewritten, colors), v.negated)

    def _bank(self, objects: list[SceneObject]) -> _Bank:
        # A node warms the reader on another thread while turns may already be read.
        with self._bank_lock:
            return self._bank_unlocked(objects)

    def _bank_unlocked(self, objects: list[SceneObject]) -> _Bank:
        key = tuple((o.name, o.color) for o in objects)
        if key in self._banks:
            self._banks.move_to_end(key)
            return self._banks[key]
        combos: list[Action] = []
        texts: list[str] = []
        starts: list[int] = []
        pool: list[tuple[Action, SceneObject | None]] = []
        for o in objects:
            pool += [(Action("pick", {"object": o.name}), o), (Action("place", {"object": o.name, "target": "bin"}), o),
                     *[(Action("push", {"object": o.name, "direction": d}), o) for d in DIRECTIONS],
                     (Action("point", {"object": o.name}), o)]
        pool += [(Action("home"), None), (Action("stop"), None)]
        for action, obj in pool:
            lines = wordings(action, obj.color if obj else "", obj.name if obj else "")
            combos.append(action)
            starts.append(len(texts))
            texts += lines
        any_object = any_object_wordings()
        lines = [(q, QUESTION) for q in QUESTIONS] + [(c, CHAT_KIND) for c in CHAT] + [(n, NONE) for n in OUT_OF_SCOPE]
        lines += [(w, COMMAND) for _, w in any_object]
        lines += [(q.format(o=f"the {o.color} cube" if o.color else object_phrase(o.name)), QUESTION)
                  for o in objects for q in OBJECT_QUESTIONS]
        emb = self.encoder.encode_many(texts + [line for line, _ in lines])
        kinds = np.array([kind for _, kind in lines])
        bank = _Bank(combos, np.asarray(starts, dtype=np.int64), emb[:len(texts)], emb[len(texts):], kinds,
                     np.array([""] * (len(lines) - len(any_object)) + [name for name, _ in any_object]))
        self._banks[key] = bank
        while len(self._banks) > _SCENES_KEPT:
            self._banks.popitem(last=False)
        return bank

    def _meaning_candidates(self, v: _Variant, bank: _Bank, combo_cos: np.ndarray, anchor_cos: np.ndarray,
                            colors: tuple[str, ...], offered: np.ndarray) -> list[Candidate]:
        other = float(anchor_cos[bank.anchor_kinds != COMMAND].max())
        words = v.rewritten.split()
        said = set(words)
        # A verb where a direction goes ("over to the lift") is not the request's verb.
        verbs_said = {w for i, w in enumerate(words)
                      if not (in_place_slot(words, i) and w in ACTION_VERBS and w not in PLACES)}
        said_colors = {c for c in colors if c in said}
        said_dirs = {d for d in DIRECTIONS if d in said}
        # How well each reading's slots (object colour, direction) agree with the words.
        slots = [_slots(a, colors) for a in bank.combos]
        # With one object on the table "the cube" names it: its colour need not be said.
        alone = len({a.args["object"] for a in bank.combos if "object" in a.args}) == 1
        missing = np.array([sum(1 for k, s in enumerate(sl) if s and s not in said
                                and not (alone and k == 0 and "object" in a.args))
                            for sl, a in zip(slots, bank.combos)])
        conflict = np.array([1 if (said_colors - {sl[0] if sl else ""}) or
                             (said_dirs - {a.args.get("direction", "")}) else 0
                             for sl, a in zip(slots, bank.combos)])
        names = np.array([a.name for a in bank.combos])
        rule = parse_command(v.rewritten)
        ref = v.reference
        shared = {
            "sound": v.sound,
            "alternative": 1.0 if v.alternative else 0.0,
            "reference": 1.0 if ref else 0.0,
            "count_mismatch": 1.0 if ref and ref.count_mismatch else 0.0,
            "negated": 1.0 if v.negated else 0.0,
            "asks": 1.0 if words and words[0] in _QUESTION_WORDS else 0.0,
        }
        # The most consistent readings (then the closest), and the closest ones, of those offered.
        order = [int(j) for j in np.lexsort((-combo_cos, conflict + missing)) if offered[j]]
        closest = [int(j) for j in np.argsort(-combo_cos) if offered[j]]
        picked = list(dict.fromkeys(order[:3] + closest[:2]))
        out = []
        for c in picked:
            action = bank.combos[c]
            obj = action.args.get("object")
            if ref is not None and obj is not None and obj != ref.names[0]:
                continue
            cos = float(combo_cos[c])
            # Rivals: readings the words fit at least as well; one that contradicts them is none.
            rivals = (conflict <= conflict[c]) & (missing <= missing[c])
            rivals[c] = False
            # A request about some other object rivals an action on none ("pick up the mug": not home).
            other_action = np.concatenate([combo_cos[rivals & (names != action.name)],
                                           anchor_cos[(bank.anchor_actions != "") &
                                                      (bank.anchor_actions != action.name)]])
            same_action = combo_cos[rivals & (names == action.name)]
            margin_action = cos - float(other_action.max()) if other_action.size else 0.5
            # An action without arguments ("go home") is only as clear as its action.
            margin_args = cos - float(same_action.max()) if same_action.size else margin_action if not slots[c] else 0.5
            own = bool(verbs_said & self._keywords.get(action.name, set()))
            rival = bool(verbs_said & set().union(*(w for n, w in self._keywords.items() if n != action.name)))
            feats = {"cos": cos, "margin_action": min(margin_action, 0.5), "margin_args": min(margin_args, 0.5),
                     "missing": float(missing[c]), "conflict": float(conflict[c]),
                     "rule": 1.0 if rule == action and not v.sound else 0.0, "other": other - cos,
                     "keyword": float(own), "rival_keyword": float(rival and not own), **shared}
            if ref is not None and obj is not None:
                actions = tuple(Action(action.name, {**action.args, "object": n}) for n in ref.names)
            else:
                actions = (action,)
            source = ("compound" if ref and len(actions) > 1 else "alternative" if v.alternative
                      else "sound" if v.sound else "rule" if rule == action else "meaning")
            out.append(Candidate(actions, source, v.text, feats))
        return out

    def _gui_candidates(self, v: _Variant) -> list[Candidate]:
        """On-screen actions are read by the fast path's verb rules alone: a match is an exact wording."""
        action = parse_command(v.text)
        if action is None or ACTION_SET[action.name].executor != "gui":
            return []
        feats = dict.fromkeys(FEATURES, 0.0) | {"cos": 1.0, "margin_action": 0.5, "margin_args": 0.5, "rule": 1.0,
                                                "sound": v.sound, "alternative": 1.0 if v.alternative else 0.0,
                                                "other": -0.5}
        return [Candidate((action,), "rule", v.text, feats)]


def _slots(action: Action, colors: tuple[str, ...]) -> tuple[str, ...]:
    """The words that name an action's arguments: its object's colour, its direction."""
    out = []
    if "object" in action.args:
        first = action.args["object"].split("_")[0]
        out.append(first if first in colors else "")
    if "direction" in action.args:
        out.append(action.args["direction"])
    return tuple(out)


def _kind(said: str, kinds: dict[str, float]) -> str:
    """What an utterance that is no clear command is: the kind of line it is most like (a near
    tie goes to a command, which the thinker can ask about); a question when it opens like one;
    nothing when it is like none of them."""
    if max(kinds.values()) < 0.5:
        return NONE
    words = _without_chatter(said).split()
    # "do something with it" is a request; "do you see it" a question
    opens = bool(words) and words[0] in _QUESTION_WORDS and not (
        words[0] in ("do", "does", "did") and (len(words) < 2 or words[1] not in _PRONOUNS))
    if opens and kinds[QUESTION] >= kinds[NONE]:
        return QUESTION
    return max(kinds, key=lambda k: kinds[k] + (_COMMAND_TIE if k == COMMAND else 0.0))


def _without_chatter(text: str) -> str:
    """The request without a greeting or filler in front ("hi there, could you …")."""
    rest = _LEADING_CHATTER.sub("", text + " ").strip()
    return rest or text
