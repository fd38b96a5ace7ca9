"""Fit the intent step's confidence model and choose its bands, on generated utterances.

    python -m seal_nodes.tools.intent_calibration [--n 2400] [--json out/intent_calibration.json]

Utterances are generated in two disjoint wording sets (verbs, object phrases, politeness frames,
sound-alike swaps, out-of-scope lines): "fit" trains the models and places the thresholds,
"held-out" measures them. The fit set speaks partly as the reader's paraphrases do
(core/thinking/paraphrases.py), as users often will; the held-out set shares no verb phrase or
frame with them. Besides correct readings the sets hold decoys that have no right reading:
objects not on the table, "the cube" among several, negated requests, actions outside the action
set, questions about objects, chat and out-of-scope asks. The ranker is a conditional logit over
each utterance's candidates, the calibration a logistic regression on the best-ranked ones; the
fitted coefficients and thresholds are printed as the constants intent.py ships.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seal_nodes.core.actions import Action
from seal_nodes.core.thinking.fast_path import COLORS
from seal_nodes.core.thinking.intent import ACT, CONFIRM, FEATURES, Candidate, IntentReader, SceneObject, rank
from seal_nodes.core.thinking.references import COUNTS

# Two disjoint wording sets: index 0 fits, index 1 is held out.
PICK = (["pick up {o}", "grab {o}", "get me {o}", "lift {o} off the table", "take {o}", "i need {o}",
         "hand me {o}", "collect {o}", "can i have {o}"],
        ["grab hold of {o}", "pick {o} up off the table", "could i get {o}", "snatch {o}", "seize {o}",
         "take {o} in your gripper", "lift {o} up", "would you mind picking up {o}"])
PLACE = (["put {o} in the bin", "drop {o} into the bin", "throw {o} away", "place {o} inside the bin",
          "put {o} in the trash", "dispose of {o}", "dump {o} in the bin"],
         ["chuck {o} in the bin", "move {o} into the bin", "get {o} into the bin", "bin {o} for me",
          "put {o} in the container", "deposit {o} in the bin", "tidy {o} away into the bin"])
PUSH = (["push {o} to the {d}", "slide {o} {d}", "move {o} over to the {d}", "nudge {o} {d}",
         "shove {o} towards the {d}"],
        ["give {o} a push to the {d}", "push {o} over {d}", "scoot {o} to the {d}",
         "slide {o} a little to the {d}", "shift {o} over to the {d} side"])
POINT = (["point at {o}", "show me {o}", "point to {o}", "which one is {o}"],
         ["can you show me which one is {o}", "point your gripper at {o}", "indicate {o} for me",
          "aim your hand at {o}"])
HOME = (["go home", "return to your home position", "go back to the start", "reset", "go back to your rest pose"],
        ["head back home", "move back to where you began", "go back to your original position",
         "return to the starting pose", "take your home position"])
STOPS = (["that's enough", "enough already", "stop that"], ["cut it out", "enough now", "quit it"])
# Things that are not on the table, named without a colour.
THINGS = (["the mug", "my phone", "the pen", "that bottle", "the apple", "the scissors", "my keys"],
          ["the cup", "that book", "the ball", "my wallet", "the spoon", "the remote", "the banana"])
OBJECT = (["the {c} cube", "the {c} block", "that {c} cube", "the {c} one"],
          ["{c} cube", "the little {c} cube", "this {c} block", "the {c} coloured cube"])
FRAME = (["{v}", "please {v}", "can you {v}", "{v} for me", "hey {v}", "okay {v} now"],
         ["could you {v} please", "{v} if you can", "would you kindly {v}", "i'd like you to {v} please", "uh {v}",
          "so {v}", "{v} thanks"])
# Sound-alikes a recogniser writes for the vocabulary.
MISHEARD = ({"grab": ["crab"], "pick": ["pig"], "red": ["read"], "blue": ["blew"], "green": ["grin"],
             "cube": ["cute"], "block": ["black"], "push": ["bush"], "point": ["paint"], "left": ["lift"],
             "right": ["write"], "bin": ["been"], "put": ["but"]},
            {"grab": ["grub"], "pick": ["peak"], "red": ["rid"], "blue": ["glue"], "green": ["clean"],
             "cube": ["tube"], "block": ["blog"], "push": ["posh"], "point": ["pint"], "left": ["laughed"],
             "right": ["ride"], "bin": ["pin"], "put": ["foot"], "purple": ["people"], "orange": ["arrange"]})
# References to several objects or one by position: (phrase, how) with {c}/{c1}/{c2} colours.
# A count the user says ("the two cubes") that the scene does not bear out leaves no right reading.
REFERENCES = ([("all of them", "all"), ("every cube", "all"), ("all the cubes", "all"),
               ("the {c1} and the {c2} cube", "list"), ("the cubes that are not {c}", "except"),
               ("the one closest to you", "closest"), ("the one on the left", "left"),
               ("the two cubes that are not {c}", "except"), ("both cubes", "all")],
              [("each block", "all"), ("all the blocks", "all"), ("both the {c1} and {c2} blocks", "list"),
               ("every cube except the {c} one", "except"), ("the one nearest to you", "closest"),
               ("the one on your right", "right"), ("the {c1} cube and the {c2} cube", "list"),
               ("the three blocks", "all"), ("the two blocks that aren't {c}", "except")])
OUTSIDE = (["paint {o}", "eat {o}", "throw {o} at me", "stack {o} on top of the other one", "rotate {o}",
            "shake {o}", "kick {o}", "smell {o}", "cut {o} in half", "weigh {o}", "bite {o}", "melt {o}",
            "draw {o}", "clean {o}", "count {o}", "name {o}", "bake {o}", "paint a picture of {o}", "kiss {o}",
            "tickle {o}", "mail {o} to my sister", "open {o}", "bury {o}", "feed {o} to the dog", "fill {o}",
            "wrap {o}", "balance {o} on your head", "drink {o}"],
           ["break {o}", "spin {o} around", "wash {o}", "hide {o} under the table", "squash {o}", "lick {o}",
            "sell {o}", "burn {o}", "fold {o}", "hug {o}", "sing to {o}", "polish {o}", "cook {o}", "buy {o}",
            "pet {o}", "scratch {o}", "unlock {o}", "charge {o}", "juggle {o}", "photograph {o}", "dust {o}",
            "slice {o}", "smash {o}", "freeze {o} in ice", "light {o} on fire", "sniff {o}", "tape {o} to the wall",
            "rent {o}"])
QUESTIONS = (["where is {o}", "do you see {o}", "is {o} heavy", "what colour is the cube on the left"],
             ["how far away is {o}", "can you see {o}", "how big is {o}", "which cube is the closest"])
OUT_OF_SCOPE = (["bake me a cake", "how tall is mount everest", "who won the game last night",
                 "book me a flight to paris", "what's two plus two", "remind me to call john", "i'm hungry",
                 "read me a story", "turn up the volume", "hi how are you doing", "thanks a lot", "good night",
                 "i like your hat", "your arm looks cool", "where is the nearest station", "vacuum the floor",
                 "do you like football", "tell me a secret", "what's for lunch", "start the car",
                 "can you swim", "pour me a glass of water", "let's play chess", "close the window"],
                ["fix my car", "what day is it today", "translate this into french", "where do you live",
                 "can you dance", "order me a taxi", "tell me about the stock market", "i like your arm",
                 "mow the lawn", "hello there friend", "cheers mate", "what's the temperature outside",
                 "your gripper is shiny", "are you a robot", "make the bed", "walk the dog", "how old are you",
                 "charge my phone", "lock the front door", "recommend a good book", "what is love",
                 "bring me my slippers", "paint the wall blue", "is it going to rain"])
# Requests that do not say which object: ambiguous among several, clear when there is one.
AMBIGUOUS = ([("pick up the cube", "pick"), ("grab it", "pick"), ("put the block in the bin", "place"),
              ("push the cube to the {d}", "push")],
             [("take the cube", "pick"), ("lift it up", "pick"), ("drop the cube in the bin", "place"),
              ("point at the block", "point")])


@dataclass
class Sample:
    text: str
    objects: list[SceneObject]
    truth: tuple[Action, ...] | None   # None: no reading is right (the reader should not act)
    alternatives: tuple[str, ...] = ()
    what: str = "command"


def _scene(rng: random.Random, n: int) -> list[SceneObject]:
    colors = rng.sample(COLORS, n)
    ys = sorted(rng.sample(range(-20, 21, 8), n))
    return [SceneObject(f"{c}_cube", c, (round(rng.uniform(0.38, 0.62), 3), y / 100)) for c, y in zip(colors, ys)]


def _resolve(how: str, objects: list[SceneObject], c: str, c1: str, c2: str) -> tuple[str, ...]:
    if how == "all":
        return tuple(o.name for o in objects)
    if how == "list":
        return tuple(o.name for o in objects if o.color in (c1, c2))
    if how == "except":
        return tuple(o.name for o in objects if o.color != c)
    key = {"closest": lambda o: np.hypot(*o.position), "left": lambda o: -o.position[1],
           "right": lambda o: o.position[1]}[how]
    return (min(objects, key=key).name,)


def _action(kind: str, obj: str, direction: str) -> Action:
    args = {"pick": {"object": obj}, "place": {"object": obj, "target": "bin"},
            "push": {"object": obj, "direction": direction}, "point": {"object": obj}}[kind]
    return Action(kind, args)


def _mishear(text: str, split: int, rng: random.Random) -> str:
    words = text.split()
    spots = [i for i, w in enumerate(words) if w in MISHEARD[split]]
    if not spots:
        return text
    i = rng.choice(spots)
    words[i] = rng.choice(MISHEARD[split][words[i]])
    return " ".join(words)


def generate(split: int, n: int, seed: int) -> list[Sample]:
    """``n`` labelled utterances from wording set ``split`` (0 fit, 1 held out)."""
    rng = random.Random(seed)
    scenes = [_scene(rng, k) for k in (0, 1, 2, 3, 3, 3, 4, 2, 3)]
    verbs = {"pick": PICK[split], "place": PLACE[split], "push": PUSH[split], "point": POINT[split]}
    out: list[Sample] = []
    while len(out) < n:
        objects = rng.choice(scenes)
        absent = rng.choice([c for c in COLORS if c not in {o.color for o in objects}])
        # Before vision reports anything, a request for any object names one that is not there.
        target = rng.choice(objects) if objects else SceneObject(f"{absent}_cube", absent)
        d = rng.choice(("left", "right"))
        frame = rng.choice(FRAME[split])
        kind = rng.choice(list(verbs))
        verb = rng.choice(verbs[kind])
        roll = rng.random()
        if roll < 0.38 and objects:  # a command on one object, sometimes misheard
            text = frame.format(v=verb.format(o=rng.choice(OBJECT[split]).format(c=target.color), d=d))
            truth = (_action(kind, target.name, d),)
            if rng.random() < 0.35:
                heard = _mishear(text, split, rng)
                alternatives = (text,) if heard != text and rng.random() < 0.3 else ()
                out.append(Sample(heard, objects, truth, alternatives, "misheard"))
            else:
                out.append(Sample(text, objects, truth))
        elif roll < 0.46:
            if rng.random() < 0.8:
                out.append(Sample(frame.format(v=rng.choice(HOME[split])), objects, (Action("home"),), what="home"))
            else:
                out.append(Sample(rng.choice(STOPS[split]), objects, (Action("stop"),), what="stop"))
        elif roll < 0.58 and len(objects) > 1:  # a compound request or a position
            phrase, how = rng.choice(REFERENCES[split])
            c1, c2 = rng.sample([o.color for o in objects], 2)
            c = rng.choice([o.color for o in objects])
            names = _resolve(how, objects, c, c1, c2)
            text = frame.format(v=verb.format(o=phrase.format(c=c, c1=c1, c2=c2), d=d))
            said = next((COUNTS[w] for w in phrase.split() if w in COUNTS), len(names))
            truth = tuple(_action(kind, nm, d) for nm in names) if said == len(names) else None
            out.append(Sample(text, objects, truth, what="compound" if truth else "count mismatch"))
        elif roll < 0.66:  # an object that is not on the table
            thing = rng.choice(OBJECT[split]).format(c=absent) if rng.random() < 0.6 else rng.choice(THINGS[split])
            out.append(Sample(frame.format(v=verb.format(o=thing, d=d)), objects, None, what="absent"))
        elif roll < 0.72:  # which one?
            phrase, kind = rng.choice(AMBIGUOUS[split])
            truth = (_action(kind, objects[0].name, d),) if len(objects) == 1 else None
            out.append(Sample(frame.format(v=phrase.format(d=d)), objects, truth,
                              what="ambiguous" if truth is None else "the only one"))
        elif roll < 0.76:
            o = rng.choice(OBJECT[split]).format(c=target.color)
            out.append(Sample("don't " + verb.format(o=o, d=d), objects, None, what="negated"))
        elif roll < 0.84:
            o = rng.choice(OBJECT[split]).format(c=target.color)
            out.append(Sample(frame.format(v=rng.choice(OUTSIDE[split]).format(o=o)), objects, None, what="outside"))
        elif roll < 0.90:
            o = rng.choice(OBJECT[split]).format(c=target.color)
            out.append(Sample(rng.choice(QUESTIONS[split]).format(o=o), objects, None, what="question"))
        else:
            out.append(Sample(rng.choice(OUT_OF_SCOPE[split]), objects, None, what="out of scope"))
    return out


def _key(actions: tuple[Action, ...] | None) -> tuple | None:
    if actions is None:
        return None
    return tuple((a.name, tuple(sorted(a.args.items()))) for a in actions)


def candidates(reader: IntentReader, samples: list[Sample]) -> list[tuple[Sample, list[Candidate]]]:
    return [(s, reader.candidates(s.text, s.objects, s.alternatives)[0]) for s in samples]


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 50) -> tuple[np.ndarray, float]:
    """Newton's method on the L2-penalised log loss (the bias is not penalised)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def fit_ranker(groups: list[tuple[np.ndarray, np.ndarray]], l2: float = 1.0, iters: int = 100) -> np.ndarray:
    """A conditional logit: per utterance, softmax over its candidates' scores, maximising the
    share of the right ones (damped Newton steps on the L2-penalised loss)."""
    dim = groups[0][0].shape[1]
    w = np.zeros(dim)

    def loss(v: np.ndarray) -> float:
        total = 0.5 * l2 * float(v @ v)
        for x, y in groups:
            s = x @ v
            top = s.max()
            total -= float(np.log(np.exp(s[y > 0] - top).sum()) - np.log(np.exp(s - top).sum()))
        return total

    current = loss(w)
    for _ in range(iters):
        grad = l2 * w
        hess = l2 * np.eye(dim)
        for x, y in groups:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            q = p * (y > 0)
            q /= q.sum()
            grad += x.T @ (p - q)
            hess += (x * p[:, None]).T @ x - np.outer(x.T @ p, x.T @ p)
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-4 and loss(w - scale * step) > current:
            scale /= 2
        w -= scale * step
        new = loss(w)
        if current - new < 1e-7:
            break
        current = new
    return w


def _matrix(cands: list[Candidate]) -> np.ndarray:
    return np.array([[c.features[f] for f in FEATURES] for c in cands], dtype=np.float64)


def chosen(scored: list[tuple[Sample, list[Candidate]]],
           weights: np.ndarray) -> list[tuple[Sample, np.ndarray | None, bool]]:
    """Per sample: the best-ranked reading's calibration inputs (features and share) and whether it
    is the truth."""
    out = []
    for s, cands in scored:
        ranked = rank(cands, weights)
        if not ranked:
            out.append((s, None, False))
            continue
        best, share = ranked[0]
        out.append((s, np.array([best.features[f] for f in FEATURES] + [share]), _key(best.actions) == _key(s.truth)))
    return out


def probabilities(rows: list[tuple[Sample, np.ndarray | None, bool]], w: np.ndarray, b: float):
    """(sample, probability of the chosen reading, right?); no candidate at all: probability 0."""
    return [(s, 0.0 if f is None else float(1.0 / (1.0 + np.exp(-(f @ w + b)))), ok) for s, f, ok in rows]


def reliability(rows: list[tuple[Sample, float, bool]], edges=(0, .1, .2, .3, .4, .5, .6, .7, .8, .9, .95, 1.0001)):
    table = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = [ok for _, p, ok in rows if lo <= p < hi]
        mean_p = float(np.mean([p for _, p, _ in rows if lo <= p < hi])) if sel else float("nan")
        table.append({"bin": f"{lo:.2f}-{min(hi, 1):.2f}", "n": len(sel), "predicted": round(mean_p, 3),
                      "observed": round(float(np.mean(sel)), 3) if sel else None})
    return table


def choose_thresholds(rows: list[tuple[Sample, float, bool]], wrong_at_most: float = 0.005) -> tuple[float, float]:
    """``act_at``: the lowest threshold whose acted-on readings are wrong at most ``wrong_at_most``
    (half the 1 % allowed, since new wordings are read less surely than the fitted ones).
    ``confirm_at`` is a policy on the calibrated probability, not fitted: ask back about a reading
    that is right about a third of the time or more; below that the answer would mostly be no."""
    ps = sorted({round(p, 3) for _, p, _ in rows})
    act_at = 0.99
    for t in ps:
        acted = [ok for _, p, ok in rows if p >= t]
        if acted and (len(acted) - sum(acted)) <= wrong_at_most * len(acted):
            act_at = t
            break
    act_at = max(0.5, round(act_at + 0.005, 2))
    return act_at, min(0.3, round(act_at - 0.1, 2))


def report(rows: list[tuple[Sample, float, bool]], act_at: float, confirm_at: float) -> dict:
    acted = [(s, ok) for s, p, ok in rows if p >= act_at]
    confirm = [(s, ok) for s, p, ok in rows if confirm_at <= p < act_at]
    with_truth = [(s, p, ok) for s, p, ok in rows if s.truth is not None]
    decoys = [(s, p) for s, p, _ in rows if s.truth is None]
    by_what: dict[str, dict] = {}
    for s, p, ok in rows:
        d = by_what.setdefault(s.what, {"n": 0, "act_right": 0, "act_wrong": 0, "confirm": 0, "unsure": 0})
        d["n"] += 1
        band = ACT if p >= act_at else CONFIRM if p >= confirm_at else "unsure"
        d["act_right" if band == ACT and ok else "act_wrong" if band == ACT else band] += 1
    return {
        "n": len(rows),
        "top1_accuracy": round(float(np.mean([ok for _, _, ok in with_truth])), 4) if with_truth else None,
        "acted_correctly": round(sum(1 for s, p, ok in with_truth if ok and p >= act_at) / max(1, len(with_truth)), 4),
        "wrong_when_act": round(sum(1 for _, ok in acted if not ok) / max(1, len(acted)), 4),
        "wrong_acts_of_all": round(sum(1 for _, ok in acted if not ok) / max(1, len(rows)), 4),
        "confirm_right": round(float(np.mean([ok for _, ok in confirm])), 3) if confirm else None,
        "decoys_acted": round(sum(1 for _, p in decoys if p >= act_at) / max(1, len(decoys)), 4),
        "by_kind": by_what,
    }


def constants(result: dict) -> str:
    """The fitted values as the lines intent.py ships."""
    def tup(name: str, values: list[float]) -> str:
        return textwrap.fill(", ".join(f"{v:g}" for v in values), 118, initial_indent=f"{name} = (",
                             subsequent_indent=" " * (len(name) + 4)) + ")"
    return "\n".join([tup("RANK_WEIGHTS", result["rank_weights"]), tup("WEIGHTS", result["weights"]),
                      f"BIAS = {result['bias']:g}", f"ACT_AT = {result['act_at']:g}",
                      f"CONFIRM_AT = {result['confirm_at']:g}"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2400, help="utterances per wording set")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--json", type=Path, help="write the coefficients, thresholds and reliability here")
    args = ap.parse_args(argv)
    reader = IntentReader()
    t0 = time.perf_counter()
    fit = candidates(reader, generate(0, args.n, args.seed))
    held = candidates(reader, generate(1, args.n, args.seed + 1))
    print(f"read {2 * args.n} utterances in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    groups = [(_matrix(cs), np.array([float(_key(c.actions) == _key(s.truth)) for c in cs])) for s, cs in fit if cs]
    ranker = fit_ranker([(x, y) for x, y in groups if y.any()])
    fit_chosen, held_chosen = chosen(fit, ranker), chosen(held, ranker)
    usable = [(f, ok) for _, f, ok in fit_chosen if f is not None]
    w, b = fit_logistic(np.array([f for f, _ in usable]), np.array([float(ok) for _, ok in usable]))
    fit_rows, held_rows = probabilities(fit_chosen, w, b), probabilities(held_chosen, w, b)
    act_at, confirm_at = choose_thresholds(fit_rows)
    result = {
        "features": list(FEATURES), "rank_weights": [round(float(v), 3) for v in ranker],
        "weights": [round(float(v), 3) for v in w], "bias": round(b, 3),
        "act_at": act_at, "confirm_at": confirm_at,
        "fit": report(fit_rows, act_at, confirm_at), "held_out": report(held_rows, act_at, confirm_at),
        "reliability_held_out": reliability(held_rows), "reliability_fit": reliability(fit_rows),
        "act_at_sweep_held_out": {f"{a:.2f}": {k: v for k, v in report(held_rows, a, confirm_at).items()
                                               if k in ("acted_correctly", "wrong_when_act", "decoys_acted")}
                                  for a in np.arange(0.70, 0.96, 0.05)},
    }
    print(constants(result))
    print(json.dumps({k: result[k] for k in ("fit", "held_out", "reliability_held_out", "act_at_sweep_held_out")},
                     indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
