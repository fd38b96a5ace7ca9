"""The wordings the intent step compares an utterance with: paraphrases of every arm action on a
scene's objects (and on any cube), and anchor lines for what is not a command (questions, chat,
out-of-scope asks); and the words only one action's paraphrases use.

Each action's wordings cross verb phrases with object phrases, and each pairing gets one
politeness frame in turn, so every verb meets every object phrase and every frame without the
full product (a few dozen lines per action and object).
"""
from __future__ import annotations

from itertools import cycle

from seal_nodes.core.actions import Action

# Verb phrases per action; {o} is an object phrase, {d} a direction.
VERBS: dict[str, tuple[str, ...]] = {
    "pick": ("pick up {o}", "pick {o} up", "grab {o}", "take {o}", "lift {o}", "lift up {o}", "get {o}",
             "grasp {o}", "hold {o}", "fetch {o}", "pick {o}", "raise {o}"),
    "place": ("put {o} in the bin", "put {o} into the bin", "place {o} in the bin", "drop {o} in the bin",
              "throw {o} in the bin", "toss {o} into the bin", "move {o} to the bin", "put {o} away in the bin",
              "get rid of {o}", "drop {o} into the box", "put {o} in the basket", "bin {o}"),
    "push": ("push {o} to the {d}", "push {o} {d}", "slide {o} to the {d}", "shove {o} {d}",
             "nudge {o} to the {d}", "move {o} to the {d}", "slide {o} over to the {d}", "push {o} towards the {d}",
             "move {o} a bit to the {d}", "shift {o} {d}"),
    "point": ("point at {o}", "point to {o}", "show me {o}", "which one is {o}", "indicate {o}",
              "point out {o}", "show me where {o} is", "point your arm at {o}"),
    "home": ("go home", "go back home", "return home", "go back to where you started", "go back to your start position",
             "move back to the home position", "return to the start", "reset your arm", "park the arm",
             "back to your home pose", "go to your resting position", "return to your initial position"),
    "stop": ("stop", "stop now", "stop moving", "halt", "freeze", "stop what you are doing", "abort",
             "stop right there"),
}
OBJECT_FORMS = ("the {c} cube", "the {c} block", "the {c} one")
FRAMES = ("{v}", "please {v}", "{v} please", "could you {v}", "can you {v} for me", "would you {v}",
          "i want you to {v}", "go ahead and {v}", "{v} now", "could you please {v}", "i'd like you to {v}",
          "um {v}")

# What is not a command. Questions are answered from the thinker's state; chat gets a reply.
QUESTIONS = (
    "what do you see", "what is on the table", "what can you see on the table", "how many cubes are there",
    "which cubes are on the table", "what colour are the cubes",
    "what is your name", "who are you", "what are you", "what can you do", "what are you able to do",
    "how can you help me", "what are you doing", "what are you doing right now", "what did you just do",
    "why did you do that", "why did you pick that one", "what happened", "are you done", "did it work",
    "is it finished", "what is in the bin", "what are you holding",
)
# Questions about one object; {o} is its phrase.
OBJECT_QUESTIONS = ("where is {o}", "do you see {o}", "is there {o} on the table", "what colour is {o}",
                    "tell me about {o}")
CHAT = (
    "hello", "hi there", "hey", "good morning", "good evening", "thanks", "thank you", "thank you very much",
    "great job", "well done", "nice work", "how are you", "how is it going", "goodbye", "bye", "see you later",
    "nice to meet you", "cool", "awesome", "that's great",
)
OUT_OF_SCOPE = (
    "make me a coffee", "what's the weather like", "what's the weather today", "what time is it",
    "tell me a joke", "play some music", "order a pizza", "turn on the lights", "set an alarm",
    "what is the capital of france", "call my mother", "open the door", "wash the dishes", "drive me to work",
    "sing a song", "book a table for two", "send an email", "cook dinner", "clean the kitchen",
    "what's the news today", "buy some milk", "water the plants", "do my homework", "feed the cat",
)


def object_forms(color: str, name: str) -> tuple[str, ...]:
    """Ways to name an object: by its colour and noun, or by its name when it has no colour."""
    if not color:
        return ("the " + name.replace("_", " "),)
    return tuple(f.format(c=color) for f in OBJECT_FORMS)


def wordings(action: Action, color: str = "", name: str = "") -> list[str]:
    """Paraphrases of one arm action; ``color``/``name`` describe its object, if it has one."""
    objects = object_forms(color, name) if "object" in action.args else ("",)
    frames = cycle(FRAMES)
    out: list[str] = []
    for verb in VERBS[action.name]:
        for obj in objects:
            phrase = verb.format(o=obj, d=action.args.get("direction", ""))
            out.append(" ".join(next(frames).format(v=phrase).split()))
    return list(dict.fromkeys(out))


def any_object_wordings() -> list[tuple[str, str]]:
    """(action, paraphrase) for the object actions on "the cube": what a request looks like
    whatever it names."""
    out: list[tuple[str, str]] = []
    for name in ("pick", "place", "point"):
        out += [(name, w) for w in wordings(Action(name, {"object": "cube"}), "", "cube")]
    for d in ("left", "right"):
        out += [("push", w) for w in wordings(Action("push", {"object": "cube", "direction": d}), "", "cube")]
    return out


def keywords(ignore: set[str]) -> dict[str, set[str]]:
    """Per action, the words only its paraphrases use ("grab" for pick, "bin" for place), less ``ignore``."""
    words = {name: {w for line in lines for w in line.replace("{o}", " ").replace("{d}", " ").split()} - ignore
             for name, lines in VERBS.items()}
    return {name: own - set().union(*(w for n, w in words.items() if n != name)) for name, own in words.items()}


def vocabulary() -> set[str]:
    """Every word the templates and anchors use: words the sound step leaves alone."""
    words: set[str] = set()
    for group in (*VERBS.values(), OBJECT_FORMS, FRAMES, QUESTIONS, OBJECT_QUESTIONS, CHAT, OUT_OF_SCOPE):
        for line in group:
            words.update(w for w in line.replace("{", " ").replace("}", " ").split() if w not in ("o", "d", "v", "c"))
    return words
