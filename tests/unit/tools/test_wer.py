import math

import numpy as np
import pytest

from seal_nodes.tools.wer import WordErrors, keyword_recall, normalize, number_words, wer, word_errors

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text, words", [
    ("Pick up the RED cube!", ["pick", "up", "the", "red", "cube"]),
    ("  ", []),
    ("", []),
    ("...?!", []),
    ("twenty-one", ["twenty", "one"]),
    ("21", ["twenty", "one"]),
    ("0 7 13 40 99 100", "zero seven thirteen forty ninety nine one hundred".split()),
    ("101 and 1,000 and 3.5", ["101", "and", "1000", "and", "3.5"]),
    ("OK", ["okay"]), ("ok.", ["okay"]), ("O.K.", ["okay"]), ("Okay!", ["okay"]),
    ("Mm-hmm.", ["mhm"]), ("mm hmm", ["mhm"]), ("mhm", ["mhm"]), ("Mmhmm", ["mhm"]),
    ("Uh-huh", ["uhhuh"]), ("uh huh", ["uhhuh"]),
    ("the colour grey", ["the", "color", "gray"]),
    ("don't", ["do", "not"]), ("I can't", ["i", "can", "not"]), ("won't", ["will", "not"]),
    ("I'm here", ["i", "am", "here"]), ("we’ll", ["we", "will"]),
    ("the robot's arm", ["the", "robot's", "arm"]),  # 's is ambiguous: kept
    ("'quoted'", ["quoted"]),
    ("Xóchitl", ["xochitl"]),
    ("follow-up—now", ["follow", "up", "now"]),
])
def test_normalize(text, words):
    assert normalize(text) == words


def test_fillers_dropped_only_on_request_and_backchannels_kept():
    assert normalize("um, wait, uh, mm-hmm") == ["um", "wait", "uh", "mhm"]
    assert normalize("um, wait, uh, mm-hmm", drop_fillers=True) == ["wait", "mhm"]


def test_number_words_range():
    assert number_words(0) == "zero" and number_words(45) == "forty five" and number_words(90) == "ninety"
    with pytest.raises(ValueError):
        number_words(101)


def test_normalize_rejects_non_text():
    with pytest.raises(TypeError):
        normalize(None)  # type: ignore[arg-type]


def test_perfect_and_variant_spellings_score_zero():
    assert word_errors("Pick up the red cube.", "pick up the red cube").errors == 0
    assert word_errors("OK, put 2 cubes in the colour bin", "okay put two cubes in the color bin").errors == 0
    assert word_errors("mm-hmm", "Mhm.").errors == 0
    assert word_errors("uh huh", "uh-huh").errors == 0


def test_substitution_deletion_insertion_counts():
    assert word_errors("pick up the red cube", "pick up the blue cube") == WordErrors(1, 0, 0, 5)
    assert word_errors("pick up the red cube", "pick the red cube") == WordErrors(0, 1, 0, 5)
    assert word_errors("pick up the red cube", "pick up the red cube now") == WordErrors(0, 0, 1, 5)
    assert word_errors("go home", "") == WordErrors(0, 2, 0, 2)


def test_empty_reference():
    both_empty = word_errors("", "")
    assert both_empty == WordErrors(0, 0, 0, 0) and both_empty.rate == 0.0
    only_insertions = word_errors("", "hello robot")
    assert only_insertions == WordErrors(0, 0, 2, 0) and math.isinf(only_insertions.rate)


def test_insertions_only_can_exceed_one():
    e = word_errors("stop", "stop stop stop stop")
    assert e == WordErrors(0, 0, 3, 1) and e.rate == 3.0


def test_word_lists_are_taken_as_is():
    assert word_errors(["a", "b"], ["a", "c"]) == WordErrors(1, 0, 0, 2)
    with pytest.raises(TypeError):
        word_errors(["a", 3], "a")  # type: ignore[list-item]


def _distance(r: list[str], h: list[str]) -> int:
    d = np.arange(len(h) + 1)
    for i in range(1, len(r) + 1):
        prev, d = d, np.empty_like(d)
        d[0] = i
        for j in range(1, len(h) + 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
    return int(d[-1])


def test_counts_sum_to_the_edit_distance_on_random_pairs():
    rng = np.random.default_rng(0)
    vocab = ["a", "b", "c", "d"]
    for _ in range(200):
        r = list(rng.choice(vocab, rng.integers(0, 8)))
        h = list(rng.choice(vocab, rng.integers(0, 8)))
        e = word_errors(r, h)
        assert e.errors == _distance(r, h)
        assert e.ref_words == len(r)
        assert e.substitutions + e.deletions == len(r) - (len(h) - e.insertions - e.substitutions)


def test_corpus_wer_pools_errors_instead_of_averaging():
    # per-utterance mean would be (1/1 + 0/4) / 2 = 0.5; pooled it is 1/5
    assert wer(["stop", "put it in the"], ["go", "put it in the"]) == pytest.approx(0.2)
    assert wer([], []) == 0.0
    assert wer(["", ""], ["", "hello"]) == math.inf


def test_corpus_wer_rejects_bad_input():
    with pytest.raises(ValueError, match="2 references but 1"):
        wer(["a", "b"], ["a"])
    with pytest.raises(TypeError):
        wer("a b", "a b")  # type: ignore[arg-type]


def test_keyword_recall():
    assert keyword_recall(["teal cylinder", "Aoife"], "Give Aoife the teal cylinder.") == 1.0
    assert keyword_recall(["teal cylinder", "Aoife"], "give eva the teal cylinder") == 0.5
    assert keyword_recall(["teal cylinder"], "the teal and the cylinder") == 0.0  # needs the phrase
    assert keyword_recall(["Xochitl"], "xóchitl's here") == 0.0  # possessive is another word
    assert keyword_recall(["Xóchitl"], "XOCHITL is here") == 1.0


def test_keyword_recall_rejects_bad_input():
    with pytest.raises(ValueError):
        keyword_recall([], "anything")
    with pytest.raises(ValueError):
        keyword_recall(["!!"], "anything")
    with pytest.raises(TypeError):
        keyword_recall("Aoife", "Aoife")  # type: ignore[arg-type]
