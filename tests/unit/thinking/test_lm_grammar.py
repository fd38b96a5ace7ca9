"""The tag-protocol grammar and the prompt text (no model loaded here; the grammar is run
through llama.cpp in test_lm_llama.py)."""
from __future__ import annotations

import pytest

from seal_nodes.core.thinking.lm.base import Prompt
from seal_nodes.core.thinking.lm.grammar import build_grammar, chat_messages, prompt_text

pytestmark = pytest.mark.unit


def rules(grammar: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in grammar.strip().splitlines())


def test_roots_per_force() -> None:
    def root(force: str) -> str:
        return rules(build_grammar(Prompt("s", "t", force=force), max_segments=3))["root"]

    assert root("free") == "think? seg{1,3}"
    assert root("answer") == "seg{1,3}"
    assert root("summary") == "say (think? seg{1,2})?"
    assert root("think_only") == "think"


def test_actions_come_from_the_prompt() -> None:
    p = Prompt("s", "t", objects=("red_cube", 'odd"name'), actions=("pick", "place", "push", "type"))
    r = rules(build_grammar(p))
    assert r["seg"] == "say | wait | act"
    assert r["act"] == '"<action>" (act-pick | act-place | act-push | act-type) "</action>"'
    assert r["obj"] == '"red_cube" | "odd\\"name"'
    assert r["act-place"] == '"place(object=" obj ", target=bin)"'
    assert '"left" | "right"' in r["act-push"]
    assert "<" in r["arg"] and ")" in r["arg"] and "," in r["arg"]  # excluded from free args
    assert "act-home" not in r


def test_no_actions_or_objects() -> None:
    r = rules(build_grammar(Prompt("s", "t")))
    assert r["seg"] == "say | wait" and "act" not in r
    # object-taking actions are dropped when no object is known; home stays
    r = rules(build_grammar(Prompt("s", "t", actions=("pick", "home"))))
    assert "act-pick" not in r and "obj" not in r and r["act"] == '"<action>" (act-home) "</action>"'


def test_text_cannot_forge_tags() -> None:
    r = rules(build_grammar(Prompt("s", "t"), max_text_chars=50))
    assert r["text"] == "[^<\\n]{1,50}"


def test_undeclared_action_is_refused() -> None:
    with pytest.raises(ValueError, match="undeclared actions \\['fly'\\]"):
        build_grammar(Prompt("s", "t", actions=("fly",)))


def test_prompt_text_is_chatml() -> None:
    p = Prompt("SYS", "<user>hello</user>", force="think_only")
    text = prompt_text(p)
    assert text.startswith("<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\n<user>hello</user>")
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert prompt_text(p, prefill=True).endswith("<|im_start|>assistant\n<think>")
    assert "still talking" in chat_messages(p)[1]["content"]
    assert [m["role"] for m in chat_messages(p)] == ["system", "user"]
