"""The tag protocol as a llama.cpp GBNF grammar, and the prompt text the backends send.

The grammar makes a weak model emit only well-formed segments: text rules exclude ``<`` so a
closing tag can never be forged inside text, lengths are bounded so a runaway segment ends,
and action arguments are generated from the prompt's declared actions and known objects (the
thinker still validates every action). ``prompt_text`` renders ChatML for SmolLM2-style models;
``chat_messages`` is the same content for chat endpoints and chat templates.
"""
from __future__ import annotations

from seal_nodes.core.actions import ACTION_SET, DIRECTIONS
from seal_nodes.core.thinking.lm.base import ANSWER, FREE, SUMMARY, THINK_ONLY, Prompt

MAX_SEGMENTS = 4  # say/action/wait segments after the optional think
MAX_TEXT_CHARS = 240  # per <think> or <assistant> text
MAX_ARG_CHARS = 40  # per free-text action argument (click/type)

# The opening tag a completion prompt may be prefilled with, per force (answer may start with
# say, action or wait, so nothing is prefilled for it).
OPENING = {FREE: "", ANSWER: "", SUMMARY: "<assistant>", THINK_ONLY: "<think>"}

_FORCE_INSTRUCTION = {
    FREE: "",
    ANSWER: "Answer now, without thinking first: start with <assistant> or <action>.",
    SUMMARY: "First say a one-sentence summary of your thought so far in <assistant>.",
    THINK_ONLY: "The user is still talking: write one short <think> and nothing else.",
}

_PROTOCOL = (
    "Continue as the robot. Reply only with tags: <think>private thought</think>, "
    "<assistant>spoken words</assistant>, <assistant><wait></assistant> to stay silent, "
    "<action>name(key=value)</action>."
)


def _lit(s: str) -> str:
    """A GBNF string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _action_rules(prompt: Prompt) -> dict[str, str]:
    """One rule per allowed action; object-taking actions are left out when no object is known."""
    unknown = [a for a in prompt.actions if a not in ACTION_SET]
    if unknown:
        raise ValueError(f"undeclared actions {unknown}; declared: {sorted(ACTION_SET)}")
    obj = "obj"
    direction = " | ".join(_lit(d) for d in DIRECTIONS)
    bodies = {
        "pick": f'"pick(object=" {obj} ")"',
        "place": f'"place(object=" {obj} ", target=bin)"',
        "push": f'"push(object=" {obj} ", direction=" ({direction}) ")"',
        "point": f'"point(object=" {obj} ")"',
        "home": '"home()"',
        "click": '"click(target=" arg ")"',
        "type": '"type(target=" arg ", text=" arg ")"',
        "stop": '"stop()"',
        "recall": '"recall(query=" arg ")"',
        "read": '"read(target=" arg ")"',
        "begin_lesson": '"begin_lesson(task=" arg ")"',
        "save_skill": '"save_skill(task=" arg ")"',
        "run_skill": '"run_skill(name=" key (", " key "=" arg)* ")"',
    }
    rules = {}
    for name in dict.fromkeys(prompt.actions):  # keep order, drop duplicates
        if "object" in ACTION_SET[name].params and not prompt.objects:
            continue
        rules[f"act-{name}"] = bodies[name]
    return rules


def build_grammar(
    prompt: Prompt,
    max_segments: int = MAX_SEGMENTS,
    max_text_chars: int = MAX_TEXT_CHARS,
) -> str:
    """A GBNF grammar for one generation honouring ``prompt.force``, actions and objects."""
    if max_segments < 1 or max_text_chars < 1:
        raise ValueError("max_segments and max_text_chars must be >= 1")
    actions = _action_rules(prompt)
    seg_alts = ["say", "wait"] + (["act"] if actions else [])
    root = {
        FREE: f"think? seg{{1,{max_segments}}}",
        ANSWER: f"seg{{1,{max_segments}}}",
        # the summary, then optionally the free continuation
        SUMMARY: f"say (think? seg{{1,{max_segments - 1}}})?" if max_segments > 1 else "say",
        THINK_ONLY: "think",
    }[prompt.force]
    rules = {
        "root": root,
        "seg": " | ".join(seg_alts),
        "think": '"<think>" text "</think>"',
        "say": '"<assistant>" text "</assistant>"',
        "wait": '"<assistant><wait></assistant>"',
        # no '<' (tags cannot be forged) and no newline (one spoken line per segment)
        "text": f"[^<\\n]{{1,{max_text_chars}}}",
    }
    if actions:
        rules["act"] = '"<action>" (' + " | ".join(actions) + ') "</action>"'
        rules.update(actions)
        if any("object" in ACTION_SET[n[4:]].params for n in actions):
            rules["obj"] = " | ".join(_lit(o) for o in dict.fromkeys(prompt.objects))
        if {"act-click", "act-type", "act-recall", "act-read", "act-begin_lesson", "act-save_skill",
                "act-run_skill"} & set(actions):
            # short free text that cannot close the call or start a tag
            rules["arg"] = f'[^<>(),"\\n]{{1,{MAX_ARG_CHARS}}}'
        if "act-run_skill" in actions:
            rules["key"] = "[a-z_] [a-z0-9_]{0,39}"
    return "\n".join(f"{name} ::= {body}" for name, body in rules.items()) + "\n"


def user_text(prompt: Prompt) -> str:
    """The user message: the transcript, then how to continue."""
    parts = [prompt.transcript.strip(), _PROTOCOL, _FORCE_INSTRUCTION[prompt.force]]
    return "\n\n".join(p for p in parts if p)


def chat_messages(prompt: Prompt) -> list[dict[str, str]]:
    """``[system, user]`` for chat endpoints and tokenizer chat templates."""
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user_text(prompt)}]


def prompt_text(prompt: Prompt, prefill: bool = False) -> str:
    """ChatML completion text for SmolLM2; with ``prefill`` the reply opens the forced tag
    (the caller must then emit ``OPENING[prompt.force]`` itself as the first piece)."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in chat_messages(prompt))
    return text + "<|im_start|>assistant\n" + (OPENING[prompt.force] if prefill else "")
