"""The arm policy's wordings: training never produces a held-out one; free wordings are read
into tasks (the grammar's where it parses) and the rest refused with what was understood."""
from __future__ import annotations

import json

import pytest

from seal_nodes.core.arm.instructions import InstructionError, Task, parse_instruction
from seal_nodes.core.language.encoder import SentenceEncoder
from seal_nodes.core.language.wording import canonical
from vla_policy.arm.language import (READER_WORDINGS, TRAIN_WORDINGS, WORDING_SEED, TaskReader, held_out,
                                     training_wordings)
from vla_policy.arm.runtime import CARD_FILE, WEIGHTS_DIR

pytestmark = pytest.mark.unit

CARD = json.loads((WEIGHTS_DIR / CARD_FILE).read_text())
COLORS = CARD["colors"]


def _filled(texts: list[str]) -> set[str]:
    return {canonical(t.format(color=c)) for t in texts for c in COLORS}


def test_the_held_out_file_is_a_real_test():
    lines = held_out(CARD["tasks"])
    assert len(lines) >= 20
    assert not _filled(lines) & _filled([t for ts in CARD["templates"].values() for t in ts])


SHIPPED = (CARD["language"]["wordings_per_template"], CARD["language"]["seed"])  # what the shipped weights heard


@pytest.mark.parametrize("per_template, seed", sorted({(TRAIN_WORDINGS, WORDING_SEED), (READER_WORDINGS, WORDING_SEED),
                                                       SHIPPED}))
def test_training_never_produces_a_held_out_wording(per_template, seed):
    wordings = training_wordings(CARD["templates"], per_template, seed)
    made = [w for ws in wordings.values() for w in ws]
    assert len(made) > 5 * len(CARD["tasks"])
    assert not _filled(made) & _filled(held_out(CARD["tasks"]))


@pytest.fixture(scope="module")
def reader():
    return TaskReader(CARD, SentenceEncoder())


def test_the_grammar_reads_what_it_parses(reader):
    for text in ("pick up the red cube", "push the blue block to the left", "go home", "pick up the purple cube"):
        assert reader.read(text) == parse_instruction(text)


@pytest.mark.parametrize("text, task", [
    ("could you grab the green block for me", Task("pick", "green_cube")),
    ("okay, please put the blue cube into the basket", Task("place", "blue_cube")),
    ("shift the red block over to the left side", Task("push", "red_cube", "left")),
    ("sweep the green cube rightwards, thanks", Task("push", "green_cube", "right")),
    ("hover above the blue cube please", Task("point", "blue_cube")),
    ("head home now", Task("home")),
    ("um, lift up the red brick", Task("pick", "red_cube")),
    ("would you grab the purple block", Task("pick", "purple_cube")),  # unknown: the backend refuses it
])
def test_free_wordings_are_read_into_tasks(reader, text, task):
    with pytest.raises(InstructionError):
        parse_instruction(text)  # the grammar alone would refuse each
    assert reader.read(text) == task


@pytest.mark.parametrize("text, says", [
    ("do a backflip", "no task matches"),
    ("what's the weather like", "no task matches"),
    ("could you grab the cube", "names no cube"),
    ("shift the red block a little", "names no side"),
    ("", "empty"),
])
def test_what_it_cannot_read_is_refused_saying_what_was_understood(reader, text, says):
    with pytest.raises(InstructionError, match=says) as err:
        reader.read(text)
    if text:
        assert "nearest wording the policy knows" in str(err.value)


def test_the_learned_backend_takes_free_wordings_and_the_expert_only_its_grammar():
    from sim_worlds.tabletop.expert_backend import ExpertBackend
    from vla_policy.arm.backends import LearnedBackend

    text = "could you please put the red block into the basket"
    backend = LearnedBackend(0.05)
    task = backend.task_for(text)
    assert task == Task("place", "red_cube")
    backend.reset(task, {}, text)
    assert backend.policy.task == "place"  # a "done" will need grasp evidence
    backend.policy.reset(text)  # read by the policy itself (as eval-vla does)
    assert backend.policy.task == "place"
    with pytest.raises(InstructionError, match="no task matches"):
        backend.task_for("do a backflip")
    with pytest.raises(InstructionError, match="no task matches"):
        ExpertBackend(0.05).task_for(text)
