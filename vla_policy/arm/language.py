"""What the arm policy hears: its training wordings, the held-out ones, and the task a free wording asks for.

Training draws each sample's instruction from its task's templates (the model card's) widened
by seeded paraphrases (``seal_nodes.core.language.wording``), never producing a phrasing of the
held-out file ``unseen_instructions.txt``: that file tests wordings the policy never heard.

At run time the policy needs the task's name for its own logic (pick and place end only with
evidence of a grasp). ``TaskReader`` takes it from the expert's grammar (``parse_instruction``)
where that parses, else from the nearest plain wording of the same kind (the templates and
seeded paraphrases without fillers or politeness) by sentence embedding; below a similarity
floor the instruction is refused, with the nearest wording in the message.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from seal_nodes.core.arm.instructions import InstructionError, Task, parse_instruction
from seal_nodes.core.language.encoder import SentenceEncoder
from seal_nodes.core.language.wording import COLOR_WORDS, Mix, canonical, color_words, directions, paraphrases, plain
from vla_policy.templates import template_lines

UNSEEN_FILE = Path(__file__).with_name("unseen_instructions.txt")
TRAIN_WORDINGS = 40  # per template in training (the template among them)
WORDING_SEED = 0  # training and the reader draw the same paraphrases
READER_WORDINGS = 24  # per template, for the run-time reader
PLAIN = Mix(prefix=0.0, suffix=0.0, filler=0.0, infix=0.0)  # the reader compares plain requests
SIMILARITY_FLOOR = 0.55  # cosine; paraphrases of a task score above it, requests of no task below


def held_out(tasks: list[str], path: str | Path = UNSEEN_FILE) -> list[str]:
    """Every template of the held-out file, ``{direction}`` filled both ways (``{color}`` kept)."""
    out = []
    for _, line, _ in template_lines(path, tasks):
        if "{direction}" in line:
            out += [line.replace("{direction}", d) for d in ("left", "right")]
        else:
            out.append(line)
    return out


def training_wordings(templates: dict[str, list[str]], per_template: int, seed: int = WORDING_SEED,
                      exclude: list[str] | None = None, mix: Mix = Mix()) -> dict[str, list[str]]:
    """Task -> its templates and their paraphrases (distinct), none of them a held-out wording."""
    banned = held_out(list(templates)) if exclude is None else exclude
    out: dict[str, list[str]] = {}
    for task, lines in templates.items():
        seen: dict[str, str] = {}
        for line in lines:
            for text in paraphrases(line, per_template, seed, exclude=banned, mix=mix):
                seen.setdefault(canonical(text), text)
        out[task] = list(seen.values())
    return out


def task_of(key: str, color: str) -> Task:
    """A model-card task key and a colour as the arm's ``Task`` (``push_left`` -> push, left)."""
    name, _, direction = key.partition("_")
    return Task(name, f"{color}_cube" if color else "", direction)


class TaskReader:
    """Instruction -> ``Task`` for the learned policy: the grammar, else the nearest known wording.

    The nearest wording is looked for among plain requests (no fillers or politeness on either
    side), with every colour name said as the card's first colour: the colour and the side of
    a push are read from the words themselves (MiniLM barely tells "left" from "right"), and
    the table needs one colour, not one per colour.
    """

    def __init__(self, card: dict, encoder: SentenceEncoder, per_template: int = READER_WORDINGS,
                 floor: float = SIMILARITY_FLOOR, seed: int = WORDING_SEED) -> None:
        self.card, self.encoder, self.floor = card, encoder, floor
        self.per_template, self.seed = per_template, seed
        self.colors: list[str] = list(card["colors"])
        self._table: tuple[list[str], list[str], np.ndarray] | None = None

    def table(self) -> tuple[list[str], list[str], np.ndarray]:
        """(plain wordings, the task of each, their embeddings); built on first use."""
        if self._table is None:
            texts, tasks = [], []
            for task, lines in training_wordings(self.card["templates"], self.per_template, self.seed,
                                                 mix=PLAIN).items():
                for line in lines:
                    texts.append(line.format(color=self.colors[0]))
                    tasks.append(task)
            self._table = (texts, tasks, self.encoder.encode_many(texts))
        return self._table

    def read(self, instruction: str) -> Task:
        """The task asked for; InstructionError when no known wording is near enough, or when a
        task on a cube names no colour."""
        try:
            return parse_instruction(instruction)
        except InstructionError:
            if not instruction.strip():
                raise
        named = color_words(instruction)
        query = " ".join(self.colors[0] if w in COLOR_WORDS else w for w in plain(instruction).split())
        texts, tasks, emb = self.table()
        sims = emb @ self.encoder.encode(query or instruction)
        best = int(np.argmax(sims))
        key = tasks[best]
        understood = f"the nearest wording the policy knows is {texts[best]!r} ({key}), similarity {sims[best]:.2f}"
        if sims[best] < self.floor:
            raise InstructionError(f"no task matches instruction {instruction!r}: {understood} "
                                   f"(needs {self.floor:.2f})")
        if key.startswith("push_"):
            sides = directions(instruction)
            if len(sides) != 1:
                raise InstructionError(f"instruction {instruction!r} names no side to push to: {understood}; "
                                       "say left or right")
            key = f"push_{sides.pop()}"
        if not any("{color}" in t for t in self.card["templates"][key]):
            return task_of(key, "")
        if not named:
            raise InstructionError(f"instruction {instruction!r} names no cube: {understood}; say which "
                                   f"({', '.join(self.colors)})")
        known = [c for c in named if c in self.colors]
        return task_of(key, known[0] if known else named[0])  # an unknown colour is the backend's to refuse
