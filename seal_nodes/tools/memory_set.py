"""Scripted sessions and questions for ``seal bench-memory``: what people told the robot and asked
of it, as the loop's events, and questions whose answers are known.

``generate(seed)`` draws for each user a profile (a favourite cube, a preferred bin, a like, a
dislike, a standing instruction, three facts about them), requests that succeeded, one that
failed, and one that failed twice before a changed approach worked. It scripts them as sessions
of events (speech_end, agent_speech_end, action_result, turn_done) days apart, mixed with small
talk and routine requests; a third of the users change their favourite cube later. Users past
``asked`` are distractors: recorded, never asked about.

Every question names the turns whose entries answer it (with the entry kinds that count: the
preference a statement left, the request line that quotes it, the failure it caused). Its wording
comes from a template of the ``dev`` or the ``heldout`` split; held-out templates are scored
only, never tuned against. ``record`` feeds the sessions to an ``EpisodeRecorder`` and says which
entries each turn wrote; ``answer_ids`` turns a question's answers into entry ids.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from seal_nodes.core import events as ev
from seal_nodes.core.memory.episodes import Encoder, EpisodeRecorder
from seal_nodes.core.memory.store import Store

DEV, HELDOUT = "dev", "heldout"
START_NS = 1_762_160_400 * 10**9  # 2025-11-03, the first day of the scripted weeks
TURN_GAP_S = 25  # between the starts of two turns of a session
DAY_S = 86_400

NAMES = ("Ana", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kavya", "Lars",
         "Maya", "Nico", "Olga", "Pavel", "Quinn", "Rosa", "Samir", "Tara", "Ugo", "Vera", "Wen", "Ximena", "Yusuf",
         "Zoe", "Amara", "Boris", "Carmen", "Dario", "Esther", "Felix", "Gloria", "Hugo", "Ivana", "Jamal", "Keiko",
         "Liam", "Marta", "Nadia", "Oscar", "Priya", "Rafael", "Sofia", "Tomas", "Uma", "Viktor", "Wanda", "Yara",
         "Zeno", "Agnes", "Bela", "Cyril", "Dora", "Emil", "Flora", "Gustav", "Helga", "Ivo", "Jade")
COLOURS = ("red", "green", "blue", "yellow", "orange", "purple")
OBJECTS = ("red_cube", "green_cube", "blue_cube", "yellow_cube", "small_ball", "wooden_block", "paper_cup", "sponge")
BINS = ("left", "right", "small", "large", "grey", "white")
LIKES = (("jazz", "music"), ("classical music", "music"), ("folk songs", "music"), ("hiking", "hobby"),
         ("gardening", "hobby"), ("knitting", "hobby"), ("green tea", "drink"), ("espresso", "drink"),
         ("hot chocolate", "drink"), ("science fiction novels", "books"), ("detective stories", "books"),
         ("chess", "game"), ("crossword puzzles", "game"), ("tennis", "sport"), ("cycling", "sport"))
DISLIKES = ("move too fast", "beep loudly", "interrupt me", "wave the arm around", "stand too close to me",
            "repeat yourself", "talk during my calls")
ALWAYS = ("speak slowly", "ask before you move anything", "say what you are about to do", "keep the cubes in a row",
          "leave the sponge where it is", "bring things to the front of the table", "talk a bit quieter",
          "put the cups on the tray")
ALLERGIES = ("peanuts", "shellfish", "gluten", "milk", "eggs", "strawberries", "sesame")
PETS = ("dog", "cat", "parrot", "rabbit", "hamster")
PET_NAMES = ("biscuit", "pepper", "luna", "rocky", "mango", "whiskers", "ziggy", "noodle")
CITIES = ("porto", "lyon", "gdansk", "bergen", "valencia", "leeds", "graz", "turin", "malmo", "ghent")
JOBS = ("a nurse", "a carpenter", "a teacher", "a pharmacist", "a bus driver", "a librarian", "a chef",
        "an electrician", "a dentist", "a gardener")
FACTS = ("office", "allergy", "pet", "home", "job")

# What a user says for an action, how a question refers to it, and what can go wrong.
SAY = {"pick": ("pick up the {o}", "grab the {o} please", "could you lift the {o}"),
       "place": ("put the {o} in the bin", "throw the {o} in the bin", "can you drop the {o} into the bin"),
       "push": ("push the {o} to the {d}", "slide the {o} {d}", "nudge the {o} over to the {d}"),
       "point": ("point at the {o}", "show me the {o}", "where is the {o}, point at it")}
REFER = {"pick": ("pick up the {o}", "grab the {o}", "lift the {o}"),
         "place": ("put the {o} in the bin", "get the {o} into the bin", "bin the {o}"),
         "push": ("push the {o} {d}", "slide the {o} to the {d}", "shove the {o} {d}"),
         "point": ("point at the {o}", "show me the {o}", "point to the {o}")}
REASONS = {"pick": ("the object slipped out of the gripper", "the gripper closed on nothing",
                    "the object was out of reach", "lost sight of the object", "the grip was too weak",
                    "the object rotated in the gripper"),
           "place": ("the object fell next to the bin", "the arm hit the edge of the bin",
                     "the object dropped on the way to the bin", "the bin was full"),
           "push": ("blocked by the bin", "the object was out of reach", "the arm reached its joint limit",
                    "the object toppled over"),
           "point": ("lost sight of the object", "the object was hidden behind the bin")}
# A retry that worked: what the user suggested, and the executor's instruction that followed.
FIXES = {"pick": (("grab it from the side", "pick up the {o} from the side"),
                  ("go slowly and open the gripper wider", "pick up the {o} slowly with the gripper wide open"),
                  ("move it to the middle of the table first", "pick up the {o} after sliding it to the middle"),
                  ("come down on it from straight above", "pick up the {o} approaching from straight above")),
         "place": (("lower it gently this time", "put the {o} in the bin lowering it gently"),
                   ("go around the edge of the bin", "put the {o} in the bin approaching away from the edge"),
                   ("hold it tighter on the way", "put the {o} in the bin with a firmer grip"))}
SMALL_TALK = (("how are you today?", "I'm fine, thank you for asking."),
              ("what time is it?", "It is ten past three."),
              ("tell me a joke", "Why did the robot go on holiday? To recharge its batteries."),
              ("what can you do?", "I can pick up, place, push and point at things on the table."),
              ("thanks, that's all for now", "You're welcome."),
              ("what's the weather like?", "I can't see outside, sorry."),
              ("what is on the table?", "I see a few cubes, a ball and the bin."),
              ("good morning", "Good morning!"))

# Question wordings by what they ask about: (dev templates, held-out templates). {U} is the
# user's name; {cat}, {pet} and {do} come from the fact asked about.
TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "favourite": (("which cube is my favourite?", "what is {U}'s favourite cube?",
                   "do you remember which cube I like best?"),
                  ("{U} favourite cube colour", "which colour of cube do I love the most?")),
    "bin": (("which bin do I prefer?", "what bin does {U} prefer?", "which bin should you use for my things?"),
            ("{U} preferred bin", "remind me where I like things thrown away")),
    "like": (("what {cat} do I like?", "what {cat} does {U} enjoy?", "do you know my taste in {cat}?"),
             ("{U} {cat} taste", "which {cat} am I a fan of?")),
    "dislike": (("what do I not like you doing?", "is there something {U} dislikes about how you work?",
                 "what annoys me when you work?"),
                ("what should you avoid doing around {U}?", "which of your habits bother me?")),
    "always": (("what did I ask you to always do?", "how does {U} want you to behave from now on?",
                "what is my standing instruction?"),
               ("rule {U} gave you for every time", "what do I expect you to do every time?")),
    "office": (("where is my office?", "which room is {U}'s office in?", "what is my office number?"),
               ("{U} office room", "where can people find my office?")),
    "allergy": (("what am I allergic to?", "does {U} have any allergies?", "is there anything I'm allergic to?"),
                ("{U} allergy", "what food must I never eat?")),
    "pet": (("what is my {pet} called?", "what is the name of {U}'s {pet}?", "do you remember my {pet}'s name?"),
            ("{U} {pet} name", "how did I name my {pet}?")),
    "home": (("where do I live?", "which city does {U} live in?", "do you know where my home is?"),
             ("{U} home town", "what city am I from?")),
    "job": (("what is my job?", "what does {U} do for a living?", "what work do I do?"),
            ("{U} profession", "what is my occupation?")),
    "succeeded": (("did you {do} for me?", "what happened when {U} asked you to {do}?",
                   "did it work when I asked you to {do}?"),
                  ("result of {U} asking to {do}", "how did it go when I wanted you to {do}?")),
    "failed": (("why couldn't you {do} for me?", "what went wrong when {U} asked you to {do}?",
                "why did it fail when I asked you to {do}?"),
               ("{U} {do} failure reason", "what stopped you when I wanted you to {do}?")),
    "repeated": (("how many times did it fail to {do} for me?", "how often did you fail to {do} for {U}?",
                  "did you have trouble when I asked you to {do}?"),
                 ("{U} {do} failed attempts", "how many tries did it take before you could {do} for me?")),
    "how_to": (("how did you finally manage to {do} for me?", "what worked to {do} for {U} after it failed?",
                "what did you change to {do} when it kept failing?"),
               ("trick that made {do} work for {U}", "once it failed, how did you get to {do} for me?")),
}
CATEGORIES = {"preference": ("favourite", "bin", "like", "dislike", "always"), "fact": FACTS,
              "outcome": ("succeeded", "failed"), "experience": ("repeated", "how_to")}


class MemorySetError(ValueError):
    """Generator arguments that cannot make a set; the message says which."""


@dataclass(frozen=True)
class ScriptTurn:
    label: str  # unique in the set: "<user>/<session>/<turn>"
    events: tuple[dict, ...]  # speech_end … turn_done, as the loop publishes them


@dataclass(frozen=True)
class Session:
    user: str
    start_ns: int
    turns: tuple[ScriptTurn, ...]


@dataclass(frozen=True)
class Question:
    id: str
    user: str  # who asks (retrieval is scoped to them and the shared entries)
    text: str
    topic: str  # a TEMPLATES key
    template: str  # "<topic>:<split>:<n>"
    split: str  # DEV or HELDOUT
    answers: tuple[tuple[str, str], ...]  # (turn label, entry kind): the entries that answer it

    @property
    def category(self) -> str:
        return next(c for c, topics in CATEGORIES.items() if self.topic in topics)


@dataclass(frozen=True)
class MemorySet:
    seed: int
    users: tuple[str, ...]  # the first ``asked`` are asked about
    asked: int
    sessions: tuple[Session, ...]  # in time order
    questions: tuple[Question, ...]

    def turn_labels(self) -> set[str]:
        return {t.label for s in self.sessions for t in s.turns}


# ----------------------------------------------------------------------------- scripting
@dataclass
class _Line:
    """A turn to script: what the user says, the reply, and any action with its result."""

    said: str
    reply: str
    action: str = ""  # "pick(object=red_cube)"
    ok: bool = True
    message: str = ""  # the action result's text
    instruction: str = ""  # the executor's instruction when it is not the action's default
    tag: str = ""  # what a question may refer to this turn as


def _events(line: _Line, label: str, at_ns: int) -> tuple[dict, ...]:
    trace = label.replace("/", "-")

    def e(dt_s: float, kind: str, text: str = "", **payload: object) -> dict:
        return {"type": kind, "stamp_ns": at_ns + int(dt_s * 1e9), "text": text, "trace_id": trace,
                "source": "memory_set", "payload": payload}

    out = [e(0, ev.SPEECH_END, line.said), e(1.5, ev.AGENT_SPEECH_END, line.reply)]
    if line.action:
        result = {"action": line.action, "success": line.ok, "canceled": False}
        if line.instruction:
            result["instruction"] = line.instruction
        out.append(e(6, ev.ACTION_RESULT, line.message, **result))
        out.append(e(7, ev.AGENT_SPEECH_END, "Done." if line.ok else f"Sorry, that did not work: {line.message}."))
        out.append(e(8, ev.TURN_DONE, outcome="acted", actions=[line.action], success=[line.ok], understood=""))
    else:
        out.append(e(3, ev.TURN_DONE, outcome="answered", actions=[], success=[], understood=""))
    return tuple(out)


def _phrase(name: str) -> str:
    return name.replace("_", " ")


class _User:
    """One user's profile and the lines that state it, drawn from ``rng``."""

    def __init__(self, name: str, rng: random.Random) -> None:
        self.name = name
        self.rng = rng
        self.favourite = rng.choice(COLOURS)
        self.new_favourite = rng.choice([c for c in COLOURS if c != self.favourite]) if rng.random() < 1 / 3 else ""
        self.bin = rng.choice(BINS)
        self.like = rng.choice(LIKES)
        self.dislike = rng.choice(DISLIKES)
        self.always = rng.choice(ALWAYS)
        self.facts = rng.sample(FACTS, 3)
        self.pet = rng.choice(PETS)
        used: set[tuple[str, str]] = set()
        self.succeeded = [self._request(rng.choice(("place", "push", "point")), True, used) for _ in range(2)]
        self.failed = self._request(rng.choice(("pick", "place", "push")), False, used)
        self.retry = self._retry(rng.choice(("pick", "place")), used)

    def _target(self, verb: str, used: set[tuple[str, str]]) -> dict[str, str]:
        obj = self.rng.choice([o for o in OBJECTS if (verb, o) not in used])
        used.add((verb, obj))
        return {"o": obj, "d": self.rng.choice(("left", "right"))}

    @staticmethod
    def _action(verb: str, slots: dict[str, str]) -> str:
        args = {"pick": "object={o}", "place": "object={o}, target=bin", "push": "object={o}, direction={d}",
                "point": "object={o}"}[verb]
        return f"{verb}({args.format(**slots)})"

    def _refer(self, verb: str, slots: dict[str, str]) -> str:
        return self.rng.choice(REFER[verb]).format(o=_phrase(slots["o"]), d=slots["d"])

    def _request(self, verb: str, ok: bool, used: set[tuple[str, str]]) -> _Line:
        slots = self._target(verb, used)
        said = self.rng.choice(SAY[verb]).format(o=_phrase(slots["o"]), d=slots["d"])
        message = "done" if ok else self.rng.choice(REASONS[verb])
        return _Line(said, "Okay.", self._action(verb, slots), ok, message, tag=self._refer(verb, slots))

    def _retry(self, verb: str, used: set[tuple[str, str]]) -> list[_Line]:
        slots = self._target(verb, used)
        action, o = self._action(verb, slots), _phrase(slots["o"])
        first, second = self.rng.sample(REASONS[verb], 2)
        suggestion, instruction = self.rng.choice(FIXES[verb])
        refer = self._refer(verb, slots)
        return [_Line(self.rng.choice(SAY[verb]).format(o=o, d=slots["d"]), "Okay.", action, False, first, tag=refer),
                _Line("try again please", "Trying again.", action, False, second, tag=refer),
                _Line(f"one more time, but {suggestion}", "Okay, I'll do that.", action, True, "done",
                      instruction.format(o=o), tag=refer)]

    def statement(self, topic: str) -> _Line:
        rng = self.rng
        said = {
            "favourite": rng.choice(("My favourite cube is the {} one.",
                                     "By the way, my favourite cube is the {} one.")).format(self.favourite),
            "new_favourite": f"Actually, my favourite cube is the {self.new_favourite} one now.",
            "bin": rng.choice(("I prefer the {} bin.", "For the record, I prefer the {} bin.")).format(self.bin),
            "like": rng.choice(("I really like {}.", "You know, I like {} a lot.")).format(self.like[0]),
            "dislike": f"I don't like it when you {self.dislike}.",
            "always": rng.choice(("From now on, always {}.", "Please always {}.")).format(self.always),
            "office": f"My office is room {rng.randint(2, 60)}.",
            "allergy": f"I'm allergic to {rng.choice(ALLERGIES)}.",
            "pet": f"My {self.pet} is called {rng.choice(PET_NAMES)}.",
            "home": f"I live in {rng.choice(CITIES).title()}.",
            "job": f"I work as {rng.choice(JOBS)}.",
        }[topic]
        return _Line(said, rng.choice(("Noted.", "Got it, I'll remember that.", "Thanks for telling me.")), tag=topic)

    def filler(self) -> _Line:
        """Small talk or a routine request that succeeded: what the questions must see past."""
        if self.rng.random() < 0.5:
            said, reply = self.rng.choice(SMALL_TALK)
            return _Line(said, reply)
        verb = self.rng.choice(("pick", "place", "push", "point"))
        slots = {"o": self.rng.choice(OBJECTS), "d": self.rng.choice(("left", "right"))}
        if self.rng.random() < 0.15:
            return _Line("go back home", "Going home.", "home()", True, "done")
        said = self.rng.choice(SAY[verb]).format(o=_phrase(slots["o"]), d=slots["d"])
        return _Line(said, "Okay.", self._action(verb, slots), True, "done")

    def sessions(self, count: int) -> list[list[_Line]]:
        """Three scripted sessions (then routine ones): greeting, statements, requests, small talk."""
        rng = self.rng
        first = [self.statement("favourite"), self.statement("bin"), self.statement("like"), self.succeeded[0],
                 self.filler()]
        second = [self.statement(self.facts[0]), self.statement(self.facts[1]), self.statement("dislike"),
                  self.filler(), self.filler()]
        third = [self.statement("always"), self.statement(self.facts[2]), self.failed, self.succeeded[1],
                 self.filler()]
        if self.new_favourite:
            third.append(self.statement("new_favourite"))
        for lines in (first, second, third):
            rng.shuffle(lines)
        first.insert(0, _Line(f"Hi, my name is {self.name}.", f"Nice to meet you, {self.name}."))
        second.insert(0, _Line("Hello again.", f"Hello {self.name}!"))
        at = rng.randint(1, len(second))
        second[at:at] = self.retry  # the three tries follow each other
        out = [first, second, third][:count]
        while len(out) < count:
            out.append([self.filler() for _ in range(rng.randint(3, 7))])
        return out


def _questions(user: _User, labels: dict[str, list[str]], rng: random.Random) -> list[Question]:
    """One question per thing said or done that a question can ask about; ``labels``: tag → turn labels."""
    wanted: list[tuple[str, dict[str, str], tuple[tuple[str, str], ...]]] = []

    def said(tag: str, kind: str) -> tuple[tuple[str, str], ...]:
        last = labels[tag][-1]
        return ((last, kind), (last, "request"))

    wanted.append(("favourite", {}, said("new_favourite" if user.new_favourite else "favourite", "preference")))
    for topic in ("bin", "like", "dislike", "always"):
        wanted.append((topic, {"cat": user.like[1]}, said(topic, "preference")))
    for topic in user.facts:
        wanted.append((topic, {"pet": user.pet}, said(topic, "fact")))
    for line in user.succeeded:
        wanted.append(("succeeded", {"do": line.tag}, tuple((label, "request") for label in labels[line.tag])))
    failed = labels[user.failed.tag]
    wanted.append(("failed", {"do": user.failed.tag}, tuple((lb, k) for lb in failed for k in ("request", "failure"))))
    tries = labels[user.retry[0].tag]
    do = user.retry[0].tag
    wanted.append(("repeated", {"do": do}, tuple((lb, k) for lb in tries[:2] for k in ("request", "failure"))
                   + ((tries[2], "worked"),)))
    wanted.append(("how_to", {"do": do}, ((tries[2], "worked"), (tries[2], "request"))))
    out = []
    for n, (topic, slots, answers) in enumerate(wanted):
        dev, held = TEMPLATES[topic]
        pick = rng.randrange(len(dev) + len(held))
        split, index = (DEV, pick) if pick < len(dev) else (HELDOUT, pick - len(dev))
        text = (dev if split == DEV else held)[index].format(U=user.name, **slots)
        out.append(Question(f"{user.name}/{n}", user.name, text, topic, f"{topic}:{split}:{index}", split, answers))
    return out


def generate(seed: int = 0, users: int = 35, asked: int = 25, sessions: int = 3) -> MemorySet:
    """The set for ``seed`` (the same every time): ``users`` users of ``sessions`` sessions each,
    questions about the first ``asked``."""
    if not 1 <= users <= len(NAMES):
        raise MemorySetError(f"users must be 1..{len(NAMES)}, got {users}")
    if not 0 <= asked <= users:
        raise MemorySetError(f"asked must be 0..users ({users}), got {asked}")
    if sessions < 3:
        raise MemorySetError(f"sessions must be at least 3 (the scripted ones), got {sessions}")
    rng = random.Random(seed)
    names = rng.sample(NAMES, users)
    timed: list[tuple[int, str, list[_Line]]] = []
    people = {name: _User(name, random.Random(f"{seed}/{name}")) for name in names}
    for u, name in enumerate(names):
        for s, lines in enumerate(people[name].sessions(sessions)):
            day = s * 5 + rng.randrange(5)  # one session every few days
            at = START_NS + (day * DAY_S + (8 + u % 10) * 3600 + rng.randrange(3000)) * 10**9
            timed.append((at, name, lines))
    timed.sort(key=lambda x: (x[0], x[1]))
    built, labels = [], {name: {} for name in names}
    count: dict[str, int] = {}
    free_ns = 0
    for at, name, lines in timed:
        at = max(at, free_ns)  # one conversation at a time
        free_ns = at + (len(lines) * TURN_GAP_S + 60) * 10**9
        s = count[name] = count.get(name, 0) + 1
        turns = []
        for t, line in enumerate(lines):
            label = f"{name}/{s}/{t}"
            turns.append(ScriptTurn(label, _events(line, label, at + t * TURN_GAP_S * 10**9)))
            if line.tag:
                labels[name].setdefault(line.tag, []).append(label)
        built.append(Session(name, at, tuple(turns)))
    questions = [q for name in names[:asked]
                 for q in _questions(people[name], labels[name], random.Random(f"q{seed}/{name}"))]
    return MemorySet(seed, tuple(names), asked, tuple(built), tuple(questions))


# ----------------------------------------------------------------------------- recording
def record(mset: MemorySet, store: Store, folder: str | Path, encoder: Encoder | None = None,
           max_entries: int | None = None, sessions: Callable[[Iterable[Session]], Iterable[Session]] = iter
           ) -> dict[str, list[int]]:
    """Feed every session to a recorder over ``store`` (raw files under ``folder``), the speaker
    named at each session's start as voice identification would; the entry ids each turn wrote.
    ``max_entries``: stop after the session that reaches it; ``sessions``: wraps the sessions'
    iteration (a progress bar)."""
    rec = EpisodeRecorder(store, folder, encoder=encoder)
    written: dict[str, list[int]] = {}
    try:
        for session in sessions(mset.sessions):
            rec.set_user(session.user, session.start_ns)
            for turn in session.turns:
                written[turn.label] = [i for e in turn.events for i in rec.feed(e)]
            if max_entries is not None and store.count() >= max_entries:
                break
    finally:
        rec.close()
    if rec.problems:
        raise RuntimeError(f"the recorder reported: {list(rec.problems)[:3]}")
    return written


def answer_ids(question: Question, written: dict[str, list[int]], store: Store) -> set[int]:
    """The ids of the entries that answer ``question``: of the kinds it names, written by its turns."""
    wanted: dict[str, set[str]] = {}
    for label, kind in question.answers:
        wanted.setdefault(label, set()).add(kind)
    ids = {i for label in wanted for i in written.get(label, [])}
    return {e.id for e in store.entries(sorted(ids))
            if any(e.kind in wanted[label] and e.id in written.get(label, []) for label in wanted)}
