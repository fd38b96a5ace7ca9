import pytest

from seal_nodes.core.perception.bias import correct, similarity

pytestmark = pytest.mark.unit

PHRASES = ["teal cylinder", "ochre block", "red cube", "magenta prism", "bin"]


@pytest.mark.parametrize("heard, fixed", [
    ("Please give the deal cylinder to me.", "Please give the teal cylinder to me."),
    ("Put the ocher block down", "Put the ochre block down"),
    ("pick up the rad cube", "pick up the red cube"),
    ("Take the magenta prison.", "Take the magenta prism."),
])
def test_near_misses_snap_to_expected_phrases(heard, fixed):
    assert correct(heard, PHRASES) == fixed


@pytest.mark.parametrize("text", [
    "put it in the pin",  # short phrases ("bin") are never snapped to
    "the weather is nice today",
    "pick up the red cube",  # already right
    "the green cube",  # a different expected-looking phrase is not turned into "red cube"
])
def test_other_text_is_left_alone(text):
    assert correct(text, PHRASES + ["green cube"]) == text


def test_similarity_bounds():
    assert similarity("abc", "abc") == 1.0
    assert similarity("", "abc") == 0.0
    assert 0.0 < similarity("deal cylinder", "teal cylinder") < 1.0
    assert correct("", PHRASES) == "" and correct("text", []) == "text"
