import pytest

from seal_nodes.core.perception import turns

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text", ["Uh-huh.", "yeah", "Mm-hmm.", "Okay.", "Right, right.", "I see.", "Yes, got it."])
def test_acknowledgements_are_backchannels(text):
    assert turns.is_backchannel(text)
    assert not turns.claims_turn(text)


@pytest.mark.parametrize("text", ["Wait.", "Stop!", "No, the other one.", "Hold on.", "Actually put it in the bin.",
                                  "Yeah, but put it in the bin.", "okay okay okay okay"])
def test_interjections_claim_the_turn(text):
    assert not turns.is_backchannel(text)
    assert turns.claims_turn(text)


def test_empty_text_is_neither():
    assert not turns.is_backchannel("")
    assert not turns.claims_turn("  ")
    assert not turns.turn_complete("")


@pytest.mark.parametrize("text", ["Pick up the red cube.", "What can you see?", "Go home!", "Okay", "Stop.",
                                  "Put the green cube in the bin.", "Move it to the left.", "Give it to me."])
def test_finished_sentences_end_the_turn(text):
    assert turns.turn_complete(text)


@pytest.mark.parametrize("text", ["Put the green cube", "Put the green cube in the", "Pick up the red cube and",
                                  "Pick up the red cube and.", "I want the...", "Move it to the left,", "So um",
                                  "Put the green cube.", "Move the red cube.", "Please bring the blue cube."])
def test_unfinished_sentences_wait(text):
    assert not turns.turn_complete(text)


@pytest.mark.parametrize("text, yes", [("Wait.", True), ("Stop, stop right there.", True), ("Hold on.", True),
                                       ("No, the other one.", True), ("Uh-huh.", False), ("Right.", False),
                                       ("Pick up the cube.", False), ("", False)])
def test_interjections(text, yes):
    assert turns.is_interjection(text) is yes
